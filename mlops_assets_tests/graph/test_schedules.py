import datetime as dt

import dagster as dg

from mlops_assets.backends.record_tables import CONFIRMED_TASKS
from mlops_assets.contracts.fleet import load_fleet
from mlops_assets.graph.jobs import retrain_job_for
from mlops_assets.graph.partitions import monthly_partitions
from mlops_assets.graph.schedules import retrain_schedule_for

SPEC = load_fleet().model("task_photos")


def nightly_retrain_schedule_for(timezone: str) -> dg.ScheduleDefinition:
    return retrain_schedule_for(SPEC, retrain_job_for(SPEC), timezone)


def context(resources, definitions):
    return dg.build_schedule_context(
        scheduled_execution_time=dt.datetime(2026, 1, 1, 2, tzinfo=dt.UTC),
        resources={"data_store": resources["data_store"]},
        repository_def=definitions.get_repository_def(),
    )


def test_the_cadence_schedule_retrains_the_newest_month(
    resources, definitions, seeded_store, demo_records
):
    schedule = nightly_retrain_schedule_for("Asia/Seoul")
    # The spec's cadence.
    assert schedule.cron_schedule == SPEC.cadence == "0 2 * * *"
    assert schedule.execution_timezone == "Asia/Seoul"
    assert schedule.job_name == "task_photos_retrain_job"
    with context(resources, definitions) as tick:
        requests = list(schedule.evaluate_tick(tick).run_requests)
    assert len(requests) == 1
    newest = max(r.confirmed_at for r in demo_records)
    assert requests[0].partition_key == newest.strftime("%Y-%m-01")
    assert requests[0].run_key == "task_photos-cadence-2026-01-01T02:00"


def test_the_cadence_schedule_skips_an_empty_store(resources, definitions):
    with context(resources, definitions) as tick:
        result = nightly_retrain_schedule_for("UTC").evaluate_tick(tick)
    assert not result.run_requests
    assert "empty" in result.skip_message


def test_a_far_future_row_in_the_store_never_picks_a_missing_partition(
    resources, definitions, seeded_store, demo_records
):
    # Written past the store's rules, as a bug or an older version could have.
    with seeded_store.engine.begin() as conn:
        conn.execute(
            CONFIRMED_TASKS.insert().values(
                event_id="legacy-2100",
                task_id="legacy",
                confirmed_at=dt.datetime(2100, 1, 1, tzinfo=dt.UTC),
                label=1,
                pixels=bytes(64),
                source="legacy",
            )
        )
    with context(resources, definitions) as tick:
        (request,) = nightly_retrain_schedule_for("UTC").evaluate_tick(tick).run_requests
    newest = max(r.confirmed_at for r in demo_records)
    assert request.partition_key == newest.strftime("%Y-%m-01")
    assert monthly_partitions.has_partition_key(request.partition_key)
