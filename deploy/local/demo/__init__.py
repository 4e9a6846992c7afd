"""`make run`: the local stack, every service as its own process, and a demo organisation.

    python -m deploy.local.demo [--once] [--people N] [--instances matching=2 ...]

The demo starts the local stack unless it is up, starts each service (as many instances as
asked, one consumer group each), starts a chat receiver standing in for Slack, Teams and
webhooks, and feeds a made-up organisation through the inbound topics in the order real
systems would: staff first, then mentors volunteering, then new hires. Simulated people then
answer proposals, book office hours, register for a talk, record how first sessions went and
thank their mentors, all through the public command topics. A live view shows what each
service publishes as it happens.

Every message has a deterministic id, so running the demo again changes nothing twice.
"""
