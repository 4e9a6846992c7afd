"""The shared runtime kit: everything a service process needs besides its own logic.

Services import from here and from ``contracts``, never from each other. The kit is a
library; it is never run on its own.
"""
