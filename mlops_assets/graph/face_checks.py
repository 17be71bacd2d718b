"""The checks of a verification model's graph, one property each.

Blocking on `training_data` (training or judging on such a snapshot would be wasted or wrong):
every side has enough identities and the holdout has genuine pairs, no identity is on two
sides, every vector is a valid face vector. The gate checks (one per spec gate, by its name) and
`champion_alias_agrees` are the classification graph's (`graph/checks.py`); the monitor checks
warn when the serving verifier's TAR falls below target or its scores drift.
"""

import dagster as dg

from mlops_assets.contracts.face_events import FACE_VECTOR_DIMENSION, vector_problem
from mlops_assets.contracts.model_spec import ModelSpec
from mlops_assets.contracts.monitoring import FaceMonitorReport
from mlops_assets.graph.checks import (
    champion_alias_agrees_for,
    check_result,
    checks_on,
    drift_result,
    gate_check,
)
from mlops_assets.graph.model_names import ModelNames
from mlops_assets.graph.partitions import monthly_partitions
from mlops_assets.ml.face_data import MIN_IDENTITIES, FaceSnapshot

SIDES = ("train", "validation", "holdout")


def _sides(snapshot: FaceSnapshot) -> dict:
    return {side: getattr(snapshot, side) for side in SIDES}


def enough_identities(training_data: FaceSnapshot) -> dg.AssetCheckResult:
    """Train, validation and holdout each hold enough identities, and the holdout has an
    identity with two vectors (a genuine pair to judge TAR on)."""
    counts = {side: frame["helper_id"].nunique() for side, frame in _sides(training_data).items()}
    repeated = int((training_data.holdout["helper_id"].value_counts() >= 2).sum())
    return check_result(
        min(counts.values()) >= MIN_IDENTITIES and repeated >= 1,
        f"identities {counts}; holdout identities with two vectors: {repeated}",
        f"≥ {MIN_IDENTITIES} identities a side, ≥ 1 holdout identity with two vectors",
    )


def identities_disjoint(training_data: FaceSnapshot) -> dg.AssetCheckResult:
    """No helper's vectors are on two sides: the verifier is judged on faces it never saw."""
    seen = {side: set(frame["helper_id"]) for side, frame in _sides(training_data).items()}
    shared = sorted(
        (seen["train"] & seen["validation"])
        | (seen["train"] & seen["holdout"])
        | (seen["validation"] & seen["holdout"])
    )
    return check_result(not shared, f"{len(shared)} helpers on two sides {shared[:5]}", "0")


def _problem(vector) -> str | None:
    if len(vector) != FACE_VECTOR_DIMENSION:
        return f"{len(vector)} values where a face vector has {FACE_VECTOR_DIMENSION}"
    return vector_problem([float(v) for v in vector])


def vectors_valid(training_data: FaceSnapshot) -> dg.AssetCheckResult:
    """Every vector has the declared dimension, finite values and unit L2 norm."""
    problems = [
        problem
        for frame in _sides(training_data).values()
        for vector in frame["vector"]
        if (problem := _problem(vector)) is not None
    ]
    return check_result(
        not problems,
        f"{len(problems)} invalid vectors" + (f", e.g. {problems[0]}" if problems else ""),
        "0",
    )


def champion_tar_at_target(champion_monitor: FaceMonitorReport) -> dg.AssetCheckResult:
    """The serving verifier's TAR on the window's genuine pairs reaches the target (WARN)."""
    return check_result(
        champion_monitor.tar is None or champion_monitor.tar >= champion_monitor.target_tar,
        champion_monitor.tar,
        champion_monitor.target_tar,
        dg.AssetCheckSeverity.WARN,
        genuine_pairs=champion_monitor.genuine.n,
        far=champion_monitor.far,
    )


def champion_scores_stable(champion_monitor: FaceMonitorReport) -> dg.AssetCheckResult:
    """Neither the genuine nor the impostor score distribution drifted from the month the
    verifier was judged on (WARN)."""
    return drift_result(champion_monitor.drift)


def face_model_checks(model: ModelSpec) -> list[dg.AssetChecksDefinition]:
    """Every check of a verification model's graph."""
    names = ModelNames(model.name)
    return [
        *checks_on(
            names.training_data,
            [enough_identities, identities_disjoint, vectors_valid],
            blocking=True,
            partitions_def=monthly_partitions,
        ),
        *(gate_check(gate, names.verification_report) for gate in model.gates),
        champion_alias_agrees_for(model),
        *checks_on(names.champion_monitor, [champion_tar_at_target, champion_scores_stable]),
    ]
