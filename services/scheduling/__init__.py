"""The scheduling service: sessions across time zones, invites, office hours, group sessions, reminders.

Pure rules in ``slots``, ``invites``, ``seats`` and ``cadence``; the service around them in
``sessions`` (matched sessions), ``office_hours``, ``groups``, ``sweeps`` (the clock) and ``app``.
"""
