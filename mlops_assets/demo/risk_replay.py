"""The downstream model's replay: after each month's upstream runs, the real automation
conditions of its group decide whether it retrains that month, and why.

The demo steps the fleet month by month in order (task_photos, then face_verifier, then this);
a month whose upstream promoted retrains it ("upstream task_photos v1→v2"), so does its cadence's
tick ("cadence"), and a month whose upstreams kept their champions does not.
"""

import contextlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import dagster as dg

from mlops_assets.contracts.model_spec import ModelSpec
from mlops_assets.graph.automation import recorded_version, retrain_reason
from mlops_assets.graph.model_names import ModelNames, upstream_version_key

RISK_MODEL = "confirmation_risk"

# The replay evaluates the conditions once a month, just before the month ends: the month's
# upstream runs hold it out whole, and its partition is still the latest (end_offset=1).
BEFORE_MONTH_END = timedelta(minutes=1)


def evaluation_time(next_month_start: datetime) -> datetime:
    """The simulated instant of a month's evaluation: just before the next month starts."""
    return next_month_start - BEFORE_MONTH_END


@dataclass(frozen=True)
class RiskMonthResult:
    """One month of the downstream model: why it retrained (None: it did not) and the result."""

    month: str
    retrained_because: str | None
    upstream_versions: dict[str, str] = field(default_factory=dict)
    challenger_accuracy: float | None = None
    champion_accuracy: float | None = None
    decision: str | None = None
    champion_after: str | None = None
    run_id: str = ""


@contextlib.contextmanager
def _quiet_tester():
    # The tester logs each asset's evaluation at INFO; the terminal shows one line a month.
    tester = logging.getLogger("dagster.automation_condition_tester")
    level = tester.level
    tester.setLevel(logging.WARNING)
    try:
        yield
    finally:
        tester.setLevel(level)


def _materializations(result: dg.ExecuteInProcessResult) -> dict[dg.AssetKey, dict]:
    events = {}
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        events[materialization.asset_key] = {
            k: getattr(v, "value", v) for k, v in materialization.metadata.items()
        }
    return events


class DownstreamReplay:
    """Steps a downstream model month by month: evaluates its group's automation conditions at
    the month's simulated instant (the cursor carried from month to month, as the automation
    sensor carries it) and runs what they request.

    Args:
        definitions: the fleet's definitions (with the automation conditions).
        instance: where the upstream runs were recorded and this model's runs are.
        model: the downstream model's spec.
        job: its retraining job (`<model>_retrain_job`).
        run_config: run config for every run.
    """

    def __init__(
        self,
        definitions: dg.Definitions,
        instance: dg.DagsterInstance,
        model: ModelSpec,
        job: dg.JobDefinition,
        run_config: dict | None = None,
    ):
        self.definitions, self.instance, self.model, self.job = definitions, instance, model, job
        self.run_config = run_config or {}
        self.names = ModelNames(model.name)
        self.cursor = None
        self.results: list[RiskMonthResult] = []

    def step(self, month: str, at: datetime) -> RiskMonthResult:
        """Evaluates the conditions at `at` and runs month `month` when they request it.

        Raises:
            RuntimeError: the conditions requested a partition other than `month` (the
                replay's months and the automation's latest month disagree).
        """
        with _quiet_tester():
            evaluation = dg.evaluate_automation_conditions(
                defs=self.definitions,
                instance=self.instance,
                cursor=self.cursor,
                evaluation_time=at,
                asset_selection=dg.AssetSelection.groups(self.model.name),
            )
        self.cursor = evaluation.cursor
        requested = evaluation.get_requested_partitions(self.names.training_data)
        serving = self.results[-1].champion_after if self.results else None
        if not requested:
            outcome = RiskMonthResult(month, None, champion_after=serving)
        elif requested != {month}:
            raise RuntimeError(f"{self.model.name} at {at}: requested {requested}, not {month}")
        else:
            (root,) = (r for r in evaluation.results if r.key == self.names.training_data)
            outcome = self._run(month, retrain_reason(root, self.model, self.instance), serving)
        self.results.append(outcome)
        return outcome

    def _run(self, month: str, because: str | None, serving: str | None) -> RiskMonthResult:
        result = self.job.execute_in_process(
            run_config=self.run_config,
            instance=self.instance,
            partition_key=month,
            raise_on_error=False,
            tags={"mlops_assets/replay": "true"},
        )
        metadata = _materializations(result)
        data = metadata.get(self.names.training_data, {})
        versions = {
            u: recorded_version(data.get(upstream_version_key(u))) for u in self.model.upstream
        }
        champion = metadata.get(self.names.champion_model)
        if not result.success or champion is None:
            return RiskMonthResult(
                month, because, {k: v for k, v in versions.items() if v}, None, None, "failed",
                serving, result.run_id,
            )  # fmt: skip
        headline = self.model.gates[0].metric
        return RiskMonthResult(
            month=month,
            retrained_because=because,
            upstream_versions={k: v for k, v in versions.items() if v},
            challenger_accuracy=champion.get(f"challenger_{headline}"),
            champion_accuracy=champion.get(f"champion_{headline}"),
            decision=champion.get("decision"),
            champion_after=recorded_version(champion.get("champion_version")),
            run_id=result.run_id,
        )


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def risk_table_markdown(results: list[RiskMonthResult]) -> str:
    """The downstream model's month-by-month table."""
    lines = [
        "| month | retrained because | upstream versions used | challenger accuracy | "
        "champion accuracy | decision | champion after |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        versions = ", ".join(f"{k} v{v}" for k, v in r.upstream_versions.items()) or "–"
        lines.append(
            f"| {r.month[:7]} | {r.retrained_because or '— not retrained'} | {versions} | "
            f"{_pct(r.challenger_accuracy)} | {_pct(r.champion_accuracy)} | "
            f"{'**' + r.decision + '**' if r.decision else '–'} | "
            f"{'v' + r.champion_after if r.champion_after else '–'} |"
        )
    return "\n".join(lines)


def risk_summary(results: list[RiskMonthResult]) -> dict:
    """Months retrained by cadence, by an upstream promotion, not retrained; the final champion."""
    because = [r.retrained_because or "" for r in results]
    return {
        "cadence": sum("cadence" in b for b in because),
        "upstream": sum("upstream" in b for b in because),
        "not_retrained": because.count(""),
        "final_champion": results[-1].champion_after if results else None,
    }
