"""The replay's report: table, summary, plot and markdown from month results."""

import json
from dataclasses import replace

from mlops_assets.contracts.stage_results import PairedSummary
from mlops_assets.demo import report
from mlops_assets.demo.replay import MonthResult
from mlops_assets.demo.source import Scenario

SCENARIO = Scenario(months=4, drift_month=3, late_label_month=99)


def month(key: str, decision: str, before, after, challenger=0.95, champion=None) -> MonthResult:
    return MonthResult(
        month=key,
        decision=decision,
        champion_before=before,
        challenger_version=str(int(after or "0") + 1) if decision != "promoted" else after,
        challenger_accuracy=challenger,
        champion_accuracy=champion,
        latency_p95_ms=0.8,
        reason="every gate passed" if decision == "promoted" else "short of the champion",
        champion_after=after,
        seconds=1.0,
        stage_seconds={},
    )


RESULTS = [
    month("2024-02-01", "promoted", None, "1"),
    month("2024-03-01", "defended", "1", "1", 0.94, 0.96),
    month("2024-04-01", "promoted", "1", "3", 0.97, 0.93),
]


def test_summary_counts_decisions_and_names_the_final_champion():
    assert report.summary(RESULTS) == {
        "months": 3,
        "decisions": {"promoted": 2, "defended": 1},
        "final_champion": "3",
    }
    assert report.summary([])["final_champion"] is None


PAIRED = PairedSummary(
    method="mcnemar_exact",
    metric="accuracy",
    n=150,
    b=2,
    c=5,
    difference=-0.02,
    low=-0.061,
    high=0.019,
    confidence=0.95,
    p_value=0.94,
    alpha=0.05,
    minimum_detectable=0.041,
    rule="not_better",
    reason="not shown better",
    power="smallest detectable accuracy difference 4.1 points",
)


def test_table_has_one_row_per_month_with_the_paired_numbers():
    results = [RESULTS[0], replace(RESULTS[1], paired=PAIRED), RESULTS[2]]
    rows = report.table_markdown(results).splitlines()[2:]
    assert len(rows) == 3
    assert rows[1].startswith(
        "| 2024-03 | v1 | v2 | 94.0% | 96.0% | 0.80 ms | 150 | 2 / 5 | -2.0 (-6.1..+1.9) | "
        "0.94 | 4.1 | **defended** |"
    )
    assert rows[0].startswith("| 2024-02 | – | v1 | 95.0% | – | 0.80 ms | – | – | – | – | – |")


def test_markdown_report_links_the_plot_and_the_plot_is_a_png():
    markdown = report.report_markdown(RESULTS, SCENARIO, "accuracy.png")
    assert "![accuracy over time](accuracy.png)" in markdown
    assert "3 months decided: 1 defended, 2 promoted. Serving at the end: v3." in markdown
    assert report.accuracy_plot_png(RESULTS, SCENARIO).startswith(b"\x89PNG")
    assert report.results_as_dicts(RESULTS)[0]["decision"] == "promoted"


def test_published_report_has_the_policy_section_plot_and_table(settings, tmp_path):
    import dagster as dg
    from mlflow.tracking import MlflowClient

    from mlops_assets.demo.policies import OLD_RULE, PolicyMonth, PolicyRun, monthly_from_replay

    MlflowClient(settings.resolved_tracking_uri).create_experiment(settings.experiment)
    evidence = PolicyRun(
        "evidence",
        [
            PolicyMonth("2024-02-01", None, None, "initial", "promoted"),
            PolicyMonth("2024-03-01", "1", 0.96, None, None),
            PolicyMonth("2024-04-01", "1", 0.85, "drift", "promoted", ["input:mean_grey"]),
        ],
    )
    old_rule = PolicyRun(
        OLD_RULE,
        [
            PolicyMonth("2024-02-01", None, None, "initial", "promoted"),
            PolicyMonth("2024-03-01", "1", 0.96, "monthly", "promoted"),
            PolicyMonth("2024-04-01", "2", 0.88, "monthly", "promoted"),
        ],
    )
    runs = [monthly_from_replay(RESULTS), evidence, old_rule]
    # Run ids the instance does not know: the report counts no runs for them.
    results = [replace(r, run_id=f"run-{i}") for i, r in enumerate(RESULTS)]
    results[1] = replace(results[1], paired=PAIRED)
    with dg.DagsterInstance.ephemeral() as instance:
        folder = report.publish_report(settings, instance, results, SCENARIO, runs)
        event = instance.get_latest_materialization_event(dg.AssetKey("replay_report"))
    markdown = (folder / "report.md").read_text()
    assert "## Retraining policies on the same stream" in markdown
    assert "| evidence | 2 | 2 | 1 | 1 | 90.5% | 2024-04 | – |" in markdown
    # The promotion rules, each retraining every month: runs, promotions, deploys (versions
    # that went on to serve), months below 0.90, mean serving accuracy.
    assert "## Promotion rules on the same stream" in markdown
    assert (
        "| paired (p < alpha, or non-inferior to a failing champion) | 3 | 2 | 1 | 0 | 94.5% |"
        in (markdown)
    )
    assert "| old: reaches champion + 0.005 | 3 | 3 | 2 | 1 | 92.0% |" in markdown
    assert (folder / "policies.png").read_bytes().startswith(b"\x89PNG")
    table = json.loads((folder / "policies.json").read_text())
    assert [row["policy"] for row in table] == ["monthly", "evidence", OLD_RULE]
    assert (table[2]["promotions"], table[2]["deploys"]) == (3, 2)
    saved = json.loads((folder / "results.json").read_text())
    assert saved[1]["paired"]["b"] == 2 and saved[0]["paired"] is None
    assert "| evidence |" in event.asset_materialization.metadata["policies"].value
