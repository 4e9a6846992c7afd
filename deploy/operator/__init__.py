"""The operator CLI: service health, consumer lag, dead letters and their replay, and the few
commands an operator sends by hand (a cohort round, a test onboarding event).

It depends on ``contracts``, the runtime kit's settings and security helpers and
``deploy.services``, never on a service's internals: it sees the platform as an operator
does, through Kafka and HTTP.
"""
