"""The demo's cascade: month by month, after the upstream month's run, the downstream group's
real automation conditions decide (over the small hand-built fleet): an upstream promotion
retrains it in the same month, the cadence's tick does, a defended upstream month does not."""

import datetime as dt

import dagster as dg
import pytest

from mlops_assets.demo.risk_replay import (
    DownstreamReplay,
    evaluation_time,
    risk_summary,
    risk_table_markdown,
)
from mlops_assets.graph.model_names import ModelNames
from mlops_assets_tests.support.automation_fleet import automated_fleet, champion_run_config, spec

UP, DOWN = ModelNames("up"), ModelNames("down")
QUARTERLY = "0 4 1 */3 *"
# The upstream's month by month champions: (version, previous).
UPSTREAM_MONTHS = {
    "2024-12-01": ("1", "none"),  # first champion
    "2025-01-01": ("1", "1"),  # defended, but the quarterly tick (January 1st)
    "2025-02-01": ("2", "1"),  # promoted
    "2025-03-01": ("2", "2"),  # defended
}


def chain_job(defs: dg.Definitions, names: ModelNames) -> dg.JobDefinition:
    job = defs.resolve_implicit_global_asset_job_def()
    return job.get_subset(asset_selection=set(names.retraining_keys))


def next_month(key: str) -> dt.datetime:
    start = dt.datetime.fromisoformat(key).replace(tzinfo=dt.UTC)
    return (start + dt.timedelta(days=32)).replace(day=1)


@pytest.fixture(scope="module")
def cascade():
    up, down = spec("up", cadence="0 0 1 1 *"), spec("down", ["up"], cadence=QUARTERLY)
    defs = automated_fleet([up, down])
    with dg.instance_for_test() as instance:
        replay = DownstreamReplay(defs, instance, down, chain_job(defs, DOWN))
        for month, (version, previous) in UPSTREAM_MONTHS.items():
            chain_job(defs, UP).execute_in_process(
                instance=instance,
                partition_key=month,
                run_config=champion_run_config("up", version, previous),
            )
            replay.step(month, evaluation_time(next_month(month)))
        runs = instance.get_runs(dg.RunsFilter(tags={"mlops_assets/replay": "true"}))
        yield replay.results, runs


def test_each_month_is_decided_by_the_conditions_in_the_same_month(cascade):
    results, runs = cascade
    assert [(r.month, r.retrained_because) for r in results] == [
        ("2024-12-01", "upstream up v–→v1"),
        ("2025-01-01", "cadence"),
        ("2025-02-01", "upstream up v1→v2"),
        ("2025-03-01", None),
    ]
    # Each retrained month ran its own partition, on the upstream champion of that month.
    assert [r.upstream_versions for r in results] == [{"up": "1"}, {"up": "1"}, {"up": "2"}, {}]
    assert {run.tags["dagster/partition"] for run in runs} == {
        "2024-12-01",
        "2025-01-01",
        "2025-02-01",
    }
    assert results[-1].decision is None and results[-1].champion_after == "1"


def test_the_table_names_why_each_month_retrained(cascade):
    results, _ = cascade
    table = risk_table_markdown(results)
    assert "| 2025-02 | upstream up v1→v2 | up v2 |" in table
    assert "| 2025-03 | — not retrained | – |" in table
    assert risk_summary(results) == {
        "cadence": 1,
        "upstream": 2,
        "not_retrained": 1,
        "final_champion": "1",
    }


def test_the_evaluation_instant_is_inside_the_month():
    assert evaluation_time(next_month("2025-02-01")) == dt.datetime(
        2025, 2, 28, 23, 59, tzinfo=dt.UTC
    )
