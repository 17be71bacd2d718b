"""The fleet's directory: `GET /models` lists what this server serves, and a request for a model
it does not serve, or for the wrong route of one it does, gets a 404 saying where to go.

The fallback routes are registered after every model's own routes, so they answer only what no
model route matched; they stay out of the OpenAPI page.
"""

from typing import Literal

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import BaseModel, Field

from mlops_assets.serving.routes import readiness
from mlops_assets.serving.served import ServedModel

ANY_METHOD = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
DEFAULT_ROUTES = ("/predict", "/verify", "/ready", "/model", "/admin/reload")

router = APIRouter()


class ModelSummary(BaseModel):
    """One served model of the fleet: where to call it and what it serves now."""

    name: str = Field(description="The model's name in the fleet file.")
    task: Literal["classification", "verification"]
    route: str = Field(description="Path prefix of its routes.")
    request_route: str = Field(description="Where to POST requests: <route>/predict or /verify.")
    registered_model: str = Field(description="The MLflow registered model it follows.")
    ready: bool
    model_version: str | None


class FleetStatus(BaseModel):
    """Every model this server serves, and the one the unprefixed routes answer for."""

    default_model: str | None = Field(
        description="The model behind /predict, /ready, /model and /admin/reload (null when "
        "this server does not serve it)."
    )
    models: list[ModelSummary]


def _served(request: Request) -> dict[str, ServedModel]:
    return request.app.state.models


def _summary(served: ServedModel) -> ModelSummary:
    answer, _ = readiness(served)
    return ModelSummary(
        name=served.name,
        task=served.task,
        route=served.route,
        request_route=served.action_path,
        registered_model=served.registry_name,
        ready=answer.ready,
        model_version=answer.model_version,
    )


@router.get("/models", response_model=FleetStatus)
async def fleet_status(request: Request) -> FleetStatus:
    """Every served model: its routes, its registered model, whether it is ready and with
    which version."""
    default = request.app.state.settings.default_model
    served = _served(request)
    return FleetStatus(
        default_model=default if default in served else None,
        models=[_summary(model) for model in served.values()],
    )


def _known(request: Request) -> str:
    served = _served(request)
    listed = ", ".join(f"{m.name} ({m.action_path})" for m in served.values())
    return f"this server serves: {listed or 'no model'} (GET /models lists them)"


@router.api_route("/models/{name}", methods=ANY_METHOD, include_in_schema=False)
@router.api_route("/models/{name}/{rest:path}", methods=ANY_METHOD, include_in_schema=False)
async def not_a_model_route(request: Request, name: str, rest: str = "") -> None:
    """404 naming the served models, or the right route of the model asked for."""
    served = _served(request).get(name)
    if served is None:
        fleet = request.app.state.fleet
        declared = (
            " (declared in the fleet, not served here: MLOPS_SERVING_MODELS)"
            if (name in fleet.names)
            else ""
        )
        detail = f"no model {name!r} here{declared}; {_known(request)}"
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=detail)
    raise HTTPException(
        status.HTTP_404_NOT_FOUND,
        detail=f"{name} is a {served.task} model: send requests to POST {served.action_path} "
        f"(status: GET {served.route}, readiness: GET {served.route}/ready)",
    )


def default_model_missing_router(default: str) -> APIRouter:
    """The unprefixed routes of a server that does not serve its default model: 404s that say
    so and name the models it does serve."""
    routes = APIRouter()

    async def missing(request: Request) -> None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            detail=f"the unprefixed routes answer for {default!r} (MLOPS_SERVING_DEFAULT_MODEL), "
            f"which this server does not serve; {_known(request)}",
        )

    for path in DEFAULT_ROUTES:
        routes.add_api_route(path, missing, methods=ANY_METHOD, include_in_schema=False)
    return routes
