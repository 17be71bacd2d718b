"""The model spec: one model of the fleet declared as data (source, trainer, gates, cadence, …).

A fleet file (`contracts/fleet.yaml`, or the file MLOPS_MODELS_FILE names) lists these specs;
`contracts.fleet` loads and cross-checks them. Every field has a description, and every model
declares its own values: the spec is the one place a model's gate thresholds, cadence and
registry name are written.
"""

from typing import Annotated, Literal

from croniter import croniter
from pydantic import AfterValidator, Field, model_validator
from pydantic_core import PydanticCustomError

from mlops_assets.contracts.gate_spec import (
    METRICS,
    GateSpec,
    Metric,
    Name,
    PairedTestSpec,
    Spec,
    Task,
)

# MLflow registered model names: no slashes or spaces (they end up in `models:/<name>@alias`).
REGISTRY_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$"
ROUTE_PATTERN = r"^(/[a-z0-9_\-]+)+$"

SourceKind = Literal["task_photos", "face_vectors", "upstream_models"]
BuiltinTrainer = Literal["photo_cnn", "face_projection", "risk_logistic"]

# The task each data source feeds, and the built-in trainer that fits it.
SOURCE_TASKS: dict[SourceKind, Task] = {
    "task_photos": "classification",
    "face_vectors": "verification",
    "upstream_models": "classification",
}
BUILTIN_TASKS: dict[BuiltinTrainer, Task] = {
    "photo_cnn": "classification",
    "face_projection": "verification",
    "risk_logistic": "classification",
}
# The upstream sources whose champions a downstream model can read features from (the photo
# classifier's class probabilities, the face verifier's match score); an upstream_models model
# is no feature source (yet).
FEATURE_SOURCES: tuple[SourceKind, ...] = ("task_photos", "face_vectors")
# The upstream sources the built-in `risk_logistic` features need, one model each.
RISK_FEATURE_SOURCES: tuple[SourceKind, ...] = ("task_photos", "face_vectors")


def cron_problem(cron: str) -> str | None:
    """Why `cron` is not a schedule Dagster accepts, or None when it is.

    The same rules as Dagster's own check (`croniter`, five fields, no 30th or 31st of
    February), so a spec that loads also builds its schedule.
    """
    if not croniter.is_valid(cron):
        return f"{cron!r} is not a cron expression"
    expanded, *_ = croniter.expand(cron)
    if len(expanded) != 5:
        return f"{cron!r} has {len(expanded)} fields; Dagster schedules take 5 (no seconds)"
    if expanded[3] == [2] and len(expanded[2]) == 1 and expanded[2][0] in (30, 31):
        return f"{cron!r} names a day February never has"
    return None


def _valid_cron(cron: str) -> str:
    problem = cron_problem(cron)
    if problem is not None:
        raise PydanticCustomError("cron", "invalid cron: {problem}", {"problem": problem})
    return cron


def field_error(field: str, message: str) -> PydanticCustomError:
    """An error about one field of a spec, for rules that look at several fields at once; the
    fleet loader names `field` in its message."""
    return PydanticCustomError(
        "spec_field", "{field}: {message}", {"field": field, "message": message}
    )


Cron = Annotated[str, AfterValidator(_valid_cron)]


class SourceSpec(Spec):
    """Where a model's training data comes from."""

    kind: SourceKind = Field(
        description="task_photos: TaskConfirmedEvents from the Helper service; face_vectors: "
        "FaceVectorRegisteredEvents from the Auth service; upstream_models: features made "
        "from the upstream models' champions."
    )
    queue: str | None = Field(
        default=None,
        min_length=1,
        description="Logical queue the events arrive on (the event queue may prefix it); "
        "required for event sources, absent for upstream_models.",
    )

    @model_validator(mode="after")
    def _queue_fits_kind(self) -> "SourceSpec":
        if self.kind == "upstream_models" and self.queue is not None:
            raise ValueError("an upstream_models source reads no queue: remove queue")
        if self.kind != "upstream_models" and self.queue is None:
            raise ValueError(f"a {self.kind} source needs the queue its events arrive on")
        return self


class TrainerSpec(Spec):
    """What trains the challenger: a built-in trainer or an own command (through Pipes)."""

    builtin: BuiltinTrainer | None = Field(
        default=None, description="Name of a built-in trainer that runs in-process."
    )
    command: str | None = Field(
        default=None,
        min_length=1,
        description="Own trainer as a command line run through Dagster Pipes "
        "(e.g. 'python examples/train.py'; contracts.trainer says what it is given).",
    )
    timeout_s: float = Field(
        default=3600.0, gt=0, description="Seconds an own trainer may run before it is killed."
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> "TrainerSpec":
        if (self.builtin is None) == (self.command is None):
            raise ValueError("give exactly one of builtin or command")
        return self


class MonitorSpec(Spec):
    """How the serving champion is watched (champion_monitor, champion_health_sensor)."""

    cron: Cron = Field(default="0 * * * *", description="When the champion is evaluated.")
    window_days: float = Field(default=7.0, gt=0, description="Days each evaluation judges.")
    target_metric: Metric = Field(description="The live metric the champion should keep.")
    target_value: float = Field(description="The value of target_metric it should reach.")
    input_drift_threshold: float = Field(
        default=0.3, gt=0, le=1, description="KS statistic of an input summary that is drift."
    )
    prediction_drift_threshold: float = Field(
        default=0.2,
        gt=0,
        le=1,
        description="Distance of the output distribution (labels or scores) that is drift.",
    )
    drift_alpha: float = Field(
        default=0.01, gt=0, lt=1, description="p-value a drift test must also reach."
    )
    min_samples: int = Field(
        default=100, ge=1, description="Samples below which the health sensor does not act."
    )
    cooldown_hours: float = Field(
        default=168.0, ge=0, description="Hours after a health-triggered run before the next."
    )


class ModelSpec(Spec):
    """One model of the fleet and everything its retraining loop needs to know."""

    name: Name = Field(description="Key prefix and asset group of the model's graph.")
    description: str = Field(default="", description="One line for the UI.")
    source: SourceSpec = Field(description="Where the training data comes from.")
    trainer: TrainerSpec = Field(description="What trains a challenger.")
    gates: list[GateSpec] = Field(min_length=1, description="Every promotion gate.")
    min_improvement: float = Field(
        ge=0,
        description="How much better than the champion a challenger must be on each gate "
        "against the champion without a tolerance (0: not worse).",
    )
    paired_test: PairedTestSpec = Field(
        default_factory=PairedTestSpec, description="The paired champion/challenger test."
    )
    target_far: float | None = Field(
        default=None,
        gt=0,
        lt=0.5,
        description="Verification models: the false-accept rate the threshold is fitted for.",
    )
    cadence: Cron = Field(description="When the model retrains regardless of new data (cron).")
    registry_name: str = Field(
        pattern=REGISTRY_NAME_PATTERN, description="MLflow registered model name."
    )
    serving_route: str = Field(
        pattern=ROUTE_PATTERN, description="Path prefix the inference server serves it under."
    )
    monitor: MonitorSpec = Field(description="How the serving champion is watched.")
    upstream: list[Name] = Field(
        default_factory=list,
        description="Models whose champions this one's features come from; a new upstream "
        "champion retrains it.",
    )

    @property
    def task(self) -> Task:
        """classification or verification, from the data source."""
        return SOURCE_TASKS[self.source.kind]

    @model_validator(mode="after")
    def _consistent(self) -> "ModelSpec":
        task = self.task
        builtin = self.trainer.builtin
        if builtin is not None and BUILTIN_TASKS[builtin] != task:
            trains = BUILTIN_TASKS[builtin]
            raise field_error("trainer.builtin", f"{builtin} trains {trains}, not {task}")
        for i, gate in enumerate(self.gates):
            if METRICS[gate.metric][0] != task:
                raise field_error(
                    f"gates[{i}].metric", f"a {task} model does not report {gate.metric!r}"
                )
        if METRICS[self.monitor.target_metric][0] != task:
            raise field_error(
                "monitor.target_metric",
                f"a {task} model does not report {self.monitor.target_metric!r}",
            )
        names = [gate.name for gate in self.gates]
        if len(set(names)) != len(names):
            raise field_error("gates", f"a gate name appears twice in {names}")
        if (task == "verification") != (self.target_far is not None):
            raise field_error("target_far", "required for verification models, only for them")
        if (self.source.kind == "upstream_models") != bool(self.upstream):
            raise field_error("upstream", "an upstream_models source needs upstream, only it")
        if (self.source.kind == "upstream_models") != (builtin == "risk_logistic"):
            raise field_error(
                "trainer",
                "an upstream_models model trains with the built-in risk_logistic (own trainers "
                "read no upstream features yet), and risk_logistic trains only such a model",
            )
        return self
