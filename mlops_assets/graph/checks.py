"""Every asset check, one property each.

Blocking (a failure fails the run and skips what follows): the data checks on `training_data`
(training on a broken snapshot would waste the run and judge nothing) and
`champion_alias_agrees` on `champion_model` (deployment would push a version the registry's
alias does not hold). The gate checks on `verification_report` only show the verdicts
`retraining.gates` recorded: a gate saying no is a decision, not a broken run, so they do not
block; `champion_model` enforces them through `gates.require_promotable`. A failed value gate
shows red (ERROR), a challenger that is good but not better shows yellow (WARN). The monitor
checks on `champion_monitor` warn (WARN) when the serving champion falls below target or drifts.
"""

import dagster as dg

from mlops_assets.constants import (
    CHAMPION_ALIAS,
    CHAMPION_MODEL,
    CHAMPION_MONITOR,
    LABELS,
    MIN_HOLDOUT_ROWS,
    MIN_TRAIN_ROWS,
    PIXEL_COUNT,
    TRAINING_DATA,
    VERIFICATION_REPORT,
)
from mlops_assets.contracts.monitoring import MonitorReport
from mlops_assets.contracts.stage_results import ChampionChange, VerificationReport
from mlops_assets.graph.assets.dataset import TrainingSnapshot
from mlops_assets.graph.partitions import monthly_partitions
from mlops_assets.resources.registry import RegistryResource
from mlops_assets.retraining import gates
from mlops_assets.retraining.health import describe_accuracy, describe_drift


def _result(
    passed: bool,
    observed,
    threshold,
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR,
    **extra,
) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=bool(passed),
        severity=severity,
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


def _gate_check(
    report: VerificationReport, name: str, severity: dg.AssetCheckSeverity, consequence: str
) -> dg.AssetCheckResult:
    # The verdict `gates.evaluate` recorded in the report: the check shows it, never recomputes.
    # `on_failure` shows the severity on a passed check too (the UI shows it only on failures).
    result = report.gate(name)
    return _result(
        result.passed,
        result.observed,
        result.threshold,
        severity,
        reason=result.reason,
        on_failure=f"{severity.value}: {consequence}",
    )


@dg.asset_check(asset=VERIFICATION_REPORT, partitions_def=monthly_partitions)
def accuracy_gate(verification_report: VerificationReport) -> dg.AssetCheckResult:
    """Gate: challenger holdout accuracy is above 0.90 (failed: the challenger is rejected)."""
    return _gate_check(
        verification_report, gates.ACCURACY_GATE, dg.AssetCheckSeverity.ERROR, "rejected"
    )


@dg.asset_check(asset=VERIFICATION_REPORT, partitions_def=monthly_partitions)
def latency_gate(verification_report: VerificationReport) -> dg.AssetCheckResult:
    """Gate: challenger p95 single-sample latency is under 3 s (failed: rejected)."""
    return _gate_check(
        verification_report, gates.LATENCY_GATE, dg.AssetCheckSeverity.ERROR, "rejected"
    )


@dg.asset_check(asset=VERIFICATION_REPORT, partitions_def=monthly_partitions)
def not_worse_than_champion_gate(verification_report: VerificationReport) -> dg.AssetCheckResult:
    """Gate: challenger accuracy reaches the champion's plus min_improvement (failed: the
    champion is defended)."""
    return _gate_check(
        verification_report, gates.NOT_WORSE_GATE, dg.AssetCheckSeverity.WARN, "defended"
    )


@dg.asset_check(asset=CHAMPION_MODEL, blocking=True, partitions_def=monthly_partitions)
def champion_alias_agrees(
    champion_model: ChampionChange, model_registry: RegistryResource
) -> dg.AssetCheckResult:
    """The registry's `@champion` holds the version `champion_model` settled on, so deployment
    serves what the registry says (another writer may not have moved it in between)."""
    current = model_registry.get_client().champion()
    holder = current.version if current else None
    return _result(
        holder == champion_model.version,
        f"@{CHAMPION_ALIAS} = v{holder}",
        f"v{champion_model.version}",
    )


@dg.asset_check(asset=CHAMPION_MONITOR)
def champion_accuracy_at_target(champion_monitor: MonitorReport) -> dg.AssetCheckResult:
    """The serving champion's live accuracy on confirmed tasks reaches the target (WARN: the
    evidence goes to champion_health_sensor, which decides with its minimum sample)."""
    a = champion_monitor.accuracy
    return _result(
        a.accuracy is None or a.accuracy >= champion_monitor.target_accuracy,
        a.accuracy,
        champion_monitor.target_accuracy,
        dg.AssetCheckSeverity.WARN,
        confirmed_tasks=a.n,
        interval=f"[{a.low}, {a.high}]",
        evidence=describe_accuracy(champion_monitor),
    )


@dg.asset_check(asset=CHAMPION_MONITOR)
def champion_drift_within_threshold(champion_monitor: MonitorReport) -> dg.AssetCheckResult:
    """No input or prediction drift test is past its threshold and significant (WARN)."""
    drifted = [t for t in champion_monitor.drift if t.drifted]
    worst = max(champion_monitor.drift, key=lambda t: (t.statistic or 0) - t.threshold)
    return _result(
        not drifted,
        ", ".join(describe_drift(t) for t in drifted) or describe_drift(worst),
        "each score ≤ its threshold or p ≥ alpha",
        dg.AssetCheckSeverity.WARN,
    )


TRAINING_DATA_CHECKS = [enough_rows, no_missing_pixels, labels_known, every_class_in_train]
GATE_CHECKS = [accuracy_gate, latency_gate, not_worse_than_champion_gate]
CHAMPION_CHECKS = [champion_alias_agrees]
MONITOR_CHECKS = [champion_accuracy_at_target, champion_drift_within_threshold]
