"""The local stack: Kafka, a Mongo-wire server and an SMTP catcher, without Docker.

    python -m deploy.local.stack up | down | status | provision

``up`` provisions what is missing (Kafka's jars through Maven, FerretDB and Mailpit
through the Go module proxy), starts the three servers as background processes on
127.0.0.1 and waits until each really answers. Provisioning is cached under ``.stack/``,
so later starts take seconds. ``up`` twice is harmless; ``down`` stops only processes this
CLI started (by pid, checked against the command line it launched). With a Docker engine,
``STACK_MODE=docker`` (or ``auto`` when no JDK or Go is present) uses docker-compose.yml
for the same three servers instead.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from deploy.local import transport_security
from services.runtime.mongo import ID_ANCHORED_FEATURE

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
MAILPIT_MODULE = "github.com/axllent/mailpit@v1.33.1"


class StackSettings(BaseSettings):
    """Where the local servers listen and where they keep their files (``STACK_*``)."""

    model_config = SettingsConfigDict(env_prefix="STACK_")

    mode: str = "auto"  # auto | local | docker
    home: Path = ROOT / ".stack"
    host: str = "127.0.0.1"
    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    mongo_port: int = 27017
    smtp_port: int = 1025
    mailpit_http_port: int = 8025
    kafka_heap: str = "768m"
    # SQLite's synchronous mode for FerretDB: "full" syncs the write-ahead log to disk at every
    # commit (one fsync per document written, 3 to 4 ms on this kind of disk); "normal" only at
    # checkpoints. Either way a killed FerretDB loses nothing; with "normal" a crash of the
    # machine itself can take back the last commits before a checkpoint, which development and
    # test data can afford.
    ferretdb_synchronous: Literal["full", "normal"] = "normal"
    # Go's garbage collector target for FerretDB (GOGC). At Go's default of 100 the collector
    # ran often enough to take about a quarter of FerretDB's processor time in the platform
    # benchmark (it decodes every document it reads into short-lived objects); at 400 FerretDB
    # used 23% less processor time for the same run while its memory stayed under 100 MB.
    ferretdb_gogc: int = Field(default=400, ge=25)
    ready_timeout: float = 120.0
    # Where provisioned jars and binaries live; another home (a secured stack beside the plain
    # one, say) can share them instead of provisioning its own.
    build_home: Path | None = None
    # ``sasl_ssl``: Kafka's only client listener takes TLS with SCRAM-SHA-512 for this one user.
    kafka_security: Literal["plaintext", "sasl_ssl"] = "plaintext"
    kafka_sasl_username: str = "mentorship"
    kafka_sasl_password: SecretStr = SecretStr("")
    # FerretDB then asks every command but the handshake for a SCRAM-SHA-256 login; the user is
    # created in the ``admin`` database on the first start of an empty data directory.
    mongo_auth: bool = False
    mongo_username: str = "mentorship"
    mongo_password: SecretStr = SecretStr("")

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    @property
    def run(self) -> Path:
        return self.home / "run"

    @property
    def build(self) -> Path:
        return self.build_home or self.home / "build"

    @property
    def tls(self) -> Path:
        return self.home / "tls"

    @property
    def kafka_secured(self) -> bool:
        return self.kafka_security == "sasl_ssl"

    def kafka_client_options(self) -> dict[str, object]:
        """aiokafka keyword arguments that reach this stack's Kafka listener."""
        if not self.kafka_secured:
            return {}
        import ssl

        return {
            "security_protocol": "SASL_SSL",
            "ssl_context": ssl.create_default_context(cafile=transport_security.Certificates(self.tls).ca),
            "sasl_mechanism": transport_security.SCRAM_MECHANISM,
            "sasl_plain_username": self.kafka_sasl_username,
            "sasl_plain_password": self.kafka_sasl_password.get_secret_value(),
        }

    def mongo_url(self) -> str:
        """A URL for this stack's Mongo-wire server, without credentials."""
        return f"mongodb://{self.host}:{self.mongo_port}/"

    @property
    def data(self) -> Path:
        return self.home / "data"


_echo: ContextVar[Callable[[str], None]] = ContextVar("stack_echo", default=print)


@contextmanager
def reporting_to(echo: Callable[[str], None]) -> Iterator[None]:
    """Send the CLI's progress lines to ``echo`` (the test session's terminal, say) instead of stdout."""
    token = _echo.set(echo)
    try:
        yield
    finally:
        _echo.reset(token)


def say(line: str) -> None:
    _echo.get()(line)


class StackError(RuntimeError):
    """A problem the person running the stack can act on; printed without a traceback."""


@dataclass(frozen=True)
class Server:
    name: str
    describe: Callable[[StackSettings], str]
    provision: Callable[[StackSettings], None]
    command: Callable[[StackSettings], list[str]]
    ports: Callable[[StackSettings], list[int]]
    ready: Callable[[StackSettings], bool]
    prepare: Callable[[StackSettings], None] = lambda s: None
    # Variables added to the server's environment: secrets go here, never on a command line
    # that ``ps`` shows to every user of the machine.
    environment: Callable[[StackSettings], dict[str, str]] = lambda s: {}


# ---------------------------------------------------------------- provisioning helpers


def _require(tool: str, what: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise StackError(
            f"'{tool}' is not installed, and the local stack needs it to {what}. "
            f"Install it (Debian: apt-get install {_APT_NAMES.get(tool, tool)}), "
            "or run with Docker: STACK_MODE=docker make stack-up"
        )
    return path


_APT_NAMES = {"java": "openjdk-17-jre-headless", "mvn": "maven", "go": "golang"}


def _fingersay(*paths: Path) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _cached(marker: Path, fingerprint: str, build: Callable[[], None]) -> None:
    """Run ``build`` unless ``marker`` records the same fingerprint (inputs unchanged)."""
    if marker.exists() and marker.read_text().strip() == fingerprint:
        return
    build()
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(fingerprint)


def _run_step(description: str, command: list[str], log: Path, **kwargs: object) -> None:
    say(f"  {description} (log: {log.relative_to(ROOT) if log.is_relative_to(ROOT) else log})")
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        result = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, check=False, **kwargs)  # type: ignore[call-overload]
    if result.returncode != 0:
        raise StackError(f"{description} failed (exit {result.returncode}):\n{_tail(log)}")


def _tail(path: Path, lines: int = 30) -> str:
    if not path.exists():
        return f"(no log at {path})"
    content = path.read_text(errors="replace").splitlines()
    return "\n".join("    " + line for line in content[-lines:])


# ---------------------------------------------------------------- Kafka


def _kafka_libs(s: StackSettings) -> Path:
    return s.build / "kafka-libs"


def _provision_kafka(s: StackSettings) -> None:
    pom = HERE / "kafka" / "pom.xml"

    def build() -> None:
        _require("java", "run the Kafka broker")
        mvn = _require("mvn", "download the Kafka broker's jars from Maven Central")
        libs = _kafka_libs(s)
        shutil.rmtree(libs, ignore_errors=True)
        _run_step(
            "resolving Apache Kafka from Maven Central",
            [mvn, "-B", "-q", "-f", str(pom), "dependency:copy-dependencies", f"-DoutputDirectory={libs}"],
            s.logs / "provision-kafka.log",
        )

    _cached(s.build / "kafka.fingerprint", _fingersay(pom), build)


def _kafka_listeners(s: StackSettings) -> list[str]:
    if s.kafka_secured:
        try:
            return transport_security.sasl_ssl_listener_properties(
                s.host,
                s.kafka_port,
                s.kafka_controller_port,
                transport_security.ensure_certificates(s.tls, s.host),
                s.kafka_sasl_username,
                s.kafka_sasl_password.get_secret_value(),
            )
        except transport_security.TransportSecurityError as error:
            raise StackError(f"cannot secure Kafka: {error}") from error
    return [
        f"listeners=PLAINTEXT://{s.host}:{s.kafka_port},CONTROLLER://{s.host}:{s.kafka_controller_port}",
        f"advertised.listeners=PLAINTEXT://{s.host}:{s.kafka_port}",
        "controller.listener.names=CONTROLLER",
        "inter.broker.listener.name=PLAINTEXT",
        "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
    ]


def _kafka_properties(s: StackSettings) -> Path:
    path = s.data / "kafka" / "server.properties"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)  # it holds the broker's SASL password when secured
    path.write_text(
        "\n".join(
            [
                "# Written by deploy/local/stack.py on every start; edit StackSettings instead.",
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.voters=1@{s.host}:{s.kafka_controller_port}",
                *_kafka_listeners(s),
                f"log.dirs={s.data / 'kafka' / 'logs'}",
                "num.partitions=6",
                "auto.create.topics.enable=true",
                "offsets.topic.replication.factor=1",
                "offsets.topic.num.partitions=10",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "share.coordinator.state.topic.replication.factor=1",
                "share.coordinator.state.topic.min.isr=1",
                # A single local node: no reason to wait for more members before the first rebalance.
                "group.initial.rebalance.delay.ms=0",
                "log.retention.hours=168",
                "",
            ]
        )
    )
    return path


# For a tool that runs for a few seconds: the JIT's first tier only and the serial collector
# start it in a quarter of the time (2.4 s instead of 9.6 s for `format` on a busy machine).
_SHORT_LIVED_JVM = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC")


def _java_command(s: StackSettings, main_class: str, *args: str, short_lived: bool = False) -> list[str]:
    jvm = _SHORT_LIVED_JVM if short_lived else (f"-Xmx{s.kafka_heap}", "-Xms256m", "-XX:+UseG1GC")
    return [
        _require("java", "run the Kafka broker"),
        *jvm,
        f"-Dlog4j2.configurationFile={HERE / 'log4j2.xml'}",
        "-cp",
        f"{_kafka_libs(s)}/*",
        main_class,
        *args,
    ]


def _prepare_kafka(s: StackSettings) -> None:
    properties = _kafka_properties(s)
    if (s.data / "kafka" / "logs" / "meta.properties").exists():
        return
    # Kafka's cluster ids are 16 random bytes in URL-safe base64 without padding.
    cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    # The secured listener's user (the broker's own login too) exists from the first start.
    scram: list[str] = []
    if s.kafka_secured:
        password = s.kafka_sasl_password.get_secret_value()
        scram = transport_security.scram_format_arguments(s.kafka_sasl_username, password)
    format_storage = ["format", "-t", cluster_id, "-c", str(properties), *scram]
    _run_step(
        "formatting Kafka storage (first start only)",
        _java_command(s, "kafka.tools.StorageTool", *format_storage, short_lived=True),
        s.logs / "kafka-format.log",
    )


def kafka_answers(bootstrap: str, **client_options: object) -> bool:
    """Whether a Kafka cluster at ``bootstrap`` answers a metadata request (``client_options``:
    aiokafka's security arguments for a secured listener)."""
    import logging

    from aiokafka.admin import AIOKafkaAdminClient

    # Refused connections are expected while the broker boots; they are not news.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)

    async def probe() -> bool:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000, **client_options)
        try:
            await admin.start()
            await admin.describe_cluster()
            return True
        finally:
            await admin.close()

    try:
        return asyncio.run(probe())
    except Exception:  # noqa: BLE001 - not ready yet
        return False


KAFKA = Server(
    name="kafka",
    describe=lambda s: (
        f"Kafka 4.1 (KRaft) on {s.host}:{s.kafka_port}"
        + (f", SASL_SSL (SCRAM as {s.kafka_sasl_username!r}, CA {s.tls}/ca.pem)" if s.kafka_secured else "")
    ),
    provision=_provision_kafka,
    prepare=_prepare_kafka,
    command=lambda s: _java_command(s, "kafka.Kafka", str(s.data / "kafka" / "server.properties")),
    ports=lambda s: [s.kafka_port, s.kafka_controller_port],
    ready=lambda s: kafka_answers(f"{s.host}:{s.kafka_port}", **s.kafka_client_options()),
)

# ---------------------------------------------------------------- FerretDB


def _bin(s: StackSettings, name: str) -> Path:
    return s.build / "bin" / name


FERRETDB_MODULE = "github.com/FerretDB/FerretDB"
# FerretDB 1.24's SQLite backend looks documents up by `_ferretdb_sjson->'$._id'`, while the
# unique index it creates on every collection is on `_ferretdb_sjson->"_id"`. Both expressions
# give the same value, but SQLite uses an expression index only for the very same expression,
# so every lookup, update and delete by _id scanned the table (EXPLAIN QUERY PLAN: SCAN; about
# 14 microseconds a row, 0.3 s at 20,000 documents). Writing the lookup like the index makes it
# an index search. Nothing stored changes, so existing data directories keep working.
#
# The embeddable package (which main.go uses) does not pass on the options that make FerretDB
# authenticate: its "new authentication" (SCRAM-SHA-256 against users stored in admin.system.users,
# on every backend, SQLite included; without it FerretDB accepts any PLAIN login on SQLite) and
# the user it creates at the first start. The other patches add them to its Config.
_EMBEDDED = "ferretdb/ferretdb.go"
# Queries: FerretDB pushes a filter down to SQL only when it is exactly a string or ObjectId
# _id; anything else reads and decodes every document of the collection (a conditional write
# by _id, or a claim looked up by its owner, cost O(collection)). Its handlers filter every row
# the backend returns once more in Go, so any narrowing that keeps all matches is safe: the
# patch narrows by a string or ObjectId _id (or a list of them in `$in`) among other fields
# too, and else by a string compared with the field of a unique single-field index, through
# that index's expression.
# (A unique index on an array field would lose matches this way; the platform creates none.)
_COLLECTION = "internal/backends/sqlite/collection.go"
_BARE_ID_PUSHDOWN = """\tif params.Filter.Len() == 1 {
\t\tv, _ := params.Filter.Get("_id")
\t\tswitch v.(type) {
\t\tcase string, types.ObjectID:
\t\t\twhereClause = fmt.Sprintf(` WHERE %s = ?`, metadata.IDColumn)
\t\t\targs = []any{string(must.NotFail(sjson.MarshalSingleValue(v)))}
\t\t}
\t}
"""
_PUSHDOWN_EQUALITY = """// pushdownEquality is the local stack's patch: see deploy/local/stack.py.
func pushdownEquality(meta *metadata.Collection, filter *types.Document) (string, []any) {
\tkeys, values := filter.Keys(), filter.Values()
\tfor i, key := range keys {
\t\tif key != "_id" {
\t\t\tcontinue
\t\t}
\t\tswitch v := values[i].(type) {
\t\tcase string, types.ObjectID:
\t\t\targ := string(must.NotFail(sjson.MarshalSingleValue(v)))
\t\t\treturn fmt.Sprintf(` WHERE %s = ?`, metadata.IDColumn), []any{arg}
\t\tcase *types.Document:
\t\t\tif where, args := pushdownIDIn(v); where != "" {
\t\t\t\treturn where, args
\t\t\t}
\t\t}
\t}
\tfor _, index := range meta.Settings.Indexes {
\t\tif !index.Unique || len(index.Key) != 1 || strings.Contains(index.Key[0].Field, ".") {
\t\t\tcontinue
\t\t}
\t\tfor i, key := range keys {
\t\t\tif s, ok := values[i].(string); ok && key == index.Key[0].Field {
\t\t\t\targ := string(must.NotFail(sjson.MarshalSingleValue(s)))
\t\t\t\treturn fmt.Sprintf(` WHERE %s->%q = ?`, metadata.DefaultColumn, key), []any{arg}
\t\t\t}
\t\t}
\t}
\treturn "", nil
}

// pushdownIDIn narrows `{_id: {$in: [...]}}` over strings and ObjectIDs to those ids.
func pushdownIDIn(condition *types.Document) (string, []any) {
\tv, _ := condition.Get("$in")
\tin, ok := v.(*types.Array)
\tif condition.Len() != 1 || !ok || in.Len() == 0 || in.Len() > 1000 {
\t\treturn "", nil
\t}
\tplaceholders, args := make([]string, in.Len()), make([]any, in.Len())
\tfor i := range in.Len() {
\t\titem := must.NotFail(in.Get(i))
\t\tswitch item.(type) {
\t\tcase string, types.ObjectID:
\t\t\tplaceholders[i], args[i] = "?", string(must.NotFail(sjson.MarshalSingleValue(item)))
\t\tdefault:
\t\t\treturn "", nil
\t\t}
\t}
\treturn fmt.Sprintf(` WHERE %s IN (%s)`, metadata.IDColumn, strings.Join(placeholders, ", ")), args
}

"""
FERRETDB_PATCHES = (
    (
        "internal/backends/sqlite/metadata/metadata.go",
        "IDColumn = DefaultColumn + \"->'$._id'\"",
        'IDColumn = DefaultColumn + `->"_id"`',
    ),
    (
        _EMBEDDED,
        '\t"github.com/FerretDB/FerretDB/internal/util/state"\n',
        '\t"github.com/FerretDB/FerretDB/internal/util/state"\n\t"github.com/FerretDB/FerretDB/internal/util/password"\n',
    ),
    (
        _EMBEDDED,
        "\tSQLiteURL string // For example: `file:data/`.\n",
        "\tSQLiteURL string // For example: `file:data/`.\n\n"
        "\tEnableNewAuth bool\n\tSetupDatabase string\n\tSetupUsername string\n\tSetupPassword string\n",
    ),
    (
        _EMBEDDED,
        "\t\tSQLiteURL: config.SQLiteURL,\n",
        "\t\tSQLiteURL: config.SQLiteURL,\n\n\t\tSetupDatabase: config.SetupDatabase,\n"
        "\t\tSetupUsername: config.SetupUsername,\n"
        "\t\tSetupPassword: password.WrapPassword(config.SetupPassword),\n",
    ),
    (
        _EMBEDDED,
        "\t\t\tBatchSize:               100,\n",
        "\t\t\tBatchSize:               100,\n\t\t\tEnableNewAuth:           config.EnableNewAuth,\n",
    ),
    (
        _COLLECTION,
        _BARE_ID_PUSHDOWN,
        "\twhereClause, args = pushdownEquality(meta, params.Filter)\n",
    ),
    (
        _COLLECTION,
        "// InsertAll implements backends.Collection interface.\n",
        _PUSHDOWN_EQUALITY + "// InsertAll implements backends.Collection interface.\n",
    ),
    (
        # buildInfo says the build has the narrowing above, so the services put their
        # conditions in the filter (``FilterSupport.ID_ANCHORED`` in services/runtime/mongo.py)
        # instead of reading before every conditional write as on an unpatched FerretDB.
        "internal/handler/msg_buildinfo.go",
        '\t\t\t\t"aggregationStages", aggregationStages,\n',
        f'\t\t\t\t"aggregationStages", aggregationStages,\n\t\t\t\t"{ID_ANCHORED_FEATURE}", true,\n',
    ),
)


def _patched_ferretdb_source(s: StackSettings, source: Path) -> Path:
    """A copy of the FerretDB module that ``go.mod`` pins, with ``FERRETDB_PATCHES`` applied."""
    go = _require("go", "build FerretDB from the Go module proxy")
    say("  downloading FerretDB from the Go module proxy")
    command = [go, "mod", "download", "-json", FERRETDB_MODULE]
    found = subprocess.run(command, cwd=source, capture_output=True, text=True, check=False)
    if found.returncode != 0:
        raise StackError(f"downloading {FERRETDB_MODULE} failed (exit {found.returncode}):\n{found.stderr}")
    module_dir = Path(json.loads(found.stdout)["Dir"])
    patched = s.build / "ferretdb-src"
    shutil.rmtree(patched, ignore_errors=True)
    shutil.copytree(module_dir, patched, copy_function=shutil.copyfile)
    # The module cache is read-only, and copytree copies the directories' modes: the copy must be
    # writable, or the next provisioning cannot remove it.
    for directory in (patched, *(p for p in patched.rglob("*") if p.is_dir())):
        directory.chmod(0o755)
    apply_ferretdb_patches(patched)
    return patched


def apply_ferretdb_patches(source: Path) -> None:
    """Apply ``FERRETDB_PATCHES`` to a copy of the FerretDB module, or say which no longer fits."""
    for relative, old, new in FERRETDB_PATCHES:
        path = source / relative
        text = path.read_text()
        if text.count(old) != 1:
            raise StackError(f"cannot patch {relative}: the FerretDB version in go.mod no longer has {old!r}")
        path.write_text(text.replace(old, new))


def _provision_ferretdb(s: StackSettings) -> None:
    source = HERE / "ferretdb"

    def build() -> None:
        go = _require("go", "build FerretDB from the Go module proxy")
        patched = _patched_ferretdb_source(s, source)
        # A go.mod beside the sources that points the module at the patched copy, so the
        # checked-in go.mod and go.sum stay exactly what the proxy serves.
        modfile = s.build / "ferretdb-build" / "go.mod"
        modfile.parent.mkdir(parents=True, exist_ok=True)
        modfile.write_text((source / "go.mod").read_text() + f"\nreplace {FERRETDB_MODULE} => {patched}\n")
        shutil.copyfile(source / "go.sum", modfile.with_suffix(".sum"))
        _run_step(
            "building FerretDB 1.24 (SQLite backend, _id lookups through the index) with Go",
            [go, "build", f"-modfile={modfile}", "-o", str(_bin(s, "ferretdb")), "."],
            s.logs / "build-ferretdb.log",
            cwd=source,
        )

    _cached(
        s.build / "ferretdb.fingerprint",
        _fingersay(source / "main.go", source / "go.mod", source / "go.sum")
        + hashlib.sha256(repr(FERRETDB_PATCHES).encode()).hexdigest()[:16],
        build,
    )


def mongo_answers(url: str) -> bool:
    """Whether a MongoDB wire-protocol server at ``url`` answers ``ping``."""
    from pymongo import MongoClient

    client: MongoClient[dict[str, object]] = MongoClient(url, serverSelectionTimeoutMS=1500)
    try:
        client.admin.command("ping")
        return True
    except Exception:  # noqa: BLE001 - not ready yet
        return False
    finally:
        client.close()


MONGO_PASSWORD_VARIABLE = "FERRETDB_SETUP_PASSWORD"


def _ferretdb_command(s: StackSettings) -> list[str]:
    auth = ["-auth", "-setup-username", s.mongo_username] if s.mongo_auth else []
    listen = ["-listen", f"{s.host}:{s.mongo_port}", "-data", str(s.data / "ferretdb")]
    return [str(_bin(s, "ferretdb")), "-synchronous", s.ferretdb_synchronous, *auth, *listen]


def _ferretdb_environment(s: StackSettings) -> dict[str, str]:
    tuning = {"GOGC": str(s.ferretdb_gogc)}
    if not s.mongo_auth:
        return tuning
    if not s.mongo_password.get_secret_value():
        raise StackError("STACK_MONGO_AUTH is on: set STACK_MONGO_PASSWORD to the password of its user")
    return tuning | {MONGO_PASSWORD_VARIABLE: s.mongo_password.get_secret_value()}


FERRETDB = Server(
    name="ferretdb",
    describe=lambda s: (
        f"FerretDB (MongoDB wire protocol, SQLite) on {s.host}:{s.mongo_port}"
        + (f", SCRAM-SHA-256 login as {s.mongo_username!r} (authSource admin)" if s.mongo_auth else "")
    ),
    provision=_provision_ferretdb,
    prepare=lambda s: (s.data / "ferretdb").mkdir(parents=True, exist_ok=True),
    command=_ferretdb_command,
    ports=lambda s: [s.mongo_port],
    # ``ping`` needs no login, so this also tells whether a server with authentication is up.
    ready=lambda s: mongo_answers(s.mongo_url()),
    environment=_ferretdb_environment,
)

# ---------------------------------------------------------------- Mailpit


def _provision_mailpit(s: StackSettings) -> None:
    def build() -> None:
        go = _require("go", "build Mailpit from the Go module proxy")
        _run_step(
            f"building Mailpit ({MAILPIT_MODULE}) with Go",
            [go, "install", MAILPIT_MODULE],
            s.logs / "provision-mailpit.log",
            env={**os.environ, "GOBIN": str(s.build / "bin")},
        )

    _cached(s.build / "mailpit.fingerprint", MAILPIT_MODULE, build)


def http_ok(url: str) -> bool:
    """Whether ``url`` answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


MAILPIT = Server(
    name="mailpit",
    describe=lambda s: (
        f"Mailpit: SMTP on {s.host}:{s.smtp_port}, HTTP API on http://{s.host}:{s.mailpit_http_port}"
    ),
    provision=_provision_mailpit,
    prepare=lambda s: (s.data / "mailpit").mkdir(parents=True, exist_ok=True),
    command=lambda s: [
        str(_bin(s, "mailpit")),
        "--smtp",
        f"{s.host}:{s.smtp_port}",
        "--listen",
        f"{s.host}:{s.mailpit_http_port}",
        "--database",
        str(s.data / "mailpit" / "mailpit.db"),
        "--smtp-auth-accept-any",
        "--smtp-auth-allow-insecure",
        "--disable-version-check",
    ],
    ports=lambda s: [s.smtp_port, s.mailpit_http_port],
    ready=lambda s: http_ok(f"http://{s.host}:{s.mailpit_http_port}/readyz"),
)

SERVERS = (KAFKA, FERRETDB, MAILPIT)

# ---------------------------------------------------------------- process management


def _pid_file(s: StackSettings, server: Server) -> Path:
    return s.run / f"{server.name}.pid"


def running_pid(s: StackSettings, server: Server) -> int | None:
    """The pid of our server process, if the pid file names a live process we launched."""
    path = _pid_file(s, server)
    if not path.exists():
        return None
    try:
        pid = int(path.read_text().split()[0])
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (ValueError, OSError, IndexError):
        path.unlink(missing_ok=True)
        return None
    # A recycled pid belongs to someone else: only trust it if it runs what we launched.
    if server.command(s)[-1] not in cmdline and server.command(s)[0] not in cmdline:
        path.unlink(missing_ok=True)
        return None
    return pid


def _port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _start(s: StackSettings, server: Server) -> None:
    if running_pid(s, server) is not None:
        say(f"  {server.name}: already running")
        return
    busy = [p for p in server.ports(s) if _port_in_use(s.host, p)]
    if busy:
        raise StackError(
            f"{server.name} cannot start: port(s) {busy} on {s.host} are taken by another process. "
            f"Stop it, or choose other ports (STACK_* settings)."
        )
    server.prepare(s)
    environment = {**os.environ, **server.environment(s)}
    log = s.logs / f"{server.name}.log"
    with log.open("a") as out:
        process = subprocess.Popen(
            server.command(s),
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=s.data,
            start_new_session=True,  # survives the CLI and is not hit by its Ctrl-C
        )
    _pid_file(s, server).write_text(f"{process.pid}\n")
    say(f"  {server.name}: started (pid {process.pid})")


def _wait_ready(s: StackSettings, server: Server) -> float:
    started = time.monotonic()
    deadline = started + s.ready_timeout
    while time.monotonic() < deadline:
        if server.ready(s):
            return time.monotonic() - started
        if running_pid(s, server) is None:
            break
        time.sleep(0.5)
    log = s.logs / f"{server.name}.log"
    state = "exited" if running_pid(s, server) is None else f"did not answer within {s.ready_timeout:.0f}s"
    raise StackError(f"{server.name} {state}. Last lines of {log}:\n{_tail(log)}")


def _stop(s: StackSettings, server: Server, timeout: float = 20.0) -> None:
    pid = running_pid(s, server)
    if pid is None:
        say(f"  {server.name}: not running")
        _pid_file(s, server).unlink(missing_ok=True)
        return
    os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists() and not _is_zombie(pid):
        time.sleep(0.2)
    if Path(f"/proc/{pid}").exists() and not _is_zombie(pid):
        os.killpg(pid, signal.SIGKILL)
    _pid_file(s, server).unlink(missing_ok=True)
    say(f"  {server.name}: stopped")


def server_named(name: str) -> Server:
    """One of ``SERVERS`` by its name (kafka, ferretdb, mailpit)."""
    return next(server for server in SERVERS if server.name == name)


def start_server(s: StackSettings, name: str) -> float:
    """Start one server of a stack and wait until it answers; the seconds that took.

    For tools that stop and start a single server of a stack of their own (the reliability
    suite restarts Kafka and FerretDB under load)."""
    server = server_named(name)
    _start(s, server)
    return _wait_ready(s, server)


def stop_server(s: StackSettings, name: str) -> None:
    """Stop one server this CLI (or ``start_server``) started in the stack ``s``."""
    _stop(s, server_named(name))


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return False


# ---------------------------------------------------------------- docker path


def docker_available() -> bool:
    if shutil.which("docker") is None:
        return False
    result = subprocess.run(["docker", "info"], capture_output=True, check=False, timeout=15)
    return result.returncode == 0


def _use_docker(s: StackSettings) -> bool:
    if s.mode == "docker":
        if not docker_available():
            raise StackError("STACK_MODE=docker, but no Docker engine answers `docker info`.")
        return True
    if s.mode == "local":
        return False
    # auto: the local path when its tools exist, Docker otherwise.
    local_tools = all(shutil.which(t) for t in ("java", "mvn", "go"))
    return not local_tools and docker_available()


def _compose(*args: str) -> None:
    subprocess.run(["docker", "compose", "-f", str(ROOT / "docker-compose.yml"), *args], check=True)


# ---------------------------------------------------------------- commands


def provision(s: StackSettings, servers: tuple[Server, ...] = SERVERS) -> None:
    for directory in (s.logs, s.run, s.build, s.data):
        directory.mkdir(parents=True, exist_ok=True)
    for server in servers:
        server.provision(s)


def up(s: StackSettings, servers: tuple[Server, ...] = SERVERS) -> None:
    if _use_docker(s):
        _compose("up", "-d", "--wait", "kafka", "mongo", "mailpit")
        return
    began = time.monotonic()
    say("Provisioning (cached after the first run)...")
    provision(s, servers)
    say("Starting servers...")
    for server in servers:
        _start(s, server)
    for server in servers:
        took = _wait_ready(s, server)
        say(f"  {server.name}: ready after {took:.1f}s - {server.describe(s)}")
    say(f"Local stack ready in {time.monotonic() - began:.1f}s. Logs and data: {s.home}")


def down(s: StackSettings, servers: tuple[Server, ...] = SERVERS) -> None:
    if _use_docker(s):
        _compose("stop", "kafka", "mongo", "mailpit")
        return
    for server in reversed(servers):
        _stop(s, server)


def status(s: StackSettings) -> int:
    """Print what runs where; exit code 0 only when every server answers."""
    all_ready = True
    for server in SERVERS:
        pid = running_pid(s, server)
        ready = server.ready(s)
        all_ready &= ready
        state = "ready" if ready else ("starting or unhealthy" if pid else "stopped")
        owner = f"pid {pid}" if pid else ("not started by this CLI" if ready else "-")
        print(f"{server.name:9} {state:22} {owner:24} {server.describe(s)}")
    return 0 if all_ready else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="stack", description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("command", choices=["up", "down", "status", "provision"])
    args = parser.parse_args(argv)
    settings = StackSettings()
    try:
        if args.command == "up":
            up(settings)
        elif args.command == "down":
            down(settings)
        elif args.command == "provision":
            provision(settings)
        else:
            return status(settings)
    except StackError as error:
        print(f"stack {args.command}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
