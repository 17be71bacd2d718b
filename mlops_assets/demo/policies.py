"""Three retraining policies on the same drifting stream: monthly, data volume, evidence.

The monthly policy is the replay itself (`replay.run_replay`: a run every month). The other
two replay the same months on their own registry, store and Dagster instance (one story per
instance: their runs never show in the production instance's asset history, and never move its
sensors' baselines). Each month the champion that
served is evaluated on the month's confirmed tasks (`retraining.watch.evaluate_champion`, what
`champion_monitor` computes), then the policy decides whether the month gets a retraining run:
- volume: once `volume_labels` new confirmed labels arrived since the last run;
- evidence: when `retraining.monitor_policy.monitor_verdict` finds live accuracy below target
  or drift (what `champion_monitor_sensor` does), with its minimum sample and cooldown.
"""

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import pandas as pd

from mlops_assets.backends import factory
from mlops_assets.contracts.monitoring import MonitorReport
from mlops_assets.contracts.stage_results import ChampionChange
from mlops_assets.definitions import build_definitions
from mlops_assets.demo.replay import MonthResult
from mlops_assets.demo.source import Scenario, month_tasks
from mlops_assets.demo.spec import DEMO_NAMES, drift_thresholds, monitor_policy, target_accuracy
from mlops_assets.retraining.monitor_policy import MonitorPolicy, monitor_verdict
from mlops_assets.retraining.monitoring import DriftThresholds
from mlops_assets.retraining.watch import evaluate_champion
from mlops_assets.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PolicyMonth:
    """One month under one policy: who served and how well, what fired, what was decided."""

    month: str
    serving_version: str | None
    serving_accuracy: float | None
    trigger: str | None = None
    decision: str | None = None
    drifted: list[str] = field(default_factory=list)
    evidence: str = ""


@dataclass(frozen=True)
class PolicyRun:
    """A policy's months, from the first champion on."""

    name: str
    months: list[PolicyMonth]
    seconds: float = 0.0

    @property
    def retrains(self) -> int:
        return sum(m.trigger is not None for m in self.months)

    @property
    def promotions(self) -> int:
        return sum(m.decision == "promoted" for m in self.months)

    @property
    def deploys(self) -> int:
        """New versions that went on to serve a month: the serving version changed (a
        promotion in the last month has no month left to serve)."""
        versions = [m.serving_version for m in self.months if m.serving_version is not None]
        return sum(a != b for a, b in zip([None, *versions], versions, strict=False))

    @property
    def served(self) -> list[float]:
        return [m.serving_accuracy for m in self.months if m.serving_accuracy is not None]

    @property
    def months_below_target(self) -> int:
        return sum(a < target_accuracy() for a in self.served)

    @property
    def mean_accuracy(self) -> float | None:
        return sum(self.served) / len(self.served) if self.served else None

    def first_detection(self, since: str, prefix: str | tuple[str, ...]) -> str | None:
        """The first month from `since` whose monitor flagged a test named `prefix…`."""
        for m in self.months:
            if m.month >= since and any(name.startswith(prefix) for name in m.drifted):
                return m.month
        return None

    def summary(self) -> dict:
        return {
            "policy": self.name,
            "retraining_runs": self.retrains,
            "promotions": self.promotions,
            "deploys": self.deploys,
            "months_below_target": self.months_below_target,
            "mean_serving_accuracy": round(self.mean_accuracy, 4) if self.served else None,
            "triggers": [
                {"month": m.month[:7], "trigger": m.trigger} for m in self.months if m.trigger
            ],
            "seconds": round(self.seconds, 1),
        }


def detections(run: PolicyRun, scenario: Scenario) -> dict[str, str | None]:
    """The months the monitor first flagged the new camera (input drift) and the label shift
    (prediction drift), from the months they start."""
    return {
        "input_drift_from": scenario.month_key(scenario.drift_month)[:7],
        "input_drift_detected": _month(
            run.first_detection(scenario.month_key(scenario.drift_month), "input:")
        ),
        "label_shift_from": scenario.month_key(scenario.late_label_month)[:7],
        "label_shift_detected": _month(
            run.first_detection(
                scenario.month_key(scenario.late_label_month), ("prediction:", "labels:")
            )
        ),
    }


def _month(key: str | None) -> str | None:
    return key[:7] if key else None


def monthly_from_replay(results: list[MonthResult]) -> PolicyRun:
    """The replay as the monthly policy: every month a run; the champion that served the month
    is the one the month's challenger was compared with, scored on that month's tasks."""
    months = [
        PolicyMonth(
            month=r.month,
            serving_version=r.champion_before,
            serving_accuracy=r.champion_accuracy,
            trigger="initial" if i == 0 else "monthly",
            decision=r.decision,
        )
        for i, r in enumerate(results)
    ]
    return PolicyRun("monthly", months, sum(r.seconds for r in results))


Decide = Callable[[MonitorReport | None, int, pd.Timestamp], str | None]

# The previous promotion rule, replayed next to the paired one on the same stream: the
# challenger must reach the champion's holdout accuracy + min_improvement (0.005).
OLD_RULE = "monthly, old rule"


def every_month(report: MonitorReport | None, month: int, now: pd.Timestamp) -> str | None:
    """The monthly policy: a run every month."""
    return "monthly"


def with_change_rule(run_config: dict, change_rule: str) -> dict:
    """`run_config` with the demo model's verification_report judged by `change_rule`."""
    op = DEMO_NAMES.verification_report.to_python_identifier()
    ops = dict(run_config.get("ops", {}))
    config = {**ops.get(op, {}).get("config", {}), "change_rule": change_rule}
    return {**run_config, "ops": {**ops, op: {"config": config}}}


def volume_policy(volume_labels: int, per_month: int) -> Decide:
    """Retrain once `volume_labels` new labels arrived since the last run."""
    state = {"since_last": 0}

    def decide(report: MonitorReport | None, month: int, now: pd.Timestamp) -> str | None:
        state["since_last"] += per_month
        if state["since_last"] >= volume_labels:
            state["since_last"] = 0
            return "volume"
        return None

    return decide


def evidence_policy(policy: MonitorPolicy) -> Decide:
    """Retrain when the monitor's report is evidence enough (`monitor_verdict`)."""
    state: dict = {"last": None}

    def decide(report: MonitorReport | None, month: int, now: pd.Timestamp) -> str | None:
        if report is None:
            return None
        verdict = monitor_verdict(report, policy, state["last"], now.to_pydatetime())
        if not verdict.retrain:
            return None
        state["last"] = now.to_pydatetime()
        return verdict.trigger

    return decide


def run_policy(
    name: str,
    decide: Decide,
    settings: Settings,
    scenario: Scenario,
    first_month: int,
    run_config: dict,
    thresholds: DriftThresholds,
) -> PolicyRun:
    """Replays the scenario under one policy on the backends of `settings` and a Dagster
    instance of its own, all under the settings' home (`<home>/dagster` for the instance)."""
    started = time.perf_counter()
    store, registry = factory.data_store(settings), factory.registry(settings)
    job = build_definitions(settings).resolve_job_def(DEMO_NAMES.retrain_job)
    months, predictors = [], {}
    instance = policy_instance(settings.home_dir)
    try:
        for month in range(1, scenario.months + 1):
            store.insert(month_tasks(scenario, month))
            if month < first_month:
                continue
            start = pd.Timestamp(scenario.month_start(month))
            end = pd.Timestamp(scenario.month_start(month + 1))
            report = evaluate_champion(
                registry, store, None, (start, end), thresholds, target_accuracy(), predictors
            )
            trigger = "initial" if month == first_month else decide(report, month, end)
            decision = None
            if trigger is not None:
                decision = _retrain(job, instance, scenario.month_key(month), run_config, name)
            months.append(
                PolicyMonth(
                    month=scenario.month_key(month),
                    serving_version=report.champion_version if report else None,
                    serving_accuracy=report.accuracy.accuracy if report else None,
                    trigger=trigger,
                    decision=decision,
                    drifted=[t.name for t in report.drift if t.drifted] if report else [],
                )
            )
            log.debug(
                "policy %s %s: served v%s, trigger %s, %s",
                name,
                scenario.month_key(month)[:7],
                months[-1].serving_version,
                trigger,
                decision,
            )
    finally:
        store.close()
        instance.dispose()
    return PolicyRun(name, months, time.perf_counter() - started)


def policy_instance_dir(home: Path) -> Path:
    """The DAGSTER_HOME of a policy's own instance (`dagster dev` can open it there)."""
    return home / "dagster"


def policy_instance(home: Path) -> dg.DagsterInstance:
    """A policy's own Dagster instance on SQLite files under `home`, created on first use."""
    folder = policy_instance_dir(home)
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "dagster.yaml"
    if not config.exists():
        config.write_text("telemetry:\n  enabled: false\n")
    return dg.DagsterInstance.from_config(str(folder))


def _retrain(
    job: dg.JobDefinition, instance: dg.DagsterInstance, key: str, run_config: dict, policy: str
) -> str:
    result = job.execute_in_process(
        run_config=run_config,
        instance=instance,
        partition_key=key,
        raise_on_error=False,
        tags={"mlops_assets/replay": "true", "mlops_assets/policy": policy},
    )
    if not result.success:
        return "failed"
    change: ChampionChange = result.output_for_node(
        DEMO_NAMES.champion_model.to_python_identifier()
    )
    return change.decision


def policy_settings(home: Path) -> Settings:
    """A policy's own embedded configuration under `home`, whatever the environment says (the
    stack, Celery workers): each policy starts empty and runs in this process."""
    return Settings(
        home=home,
        tracking_uri=None,
        data_store_url=None,
        object_store_url=None,
        artifact_location=None,
        rabbitmq_url=None,
        serving_url=None,
        executor="in_process",
    )


def compare_policies(
    monthly: list[MonthResult],
    home: Path,
    scenario: Scenario,
    first_month: int,
    run_config: dict,
    health: MonitorPolicy | None = None,
    thresholds: DriftThresholds | None = None,
    volume_labels: int = 450,
    old_rule: bool = True,
) -> list[PolicyRun]:
    """Runs the volume and evidence policies next to the monthly replay's results.

    Args:
        monthly: the replay's results (the monthly policy).
        home: a folder for the policies' own embedded backends and Dagster instances (one
            subfolder each); their runs are tagged `mlops_assets/policy`.
        scenario, first_month, run_config: as the replay's.
        health: the evidence policy's target, minimum sample and cooldown.
        thresholds: the monitor's drift thresholds.
        volume_labels: the volume policy's labels per run.
        old_rule: also replay the monthly policy under the previous promotion rule
            (`OLD_RULE`: champion + min_improvement) on its own backends.
    """
    health = health or monitor_policy()
    thresholds = thresholds or drift_thresholds()
    runs = [monthly_from_replay(monthly)]
    # dagster-mlflow exports MLFLOW_TRACKING_URI for each run; keep the caller's.
    saved = os.environ.get("MLFLOW_TRACKING_URI")
    try:
        policies = [
            ("volume", volume_policy(volume_labels, scenario.per_month), run_config),
            ("evidence", evidence_policy(health), run_config),
        ]
        if old_rule:
            policies.append(
                (OLD_RULE, every_month, with_change_rule(run_config, "min_improvement"))
            )
        for name, decide, config in policies:
            settings = policy_settings(home / name.replace(", ", "_").replace(" ", "_"))
            runs.append(
                run_policy(name, decide, settings, scenario, first_month, config, thresholds)
            )
    finally:
        if saved is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = saved
    return runs
