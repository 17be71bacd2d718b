"""Request dependencies: the settings, the reloader and the one model reference per request.

They are `async` because FastAPI runs plain `def` dependencies in its thread pool, a hand-off
per dependency per request for what is an attribute read.
"""

import hmac
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request, status

from mlops_assets.serving.config import ServingSettings
from mlops_assets.serving.holder import LoadedModel, ModelHolder
from mlops_assets.serving.recorder import PredictionRecorder
from mlops_assets.serving.reloader import ModelReloader
from mlops_assets.settings import reveal


async def get_settings(request: Request) -> ServingSettings:
    return request.app.state.settings


async def get_holder(request: Request) -> ModelHolder:
    return request.app.state.holder


async def get_reloader(request: Request) -> ModelReloader:
    return request.app.state.reloader


async def get_recorder(request: Request) -> PredictionRecorder | None:
    return getattr(request.app.state, "recorder", None)


async def serving_model(request: Request) -> LoadedModel:
    """The model that answers this request: read once, so one version computes the whole answer.

    Raises:
        HTTPException: 503 until a first model has been loaded.
    """
    model = request.app.state.holder.current
    if model is None:
        settings: ServingSettings = request.app.state.settings
        reloader: ModelReloader = request.app.state.reloader
        detail = (
            f"no model loaded yet: waiting for {settings.model_name}@{settings.alias} "
            "in the registry"
        )
        if reloader.last_error is not None:
            # The kind only: a prediction caller is not an operator, and the text may name
            # the registry's address.
            detail += f"; last load failed: {reloader.last_error.error_kind or 'error'}"
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail=detail,
            headers={"Retry-After": str(max(1, round(settings.poll_interval_s)))},
        )
    return model


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
HolderDep = Annotated[ModelHolder, Depends(get_holder)]
ReloaderDep = Annotated[ModelReloader, Depends(get_reloader)]
ModelDep = Annotated[LoadedModel, Depends(serving_model)]
RecorderDep = Annotated[PredictionRecorder | None, Depends(get_recorder)]
AdminDep = Annotated[bool, Depends(caller_is_admin)]
TaskIdsCallerDep = Annotated[bool, Depends(task_ids_caller)]
