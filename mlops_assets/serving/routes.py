"""The inference API: predict, liveness, readiness, the serving model, and reload."""

import time
from dataclasses import asdict
from typing import Annotated

import numpy as np
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from fastapi.responses import JSONResponse

from mlops_assets.serving.deps import (
    AdminDep,
    HolderDep,
    ModelDep,
    RecorderDep,
    ReloaderDep,
    SettingsDep,
    TaskIdsCallerDep,
    require_admin,
)
from mlops_assets.serving.holder import LoadedModel
from mlops_assets.serving.recorder import ServedBatch
from mlops_assets.serving.reloader import ReloadOutcome
from mlops_assets.serving.schemas import (
    ErrorDetail,
    Health,
    ModelInfo,
    ModelStatus,
    Prediction,
    PredictResponse,
    Problems,
    Readiness,
    RecorderStatus,
    ReloadReport,
    bounded_request,
)

router = APIRouter()


def _model_info(model: LoadedModel | None) -> ModelInfo | None:
    if model is None:
        return None
    return ModelInfo(
        name=model.name,
        version=model.version,
        loaded_at=model.loaded_at,
        load_seconds=model.load_seconds,
        run_id=model.run_id,
        source=model.source,
        sha256=model.sha256,
    )


def _report(outcome: ReloadOutcome | None, admin: bool = True) -> ReloadReport | None:
    """The outcome as answered; a caller without the admin token gets an error's kind only."""
    if outcome is None:
        return None
    report = ReloadReport(**outcome.__dict__)
    if admin or report.error is None:
        return report
    return report.model_copy(
        update={"error": f"{report.error_kind or 'error'} (the text needs X-Admin-Token)"}
    )


def predict_router(max_batch: int) -> APIRouter:
    """The /predict route, its body bounded to `max_batch` photos before any photo is checked."""
    routes = APIRouter()
    request_type = bounded_request(max_batch)

    @routes.post(
        "/predict",
        response_model=PredictResponse,
        responses={
            400: {"model": Problems, "description": "The body is not JSON"},
            401: {
                "model": ErrorDetail,
                "description": "task_ids without the X-Task-Ids-Token the server requires",
            },
            413: {
                "description": "Body larger than MLOPS_SERVING_MAX_BODY_BYTES (refused unread)",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            },
            422: {
                "model": Problems,
                "description": "Not a valid request: each problem by place and reason (a photo "
                "that is not 64 values, a grey level outside 0..16, a batch over "
                "MLOPS_SERVING_MAX_BATCH, text or booleans for numbers)",
            },
            503: {"model": ErrorDetail, "description": "No model loaded yet"},
        },
    )
    async def predict(
        body: request_type,
        model: ModelDep,
        request: Request,
        response: Response,
        recorder: RecorderDep,
        may_send_task_ids: TaskIdsCallerDep,
    ) -> PredictResponse:
        """Labels each photo with the serving model; the answer names the version that made it."""
        # On the event loop, not the thread pool: a single-sample call is well under a
        # millisecond, and skipping the thread hand-off measured faster here (FIELD-NOTES).
        if body.task_ids is not None and not may_send_task_ids:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED, detail="task_ids need a valid X-Task-Ids-Token"
            )
        pixels = np.asarray(body.instances, dtype=np.float32)
        prediction = model.predict(pixels)
        response.headers["X-Model-Version"] = model.version
        if request.app.state.metrics is not None:
            request.app.state.metrics.count_predictions(prediction.labels)
        if recorder is not None:
            recorder.record(
                ServedBatch(
                    time.time(),
                    model.version,
                    prediction.labels,
                    prediction.probabilities.max(axis=1),
                    body.task_ids or [None] * len(pixels),
                    pixels,
                )
            )
        return PredictResponse(
            model_name=model.name,
            model_version=model.version,
            predictions=[
                Prediction(label=label, probabilities=row)
                for label, row in zip(
                    prediction.labels.tolist(), prediction.probabilities.tolist(), strict=True
                )
            ],
        )

    return routes


@router.get("/health", response_model=Health)
async def health() -> Health:
    """Liveness: the process answers."""
    return Health()


@router.get(
    "/ready",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "No model loaded yet"}},
)
async def ready(holder: HolderDep):
    """Readiness: a model is loaded (503 until then, so a load balancer waits)."""
    model = holder.current
    if model is None:
        return JSONResponse(
            Readiness(ready=False, model_version=None).model_dump(),
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        )
    return Readiness(ready=True, model_version=model.version)


@router.get("/model", response_model=ModelStatus)
async def model_status(
    holder: HolderDep,
    reloader: ReloaderDep,
    settings: SettingsDep,
    recorder: RecorderDep,
    admin: AdminDep,
) -> ModelStatus:
    """The serving version (loaded since, source run), the standby and the last reloads."""
    standby = holder.standby
    return ModelStatus(
        model=_model_info(holder.current),
        standby_version=standby.version if standby else None,
        alias=f"{settings.model_name}@{settings.alias}",
        swaps=holder.swaps,
        swap_hold_max_us=max(holder.swap_hold_ns, default=0) / 1000 if holder.swaps else None,
        last_reload=_report(reloader.last_outcome, admin),
        last_error=_report(reloader.last_error, admin),
        recorder=RecorderStatus(**asdict(recorder.stats())) if recorder is not None else None,
    )


@router.post(
    "/admin/reload",
    response_model=ReloadReport,
    dependencies=[Depends(require_admin)],
    responses={
        401: {"model": ErrorDetail, "description": "Missing or wrong X-Admin-Token"},
        403: {"model": ErrorDetail, "description": "No admin token configured: closed"},
        422: {"model": Problems, "description": "Invalid query parameter"},
        500: {"model": ReloadReport, "description": "Load failed; old model serving"},
    },
)
def reload(
    reloader: ReloaderDep,
    reason: Annotated[str, Query(max_length=200, description="Logged with the reload.")] = (
        "admin request"
    ),
):
    """Resolves the alias now and swaps in its version; waits for the outcome.

    A failed load answers 500 with the error, and the previous model keeps serving.
    """
    report = _report(reloader.reload(reason))
    if report.status == "failed":
        return JSONResponse(report.model_dump(mode="json"), status_code=500)
    return report
