"""The two-year replay: month by month, a challenger against the champion.

Month after month the scenario's confirmed tasks arrive; from `first_month` on, each month runs
`retrain_job` for that month's partition (train on the months before, hold out the month) and the
decision is collected. The first decided month makes the first champion (value gates only).
"""

import contextlib
import io
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import dagster as dg
from dagster._core.definitions.reconstruct import ReconstructableJob
from tqdm import tqdm

from mlops_assets.contracts.records import TaskRecord
from mlops_assets.contracts.stage_results import (
    ChampionChange,
    Outcome,
    PairedSummary,
    VerificationReport,
)
from mlops_assets.demo.source import Scenario, month_tasks
from mlops_assets.demo.spec import DEMO_NAMES

log = logging.getLogger(__name__)

# Every replayed run logs to the Dagster UI only; the terminal shows one line a month.
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}

STAGES = ("training_data", "trained_model", "verification_report", "champion_model", "deployment")


def _stage(step_key: str) -> str:
    # A model's step `task_photos__trained_model` is its stage `trained_model`.
    return step_key.rsplit("__", 1)[-1]


@dataclass(frozen=True)
class MonthResult:
    """One replayed month: who was compared, what the gates decided."""

    month: str
    decision: Outcome
    champion_before: str | None
    challenger_version: str | None
    challenger_accuracy: float | None
    champion_accuracy: float | None
    latency_p95_ms: float | None
    reason: str
    champion_after: str | None
    seconds: float
    stage_seconds: dict[str, float]
    run_id: str = ""
    paired: PairedSummary | None = None


def stage_seconds(instance: dg.DagsterInstance, run_id: str) -> dict[str, float]:
    """Wall time of each step of a run, from its event log."""
    starts, ends = {}, defaultdict(float)
    for record in instance.all_logs(run_id):
        event = record.dagster_event
        if event is None or event.step_key is None:
            continue
        if event.event_type_value == "STEP_START":
            starts[_stage(event.step_key)] = record.timestamp
        elif event.event_type_value == "STEP_SUCCESS":
            ends[_stage(event.step_key)] = record.timestamp
    return {key: round(ends[key] - starts[key], 3) for key in starts if key in ends}


def _month_result(
    month: str,
    result: dg.ExecuteInProcessResult,
    value_of: Callable[[str], object],
    stages: dict[str, float],
    champion_after: str | None,
    seconds: float,
) -> MonthResult:
    failed_checks = [
        c.check_name for c in result.get_asset_check_evaluations() if c.blocking and not c.passed
    ]
    if not result.success:
        # Gates saying no leave the run green; a failed run broke (data checks, a crash).
        reason = (
            f"blocking checks failed: {', '.join(failed_checks)}" if failed_checks else "run failed"
        )
        return MonthResult(
            month,
            "failed",
            None,
            None,
            None,
            None,
            None,
            reason,
            champion_after,
            seconds,
            stages,
            result.run_id,
        )
    report: VerificationReport = value_of("verification_report")
    change: ChampionChange = value_of("champion_model")
    champion = report.champion
    return MonthResult(
        month=month,
        decision=change.decision,
        champion_before=champion.version if champion else None,
        challenger_version=report.challenger.version,
        challenger_accuracy=report.challenger.accuracy,
        champion_accuracy=champion.accuracy if champion else None,
        latency_p95_ms=report.challenger.latency_p95_s * 1000,
        reason="; ".join(report.failed_reasons)
        or (report.paired.reason if report.paired else "every gate passed"),
        champion_after=champion_after,
        seconds=seconds,
        stage_seconds={k: v for k, v in stages.items() if k in STAGES},
        run_id=result.run_id,
        paired=report.paired,
    )


@contextlib.contextmanager
def _execute(
    job: dg.JobDefinition | ReconstructableJob,
    instance: dg.DagsterInstance,
    partition_key: str,
    run_config: dict,
):
    """One month's run and a loader of its assets' values.

    A `JobDefinition` runs in this process; a reconstructable job runs through its executor,
    whose steps may run in other processes (Celery workers), and its values are read back
    through the assets' IO manager.
    """
    tags = {"mlops_assets/replay": "true"}
    if not isinstance(job, ReconstructableJob):
        result = job.execute_in_process(
            run_config=run_config,
            instance=instance,
            partition_key=partition_key,
            raise_on_error=False,
            tags=tags,
        )
        yield (
            result,
            lambda stage: result.output_for_node(DEMO_NAMES.key(stage).to_python_identifier()),
        )
        return
    # The workers load the job from these module-level definitions; values are read the same way.
    from mlops_assets.definitions import defs

    tags["dagster/partition"] = partition_key
    with (
        dg.execute_job(job, instance, run_config=run_config, tags=tags) as result,
        defs.get_asset_value_loader(instance) as loader,
    ):

        def load(name: str):
            # The loader logs every load at DEBUG on a console logger of its own; the
            # terminal shows one line a month.
            with contextlib.redirect_stderr(io.StringIO()):
                return loader.load_asset_value(DEMO_NAMES.key(name), partition_key=partition_key)

        yield result, load


def run_replay(
    job: dg.JobDefinition | ReconstructableJob,
    instance: dg.DagsterInstance,
    scenario: Scenario,
    deliver: Callable[[list[TaskRecord]], None],
    champion_version: Callable[[], str | None],
    first_month: int = 12,
    run_config: dict | None = None,
    progress: bool = False,
    monitor: Callable[[], None] | None = None,
    after_month: Callable[[int, MonthResult | None], None] | None = None,
) -> list[MonthResult]:
    """Replays the scenario month by month.

    Args:
        job: `retrain_job`, or a reconstructable `retrain_job` for an executor that runs steps
            in other processes (MLOPS_EXECUTOR=celery).
        instance: where the runs are recorded.
        scenario: the replayed period.
        deliver: hands a month's confirmed tasks to the system (the event path).
        champion_version: reads the current `@champion` version.
        first_month: the first month with a retraining run (1-based); earlier months only
            deliver data, so the first run trains on the first year.
        run_config: run config for every month's run.
        progress: show one progress bar on stderr (months done, the current month and its
            decision, ETA) instead of a log line per month.
        monitor: evaluates the serving champion on the newest data (`champion_monitor`): called
            each month once its tasks arrived, before its run, and once after the last run.
        after_month: called after each month with its number (1-based) and its result (None
            before `first_month`): the demo steps the fleet's other models there, in order.

    Returns:
        One result per retrained month, in order.
    """
    results = []
    bar = tqdm(
        total=scenario.months - first_month + 1,
        desc="starting",
        disable=not progress,
        bar_format="replay {bar:20} {n_fmt}/{total_fmt} months [{elapsed}, ETA {remaining}] {desc}",
    )
    for month in range(1, scenario.months + 1):
        deliver(month_tasks(scenario, month))
        if month < first_month:
            if after_month is not None:
                after_month(month, None)
            continue
        key = scenario.month_key(month)
        if monitor is not None:
            monitor()
        bar.set_description_str(f"{key[:7]}: running")
        started = time.perf_counter()
        with _execute(job, instance, key, run_config or {}) as (result, value_of):
            outcome = _month_result(
                key,
                result,
                value_of,
                stage_seconds(instance, result.run_id),
                champion_version(),
                time.perf_counter() - started,
            )
        results.append(outcome)
        bar.set_description_str(f"{key[:7]}: {outcome.decision}", refresh=False)
        bar.update()
        log.debug(
            "replay %s (%d/%d): %s, champion v%s, %.1f s",
            key[:7],
            month - first_month + 1,
            scenario.months - first_month + 1,
            outcome.decision,
            outcome.champion_after,
            outcome.seconds,
        )
        if after_month is not None:
            after_month(month, outcome)
    if monitor is not None:
        monitor()
    bar.close()
    return results
