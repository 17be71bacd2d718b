"""The FastAPI application: every served model of the fleet loaded in `lifespan`, body size
bounded (413), each model's routes mounted under its serving route.

Run with `make serve` (or `python -m mlops_assets.serving`); uvicorn calls `serving_app`.
"""

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI, Request, status
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from mlops_assets.contracts.fleet import FleetSpec, load_fleet
from mlops_assets.serving.catalog import default_model_missing_router
from mlops_assets.serving.catalog import router as catalog_router
from mlops_assets.serving.config import ServingSettings, check_admin_guard
from mlops_assets.serving.metrics import (
    ModelState,
    ObservabilityMiddleware,
    ServingMetrics,
    metrics_router,
)
from mlops_assets.serving.push import Notifiers, push_subscription
from mlops_assets.serving.reloader import ModelSource
from mlops_assets.serving.routes import default_paths, model_router, router, served_paths
from mlops_assets.serving.schemas import MAX_PROBLEMS
from mlops_assets.serving.served import (
    PredictionSink,
    ServedModel,
    build_served,
    served_specs,
)


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


# A push subscription: called at startup with each served model's `notify(reason)` by registered
# model name (`push.Notifiers`, callable itself for the default model); returns the function
# that closes it at shutdown. A queue consumer of ModelPromoted / ModelRolledBack fits here.
Subscribe = Callable[[Notifiers], Callable[[], None]]


def _serve(
    settings: ServingSettings,
    fleet: FleetSpec,
    sources: Mapping[str, ModelSource],
    prediction_sink: PredictionSink | Mapping[str, PredictionSink] | None,
) -> dict[str, ServedModel]:
    names = list(sources) or None
    return {
        spec.name: build_served(spec, settings, sources.get(spec.name), prediction_sink)
        for spec in served_specs(fleet, settings, names)
    }


def create_app(
    settings: ServingSettings | None = None,
    source: ModelSource | None = None,
    subscribe: Subscribe | None = None,
    prediction_sink: PredictionSink | Mapping[str, PredictionSink] | None = None,
    *,
    sources: Mapping[str, ModelSource] | None = None,
    fleet: FleetSpec | None = None,
) -> FastAPI:
    """Builds the server for the models of a fleet.

    Args:
        settings: default: read from the environment.
        source: shorthand for `sources={settings.default_model: source}` (one model).
        subscribe: push notifications of a new champion (see `Subscribe`); polling and the
            admin reloads work without one.
        prediction_sink: where recorded predictions go: one sink for every model, or one per
            model name; default each model's prediction log in the object store (when
            MLOPS_SERVING_RECORD_PREDICTIONS is on).
        sources: the models to serve (fleet names) and where each one's versions come from;
            default every model of the fleet (MLOPS_SERVING_MODELS narrows it), each from its
            registered model's alias.
        fleet: default: the fleet file (MLOPS_MODELS_FILE, else the one shipped).

    Raises:
        FleetFileError: the fleet file is not valid.
        ValueError: a model to serve is not in the fleet.
    """
    settings = settings or ServingSettings()
    fleet = fleet or load_fleet(settings.models_file)
    sources = dict(sources or {})
    if source is not None:
        sources[settings.default_model] = source
    models = _serve(settings, fleet, sources, prediction_sink)
    default = models.get(settings.default_model)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.download_dir is not None:
            settings.download_dir.mkdir(parents=True, exist_ok=True)
        # Loading off the event loop; a failure leaves the server up and that model not ready
        # (503s). One model after the other: two TensorFlow loads at once gain nothing.
        for served in models.values():
            await anyio.to_thread.run_sync(served.reloader.reload, "startup")
        for served in models.values():
            served.reloader.start()
            if served.recorder is not None:
                served.recorder.start()
        notifiers = Notifiers(
            {m.registry_name: m.reloader.notify for m in models.values()},
            default.registry_name if default else None,
        )
        unsubscribe = subscribe(notifiers) if subscribe else None
        try:
            yield
        finally:
            if unsubscribe is not None:
                await anyio.to_thread.run_sync(unsubscribe)
            for served in models.values():
                await anyio.to_thread.run_sync(served.reloader.stop)
                if served.recorder is not None:
                    await anyio.to_thread.run_sync(served.recorder.stop)

    app = FastAPI(
        title="mlops_assets inference",
        summary="The fleet's champions (task-photo classifier, face verifier, …), each "
        "hot-swapped without downtime.",
        version="2",
        lifespan=lifespan,
        # FastAPI's body-limit middleware: larger bodies get a 413 before they are parsed.
        max_body_size=settings.body_limit,
    )
    app.state.settings = settings
    app.state.fleet = fleet
    app.state.models = models
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, unparseable_body)
    if default is not None:
        app.include_router(model_router(default, default_paths(default), settings.max_batch))
    else:
        app.include_router(default_model_missing_router(settings.default_model))
    for served in models.values():
        app.include_router(model_router(served, served_paths(served), settings.max_batch))
    app.include_router(router)
    app.include_router(catalog_router)
    app.state.metrics = None
    if settings.metrics:
        app.state.metrics = ServingMetrics(lambda: _models_state(models))
        app.include_router(metrics_router)
    app.add_middleware(ObservabilityMiddleware, metrics=app.state.metrics)
    return app


def _models_state(models: Mapping[str, ServedModel]) -> list[ModelState]:
    """What /metrics reports of each model: serving version, swaps, reload failures."""
    states = []
    for name, served in models.items():
        current = served.holder.current
        version = current.version if current else None
        states.append(ModelState(name, version, served.holder.swaps, served.reloader.failures))
    return states


def serving_app() -> FastAPI:
    """uvicorn's factory: settings from the environment, plus push unless MLOPS_SERVING_PUSH=0."""
    settings = ServingSettings()
    check_admin_guard(settings)
    return create_app(settings, subscribe=push_subscription(settings) if settings.push else None)
