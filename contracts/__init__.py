"""The platform's contracts: every message that crosses a service boundary.

Pydantic v2 models, one envelope, the topic registry and the generated schemas. This package
is the single source of truth; services and outside systems depend on it, never on each
other.
"""
