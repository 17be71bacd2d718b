"""A promotion gate and the paired champion/challenger test, as the model spec declares them.

The metric vocabulary lives here: each metric a gate or the monitor may name, which task's
evaluation reports it, and which way is better.
"""

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

# A model's or gate's name prefixes asset keys and names checks, so it obeys Dagster's name rule.
NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_]{0,47}$"

Task = Literal["classification", "verification"]
Comparison = Literal[">", ">=", "<", "<="]
Severity = Literal["ERROR", "WARN"]

# Each metric a gate or the monitor may name: which task's evaluation reports it, and whether
# higher is better. A gate on a metric the model's task does not report fails the load.
METRICS: dict[str, tuple[Task, bool]] = {
    "accuracy": ("classification", True),
    "latency_p95_s": ("classification", False),
    "tar_at_far": ("verification", True),
    "eer": ("verification", False),
    "rank1_accuracy": ("verification", True),
    "verify_latency_p95_s": ("verification", False),
}


def _known_metric(metric: str) -> str:
    if metric not in METRICS:
        raise PydanticCustomError(
            "metric",
            "unknown metric {metric} (known: {known})",
            {"metric": repr(metric), "known": ", ".join(METRICS)},
        )
    return metric


Metric = Annotated[str, AfterValidator(_known_metric)]
Name = Annotated[str, Field(pattern=NAME_PATTERN)]


class Spec(BaseModel):
    """Every part of a model spec: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class GateSpec(Spec):
    """One promotion gate: `metric` of the challenger compared with a fixed threshold or with
    the champion's value."""

    name: Name = Field(
        description="The gate's one name: in the report, MLflow tags, the check, the events."
    )
    metric: Metric = Field(description=f"The compared metric, one of {', '.join(METRICS)}.")
    comparison: Comparison = Field(
        description="How the challenger's value must compare with the bound ('>', '>=', '<', "
        "'<='); '>'/'>=' means higher is better."
    )
    against: Literal["threshold", "champion"] = Field(
        default="threshold",
        description="threshold: compare with `threshold`; champion: with the champion's value "
        "moved by min_improvement (or by `tolerance`), passing when there is no champion.",
    )
    threshold: float | None = Field(
        default=None, description="The fixed bound; required with against=threshold."
    )
    tolerance: float | None = Field(
        default=None,
        ge=0,
        description="Against the champion only: how much worse than the champion the "
        "challenger may be (a non-inferiority margin); unset: it must be better by the "
        "model's min_improvement.",
    )
    severity: Severity = Field(
        description="ERROR: failing rejects the challenger (a value gate); WARN: failing "
        "defends the champion (a change gate)."
    )

    @model_validator(mode="after")
    def _bound_declared(self) -> "GateSpec":
        if self.against == "threshold" and self.threshold is None:
            raise ValueError("a gate against a threshold needs threshold")
        if self.against == "champion" and self.threshold is not None:
            raise ValueError("a gate against the champion takes no threshold (use tolerance)")
        if self.against == "threshold" and self.tolerance is not None:
            raise ValueError("tolerance applies only to a gate against the champion")
        higher_better = METRICS[self.metric][1]
        if higher_better != (self.comparison in (">", ">=")):
            better = "higher" if higher_better else "lower"
            raise ValueError(
                f"{self.metric} is better {better}: comparison {self.comparison!r} points the "
                "other way"
            )
        return self

    def bound(self, champion_value: float | None, min_improvement: float) -> float | None:
        """The value the challenger is compared with (None: against a missing champion)."""
        if self.against == "threshold":
            return self.threshold
        if champion_value is None:
            return None
        better = 1.0 if self.comparison in (">", ">=") else -1.0
        shift = -self.tolerance if self.tolerance is not None else min_improvement
        return champion_value + better * shift

    def passes(self, observed: float, bound: float | None) -> bool:
        """Whether `observed` satisfies the comparison with `bound` (None always passes)."""
        if bound is None:
            return True
        return {
            ">": observed > bound,
            ">=": observed >= bound,
            "<": observed < bound,
            "<=": observed <= bound,
        }[self.comparison]


class PairedTestSpec(Spec):
    """How champion and challenger are compared on the same holdout (a paired test)."""

    alpha: float = Field(
        default=0.05, gt=0, lt=1, description="Significance level of 'the challenger is better'."
    )
    non_inferiority_margin: float = Field(
        default=0.01,
        ge=0,
        description="How far below the champion the interval's lower bound may reach when the "
        "champion itself fails a value gate.",
    )
    bootstrap_resamples: int = Field(
        default=1000, ge=1000, description="Paired bootstrap resamples (over identities)."
    )
    seed: int = Field(default=0, description="Seed of the bootstrap resampling.")
