"""The reliability suite: the whole platform under load on a stack of its own, faults injected,
and what must hold afterwards checked from the services' stores and outputs (``make reliability``)."""
