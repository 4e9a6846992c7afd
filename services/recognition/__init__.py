"""The recognition service: a points ledger, badges, kudos, leaderboards and digests.

Pure rules in ``rules``, ``ledger`` and ``standings``; the service around them in ``store``
(its collections), ``awards`` (sources of points, the ledger fold, badges, kudos),
``boards`` (leaderboard refresh and digests on a clock), ``read_api`` and ``app``.
"""
