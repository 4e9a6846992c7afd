"""What a test session removes from shared servers when it ends: its own namespaces only."""

from __future__ import annotations

from tests.support.cleanup import owned_by


def test_only_names_inside_the_sessions_namespaces_are_chosen() -> None:
    names = [
        "tabc.profile.events.v1",
        "tabc.hr.employees.v1",
        "tdef.profile.events.v1",
        "tabcd.profile.events.v1",
        "profile.events.v1",
        "__consumer_offsets",
    ]

    assert owned_by(names, {"tabc"}, ".") == ["tabc.hr.employees.v1", "tabc.profile.events.v1"]


def test_databases_are_matched_on_their_underscore_separator() -> None:
    names = ["tabc", "tabc_profile", "tabc_matching", "tabcx_profile", "admin", "mentorship_profile"]

    assert owned_by(names, {"tabc"}, "_") == ["tabc", "tabc_matching", "tabc_profile"]


def test_a_session_that_handed_out_no_namespace_chooses_nothing() -> None:
    assert owned_by(["tabc.profile.events.v1", "tabc_profile"], set(), ".") == []
