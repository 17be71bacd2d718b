"""The replay's report: the month-by-month table, the summary, the accuracy plot, and where they
are published (files under MLOPS_HOME/replay, an MLflow run, the `replay_report` asset)."""

import base64
import io
import json
from collections import defaultdict
from dataclasses import asdict
from pathlib import Path

import dagster as dg
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402

from mlops_assets.constants import REPLAY_REPORT  # noqa: E402
from mlops_assets.contracts.stage_results import PairedSummary  # noqa: E402
from mlops_assets.demo.policies import OLD_RULE, PolicyRun, detections  # noqa: E402
from mlops_assets.demo.policy_report import (  # noqa: E402
    policies_markdown,
    policies_plot_png,
    rules_markdown,
)
from mlops_assets.demo.replay import MonthResult  # noqa: E402
from mlops_assets.demo.source import Scenario  # noqa: E402
from mlops_assets.demo.spec import DEMO_NAMES, accuracy_gate_threshold  # noqa: E402
from mlops_assets.settings import Settings  # noqa: E402


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _paired_cells(paired: PairedSummary | None) -> str:
    # n | b / c | difference (95 % interval) | p | smallest detectable difference
    if paired is None:
        return "– | – | – | – | –"
    counts = "–" if paired.b is None else f"{paired.b} / {paired.c}"
    detectable = (
        "none" if paired.minimum_detectable is None else f"{paired.minimum_detectable * 100:.1f}"
    )
    return (
        f"{paired.n} | {counts} | {paired.difference * 100:+.1f} "
        f"({paired.low * 100:+.1f}..{paired.high * 100:+.1f}) | {paired.p_value:.2g} | "
        f"{detectable}"
    )


def table_markdown(results: list[MonthResult]) -> str:
    """The month-by-month table: month, versions, accuracies, latency, the paired comparison
    (n, b / c, difference in points with its 95 % interval, one-sided p, smallest detectable
    difference in points), decision, reason."""
    lines = [
        "| month | champion | challenger | challenger acc. | champion acc. | p95 latency | "
        "n | b / c | diff. (95 % CI), points | p | detectable | decision | reason |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.month[:7]} | {'v' + r.champion_before if r.champion_before else '–'} | "
            f"{'v' + r.challenger_version if r.challenger_version else '–'} | "
            f"{_pct(r.challenger_accuracy)} | {_pct(r.champion_accuracy)} | "
            f"{'–' if r.latency_p95_ms is None else f'{r.latency_p95_ms:.2f} ms'} | "
            f"{_paired_cells(r.paired)} | **{r.decision}** | {r.reason} |"
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


def instance_counts(instance: dg.DagsterInstance, results: list[MonthResult]) -> dict:
    """What the Dagster UI shows for the replay's runs: their statuses, and the decided months
    whose `champion_model` partition is materialized."""
    runs = instance.get_runs(dg.RunsFilter(run_ids=[r.run_id for r in results if r.run_id]))
    statuses: dict[str, int] = defaultdict(int)
    for run in runs:
        statuses[run.status.value.lower()] += 1
    materialized = instance.get_materialized_partitions(DEMO_NAMES.champion_model)
    decided = [r.month for r in results if r.decision != "failed"]
    return {
        "runs": dict(statuses),
        "champion_model_materialized": f"{sum(m in materialized for m in decided)} of "
        f"{len(decided)} decided months",
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
    axes.axhline(
        accuracy_gate_threshold(), color="red", linestyle="--", linewidth=1, label="accuracy gate"
    )
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


def policies_section(runs: list[PolicyRun], scenario: Scenario, plot_name: str) -> str:
    """The report's section comparing the retraining policies."""
    return "\n".join(
        [
            "## Retraining policies on the same stream",
            "",
            "Monthly retrains every month; volume once 450 new labels arrived; evidence when "
            "the champion monitor finds live accuracy below target or drift "
            "(`champion_monitor_sensor`'s rule). Serving accuracy: the champion that served each "
            "month, on that month's confirmed tasks.",
            "",
            policies_markdown(runs, scenario),
            "",
            f"![retraining policies]({plot_name})",
            "",
            "## Promotion rules on the same stream",
            "",
            "Both retrain every month on their own backends; deploys count the new versions "
            "that went on to serve a month.",
            "",
            rules_markdown(runs),
            "",
        ]
    )


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


def policies_table(runs: list[PolicyRun], scenario: Scenario) -> list[dict]:
    """Plain-JSON form of the policy comparison (bench/results/replay.json's `policies`)."""
    return [
        {
            **run.summary(),
            **(detections(run, scenario) if run.name not in ("monthly", OLD_RULE) else {}),
        }
        for run in runs
    ]


def results_as_dicts(results: list[MonthResult]) -> list[dict]:
    """Plain-JSON form of the results (the paired comparison as a dict)."""
    return [{**asdict(r), "paired": r.paired.model_dump() if r.paired else None} for r in results]


def publish_report(
    settings: Settings,
    instance: dg.DagsterInstance,
    results: list[MonthResult],
    scenario: Scenario,
    policy_runs: list[PolicyRun] | None = None,
    more_markdown: str = "",
) -> Path:
    """Writes report.md, accuracy.png and results.json under MLOPS_HOME/replay, logs them to an
    MLflow run `replay-report` and reports the `replay_report` asset's materialization;
    `more_markdown` (the fleet's other models' sections) ends report.md.

    Returns:
        The folder holding the files.
    """
    folder = settings.home_dir / "replay"
    folder.mkdir(parents=True, exist_ok=True)
    png = accuracy_plot_png(results, scenario)
    (folder / "accuracy.png").write_bytes(png)
    markdown = report_markdown(results, scenario, "accuracy.png")
    names = ["report.md", "accuracy.png", "results.json"]
    policy_metadata = {}
    if policy_runs:
        policies_png = policies_plot_png(policy_runs, scenario)
        (folder / "policies.png").write_bytes(policies_png)
        markdown += "\n" + policies_section(policy_runs, scenario, "policies.png")
        (folder / "policies.json").write_text(
            json.dumps(policies_table(policy_runs, scenario), indent=2) + "\n"
        )
        names += ["policies.png", "policies.json"]
        policy_metadata = {
            "policies": dg.MetadataValue.md(policies_markdown(policy_runs, scenario)),
            "policies_plot": dg.MetadataValue.md(
                f"![policies](data:image/png;base64,{base64.b64encode(policies_png).decode()})"
            ),
        }
    (folder / "report.md").write_text(markdown + (f"\n{more_markdown}\n" if more_markdown else ""))
    (folder / "results.json").write_text(json.dumps(results_as_dicts(results), indent=2) + "\n")
    client = MlflowClient(settings.resolved_tracking_uri)
    experiment = client.get_experiment_by_name(settings.experiment)
    run = client.create_run(experiment.experiment_id, run_name="replay-report")
    for name in names:
        client.log_artifact(run.info.run_id, str(folder / name), "replay")
    client.set_terminated(run.info.run_id)
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            asset_key=REPLAY_REPORT,
            metadata={
                "summary": dg.MetadataValue.json(summary(results)),
                "runs": dg.MetadataValue.json(instance_counts(instance, results)),
                "table": dg.MetadataValue.md(table_markdown(results)),
                "accuracy_plot": dg.MetadataValue.md(
                    f"![accuracy](data:image/png;base64,{base64.b64encode(png).decode()})"
                ),
                **policy_metadata,
                "report": dg.MetadataValue.path(str(folder / "report.md")),
                "mlflow_run": dg.MetadataValue.url(
                    f"{settings.mlflow_ui_url.rstrip('/')}/#/experiments/"
                    f"{experiment.experiment_id}/runs/{run.info.run_id}"
                ),
            },
        )
    )
    return folder
