"""The monitor schedule: the spec's monitor cron (or the override) in the deployment's timezone,
materializing the champion monitor with the settings' overrides. (The retraining cadence is an
automation condition: graph/test_automation.py.)"""

import dagster as dg

from mlops_assets.contracts.fleet import load_fleet
from mlops_assets.graph.jobs import monitor_job_for
from mlops_assets.graph.model_names import ModelNames
from mlops_assets.graph.schedules import monitor_schedule_for

SPEC = load_fleet().model("task_photos")
OP = ModelNames(SPEC.name).champion_monitor.to_python_identifier()


def test_the_monitor_schedule_runs_on_the_spec_monitor_cron():
    schedule = monitor_schedule_for(SPEC, monitor_job_for(SPEC), "Asia/Seoul", {})
    assert schedule.name == "task_photos_monitor_schedule"
    assert schedule.cron_schedule == SPEC.monitor.cron == "0 * * * *"
    assert schedule.execution_timezone == "Asia/Seoul"
    assert schedule.job_name == "task_photos_monitor_job"


def test_the_settings_override_the_monitor_cron_and_config():
    overrides = {"window_days": 3.0}
    schedule = monitor_schedule_for(SPEC, monitor_job_for(SPEC), "UTC", overrides, "*/5 * * * *")
    assert schedule.cron_schedule == "*/5 * * * *"
    (request,) = schedule.evaluate_tick(dg.build_schedule_context()).run_requests
    assert request.run_config == {"ops": {OP: {"config": overrides}}}
