"""Settings come from the environment; a service's own variables beat platform-wide ones."""

from __future__ import annotations

import pytest

from services.profile.app import ProfileSettings


def test_a_per_service_variable_overrides_the_platform_wide_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MENTORSHIP_KAFKA__BOOTSTRAP_SERVERS", "kafka-shared:9092")
    monkeypatch.setenv("PROFILE_KAFKA__BOOTSTRAP_SERVERS", "kafka-profile:9092")
    monkeypatch.setenv("MENTORSHIP_MONGO__DATABASE", "shared_db")
    settings = ProfileSettings()
    assert settings.kafka.bootstrap_servers == "kafka-profile:9092"
    assert settings.database_name == "shared_db"


def test_topics_and_consumer_groups_share_the_configured_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROFILE_KAFKA__TOPIC_PREFIX", "staging.")
    settings = ProfileSettings()
    assert settings.topic("hr.employees.v1") == "staging.hr.employees.v1"
    assert settings.consumer_group == "staging.profile"
    assert settings.database_name == "mentorship_profile"


def test_a_secret_never_shows_in_the_settings_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROFILE_MONGO__URL", "mongodb://admin:s3cret@db:27017/")
    monkeypatch.setenv("PROFILE_KAFKA__SASL_PASSWORD", "hunter2")
    text = repr(ProfileSettings())
    assert "s3cret" not in text
    assert "hunter2" not in text
