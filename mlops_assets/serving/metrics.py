"""Prometheus metrics and request ids for the inference server.

`ObservabilityMiddleware` (pure ASGI, so it adds no task or thread per request) gives every
request an id (the caller's `X-Request-ID`, else a new one), echoes it in the response, and
times the request into a histogram labelled by route template, method and status. Each model's
state (serving version, swaps, reload failures), its predictions per label or verifications per
decision are read when Prometheus scrapes `GET /metrics`, so the request path pays for none of
them; every model metric carries the fleet model's name in its `model` label.

Each worker process has its own registry: with `MLOPS_SERVING_WORKERS` > 1 a scrape sees the
worker that answered it, so scrape each worker (one per container) or keep one worker.
"""

import contextvars
import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from typing import NamedTuple

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
# Cosine scores of verify requests: coarse below zero, fine where thresholds sit.
SCORE_BUCKETS = (-0.5, 0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0)


class ModelState(NamedTuple):
    """One served model as /metrics reports it."""

    model: str
    version: str | None
    swaps: int
    failures: int


request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)


class ServingMetrics(Collector):
    """The server's metrics in their own registry (one per app, so tests can build several).

    Args:
        models_state: returns a `ModelState` per served model.
    """

    def __init__(self, models_state: Callable[[], Iterable[ModelState]]) -> None:
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
        self.scores = Histogram(
            "mlops_serving_verify_score",
            "Cosine scores answered by verify requests, by model.",
            ["model"],
            buckets=SCORE_BUCKETS,
            registry=self.registry,
        )
        self._score_children: dict[str, Histogram] = {}
        self.predicted: dict[str, np.ndarray] = defaultdict(
            lambda: np.zeros(len(LABELS), dtype=np.int64)
        )
        self.verified: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        self._models_state = models_state
        self.registry.register(self)

    def observe_request(self, route: str, method: str, status: str, seconds: float) -> None:
        """Adds one request's latency to the histogram."""
        key = (route, method, status)
        child = self._latency_children.get(key)
        if child is None:
            child = self._latency_children[key] = self.latency.labels(*key)
        child.observe(seconds)

    def count_predictions(self, model: str, labels: np.ndarray) -> None:
        """Adds a response's predicted labels (called on the event loop, once per predict)."""
        self.predicted[model] += np.bincount(labels, minlength=len(LABELS))[: len(LABELS)]

    def count_verification(self, model: str, match: bool, score: float) -> None:
        """Adds one verify answer: its decision and its score (on the event loop)."""
        self.verified[model][int(match)] += 1
        child = self._score_children.get(model)
        if child is None:
            child = self._score_children[model] = self.scores.labels(model)
        child.observe(score)

    def collect(self) -> Iterator:
        states = list(self._models_state())
        serving = GaugeMetricFamily(
            "mlops_serving_model_version",
            "Registry version of each model answering now (absent before its first load).",
            labels=["model"],
        )
        swaps = CounterMetricFamily(
            "mlops_serving_model_swaps", "Versions swapped into service.", labels=["model"]
        )
        failures = CounterMetricFamily(
            "mlops_serving_reload_failures",
            "Reloads that failed; the previous version kept serving.",
            labels=["model"],
        )
        for state in states:
            if state.version is not None and state.version.isdigit():
                serving.add_metric([state.model], int(state.version))
            swaps.add_metric([state.model], state.swaps)
            failures.add_metric([state.model], state.failures)
        yield from (serving, swaps, failures)
        predictions = CounterMetricFamily(
            "mlops_serving_predictions",
            "Photos labelled, by model and predicted label.",
            labels=["model", "label"],
        )
        for model, counts in list(self.predicted.items()):
            for label, count in zip(LABELS, counts.tolist(), strict=True):
                predictions.add_metric([model, str(label)], count)
        yield predictions
        verifications = CounterMetricFamily(
            "mlops_serving_verifications",
            "Verify requests answered, by model and decision.",
            labels=["model", "match"],
        )
        for model, (rejected, matched) in list(self.verified.items()):
            verifications.add_metric([model, "false"], rejected)
            verifications.add_metric([model, "true"], matched)
        yield verifications

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
