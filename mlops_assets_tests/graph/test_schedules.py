import datetime as dt

import dagster as dg

from mlops_assets.graph.schedules import nightly_retrain_schedule_for


def context(resources, definitions):
    return dg.build_schedule_context(
        scheduled_execution_time=dt.datetime(2026, 1, 1, 2, tzinfo=dt.UTC),
        resources={"data_store": resources["data_store"]},
        repository_def=definitions.get_repository_def(),
    )


def test_nightly_schedule_retrains_the_newest_month(
    resources, definitions, seeded_store, demo_records
):
    schedule = nightly_retrain_schedule_for("Asia/Seoul")
    assert schedule.cron_schedule == "0 2 * * *"
    assert schedule.execution_timezone == "Asia/Seoul"
    assert schedule.job_name == "retrain_job"
    with context(resources, definitions) as tick:
        requests = list(schedule.evaluate_tick(tick).run_requests)
    assert len(requests) == 1
    newest = max(r.confirmed_at for r in demo_records)
    assert requests[0].partition_key == newest.strftime("%Y-%m-01")
    assert requests[0].run_key == "nightly-2026-01-01"


def test_nightly_schedule_skips_an_empty_store(resources, definitions):
    with context(resources, definitions) as tick:
        result = nightly_retrain_schedule_for("UTC").evaluate_tick(tick)
    assert not result.run_requests
    assert "empty" in result.skip_message
