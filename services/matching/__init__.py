"""The matching service: every form of mentorship, matched optimally and explainably.

So far: the pure domain (candidate features, hard constraints, the explained compatibility
score, and the optimal cohort assignment). The service around it follows in issue #5.
"""
