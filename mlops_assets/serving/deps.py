"""Request dependencies: the settings, the served model of a route and the one model reference
per request, the admin and task-id guards.

They are `async` because FastAPI runs plain `def` dependencies in its thread pool, a hand-off
per dependency per request for what is an attribute read.
"""

import hmac
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request, status

from mlops_assets.serving.config import ServingSettings
from mlops_assets.serving.holder import LoadedModel
from mlops_assets.serving.served import ServedModel
from mlops_assets.settings import reveal


async def get_settings(request: Request) -> ServingSettings:
    return request.app.state.settings


def served_by_name(name: str) -> Callable[[Request], Awaitable[ServedModel]]:
    """The dependency that hands a route its model of the fleet."""

    async def served(request: Request) -> ServedModel:
        return request.app.state.models[name]

    return served


def serving_model(name: str) -> Callable[[Request], Awaitable[LoadedModel]]:
    """The dependency that hands a request the version of model `name` that answers it: read
    once, so one version computes the whole answer.

    The dependency raises HTTPException 503 until a first version has been loaded.
    """

    async def current(request: Request) -> LoadedModel:
        served: ServedModel = request.app.state.models[name]
        model = served.holder.current
        if model is None:
            raise not_loaded(served, request.app.state.settings)
        return model

    return current


def not_loaded(served: ServedModel, settings: ServingSettings) -> HTTPException:
    """The 503 of a model without a loaded version, saying what it waits for."""
    detail = (
        f"no model loaded yet: waiting for {served.registry_name}@{settings.alias} in the registry"
    )
    last_error = served.reloader.last_error
    if last_error is not None:
        # The kind only: a prediction caller is not an operator, and the text may name
        # the registry's address.
        detail += f"; last load failed: {last_error.error_kind or 'error'}"
    return HTTPException(
        status.HTTP_503_SERVICE_UNAVAILABLE,
        detail=detail,
        headers={"Retry-After": str(max(1, round(settings.poll_interval_s)))},
    )


async def require_admin(
    settings: Annotated[ServingSettings, Depends(get_settings)],
    x_admin_token: Annotated[str | None, Header()] = None,
) -> None:
    """Admin endpoints need MLOPS_SERVING_ADMIN_TOKEN in X-Admin-Token; without a configured
    token they are closed unless MLOPS_SERVING_ADMIN_OPEN=1.

    A custom header also keeps a web page from another origin out: a browser sends one only
    after a CORS preflight, which this server never grants.
    """
    token = settings.resolved_admin_token
    if token is None:
        if settings.admin_open:
            return
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail="admin endpoints are closed: set MLOPS_SERVING_ADMIN_TOKEN on the server "
            "and send it in X-Admin-Token (or MLOPS_SERVING_ADMIN_OPEN=1 for development)",
        )
    if not hmac.compare_digest((x_admin_token or "").encode(), token.encode()):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail="missing or wrong X-Admin-Token")


async def task_ids_caller(
    settings: Annotated[ServingSettings, Depends(get_settings)],
    x_task_ids_token: Annotated[str | None, Header()] = None,
) -> bool:
    """Whether this request may attach task ids (always, unless MLOPS_SERVING_TASK_IDS_TOKEN
    is set)."""
    token = reveal(settings.task_ids_token)
    return not token or hmac.compare_digest((x_task_ids_token or "").encode(), token.encode())


async def caller_is_admin(
    settings: Annotated[ServingSettings, Depends(get_settings)],
    x_admin_token: Annotated[str | None, Header()] = None,
) -> bool:
    """Whether this request passes the admin guard (it may read error texts)."""
    try:
        await require_admin(settings, x_admin_token)
    except HTTPException:
        return False
    return True


SettingsDep = Annotated[ServingSettings, Depends(get_settings)]
AdminDep = Annotated[bool, Depends(caller_is_admin)]
TaskIdsCallerDep = Annotated[bool, Depends(task_ids_caller)]
