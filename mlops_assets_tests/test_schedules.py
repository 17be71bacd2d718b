import datetime as dt

import dagster as dg

from mlops_assets.schedules import nightly_retrain_schedule_for


def test_nightly_schedule_requests_retrain_job():
    schedule = nightly_retrain_schedule_for("Asia/Seoul")
    assert schedule.cron_schedule == "0 2 * * *"
    assert schedule.execution_timezone == "Asia/Seoul"
    assert schedule.job_name == "retrain_job"
    context = dg.build_schedule_context(
        scheduled_execution_time=dt.datetime(2026, 1, 1, 2, tzinfo=dt.UTC)
    )
    requests = list(schedule.evaluate_tick(context).run_requests)
    assert len(requests) == 1
    assert requests[0].job_name in (None, "retrain_job")
