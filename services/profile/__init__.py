"""The profile service: the only owner of who people are."""
