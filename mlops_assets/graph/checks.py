"""Every asset check, one property each. All block their asset's downstream at severity ERROR;
the gate checks show the verdicts `retraining.gates` recorded in the verification report."""

import dagster as dg

from mlops_assets.constants import (
    LABELS,
    MIN_HOLDOUT_ROWS,
    MIN_TRAIN_ROWS,
    PIXEL_COUNT,
    TRAINING_DATA,
    VERIFICATION_REPORT,
)
from mlops_assets.contracts.stage_results import VerificationReport
from mlops_assets.graph.assets.dataset import TrainingSnapshot
from mlops_assets.graph.partitions import monthly_partitions
from mlops_assets.retraining import gates


def _result(passed: bool, observed, threshold, **extra) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=bool(passed),
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"observed": observed, "threshold": threshold, **extra},
    )


@dg.asset_check(asset=TRAINING_DATA, blocking=True, partitions_def=monthly_partitions)
def enough_rows(training_data: TrainingSnapshot) -> dg.AssetCheckResult:
    """Train and holdout each have enough rows to train and to judge."""
    train, holdout = len(training_data.train), len(training_data.holdout)
    return _result(
        train >= MIN_TRAIN_ROWS and holdout >= MIN_HOLDOUT_ROWS,
        f"train {train}, holdout {holdout}",
        f"train ≥ {MIN_TRAIN_ROWS}, holdout ≥ {MIN_HOLDOUT_ROWS}",
    )


@dg.asset_check(asset=TRAINING_DATA, blocking=True, partitions_def=monthly_partitions)
def no_missing_pixels(training_data: TrainingSnapshot) -> dg.AssetCheckResult:
    """Every photo has exactly the expected number of pixels."""
    bad = sum(
        int(len(pixels) != PIXEL_COUNT)
        for frame in (training_data.train, training_data.holdout)
        for pixels in frame["pixels"]
    )
    return _result(bad == 0, f"{bad} photos with missing pixels", f"0 (each {PIXEL_COUNT} px)")


@dg.asset_check(asset=TRAINING_DATA, blocking=True, partitions_def=monthly_partitions)
def labels_known(training_data: TrainingSnapshot) -> dg.AssetCheckResult:
    """Every label belongs to the known label set."""
    seen = set(training_data.train["label"]) | set(training_data.holdout["label"])
    unknown = sorted(int(v) for v in seen - set(LABELS))
    return _result(not unknown, f"unknown labels {unknown}", f"labels in {list(LABELS)}")


@dg.asset_check(asset=TRAINING_DATA, blocking=True, partitions_def=monthly_partitions)
def every_class_in_train(training_data: TrainingSnapshot) -> dg.AssetCheckResult:
    """Each known class appears at least once in the training split."""
    missing = sorted(set(LABELS) - {int(v) for v in training_data.train["label"]})
    return _result(not missing, f"classes missing from train: {missing}", "none missing")


def _gate_check(report: VerificationReport, name: str) -> dg.AssetCheckResult:
    # The verdict `gates.evaluate` recorded in the report: the check shows it, never recomputes.
    result = report.gate(name)
    return _result(result.passed, result.observed, result.threshold, reason=result.reason)


@dg.asset_check(asset=VERIFICATION_REPORT, blocking=True, partitions_def=monthly_partitions)
def accuracy_gate(verification_report: VerificationReport) -> dg.AssetCheckResult:
    """Gate: challenger holdout accuracy is above 0.90."""
    return _gate_check(verification_report, gates.ACCURACY_GATE)


@dg.asset_check(asset=VERIFICATION_REPORT, blocking=True, partitions_def=monthly_partitions)
def latency_gate(verification_report: VerificationReport) -> dg.AssetCheckResult:
    """Gate: challenger p95 single-sample latency is under 3 s."""
    return _gate_check(verification_report, gates.LATENCY_GATE)


@dg.asset_check(asset=VERIFICATION_REPORT, blocking=True, partitions_def=monthly_partitions)
def not_worse_than_champion_gate(verification_report: VerificationReport) -> dg.AssetCheckResult:
    """Gate: challenger accuracy reaches the champion's plus min_improvement."""
    return _gate_check(verification_report, gates.NOT_WORSE_GATE)


TRAINING_DATA_CHECKS = [enough_rows, no_missing_pixels, labels_known, every_class_in_train]
GATE_CHECKS = [accuracy_gate, latency_gate, not_worse_than_champion_gate]
