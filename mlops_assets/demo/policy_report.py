"""The policy comparison in the replay report: the table and the plot of which trigger fired
when."""

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from mlops_assets.demo.policies import OLD_RULE, PolicyRun, detections  # noqa: E402
from mlops_assets.demo.source import Scenario  # noqa: E402
from mlops_assets.demo.spec import target_accuracy  # noqa: E402

MARKERS = {"initial": "*", "monthly": "o", "volume": "s", "performance": "v", "drift": "D"}


def policies_markdown(runs: list[PolicyRun], scenario: Scenario) -> str:
    """One row per policy: runs, months below target, mean serving accuracy, detections."""
    lines = [
        f"| policy | retraining runs | promotions | deploys | months below "
        f"{target_accuracy():.2f} | mean serving accuracy | new camera detected | "
        "label shift detected | triggers |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        found = detections(run, scenario) if run.name not in ("monthly", OLD_RULE) else {}
        mean = "–" if run.mean_accuracy is None else f"{run.mean_accuracy:.1%}"
        triggers = ", ".join(f"{m.month[:7]} {m.trigger}" for m in run.months if m.trigger)
        lines.append(
            f"| {run.name} | {run.retrains} | {run.promotions} | {run.deploys} | "
            f"{run.months_below_target} | {mean} | "
            f"{found.get('input_drift_detected') or '–'} | "
            f"{found.get('label_shift_detected') or '–'} | {triggers} |"
        )
    return "\n".join(lines)


def rules_markdown(runs: list[PolicyRun]) -> str:
    """The promotion rules compared on the same stream, each retraining every month: the
    paired rule (the replay) and the previous one (`policies.OLD_RULE`)."""
    rows = {"monthly": "paired (p < alpha, or non-inferior to a failing champion)"}
    rows[OLD_RULE] = "old: reaches champion + 0.005"
    lines = [
        f"| rule | runs | promotions | deploys | months below {target_accuracy():.2f} | "
        "mean serving accuracy |",
        "|---|---|---|---|---|---|",
    ]
    for run in runs:
        if run.name in rows:
            mean = "–" if run.mean_accuracy is None else f"{run.mean_accuracy:.1%}"
            lines.append(
                f"| {rows[run.name]} | {run.retrains} | {run.promotions} | {run.deploys} | "
                f"{run.months_below_target} | {mean} |"
            )
    return "\n".join(lines)


def policies_plot_png(runs: list[PolicyRun], scenario: Scenario) -> bytes:
    """Serving accuracy per month under each policy; a marker where a trigger fired."""
    figure, axes = plt.subplots(figsize=(9, 4))
    months = [m.month[:7] for m in runs[0].months]
    for run in runs:
        positions = {m.month[:7]: i for i, m in enumerate(run.months)}
        accuracy = [m.serving_accuracy for m in run.months]
        (line,) = axes.plot(
            range(len(accuracy)),
            [float("nan") if a is None else a for a in accuracy],
            "-",
            label=f"{run.name} ({run.retrains} runs)",
        )
        for m in run.months:
            if m.trigger and m.serving_accuracy is not None:
                axes.scatter(
                    positions[m.month[:7]],
                    m.serving_accuracy,
                    marker=MARKERS.get(m.trigger, "x"),
                    color=line.get_color(),
                    s=50,
                    zorder=3,
                )
    for trigger, marker in MARKERS.items():
        axes.scatter([], [], marker=marker, color="grey", label=f"trigger: {trigger}")
    axes.axhline(target_accuracy(), color="red", linestyle="--", linewidth=1)
    for month, label in (
        (scenario.drift_month, "new camera"),
        (scenario.late_label_month, f"'{scenario.late_label}' common"),
    ):
        key = scenario.month_key(month)[:7]
        if scenario.drift and key in months:
            axes.axvline(months.index(key), color="grey", linestyle=":", linewidth=1)
            axes.annotate(label, (months.index(key), 0.62), rotation=90, fontsize=8, color="grey")
    axes.set(ylabel="serving champion's accuracy", ylim=(0.6, 1.0), title="retraining policies")
    axes.set_xticks(range(len(months)), months, rotation=60, fontsize=8)
    axes.legend(loc="lower left", fontsize=7, ncol=2)
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    return buffer.getvalue()
