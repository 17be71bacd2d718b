"""Request and response bodies of the inference API (they make the OpenAPI page at /docs)."""

from datetime import datetime
from functools import cache, partial
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    create_model,
    model_validator,
)
from pydantic_core import PydanticCustomError

from mlops_assets.constants import IMAGE_SHAPE, PIXEL_COUNT, PIXEL_MAX


def _is_one_photo(value: object) -> object:
    """One error per wrong-shaped photo instead of one per value inside it."""
    if not isinstance(value, list) or (value and isinstance(value[0], list)):
        got = "nested lists" if isinstance(value, list) else type(value).__name__
        raise PydanticCustomError(
            "wrong_shape",
            "a photo is one flat list of {expected} grey levels (row by row), got {got}",
            {"expected": PIXEL_COUNT, "got": got},
        )
    if len(value) != PIXEL_COUNT:
        raise PydanticCustomError(
            "wrong_shape",
            "a photo is {expected} grey levels ({rows}x{cols}, row by row), got {actual}",
            {
                "expected": PIXEL_COUNT,
                "rows": IMAGE_SHAPE[0],
                "cols": IMAGE_SHAPE[1],
                "actual": len(value),
            },
        )
    return value


def _is_batch(value: object) -> object:
    """A flat list of numbers is one photo sent without its batch brackets: say so once."""
    if isinstance(value, list) and value and isinstance(value[0], int | float):
        raise PydanticCustomError(
            "wrong_shape",
            "instances is a list of photos; got a flat list of numbers "
            "(send one photo as [[...{expected} grey levels...]])",
            {"expected": PIXEL_COUNT},
        )
    return value


def _within(max_batch: int, value: object) -> object:
    """The batch bound, checked before a single photo is validated: a huge batch of bad photos
    costs one error, not one per value (FIELD-NOTES, FastAPI, 2026-12-06)."""
    if isinstance(value, list) and len(value) > max_batch:
        raise PydanticCustomError(
            "too_long",
            "a batch holds at most {max_batch} photos (MLOPS_SERVING_MAX_BATCH), got {got}",
            {"max_batch": max_batch, "got": len(value)},
        )
    return value


# Strict: "3" or true is not a grey level; ints and floats are.
GreyLevel = Annotated[float, Field(strict=True, ge=0, le=PIXEL_MAX, allow_inf_nan=False)]
# The length bounds are what the schema shows (minItems/maxItems); `_is_one_photo` enforces them
# first, with one message per photo.
Photo = Annotated[
    list[GreyLevel],
    BeforeValidator(_is_one_photo),
    Field(min_length=PIXEL_COUNT, max_length=PIXEL_COUNT),
]


def _printable_task_id(value: str) -> str:
    if not value.isprintable():
        raise PydanticCustomError(
            "plain_text", "a task id is printable text (no control characters)"
        )
    return value


# Task ids reach the prediction log, the monitor and logs: printable, bounded.
TaskId = Annotated[str, Field(max_length=200), AfterValidator(_printable_task_id)]

_EXAMPLE_PHOTO = [0, 0, 5, 13, 9, 1, 0, 0] + [0] * 8 * 7


class PredictRequest(BaseModel):
    """One photo or a batch: a list of photos, each 64 grey levels in 0..16."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"instances": [_EXAMPLE_PHOTO]}]}
    )

    instances: Annotated[list[Photo], BeforeValidator(_is_batch)] = Field(
        min_length=1,
        description=f"Photos, each {PIXEL_COUNT} grey levels (0..{PIXEL_MAX}) row by row; "
        "one photo is a batch of one. The server's MLOPS_SERVING_MAX_BATCH bounds the count.",
    )
    task_ids: list[TaskId | None] | None = Field(
        default=None,
        description="Optional: the task each photo belongs to, in the same order (null for a "
        "photo without one). Recorded with the first prediction of each task, so the label a "
        "person confirms later is joined to what was served. Needs X-Task-Ids-Token when the "
        "server sets MLOPS_SERVING_TASK_IDS_TOKEN.",
    )

    @model_validator(mode="after")
    def _one_task_id_per_photo(self) -> "PredictRequest":
        if self.task_ids is not None and len(self.task_ids) != len(self.instances):
            raise PydanticCustomError(
                "task_ids_length",
                "task_ids has {got} entries for {expected} photos: give one per photo (or null)",
                {"got": len(self.task_ids), "expected": len(self.instances)},
            )
        return self


@cache
def bounded_request(max_batch: int) -> type[PredictRequest]:
    """`PredictRequest` whose `instances` holds at most `max_batch` photos, checked first (and
    shown as `maxItems` in the schema); one class per bound, so every classification route
    shares one schema."""
    instances = Annotated[
        list[Photo],
        # Before-validators run last-listed first: a flat photo is named before it is counted.
        BeforeValidator(partial(_within, max_batch)),
        BeforeValidator(_is_batch),
        Field(min_length=1, max_length=max_batch),
    ]
    field = PredictRequest.model_fields["instances"]
    return create_model(
        "PredictRequest",
        __base__=PredictRequest,
        __doc__=PredictRequest.__doc__,
        instances=(instances, Field(description=field.description)),
    )


# The most problems a 422 lists; `total` counts them all.
MAX_PROBLEMS = 20


class Problem(BaseModel):
    """One reason a request was refused, at its place in the request."""

    loc: list[str | int] = Field(description='Where, e.g. ["body", "instances", 0, 5].')
    type: str = Field(description="A stable code, e.g. wrong_shape, less_than_equal.")
    msg: str = Field(description="What is wrong, in words.")


class Problems(BaseModel):
    """400 (a body that is not JSON) and 422 (JSON that is not a valid request)."""

    detail: list[Problem] = Field(description=f"The first {MAX_PROBLEMS} problems.")
    total: int = Field(description="How many problems the request has.")


class ErrorDetail(BaseModel):
    """413 (body too large), 401 / 403 (admin token), 503 (no model yet)."""

    detail: str


class Prediction(BaseModel):
    label: int = Field(description="The most probable label.")
    probabilities: list[float] = Field(description="Probability of each label 0..9.")


class PredictResponse(BaseModel):
    """Predictions and the model version that made every one of them."""

    model_name: str
    model_version: str
    predictions: list[Prediction]


class ModelInfo(BaseModel):
    name: str
    version: str
    loaded_at: datetime = Field(description="When this version finished loading (UTC).")
    load_seconds: float = Field(description="Download, hash check, load, warm-up, smoke test.")
    run_id: str | None = Field(description="The MLflow run that trained it.")
    source: str = Field(description="The logged model it was registered from.")
    sha256: str


class ReloadReport(BaseModel):
    status: Literal["swapped", "unchanged", "no_model", "failed"]
    reason: str
    target_version: str | None = Field(description="The version the alias pointed at.")
    serving_version: str | None = Field(description="The version answering after the reload.")
    previous_version: str | None = Field(description="The version answering before it.")
    seconds: float
    at: datetime
    error: str | None = Field(
        default=None,
        description="Why it failed, secrets redacted; without X-Admin-Token (when one is set) "
        "only the kind.",
    )
    error_kind: str | None = Field(default=None, description="The failure's kind (its class).")


class RecorderStatus(BaseModel):
    """Predictions recorded, dropped (buffer full), written, failed (sink error), pending."""

    recorded: int
    dropped: int
    written: int
    failed: int
    pending: int
    capacity: int
    repeated_task_ids: int = Field(
        default=0,
        description="Predictions whose task id an earlier prediction had taken (recorded "
        "without it: the first prediction of a task is the one the monitor judges).",
    )


class ModelStatus(BaseModel):
    """The serving model, the standby kept for instant rollback, and the last failed reload."""

    fleet_model: str = Field(description="The model's name in the fleet file.")
    task: Literal["classification", "verification"]
    model: ModelInfo | None
    standby_version: str | None
    alias: str
    swaps: int
    swap_hold_max_us: float | None = Field(
        description="Longest time a swap held the holder, over the last 1,000 swaps."
    )
    last_reload: ReloadReport | None
    last_error: ReloadReport | None
    recorder: RecorderStatus | None = Field(
        default=None, description="The prediction recorder's counters; null when it is off."
    )


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    ready: bool
    model_version: str | None


def request_responses(token_use: str, invalid: str) -> dict:
    """The error answers a model's request route declares (400, 401, 413, 422, 503).

    Args:
        token_use: what needs X-Task-Ids-Token on this route.
        invalid: what makes a request invalid (the 422), in words.
    """
    return {
        400: {"model": Problems, "description": "The body is not JSON"},
        401: {
            "model": ErrorDetail,
            "description": f"{token_use} without the X-Task-Ids-Token the server requires",
        },
        413: {
            "description": "Body larger than MLOPS_SERVING_MAX_BODY_BYTES (refused unread)",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        },
        422: {
            "model": Problems,
            "description": f"Not a valid request: each problem by place and reason ({invalid})",
        },
        503: {"model": ErrorDetail, "description": "No model loaded yet"},
    }
