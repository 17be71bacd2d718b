"""The verify route of a verification model: two face vectors in, their similarity score and
the match at the model's calibrated threshold out.

The vectors follow the face-event contract (`contracts.face_events.FaceVector`): 128 finite
numbers with L2 norm 1; anything else is a 422 naming the vector and the reason. The vectors
themselves are never recorded or logged: the prediction log keeps the score, the match, the
threshold and the caller's pair id.
"""

import time
from typing import Annotated

import numpy as np
from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from mlops_assets.contracts.face_events import FACE_VECTOR_DIMENSION, FaceVector
from mlops_assets.serving.deps import TaskIdsCallerDep, served_by_name, serving_model
from mlops_assets.serving.holder import LoadedModel
from mlops_assets.serving.recorder import VerifiedBatch
from mlops_assets.serving.schemas import TaskId, request_responses
from mlops_assets.serving.served import ServedModel

_EXAMPLE = [1.0] + [0.0] * (FACE_VECTOR_DIMENSION - 1)


class VerifyRequest(BaseModel):
    """Two face vectors to compare."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"first": _EXAMPLE, "second": _EXAMPLE}]},
    )

    first: FaceVector = Field(
        description=f"A face vector: {FACE_VECTOR_DIMENSION} finite numbers, L2 norm 1."
    )
    second: FaceVector = Field(description="The face vector to compare it with.")
    pair_id: TaskId | None = Field(
        default=None,
        description="Optional: the caller's id of this comparison, recorded with the score so "
        "an outcome confirmed later (same person or not) joins what was served. Needs "
        "X-Task-Ids-Token when the server sets MLOPS_SERVING_TASK_IDS_TOKEN.",
    )


class VerifyResponse(BaseModel):
    """The score, the decision and the model version that made both."""

    model_name: str = Field(description="The registered model.")
    model_version: str
    score: float = Field(description="Cosine similarity of the projected vectors, -1..1.")
    match: bool = Field(description="score >= threshold: the same person.")
    threshold: float = Field(description="The threshold calibrated at the model's target FAR.")


def add_verify_route(routes: APIRouter, name: str, path: str) -> None:
    """Registers `POST <path>` for the verification model `name`."""
    model_dep = Annotated[LoadedModel, Depends(serving_model(name))]
    served_dep = Annotated[ServedModel, Depends(served_by_name(name))]

    @routes.post(
        path,
        response_model=VerifyResponse,
        responses=request_responses(
            "pair_id",
            f"a vector that is not {FACE_VECTOR_DIMENSION} values, a non-finite value, a zero "
            "or unnormalised vector, text for numbers",
        ),
    )
    async def verify(
        body: VerifyRequest,
        model: model_dep,
        served: served_dep,
        request: Request,
        response: Response,
        may_send_pair_id: TaskIdsCallerDep,
    ) -> VerifyResponse:
        """Whether two face vectors belong to one person, by the serving version."""
        if body.pair_id is not None and not may_send_pair_id:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED, detail="pair_id needs a valid X-Task-Ids-Token"
            )
        # Two 128-value vectors through a (128, k) projection: microseconds, on the event loop.
        verification = model.verify(np.asarray(body.first), np.asarray(body.second))
        response.headers["X-Model-Version"] = model.version
        if request.app.state.metrics is not None:
            request.app.state.metrics.count_verification(
                name, verification.match, verification.score
            )
        if served.recorder is not None:
            served.recorder.record(
                VerifiedBatch(
                    time.time(),
                    model.version,
                    np.array([verification.score]),
                    np.array([verification.match]),
                    verification.threshold,
                    [body.pair_id],
                )
            )
        return VerifyResponse(
            model_name=model.name,
            model_version=model.version,
            score=verification.score,
            match=verification.match,
            threshold=verification.threshold,
        )
