"""What the retraining stages hand each other: typed results and one decision vocabulary.

The verification report, the gate results and the champion change are read by several modules
(the gate checks, the promotion, the completion event, the replay); as models their fields are
named once. Pydantic, so they pickle for Dagster's IO manager and dump to JSON for MLflow and
the event contracts alike.
"""

from typing import Literal

from pydantic import BaseModel, ConfigDict

# The one decision vocabulary: a decided month is promoted, defended or rejected; a run that
# broke before deciding has the outcome `failed`.
Decision = Literal["promoted", "defended", "rejected"]
Outcome = Literal["promoted", "defended", "rejected", "failed"]


class _Result(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class GateResult(_Result):
    """One promotion gate's verdict with the numbers it compared."""

    name: str
    passed: bool
    observed: float | None = None
    threshold: float | None = None
    reason: str = ""
    # The spec's metric and severity (ERROR: failing rejects; WARN: failing defends).
    metric: str | None = None
    severity: Literal["ERROR", "WARN"] = "ERROR"


class PairedSummary(_Result):
    """Champion against challenger on the same holdout, paired (`retraining.change_gate`):
    what the champion-relative gate read, in numbers.

    `difference`, `low` and `high` are the challenger's improvement in the metric's better
    direction (positive: the challenger is better); `b` and `c` (McNemar only) count the
    samples only the challenger, only the champion got right.
    """

    method: Literal["mcnemar_exact", "paired_bootstrap"]
    metric: str
    n: int
    b: int | None = None
    c: int | None = None
    difference: float
    low: float
    high: float
    confidence: float
    p_value: float
    alpha: float
    minimum_detectable: float | None
    rule: str
    change_rule: Literal["paired", "min_improvement"] = "paired"
    reason: str
    power: str

    def as_metadata(self) -> dict[str, float | int | str]:
        """Flat `paired_*` entries for Dagster metadata, MLflow tags and the completion event
        (None becomes 'none')."""
        return {f"paired_{k}": ("none" if v is None else v) for k, v in self.model_dump().items()}


class ModelScore(_Result):
    """One model version scored on the holdout: accuracy, confusion and latency; `correct` is
    its per-row correctness on the holdout, in row order (what the paired test reads)."""

    version: str
    run_id: str | None
    accuracy: float
    per_class_accuracy: dict[str, float | None]
    confusion: list[list[int]]
    load_seconds: float
    latency_p50_s: float
    latency_p95_s: float
    latency_p99_s: float
    correct: list[bool] = []

    @property
    def metrics(self) -> dict[str, float]:
        """The gate metrics a classification model reports (names from `gate_spec.METRICS`)."""
        return {"accuracy": self.accuracy, "latency_p95_s": self.latency_p95_s}


class VerifierScore(_Result):
    """One face verifier version scored on the identity-disjoint holdout
    (`ml.face_scoring.score_verifier`'s figures)."""

    version: str
    run_id: str | None
    tar_at_far: float
    far_at_threshold: float
    eer: float
    rank1_accuracy: float
    threshold: float
    target_far: float
    identities: int
    genuine_pairs: int
    impostor_pairs: int
    probes: int
    verify_latency_p50_s: float
    verify_latency_p95_s: float
    verify_latency_p99_s: float

    @property
    def metrics(self) -> dict[str, float]:
        """The figures by name, as the gates read them (`gate_spec.METRICS`)."""
        return self.model_dump(exclude={"version", "run_id"})


class GatedReport(_Result):
    """What every verification report answers about its gates; `paired` is the paired
    comparison of challenger and champion (None without a champion)."""

    paired: PairedSummary | None = None

    def gate(self, name: str) -> GateResult:
        """Returns the result of the gate called `name`.

        Raises:
            KeyError: no such gate in the report.
        """
        for result in self.gates:
            if result.name == name:
                return result
        raise KeyError(f"no gate {name!r} in the verification report of {self.month}")

    @property
    def failed_reasons(self) -> list[str]:
        """The reasons of the gates that failed, in gate order."""
        return [g.reason for g in self.gates if not g.passed]


class VerificationReport(GatedReport):
    """Challenger and champion on the same newest holdout, the gate results and the decision."""

    month: str
    data_version: str
    holdout_rows: int
    holdout_start: str
    min_improvement: float
    challenger: ModelScore
    champion: ModelScore | None
    gates: list[GateResult]
    decision: Decision


class FaceVerificationReport(GatedReport):
    """Face verifier challenger and champion on the same identity-disjoint holdout, the gate
    results and the decision."""

    month: str
    data_version: str
    holdout_rows: int
    holdout_identities: int
    holdout_start: str
    min_improvement: float
    challenger: VerifierScore
    champion: VerifierScore | None
    gates: list[GateResult]
    decision: Decision


class ChampionChange(_Result):
    """What `champion_model` settled for a decided month: the version holding `@champion`
    after it (the new one or the defended one), the one before, and why.

    `decision` is what happened to the alias: `promoted` only when it moved to the
    challenger; a re-run of an old month whose gates passed while a later month's champion
    serves is `defended`.
    """

    month: str
    decision: Decision
    version: str | None
    previous_version: str | None
    challenger_version: str
    alias_moved: bool
    reasons: list[str] = []


class DeploymentResult(_Result):
    """What `deployment` did with the inference server."""

    status: Literal["serving", "no_server", "unchanged"]
    version: str | None
    previous_version: str | None = None
