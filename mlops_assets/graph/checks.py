"""Every asset check of a classification model's graph, one property each (`model_checks`).

Blocking (a failure fails the run and skips what follows): the data checks on `training_data`
(training on a broken snapshot would waste the run and judge nothing) and
`champion_alias_agrees` on `champion_model` (deployment would push a version the registry's
alias does not hold). The gate checks on `verification_report`, one per spec gate and named by
it, only show the verdicts `retraining.gates` recorded: a gate saying no is a decision, not a
broken run, so they do not block; `champion_model` enforces them through
`gates.require_promotable`. A failed ERROR gate shows red (rejected), a failed WARN gate yellow
(defended). The monitor checks on `champion_monitor` warn (WARN) when the serving champion falls
below target or drifts.
"""

import dagster as dg

from mlops_assets.constants import (
    CHAMPION_ALIAS,
    LABELS,
    MIN_HOLDOUT_ROWS,
    MIN_TRAIN_ROWS,
    PIXEL_COUNT,
)
from mlops_assets.contracts.gate_spec import GateSpec
from mlops_assets.contracts.model_spec import ModelSpec
from mlops_assets.contracts.monitoring import DriftTest, MonitorReport
from mlops_assets.contracts.stage_results import ChampionChange, GatedReport
from mlops_assets.graph.assets.dataset import TrainingSnapshot
from mlops_assets.graph.model_names import ModelNames
from mlops_assets.graph.partitions import monthly_partitions
from mlops_assets.resources.registry import RegistryResource
from mlops_assets.retraining.health import describe_accuracy, describe_drift


def check_result(
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


def enough_rows(training_data: TrainingSnapshot) -> dg.AssetCheckResult:
    """Train and holdout each have enough rows to train and to judge."""
    return rows_result(len(training_data.train), len(training_data.holdout))


def rows_result(train: int, holdout: int) -> dg.AssetCheckResult:
    """Whether `train` and `holdout` rows are enough to train and to judge."""
    return check_result(
        train >= MIN_TRAIN_ROWS and holdout >= MIN_HOLDOUT_ROWS,
        f"train {train}, holdout {holdout}",
        f"train ≥ {MIN_TRAIN_ROWS}, holdout ≥ {MIN_HOLDOUT_ROWS}",
    )


def no_missing_pixels(training_data: TrainingSnapshot) -> dg.AssetCheckResult:
    """Every photo has exactly the expected number of pixels."""
    bad = sum(
        int(len(pixels) != PIXEL_COUNT)
        for frame in (training_data.train, training_data.holdout)
        for pixels in frame["pixels"]
    )
    return check_result(bad == 0, f"{bad} photos with missing pixels", f"0 (each {PIXEL_COUNT} px)")


def labels_known(training_data: TrainingSnapshot) -> dg.AssetCheckResult:
    """Every label belongs to the known label set."""
    seen = set(training_data.train["label"]) | set(training_data.holdout["label"])
    unknown = sorted(int(v) for v in seen - set(LABELS))
    return check_result(not unknown, f"unknown labels {unknown}", f"labels in {list(LABELS)}")


def every_class_in_train(training_data: TrainingSnapshot) -> dg.AssetCheckResult:
    """Each known class appears at least once in the training split."""
    missing = sorted(set(LABELS) - {int(v) for v in training_data.train["label"]})
    return check_result(not missing, f"classes missing from train: {missing}", "none missing")


def gate_check(gate: GateSpec, key: dg.AssetKey) -> dg.AssetChecksDefinition:
    """The check of one spec gate on the `verification_report` at `key`, named by the gate,
    with the gate's severity (ERROR: failed means rejected; WARN: defended)."""
    severity = dg.AssetCheckSeverity(gate.severity)
    consequence = "rejected" if gate.severity == "ERROR" else "defended"
    bound = (
        f"{gate.threshold:g}"
        if gate.against == "threshold"
        else "the champion (paired: better with p < alpha, or non-inferior to a failing one)"
    )

    @dg.asset_check(
        asset=key,
        name=gate.name,
        partitions_def=monthly_partitions,
        description=f"Gate: challenger {gate.metric} {gate.comparison} {bound} "
        f"(failed: {consequence}).",
    )
    def check(verification_report: GatedReport) -> dg.AssetCheckResult:
        # The verdict `gates.evaluate` recorded in the report: the check shows it, never
        # recomputes. `on_failure` shows the severity on a passed check too (the UI shows it
        # only on failures).
        result = verification_report.gate(gate.name)
        paired = verification_report.paired
        return check_result(
            result.passed,
            result.observed,
            result.threshold,
            severity,
            reason=result.reason,
            on_failure=f"{severity.value}: {consequence}",
            # The champion-relative gate is the paired decision: show its numbers.
            **(paired.as_metadata() if paired and gate.against == "champion" else {}),
        )

    return check


def champion_alias_agrees_for(model: ModelSpec) -> dg.AssetChecksDefinition:
    """`champion_alias_agrees` on the model's `champion_model`, read from its registry."""

    @dg.asset_check(
        asset=ModelNames(model.name).champion_model,
        blocking=True,
        partitions_def=monthly_partitions,
    )
    def champion_alias_agrees(
        champion_model: ChampionChange, model_registry: RegistryResource
    ) -> dg.AssetCheckResult:
        """The registry's `@champion` holds the version `champion_model` settled on, so
        deployment serves what the registry says (another writer may not have moved it in
        between)."""
        current = model_registry.get_client(model.registry_name).champion()
        holder = current.version if current else None
        return check_result(
            holder == champion_model.version,
            f"@{CHAMPION_ALIAS} = v{holder}",
            f"v{champion_model.version}",
        )

    return champion_alias_agrees


def champion_accuracy_at_target(champion_monitor: MonitorReport) -> dg.AssetCheckResult:
    """The serving champion's live accuracy on confirmed tasks reaches the target (WARN: the
    evidence goes to champion_health_sensor, which decides with its minimum sample)."""
    a = champion_monitor.accuracy
    return check_result(
        a.accuracy is None or a.accuracy >= champion_monitor.target_accuracy,
        a.accuracy,
        champion_monitor.target_accuracy,
        dg.AssetCheckSeverity.WARN,
        confirmed_tasks=a.n,
        interval=f"[{a.low}, {a.high}]",
        evidence=describe_accuracy(champion_monitor),
    )


def champion_drift_within_threshold(champion_monitor: MonitorReport) -> dg.AssetCheckResult:
    """No input or prediction drift test is past its threshold and significant (WARN)."""
    return drift_result(champion_monitor.drift)


def drift_result(tests: list[DriftTest]) -> dg.AssetCheckResult:
    """Passed when no drift test is past its threshold and significant (WARN)."""
    drifted = [t for t in tests if t.drifted]
    worst = max(tests, key=lambda t: (t.statistic or 0) - t.threshold)
    return check_result(
        not drifted,
        ", ".join(describe_drift(t) for t in drifted) or describe_drift(worst),
        "each score ≤ its threshold or p ≥ alpha",
        dg.AssetCheckSeverity.WARN,
    )


def checks_on(key: dg.AssetKey, functions, **options) -> list[dg.AssetChecksDefinition]:
    """One check on `key` per function, named by the function, described by its docstring."""
    return [
        dg.asset_check(asset=key, name=fn.__name__, description=fn.__doc__, **options)(fn)
        for fn in functions
    ]


def model_checks(model: ModelSpec) -> list[dg.AssetChecksDefinition]:
    """Every check of a classification model's graph: the data checks on its training_data,
    one check per spec gate on its verification_report, the alias check on its
    champion_model and the monitor checks on its champion_monitor."""
    names = ModelNames(model.name)
    return [
        *checks_on(
            names.training_data,
            [enough_rows, no_missing_pixels, labels_known, every_class_in_train],
            blocking=True,
            partitions_def=monthly_partitions,
        ),
        *(gate_check(gate, names.verification_report) for gate in model.gates),
        champion_alias_agrees_for(model),
        *checks_on(
            names.champion_monitor,
            [champion_accuracy_at_target, champion_drift_within_threshold],
        ),
    ]
