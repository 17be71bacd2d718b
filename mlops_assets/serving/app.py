"""The FastAPI application: model loaded in `lifespan`, body size bounded (413), routes mounted.

Run with `make serve` (or `python -m mlops_assets.serving`); uvicorn calls `serving_app`.
"""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import anyio.to_thread
import pandas as pd
from fastapi import FastAPI, Request, status
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from mlops_assets.backends import factory
from mlops_assets.backends.prediction_log import PredictionLog
from mlops_assets.serving.config import ServingSettings, check_admin_guard
from mlops_assets.serving.holder import ModelHolder
from mlops_assets.serving.metrics import ObservabilityMiddleware, ServingMetrics, metrics_router
from mlops_assets.serving.model_source import RegistrySource
from mlops_assets.serving.push import push_subscription
from mlops_assets.serving.recorder import PredictionRecorder
from mlops_assets.serving.reloader import ModelReloader, ModelSource
from mlops_assets.serving.routes import predict_router, router
from mlops_assets.serving.schemas import MAX_PROBLEMS


async def validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
    """422 naming each problem by place and reason (400 when the body is not JSON at all),
    without echoing the input back.

    FastAPI's default echoes every rejected value, which for a photo means 64 numbers per error
    and fails outright on NaN (not JSON).
    """
    errors = error.errors()
    # A bounded answer whatever the request: the first problems and how many there are.
    problems = [
        {"loc": list(e["loc"]), "type": e["type"], "msg": e["msg"]} for e in errors[:MAX_PROBLEMS]
    ]
    unparseable = any(p["type"] == "json_invalid" for p in problems)
    code = status.HTTP_400_BAD_REQUEST if unparseable else status.HTTP_422_UNPROCESSABLE_CONTENT
    return JSONResponse({"detail": problems, "total": len(errors)}, status_code=code)


async def unparseable_body(request: Request, error: HTTPException) -> Response:
    """A body FastAPI cannot even decode (not UTF-8) gets the same 400 as one that is not JSON;
    every other HTTP error keeps FastAPI's answer. (FastAPI raises Starlette's HTTPException for
    an undecodable body, hence the Starlette class.)"""
    if error.status_code != status.HTTP_400_BAD_REQUEST:
        return await http_exception_handler(request, error)
    problem = {"loc": ["body"], "type": "json_invalid", "msg": str(error.detail)}
    return JSONResponse({"detail": [problem], "total": 1}, status_code=error.status_code)


# A push subscription: called at startup with `notify(reason)`, returns the function that closes
# it at shutdown. A queue consumer of ModelPromoted / ModelRolledBack messages fits here.
Subscribe = Callable[[Callable[[str], None]], Callable[[], None]]
# Where the recorder writes batches of served predictions (a DataFrame each).
PredictionSink = Callable[[pd.DataFrame], object]


def _recorder(settings: ServingSettings, sink: PredictionSink | None) -> PredictionRecorder | None:
    if not settings.record_predictions:
        return None
    if sink is None:
        sink = PredictionLog(factory.object_store(settings)).write
    return PredictionRecorder(
        sink, settings.record_buffer, settings.record_batch, settings.record_flush_s
    )


def create_app(
    settings: ServingSettings | None = None,
    source: ModelSource | None = None,
    subscribe: Subscribe | None = None,
    prediction_sink: PredictionSink | None = None,
) -> FastAPI:
    """Builds the server.

    Args:
        settings: default: read from the environment.
        source: where models come from; default the MLflow registry alias in `settings`.
        subscribe: push notifications of a new champion (see `Subscribe`); polling and
            `POST /admin/reload` work without one.
        prediction_sink: where recorded predictions go; default the object store's
            prediction log (when MLOPS_SERVING_RECORD_PREDICTIONS is on).
    """
    settings = settings or ServingSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        holder = ModelHolder()
        model_source = source or RegistrySource(
            settings.resolved_tracking_uri,
            settings.model_name,
            settings.alias,
            factory.model_signer(settings),
        )
        if settings.download_dir is not None:
            settings.download_dir.mkdir(parents=True, exist_ok=True)
        reloader = ModelReloader(
            holder, model_source, settings.poll_interval_s, settings.download_dir
        )
        app.state.holder = holder
        app.state.reloader = reloader
        # Loading off the event loop; a failure leaves the server up and not ready (503s).
        await anyio.to_thread.run_sync(reloader.reload, "startup")
        reloader.start()
        recorder = app.state.recorder = _recorder(settings, prediction_sink)
        if recorder is not None:
            recorder.start()
        unsubscribe = subscribe(reloader.notify) if subscribe else None
        try:
            yield
        finally:
            if unsubscribe is not None:
                await anyio.to_thread.run_sync(unsubscribe)
            await anyio.to_thread.run_sync(reloader.stop)
            if recorder is not None:
                await anyio.to_thread.run_sync(recorder.stop)

    app = FastAPI(
        title="mlops_assets inference",
        summary="Task-photo classifier: the registry's champion, hot-swapped without downtime.",
        version="1",
        lifespan=lifespan,
        # FastAPI's body-limit middleware: larger bodies get a 413 before they are parsed.
        max_body_size=settings.body_limit,
    )
    app.state.settings = settings
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, unparseable_body)
    app.include_router(predict_router(settings.max_batch))
    app.include_router(router)
    app.state.metrics = None
    if settings.metrics:
        app.state.metrics = ServingMetrics(lambda: _model_state(app, settings))
        app.include_router(metrics_router)
    app.add_middleware(ObservabilityMiddleware, metrics=app.state.metrics)
    return app


def _model_state(app: FastAPI, settings: ServingSettings) -> tuple[str, str | None, int, int]:
    """What /metrics reports of the model: name, serving version, swaps, reload failures."""
    holder = getattr(app.state, "holder", None)
    reloader = getattr(app.state, "reloader", None)
    current = holder.current if holder else None
    return (
        current.name if current else settings.model_name,
        current.version if current else None,
        holder.swaps if holder else 0,
        reloader.failures if reloader else 0,
    )


def serving_app() -> FastAPI:
    """uvicorn's factory: settings from the environment, plus push unless MLOPS_SERVING_PUSH=0."""
    settings = ServingSettings()
    check_admin_guard(settings)
    return create_app(settings, subscribe=push_subscription(settings) if settings.push else None)
