"""The predict route of a confirmation-risk model: the feature values of one or more task
confirmations in (what the upstream champions said about each: the photo classifier's
probabilities, the face verifier's score), each one's risk probability and label out.

Each feature is validated (finite, in its range); anything else is a 422 naming the row, the
feature and the reason. The answers are not recorded (no monitor reads them yet).
"""

from typing import Annotated

import numpy as np
from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field

from mlops_assets.ml.risk_data import RISK_FEATURES
from mlops_assets.serving.deps import serving_model
from mlops_assets.serving.holder import LoadedModel
from mlops_assets.serving.schemas import request_responses

Probability = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
MAX_CONFIRMATIONS = 256


class Confirmation(BaseModel):
    """What the upstream champions said about one task confirmation."""

    model_config = ConfigDict(extra="forbid")

    confirmed_label_probability: Probability = Field(
        description="The photo classifier champion's probability of the confirmed label."
    )
    max_probability: Probability = Field(
        description="The photo classifier champion's highest class probability."
    )
    entropy: float = Field(
        ge=0.0,
        le=10.0,
        allow_inf_nan=False,
        description="Entropy (nats) of the photo classifier champion's class probabilities.",
    )
    face_score: float = Field(
        ge=-1.0,
        le=1.0,
        allow_inf_nan=False,
        description="The face verifier champion's cosine score of the confirming helper's "
        "face pair.",
    )


_EXAMPLE = {
    "confirmed_label_probability": 0.97,
    "max_probability": 0.97,
    "entropy": 0.15,
    "face_score": 0.82,
}


class RiskRequest(BaseModel):
    """Task confirmations to score."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"confirmations": [_EXAMPLE]}]}
    )

    confirmations: list[Confirmation] = Field(
        min_length=1, max_length=MAX_CONFIRMATIONS, description="One entry per confirmation."
    )


class RiskAnswer(BaseModel):
    risk_probability: float = Field(description="Probability that the confirmation is risky.")
    risky: bool = Field(description="risk_probability >= the model's threshold.")


class RiskResponse(BaseModel):
    """Each confirmation's risk and the model version that scored it."""

    model_name: str = Field(description="The registered model.")
    model_version: str
    threshold: float
    predictions: list[RiskAnswer]


def add_risk_route(routes: APIRouter, name: str, path: str) -> None:
    """Registers `POST <path>` for the confirmation-risk model `name`."""
    model_dep = Annotated[LoadedModel, Depends(serving_model(name))]

    @routes.post(
        path,
        response_model=RiskResponse,
        responses=request_responses(
            "nothing",
            "a missing or unknown feature, a probability outside 0..1, a face score outside "
            f"-1..1, a non-finite value, more than {MAX_CONFIRMATIONS} confirmations",
        ),
    )
    async def predict_risk(body: RiskRequest, model: model_dep, response: Response) -> RiskResponse:
        """Scores each confirmation's risk with the serving version (SYNTHETIC training
        labels: a demonstration model)."""
        rows = np.array(
            [[getattr(c, feature) for feature in RISK_FEATURES] for c in body.confirmations],
            dtype=np.float64,
        )
        risk_model = model.predictor
        probabilities = risk_model.probabilities(rows)
        response.headers["X-Model-Version"] = model.version
        return RiskResponse(
            model_name=model.name,
            model_version=model.version,
            threshold=risk_model.threshold,
            predictions=[
                RiskAnswer(risk_probability=float(p), risky=bool(p >= risk_model.threshold))
                for p in probabilities
            ],
        )
