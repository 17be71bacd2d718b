"""The two-year replay: month by month, a challenger against the champion.

Month after month the scenario's confirmed tasks arrive; from `first_month` on, each month runs
`retrain_job` for that month's partition (train on the months before, hold out the month) and the
decision is collected. The first decided month makes the first champion (value gates only).
"""

import io
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass

import dagster as dg
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from mlops_assets.demo_source import Scenario, month_tasks  # noqa: E402
from mlops_assets.records import TaskRecord  # noqa: E402

log = logging.getLogger(__name__)

REPLAY_REPORT = "replay_report"
STAGES = ("training_data", "trained_model", "verification_report", "champion_model", "deployment")


@dataclass(frozen=True)
class MonthResult:
    """One replayed month: who was compared, what the gates decided."""

    month: str
    decision: str
    champion_before: str | None
    challenger_version: str | None
    challenger_accuracy: float | None
    champion_accuracy: float | None
    latency_p95_ms: float | None
    reason: str
    champion_after: str | None
    seconds: float
    stage_seconds: dict[str, float]


def stage_seconds(instance: dg.DagsterInstance, run_id: str) -> dict[str, float]:
    """Wall time of each step of a run, from its event log."""
    starts, ends = {}, defaultdict(float)
    for record in instance.all_logs(run_id):
        event = record.dagster_event
        if event is None or event.step_key is None:
            continue
        if event.event_type_value == "STEP_START":
            starts[event.step_key] = record.timestamp
        elif event.event_type_value == "STEP_SUCCESS":
            ends[event.step_key] = record.timestamp
    return {key: round(ends[key] - starts[key], 3) for key in starts if key in ends}


def _month_result(
    month: str,
    result: dg.ExecuteInProcessResult,
    stages: dict[str, float],
    champion_after: str | None,
    seconds: float,
) -> MonthResult:
    failed_checks = [c.check_name for c in result.get_asset_check_evaluations() if not c.passed]
    if "verification_report" not in stages:
        reason = (
            f"data checks failed: {', '.join(failed_checks)}" if failed_checks else "run failed"
        )
        return MonthResult(
            month, "failed", None, None, None, None, None, reason, champion_after, seconds, stages
        )
    report = result.output_for_node("verification_report")
    champion = report["champion"]
    failed = [g["reason"] for g in report["gates"] if not g["passed"]]
    return MonthResult(
        month=month,
        decision="promoted" if report["decision"] == "promote" else report["decision"],
        champion_before=champion["version"] if champion else None,
        challenger_version=report["challenger"]["version"],
        challenger_accuracy=report["challenger"]["accuracy"],
        champion_accuracy=champion["accuracy"] if champion else None,
        latency_p95_ms=report["challenger"]["latency_p95_s"] * 1000,
        reason="; ".join(failed) if failed else "every gate passed",
        champion_after=champion_after,
        seconds=seconds,
        stage_seconds={k: v for k, v in stages.items() if k in STAGES},
    )


def run_replay(
    job: dg.JobDefinition,
    instance: dg.DagsterInstance,
    scenario: Scenario,
    deliver: Callable[[list[TaskRecord]], None],
    champion_version: Callable[[], str | None],
    first_month: int = 12,
    run_config: dict | None = None,
) -> list[MonthResult]:
    """Replays the scenario month by month.

    Args:
        job: `retrain_job`.
        instance: where the runs are recorded.
        scenario: the replayed period.
        deliver: hands a month's confirmed tasks to the system (the event path).
        champion_version: reads the current `@champion` version.
        first_month: the first month with a retraining run (1-based); earlier months only
            deliver data, so the first run trains on the first year.
        run_config: run config for every month's run.

    Returns:
        One result per retrained month, in order.
    """
    results = []
    for month in range(1, scenario.months + 1):
        deliver(month_tasks(scenario, month))
        if month < first_month:
            continue
        key = scenario.month_key(month)
        started = time.perf_counter()
        result = job.execute_in_process(
            run_config=run_config or {},
            instance=instance,
            partition_key=key,
            raise_on_error=False,
            tags={"mlops_assets/replay": "true"},
        )
        outcome = _month_result(
            key,
            result,
            stage_seconds(instance, result.run_id),
            champion_version(),
            time.perf_counter() - started,
        )
        results.append(outcome)
        log.info(
            "replay %s (%d/%d): %s, champion v%s, %.1f s",
            key[:7],
            month - first_month + 1,
            scenario.months - first_month + 1,
            outcome.decision,
            outcome.champion_after,
            outcome.seconds,
        )
    return results


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def table_markdown(results: list[MonthResult]) -> str:
    """The month-by-month table: month, versions, accuracies, latency, decision, reason."""
    lines = [
        "| month | champion | challenger | challenger acc. | champion acc. | p95 latency | "
        "decision | reason |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.month[:7]} | {'v' + r.champion_before if r.champion_before else '–'} | "
            f"{'v' + r.challenger_version if r.challenger_version else '–'} | "
            f"{_pct(r.challenger_accuracy)} | {_pct(r.champion_accuracy)} | "
            f"{'–' if r.latency_p95_ms is None else f'{r.latency_p95_ms:.2f} ms'} | "
            f"**{r.decision}** | {r.reason} |"
        )
    return "\n".join(lines)


def summary(results: list[MonthResult]) -> dict:
    """Counts of each decision and who serves at the end."""
    counts: dict[str, int] = defaultdict(int)
    for r in results:
        counts[r.decision] += 1
    return {
        "months": len(results),
        "decisions": dict(counts),
        "final_champion": results[-1].champion_after if results else None,
    }


def accuracy_plot_png(results: list[MonthResult], scenario: Scenario) -> bytes:
    """Challenger and champion accuracy per month, promotions marked, gate line drawn."""
    months = [r.month[:7] for r in results]
    positions = list(range(len(months)))
    figure, axes = plt.subplots(figsize=(9, 4))
    axes.plot(positions, [r.challenger_accuracy for r in results], "o-", label="challenger")
    axes.plot(positions, [r.champion_accuracy for r in results], "s-", label="champion")
    promoted = [
        (i, r.challenger_accuracy) for i, r in enumerate(results) if r.decision == "promoted"
    ]
    if promoted:
        axes.scatter(
            *zip(*promoted, strict=True),
            s=180,
            facecolors="none",
            edgecolors="green",
            linewidths=2,
            label="promoted",
            zorder=3,
        )
    axes.axhline(0.90, color="red", linestyle="--", linewidth=1, label="accuracy gate")
    for marker, label in (
        (scenario.drift_month, "new camera"),
        (scenario.late_label_month, f"'{scenario.late_label}' common"),
    ):
        key = scenario.month_key(marker)[:7]
        if scenario.drift and key in months:
            axes.axvline(months.index(key), color="grey", linestyle=":", linewidth=1)
            axes.annotate(label, (months.index(key), 0.5), rotation=90, fontsize=8, color="grey")
    axes.set(ylabel="holdout accuracy (month)", ylim=(0.4, 1.0), title="champion vs challenger")
    axes.set_xticks(positions, months, rotation=60, fontsize=8)
    axes.legend(loc="lower left", fontsize=8)
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    return buffer.getvalue()


def report_markdown(results: list[MonthResult], scenario: Scenario, plot_name: str) -> str:
    """The replay report: scenario, summary, table and plot."""
    totals = summary(results)
    decided = ", ".join(f"{n} {d}" for d, n in sorted(totals["decisions"].items()))
    return "\n".join(
        [
            "# Two-year replay: champion vs challenger",
            "",
            f"Scenario: {scenario.months} months from {scenario.start:%Y-%m}, "
            f"{scenario.per_month} confirmed tasks a month, seed {scenario.seed}; "
            + (
                f"new camera from month {scenario.drift_month}, label {scenario.late_label} "
                f"common from month {scenario.late_label_month}."
                if scenario.drift
                else "no drift."
            ),
            "",
            f"{totals['months']} months decided: {decided}. "
            f"Serving at the end: v{totals['final_champion']}.",
            "",
            table_markdown(results),
            "",
            f"![accuracy over time]({plot_name})",
            "",
        ]
    )


def results_as_dicts(results: list[MonthResult]) -> list[dict]:
    """Plain-JSON form of the results."""
    return [asdict(r) for r in results]
