"""The inference API of each served model: its request route (predict or verify), readiness,
status and reload; plus liveness.

`model_router` builds one model's routes under its serving route (`/models/<name>/…`), and
once more at the unprefixed paths (`/predict`, `/ready`, `/model`, `/admin/reload`) for the
default model. Every handler reads its model from `app.state.models` by name.
"""

import time
from dataclasses import asdict, dataclass
from typing import Annotated

import numpy as np
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from fastapi.responses import JSONResponse

from mlops_assets.serving.deps import (
    AdminDep,
    SettingsDep,
    TaskIdsCallerDep,
    require_admin,
    served_by_name,
    serving_model,
)
from mlops_assets.serving.holder import LoadedModel
from mlops_assets.serving.recorder import ServedBatch
from mlops_assets.serving.reloader import ReloadOutcome
from mlops_assets.serving.risk import add_risk_route
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
    request_responses,
)
from mlops_assets.serving.served import ACTIONS, ServedModel
from mlops_assets.serving.verify import add_verify_route

router = APIRouter()


@dataclass(frozen=True)
class ModelPaths:
    """Where one model's routes are mounted."""

    action: str
    ready: str
    status: str
    reload: str


def served_paths(served: ServedModel) -> ModelPaths:
    """A model's own routes: `<route>/predict|verify`, `<route>/ready`, `<route>`,
    `<route>/admin/reload`."""
    route = served.route
    return ModelPaths(served.action_path, f"{route}/ready", route, f"{route}/admin/reload")


def default_paths(served: ServedModel) -> ModelPaths:
    """The unprefixed routes the default model answers at (as before the fleet)."""
    return ModelPaths(f"/{ACTIONS[served.kind]}", "/ready", "/model", "/admin/reload")


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


def readiness(served: ServedModel) -> tuple[Readiness, int]:
    """Whether a version is loaded, with the status code a load balancer reads."""
    model = served.holder.current
    if model is None:
        return Readiness(ready=False, model_version=None), status.HTTP_503_SERVICE_UNAVAILABLE
    return Readiness(ready=True, model_version=model.version), status.HTTP_200_OK


def _add_predict_route(routes: APIRouter, name: str, path: str, max_batch: int) -> None:
    request_type = bounded_request(max_batch)
    model_dep = Annotated[LoadedModel, Depends(serving_model(name))]
    served_dep = Annotated[ServedModel, Depends(served_by_name(name))]

    @routes.post(
        path,
        response_model=PredictResponse,
        responses=request_responses(
            "task_ids",
            "a photo that is not 64 values, a grey level outside 0..16, a batch over "
            "MLOPS_SERVING_MAX_BATCH, text or booleans for numbers",
        ),
    )
    async def predict(
        body: request_type,
        model: model_dep,
        served: served_dep,
        request: Request,
        response: Response,
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
            request.app.state.metrics.count_predictions(name, prediction.labels)
        if served.recorder is not None:
            served.recorder.record(
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


def model_router(served: ServedModel, paths: ModelPaths, max_batch: int) -> APIRouter:
    """One model's routes at `paths`: its request route, readiness, status and reload."""
    routes = APIRouter()
    name = served.name
    served_dep = Annotated[ServedModel, Depends(served_by_name(name))]
    if served.kind == "classification":
        _add_predict_route(routes, name, paths.action, max_batch)
    elif served.kind == "risk":
        add_risk_route(routes, name, paths.action)
    else:
        add_verify_route(routes, name, paths.action)

    @routes.get(
        paths.ready,
        response_model=Readiness,
        responses={503: {"model": Readiness, "description": "No model loaded yet"}},
    )
    async def ready(served: served_dep):
        """Readiness: a version of this model is loaded (503 until then, so a load balancer
        waits)."""
        answer, code = readiness(served)
        if code != status.HTTP_200_OK:
            return JSONResponse(answer.model_dump(), status_code=code)
        return answer

    @routes.get(paths.status, response_model=ModelStatus)
    async def model_status(
        served: served_dep, settings: SettingsDep, admin: AdminDep
    ) -> ModelStatus:
        """The serving version (loaded since, source run), the standby and the last reloads."""
        holder, reloader, recorder = served.holder, served.reloader, served.recorder
        standby = holder.standby
        return ModelStatus(
            fleet_model=served.name,
            task=served.task,
            model=_model_info(holder.current),
            standby_version=standby.version if standby else None,
            alias=f"{served.registry_name}@{settings.alias}",
            swaps=holder.swaps,
            swap_hold_max_us=max(holder.swap_hold_ns, default=0) / 1000 if holder.swaps else None,
            last_reload=_report(reloader.last_outcome, admin),
            last_error=_report(reloader.last_error, admin),
            recorder=RecorderStatus(**asdict(recorder.stats())) if recorder is not None else None,
        )

    @routes.post(
        paths.reload,
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
        served: served_dep,
        reason: Annotated[str, Query(max_length=200, description="Logged with the reload.")] = (
            "admin request"
        ),
    ):
        """Resolves this model's alias now and swaps in its version; waits for the outcome.

        A failed load answers 500 with the error, and the previous version keeps serving.
        """
        report = _report(served.reloader.reload(reason))
        if report.status == "failed":
            return JSONResponse(report.model_dump(mode="json"), status_code=500)
        return report

    return routes


@router.get("/health", response_model=Health)
async def health() -> Health:
    """Liveness: the process answers."""
    return Health()
