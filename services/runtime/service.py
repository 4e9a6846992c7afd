"""The composition root every service shares: lifespan, health, AsyncAPI, and ``main``.

A service describes itself with a ``ServiceDefinition`` (its name, settings class, Kafka
router, Mongo indexes and optional HTTP routes). ``running`` starts it (Mongo, indexes,
broker, consumers) and stops it cleanly; ``create_app`` wraps that in a FastAPI app with
``/health/live``, ``/health/ready`` and ``/asyncapi.json``; ``main`` serves it with uvicorn.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from faststream.kafka import KafkaBroker, KafkaRouter
from faststream.specification import AsyncAPI
from opentelemetry.sdk.trace.export import SpanExporter
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from contracts.topics import TopicSpec
from services.runtime import outbox, periodic
from services.runtime.broker import create_broker
from services.runtime.logging import configure_logging, get_logger
from services.runtime.metrics import CONTENT_TYPE, Metrics
from services.runtime.mongo import Document, open_client, ping
from services.runtime.observability import Observability
from services.runtime.publishing import MessagePublisher
from services.runtime.settings import ServiceSettings
from services.runtime.topics import ensure_topics

log = get_logger(__name__)


@dataclass
class Runtime:
    """What handlers and HTTP routes of a running service work with."""

    settings: ServiceSettings
    broker: KafkaBroker
    mongo: AsyncMongoClient[Document]
    db: AsyncDatabase[Document]
    publisher: MessagePublisher
    # Long-lived objects a service builds once per process and shares between its consumers,
    # periodic tasks and HTTP routes (connection pools, rate limiters), by name.
    components: dict[str, Any] = field(default_factory=dict)
    observability: Observability = field(default_factory=Observability)

    @property
    def metrics(self) -> Metrics:
        """What the service counts of its own work (no-ops when metrics are off)."""
        return self.observability.recorder


@dataclass(frozen=True)
class ServiceDefinition:
    """How to assemble one service from the runtime kit."""

    name: str
    settings_cls: type[ServiceSettings]
    build_router: Callable[[Runtime], KafkaRouter]
    ensure_indexes: Callable[[AsyncDatabase[Document]], Awaitable[None]]
    consumes: tuple[TopicSpec, ...] = ()
    publishes: tuple[TopicSpec, ...] = ()
    outbox_collections: tuple[str, ...] = ()
    build_http: Callable[[Runtime], APIRouter] | None = None
    periodic: tuple[periodic.PeriodicTask, ...] = ()
    on_stop: Callable[[Runtime], Awaitable[None]] | None = None
    description: str = ""


class KafkaUnreachable(RuntimeError):
    """Kafka did not answer within the start-up timeout."""


async def _start_consuming(
    broker: KafkaBroker, settings: ServiceSettings, topics: tuple[TopicSpec, ...], timeout: float
) -> None:
    """Create missing topics and start the broker, waiting for Kafka to come up (containers
    and processes start in any order)."""
    deadline = time.monotonic() + timeout
    delay = 0.5
    while True:
        try:
            await ensure_topics(settings, topics)
            await broker.start()
            return
        except Exception as error:
            if time.monotonic() + delay > deadline:
                raise KafkaUnreachable(
                    f"Kafka at {settings.kafka.bootstrap_servers} did not answer within {timeout:.0f}s: "
                    f"{type(error).__name__}: {error}"
                ) from error
            log.warning("kafka not reachable yet, retrying", error=type(error).__name__, retry_in=delay)
            await broker.stop()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


@asynccontextmanager
async def running(
    definition: ServiceDefinition,
    settings: ServiceSettings,
    *,
    startup_timeout: float = 120.0,
    span_exporter: SpanExporter | None = None,
) -> AsyncIterator[Runtime]:
    """Run a service's consumers for the duration of the block.

    ``span_exporter`` receives the spans instead of the configured exporter when tracing is
    enabled (tests read them from memory)."""
    observability = Observability.from_settings(settings, span_exporter)
    if observability.metrics is not None:
        observability.metrics.expect_topics(settings.topic(spec.name) for spec in definition.consumes)
    broker = create_broker(settings, observability)
    mongo = open_client(settings)
    db = mongo[settings.database_name]
    runtime = Runtime(
        settings=settings,
        broker=broker,
        mongo=mongo,
        db=db,
        publisher=MessagePublisher(broker, settings),
        observability=observability,
    )
    broker.include_router(definition.build_router(runtime))
    try:
        await definition.ensure_indexes(db)
        topics = (*definition.consumes, *definition.publishes)
        await _start_consuming(broker, settings, topics, startup_timeout)
        for name in definition.outbox_collections:
            await outbox.sweep(db[name], runtime.publisher)
        log.info("service started", consumer_group=settings.consumer_group)
        with periodic.started(definition.periodic, runtime):
            yield runtime
    finally:
        await broker.stop()
        if definition.on_stop is not None:
            await definition.on_stop(runtime)
        await mongo.close()
        await observability.close()
        log.info("service stopped")


def asyncapi_document(definition: ServiceDefinition, broker: KafkaBroker) -> dict[str, Any]:
    """The service's AsyncAPI 3 document, generated from its subscribers and publishers."""
    spec = AsyncAPI(broker, title=f"mentorship {definition.name}", description=definition.description)
    document: dict[str, Any] = spec.to_specification().to_jsonable()
    return document


def create_app(
    definition: ServiceDefinition,
    settings: ServiceSettings | None = None,
    *,
    span_exporter: SpanExporter | None = None,
) -> FastAPI:
    """The service's ASGI app; the lifespan runs its consumers. ``/metrics`` exists only
    when metrics are enabled."""
    resolved = settings or definition.settings_cls()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with running(definition, resolved, span_exporter=span_exporter) as runtime:
            app.state.runtime = runtime
            if definition.build_http is not None:
                app.include_router(definition.build_http(runtime))
            yield

    app = FastAPI(title=f"mentorship {definition.name}", lifespan=lifespan)

    @app.get("/health/live")
    async def live() -> dict[str, str]:
        return {"status": "alive", "service": definition.name}

    @app.get("/health/ready")
    async def ready(request: Request) -> JSONResponse:
        runtime: Runtime | None = getattr(request.app.state, "runtime", None)
        checks = {"kafka": False, "mongo": False}
        if runtime is not None:
            checks["kafka"] = bool(await runtime.broker.ping(timeout=2.0))
            checks["mongo"] = await ping(runtime.mongo)
        healthy = all(checks.values())
        return JSONResponse(
            {"status": "ready" if healthy else "not ready", "service": definition.name, "checks": checks},
            status_code=200 if healthy else 503,
        )

    @app.get("/asyncapi.json")
    async def asyncapi(request: Request) -> dict[str, Any]:
        runtime: Runtime = request.app.state.runtime
        return asyncapi_document(definition, runtime.broker)

    if resolved.metrics.enabled:

        @app.get("/metrics", include_in_schema=False)
        async def metrics(request: Request) -> Response:
            runtime: Runtime = request.app.state.runtime
            assert runtime.observability.metrics is not None  # enabled, so built at start
            body = await runtime.observability.metrics.exposition(runtime.broker)
            return Response(body, media_type=CONTENT_TYPE)

    return app


def main(definition: ServiceDefinition) -> None:
    """Entry point of a service process: read settings, log, serve HTTP and consume."""
    settings = definition.settings_cls()
    configure_logging(definition.name, level=settings.log_level, fmt=settings.log_format)
    uvicorn.run(
        create_app(definition, settings),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
    )
