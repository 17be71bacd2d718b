"""Prometheus metrics and request ids for the inference server.

`ObservabilityMiddleware` (pure ASGI, so it adds no task or thread per request) gives every
request an id (the caller's `X-Request-ID`, else a new one), echoes it in the response, and
times the request into a histogram labelled by route template, method and status. The model's
state (serving version, swaps, reload failures) and the predictions per label are read when
Prometheus scrapes `GET /metrics`, so the request path pays for none of them.

Each worker process has its own registry: with `MLOPS_SERVING_WORKERS` > 1 a scrape sees the
worker that answered it, so scrape each worker (one per container) or keep one worker.
"""

import contextvars
import os
import time
from collections.abc import Iterator

import numpy as np
from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mlops_assets.constants import LABELS

# ASGI header names arrive lower-cased.
REQUEST_ID_HEADER = b"x-request-id"
# Request ids from callers are echoed; longer or odd ones are replaced, not trusted into logs.
MAX_REQUEST_ID_CHARS = 128
# Single-photo predictions take about a millisecond here; batches and swaps reach seconds.
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)


class ServingMetrics(Collector):
    """The server's metrics in their own registry (one per app, so tests can build several).

    Args:
        model_state: returns (model name, serving version or None, swaps, reload failures).
    """

    def __init__(self, model_state) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.latency = Histogram(
            "mlops_serving_request_duration_seconds",
            "Time from request to response, by route template, method and status.",
            ["route", "method", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        # Children by (route, method, status): `labels()` costs more than the observation.
        self._latency_children: dict[tuple[str, str, str], Histogram] = {}
        self.predicted = np.zeros(len(LABELS), dtype=np.int64)
        self._model_state = model_state
        self.registry.register(self)

    def observe_request(self, route: str, method: str, status: str, seconds: float) -> None:
        """Adds one request's latency to the histogram."""
        key = (route, method, status)
        child = self._latency_children.get(key)
        if child is None:
            child = self._latency_children[key] = self.latency.labels(*key)
        child.observe(seconds)

    def count_predictions(self, labels: np.ndarray) -> None:
        """Adds a response's predicted labels (called on the event loop, once per /predict)."""
        self.predicted += np.bincount(labels, minlength=len(LABELS))[: len(LABELS)]

    def collect(self) -> Iterator:
        name, version, swaps, failures = self._model_state()
        serving = GaugeMetricFamily(
            "mlops_serving_model_version",
            "Registry version of the model answering now (absent before the first load).",
            labels=["model"],
        )
        if version is not None and version.isdigit():
            serving.add_metric([name], int(version))
        yield serving
        yield CounterMetricFamily(
            "mlops_serving_model_swaps", "Models swapped into service.", value=swaps
        )
        yield CounterMetricFamily(
            "mlops_serving_reload_failures",
            "Reloads that failed; the previous model kept serving.",
            value=failures,
        )
        predictions = CounterMetricFamily(
            "mlops_serving_predictions", "Photos labelled, by predicted label.", labels=["label"]
        )
        for label, count in zip(LABELS, self.predicted.tolist(), strict=True):
            predictions.add_metric([str(label)], count)
        yield predictions

    def exposition(self) -> bytes:
        """The registry in Prometheus text format."""
        return generate_latest(self.registry)


def _request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == REQUEST_ID_HEADER:
            text = value.decode("latin-1")
            if 0 < len(text) <= MAX_REQUEST_ID_CHARS and text.isprintable():
                return text
            break
    # 128 random bits as hex, like uuid4().hex without building a UUID object.
    return os.urandom(16).hex()


class ObservabilityMiddleware:
    """Request id in and out, and the latency histogram; plain ASGI."""

    def __init__(self, app: ASGIApp, metrics: ServingMetrics | None) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _request_id(scope)
        token = request_id_var.set(request_id)
        status = 500
        header = (REQUEST_ID_HEADER, request_id.encode("latin-1"))

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)
            if self.metrics is not None:
                route = scope.get("route")
                # Route templates, never raw paths: unknown paths must not grow the label set.
                template = getattr(route, "path", None) or "unmatched"
                self.metrics.observe_request(
                    template, scope["method"], str(status), time.perf_counter() - started
                )


metrics_router = APIRouter()


@metrics_router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus scrape endpoint."""
    body = request.app.state.metrics.exposition()
    return Response(body, media_type=CONTENT_TYPE_LATEST)
