"""The Kubernetes manifests under deploy/k8s/ agree with the code they deploy.

No cluster runs here, so every check relates a manifest to the code: settings names come from
the pydantic settings classes, groups and topics from the service definitions and the topic
registry, health paths from the app the runtime kit builds.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import PurePosixPath

import pytest

from contracts.catalogue import TOPICS
from contracts.envelope import Envelope
from contracts.profile import ProfileSnapshot
from contracts.topics import TopicSpec
from deploy.services import SERVICES
from services.runtime.service import create_app
from services.runtime.settings import ServiceSettings
from tests.support.container_image import image_user
from tests.support.manifests import (
    EnvVar,
    Manifest,
    container_env,
    container_of,
    definition_of,
    env_prefixes,
    iter_acls,
    kustomization,
    manifest_files,
    of_kind,
    secret_paths,
    setting_of,
)

PLACEHOLDER_SECRET = "placeholder-secret-value"


def _settings_in_pod(service: str, monkeypatch: pytest.MonkeyPatch) -> ServiceSettings:
    """The service's settings as its pod would read them (Secrets stand in as placeholders)."""
    settings_cls = definition_of(service).settings_cls
    prefixes = (*env_prefixes(settings_cls), *(f"{name.upper()}_" for name in SERVICES))
    for name in list(os.environ):
        if name.upper().startswith(prefixes):
            monkeypatch.delenv(name)
    for var in container_env(container_of(of_kind("Deployment")[service])).values():
        if var.value is not None:
            monkeypatch.setenv(var.name, var.value)
        elif var.secret is not None:
            monkeypatch.setenv(var.name, PLACEHOLDER_SECRET)
    return settings_cls()


def _env(service: str) -> dict[str, EnvVar]:
    return container_env(container_of(of_kind("Deployment")[service]))


# ---------------------------------------------------------------- completeness


def test_the_kustomization_applies_every_manifest_file_in_the_folder() -> None:
    listed = kustomization()["resources"]
    assert sorted(listed) == sorted(p.name for p in manifest_files())
    assert kustomization()["namespace"] == next(iter(of_kind("Namespace")))


def test_every_service_has_a_deployment_a_service_a_disruption_budget_and_a_scaled_object() -> None:
    for kind in ("Deployment", "Service", "PodDisruptionBudget", "ScaledObject"):
        assert set(of_kind(kind)) == set(SERVICES), f"{kind} resources differ from the services"


def test_each_pod_runs_its_own_service_from_the_shared_image() -> None:
    for service, deployment in of_kind("Deployment").items():
        container = container_of(deployment)
        assert container["command"] == ["python", "-m", f"services.{service}"]
        assert container["image"] == kustomization()["images"][0]["name"]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()


# ---------------------------------------------------------------- ports and probes


def test_probes_ask_the_real_health_paths_on_the_port_the_service_listens_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for service, deployment in of_kind("Deployment").items():
        settings = _settings_in_pod(service, monkeypatch)
        app_paths = {
            getattr(route, "path", None) for route in create_app(definition_of(service), settings).routes
        }
        container = container_of(deployment)
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports == {"http": settings.http_port}
        assert settings.http_port == SERVICES[service]
        assert settings.http_host == "0.0.0.0", "a pod must listen beyond loopback"
        expected = {
            "readinessProbe": "/health/ready",
            "livenessProbe": "/health/live",
            "startupProbe": "/health/live",
        }
        for probe, path in expected.items():
            get = container[probe]["httpGet"]
            assert get["path"] == path, f"{service} {probe}"
            assert path in app_paths, f"{service} serves no {path}"
            assert ports[get["port"]] == settings.http_port


def test_the_service_sends_its_port_to_the_pods_http_port() -> None:
    for service, svc in of_kind("Service").items():
        (port,) = svc["spec"]["ports"]
        assert port["port"] == SERVICES[service]
        assert port["targetPort"] == "http"
        selector = of_kind("Deployment")[service]["spec"]["selector"]["matchLabels"]
        assert svc["spec"]["selector"] == selector
        assert of_kind("PodDisruptionBudget")[service]["spec"]["selector"]["matchLabels"] == selector


def test_startup_may_take_as_long_as_the_runtime_waits_for_kafka() -> None:
    # services.runtime.service.running waits up to 120 s for Kafka before the port opens.
    for service, deployment in of_kind("Deployment").items():
        startup = container_of(deployment)["startupProbe"]
        assert startup["periodSeconds"] * startup["failureThreshold"] > 120, service


# ---------------------------------------------------------------- settings and secrets


def test_every_variable_a_pod_gets_is_one_its_service_settings_read() -> None:
    for service in SERVICES:
        settings_cls = definition_of(service).settings_cls
        unread = [name for name in _env(service) if setting_of(settings_cls, name) is None]
        assert unread == [], f"{service} reads none of {unread}"


def test_the_settings_classes_accept_every_value_the_manifests_give(monkeypatch: pytest.MonkeyPatch) -> None:
    for service in SERVICES:
        settings = _settings_in_pod(service, monkeypatch)
        assert settings.kafka.security_protocol == "SASL_SSL"
        assert settings.kafka.sasl_password is not None
        assert settings.log_format == "json"


def test_every_secret_setting_comes_from_a_secret_and_nothing_else_does() -> None:
    for service in SERVICES:
        settings_cls = definition_of(service).settings_cls
        secret_settings = secret_paths(settings_cls)
        from_secrets = {setting_of(settings_cls, v.name) for v in _env(service).values() if v.secret}
        literal_secrets = [
            v.name
            for v in _env(service).values()
            if v.secret is None and setting_of(settings_cls, v.name) in secret_settings
        ]
        assert literal_secrets == [], f"{service}: secret settings given as plain values"
        missing = secret_settings - from_secrets
        assert missing == set(), f"{service}: no Secret for {sorted(missing)}"


def test_each_secret_belongs_to_one_service_and_each_key_feeds_one_setting() -> None:
    owners: dict[str, set[str]] = defaultdict(set)
    feeds: dict[tuple[str, str], set[tuple[str, ...]]] = defaultdict(set)
    for service in SERVICES:
        settings_cls = definition_of(service).settings_cls
        for var in _env(service).values():
            if var.secret is not None:
                owners[var.secret[0]].add(service)
                path = setting_of(settings_cls, var.name)
                assert path is not None
                feeds[var.secret].add(path)
    shared = {name: users for name, users in owners.items() if len(users) > 1}
    assert shared == {}, "a service's credentials are for that service alone"
    assert {ref: paths for ref, paths in feeds.items() if len(paths) > 1} == {}


def test_no_secret_value_is_committed() -> None:
    assert of_kind("Secret") == {}, "Secrets are created in the cluster, never committed"


def test_the_kafka_password_is_the_one_strimzi_writes_for_the_user_the_service_signs_in_as() -> None:
    users = of_kind("KafkaUser")
    for service in SERVICES:
        env = _env(service)
        (username,) = [v.value for v in env.values() if v.name.endswith("KAFKA__SASL_USERNAME")]
        (password,) = [v.secret for v in env.values() if v.name.endswith("KAFKA__SASL_PASSWORD")]
        assert username in users, f"{service} signs in as {username}, which no KafkaUser creates"
        assert password == (username, "password"), "the User Operator's Secret is named after the user"


def test_the_kafka_ca_file_the_settings_name_is_mounted_from_the_cluster_ca() -> None:
    for service, deployment in of_kind("Deployment").items():
        cafile = PurePosixPath(str(_env(service)["MENTORSHIP_KAFKA__SSL_CAFILE"].value))
        container = container_of(deployment)
        (mount,) = [m for m in container["volumeMounts"] if PurePosixPath(m["mountPath"]) == cafile.parent]
        (volume,) = [
            v for v in deployment["spec"]["template"]["spec"]["volumes"] if v["name"] == mount["name"]
        ]
        assert cafile.name in {item["path"] for item in volume["secret"]["items"]}


# ---------------------------------------------------------------- pod hardening


def test_pods_run_as_the_images_non_root_user_on_a_read_only_root_filesystem() -> None:
    uid, gid = image_user()
    for service, deployment in of_kind("Deployment").items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert (pod["securityContext"]["runAsUser"], pod["securityContext"]["runAsGroup"]) == (uid, gid)
        assert pod["automountServiceAccountToken"] is False
        container = container_of(deployment)["securityContext"]
        assert container["readOnlyRootFilesystem"] is True, service
        assert container["allowPrivilegeEscalation"] is False
        assert container["capabilities"]["drop"] == ["ALL"]


def test_pods_get_no_service_link_variables_which_share_the_settings_prefixes() -> None:
    # A Service named "profile" would otherwise give every pod PROFILE_PORT, PROFILE_SERVICE_HOST...
    for deployment in of_kind("Deployment").values():
        assert deployment["spec"]["template"]["spec"]["enableServiceLinks"] is False


def test_every_container_has_resource_requests_and_limits() -> None:
    for service, deployment in of_kind("Deployment").items():
        resources = container_of(deployment)["resources"]
        for bound in ("requests", "limits"):
            assert set(resources[bound]) == {"cpu", "memory"}, f"{service} {bound}"


def test_keda_owns_the_replica_count_and_a_rollout_never_drops_below_it() -> None:
    for service, deployment in of_kind("Deployment").items():
        assert "replicas" not in deployment["spec"], f"re-applying {service} would reset KEDA's count"
        assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
        assert of_kind("PodDisruptionBudget")[service]["spec"] == {
            "maxUnavailable": 1,
            "selector": deployment["spec"]["selector"],
        }


# ---------------------------------------------------------------- scaling on consumer lag


def test_scaled_objects_watch_the_services_real_consumer_group_and_every_topic_it_consumes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for service, scaled in of_kind("ScaledObject").items():
        settings = _settings_in_pod(service, monkeypatch)
        consumes = definition_of(service).consumes
        assert scaled["spec"]["scaleTargetRef"]["name"] == service
        triggers = [t["metadata"] for t in scaled["spec"]["triggers"] if t["type"] == "kafka"]
        assert {t["consumerGroup"] for t in triggers} == {settings.consumer_group}
        assert sorted(t["topic"] for t in triggers) == sorted(settings.topic(spec.name) for spec in consumes)
        for trigger in triggers:
            # The runtime kit's consumers start at the earliest offset when their group is new.
            assert trigger["offsetResetPolicy"] == "earliest"
            assert trigger["bootstrapServersFromEnv"] in _env(service)


def test_no_service_scales_past_the_partitions_it_could_give_each_consumer() -> None:
    for service, scaled in of_kind("ScaledObject").items():
        widest = max(spec.partitions for spec in definition_of(service).consumes)
        # One consumer per topic in each pod: it handles its partitions side by side.
        replicas = scaled["spec"]["maxReplicaCount"]
        assert replicas <= widest, f"{service}: consumers beyond {widest} partitions sit idle"
        assert scaled["spec"]["minReplicaCount"] >= 2, "one replica left while another is replaced"


def test_keda_signs_in_as_a_user_that_may_describe_every_group_and_topic_it_watches() -> None:
    (auth,) = of_kind("TriggerAuthentication").values()
    params = {ref["parameter"]: (ref["name"], ref["key"]) for ref in auth["spec"]["secretTargetRef"]}
    keda_users = [
        user
        for user in of_kind("KafkaUser").values()
        if user["spec"]["authentication"].get("password", {}).get("valueFrom", {}).get("secretKeyRef")
        == {"name": params["password"][0], "key": params["password"][1]}
    ]
    assert len(keda_users) == 1, "the KafkaUser whose password KEDA uses"
    granted = {(kind, name) for kind, name, ops in iter_acls(keda_users[0]) if "Describe" in ops}
    for scaled in of_kind("ScaledObject").values():
        for trigger in scaled["spec"]["triggers"]:
            assert trigger["authenticationRef"]["name"] == auth["metadata"]["name"]
            assert ("group", trigger["metadata"]["consumerGroup"]) in granted
            assert ("topic", trigger["metadata"]["topic"]) in granted


# ---------------------------------------------------------------- Kafka users and topics


def _expected_acls(service: str, settings: ServiceSettings) -> dict[tuple[str, str], set[str]]:
    """What a service's code does with Kafka: its start-up checks that every topic it uses and
    their dead-letter topics exist; it reads what it consumes in its group, and writes what it
    publishes and the dead letters of what it consumes."""
    definition = definition_of(service)
    wanted: dict[tuple[str, str], set[str]] = defaultdict(set)
    wanted[("group", settings.consumer_group)].add("Read")
    for spec in (*definition.consumes, *definition.publishes):
        wanted[("topic", settings.topic(spec.name))].add("Describe")
        wanted[("topic", settings.topic(spec.dead_letter))].add("Describe")
    for spec in definition.consumes:
        wanted[("topic", settings.topic(spec.name))].add("Read")
        wanted[("topic", settings.topic(spec.dead_letter))].add("Write")
    for spec in definition.publishes:
        wanted[("topic", settings.topic(spec.name))].add("Write")
    return wanted


def test_each_service_may_do_with_kafka_exactly_what_its_code_does(monkeypatch: pytest.MonkeyPatch) -> None:
    users = of_kind("KafkaUser")
    for service in SERVICES:
        settings = _settings_in_pod(service, monkeypatch)
        user = users[str(settings.kafka.sasl_username)]
        granted = {(kind, name): set(ops) for kind, name, ops in iter_acls(user)}
        assert granted == _expected_acls(service, settings), service


def _topics() -> dict[str, Manifest]:
    return {topic["spec"]["topicName"]: topic for topic in of_kind("KafkaTopic").values()}


def test_every_registry_topic_and_its_dead_letter_topic_is_provisioned_with_the_registry_partitions() -> None:
    topics = _topics()
    expected = {spec.name: spec.partitions for spec in TOPICS}
    # services.runtime.topics creates dead-letter topics with one partition; so does the plan.
    expected.update({spec.dead_letter: 1 for spec in TOPICS})
    assert {name: topic["spec"]["partitions"] for name, topic in topics.items()} == expected
    for spec in TOPICS:
        assert topics[spec.name]["metadata"]["annotations"]["mentorship.io/key"] == spec.key


def test_every_topic_is_replicated_so_that_acks_all_survives_a_broker_loss() -> None:
    for name, topic in _topics().items():
        assert topic["spec"]["replicas"] >= 3, name
        assert topic["spec"]["config"]["min.insync.replicas"] == topic["spec"]["replicas"] - 1, name


def _full_snapshots(spec: TopicSpec) -> bool:
    """Every message on the topic carries the whole state of its key, so only the newest counts."""

    def carries_snapshot(message: type[Envelope]) -> bool:
        payload = message.model_fields["payload"].annotation
        if payload is ProfileSnapshot:
            return True
        inner = getattr(payload, "model_fields", {}).get("snapshot")
        return inner is not None and inner.annotation is ProfileSnapshot

    return all(carries_snapshot(message) for message in spec.messages)


def test_only_topics_of_full_snapshots_are_compacted() -> None:
    topics = _topics()
    for spec in TOPICS:
        policy = topics[spec.name]["spec"]["config"]["cleanup.policy"]
        assert policy == ("compact" if _full_snapshots(spec) else "delete"), spec.name
        assert topics[spec.dead_letter]["spec"]["config"]["cleanup.policy"] == "delete"
    assert any(_full_snapshots(spec) for spec in TOPICS), "profile.events.v1 carries full snapshots"
