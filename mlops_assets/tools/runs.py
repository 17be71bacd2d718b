"""`mlops-assets runs [--watch]`: running and recent retraining runs, read from the Dagster
instance, with a progress bar per running training (the run manager's "Live Runs").

The progress is what `trained_model` records per epoch as an observation (epoch, total, percent,
headline metric, ETA), so it reads the same for the built-in CNN and for an own trainer.
"""

import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import dagster as dg

from mlops_assets.constants import TRAINED_MODEL, VERIFICATION_REPORT
from mlops_assets.contracts.safe_text import printable
from mlops_assets.graph.run_log import run_facts

# Every model's retraining job is `<model>_retrain_job` (graph.model_names.ModelNames).
RETRAIN_JOB_SUFFIX = "_retrain_job"
BAR_WIDTH = 24
_ACTIVE = {"QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING"}


@dataclass(frozen=True)
class RunView:
    """One retraining run as the live view shows it."""

    run_id: str
    status: str
    partition: str | None
    started: float | None
    ended: float | None
    stage: str | None
    progress: dict | None
    decision: str | None = None

    @property
    def active(self) -> bool:
        return self.status in _ACTIVE


def is_retraining(run: dg.DagsterRun) -> bool:
    """A run of a model's retraining job, or an asset run that trains a model."""
    if run.job_name.endswith(RETRAIN_JOB_SUFFIX):
        return True
    return any(key.path[-1] == TRAINED_MODEL for key in run.asset_selection or ())


def retraining_runs(instance: dg.DagsterInstance, limit: int = 10) -> list[RunView]:
    """The newest retraining runs, newest first, with each one's stage and last progress."""
    views = []
    for record in instance.get_run_records(limit=limit * 5):
        run = record.dagster_run
        if not is_retraining(run):
            continue
        views.append(
            RunView(
                run_id=run.run_id,
                status=run.status.value,
                partition=run.tags.get("dagster/partition"),
                started=record.start_time,
                ended=record.end_time,
                stage=_last_step(instance, run.run_id),
                progress=_last_progress(instance, run.run_id),
                decision=None if run.status.value in _ACTIVE else _decision(instance, run.run_id),
            )
        )
        if len(views) == limit:
            break
    return views


def _last_of(instance: dg.DagsterInstance, run_id: str, event_type: dg.DagsterEventType):
    records = instance.get_records_for_run(
        run_id, of_type=event_type, limit=1, ascending=False
    ).records
    return records[0].event_log_entry if records else None


def _last_step(instance: dg.DagsterInstance, run_id: str) -> str | None:
    entry = _last_of(instance, run_id, dg.DagsterEventType.STEP_START)
    # A model's step `task_photos__trained_model` is its stage `trained_model`.
    return entry.step_key.rsplit("__", 1)[-1] if entry else None


def _last_progress(instance: dg.DagsterInstance, run_id: str) -> dict | None:
    entry = _last_of(instance, run_id, dg.DagsterEventType.ASSET_OBSERVATION)
    if entry is None:
        return None
    return {k: v.value for k, v in entry.asset_observation.metadata.items()}


def _decision(instance: dg.DagsterInstance, run_id: str) -> str | None:
    report = run_facts(instance, run_id).materializations.get(VERIFICATION_REPORT, {})
    return report.get("decision")


def bar(fraction: float, width: int = BAR_WIDTH) -> str:
    """`[#########...............]` for a fraction in 0..1."""
    filled = round(max(0.0, min(1.0, fraction)) * width)
    return "[" + "#" * filled + "." * (width - filled) + "]"


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    minutes, secs = divmod(int(round(seconds)), 60)
    return (
        f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}"
        if minutes >= 60
        else f"{minutes}:{secs:02d}"
    )


def describe_training(view: RunView) -> str:
    """The training column: a bar while training runs, the last epoch once it has ended."""
    p = view.progress
    if p is None:
        return f"at {view.stage}" if view.active and view.stage else ""
    metric = f"{p['metric']} {p['metric_value']:.4f}" if "metric" in p else ""
    epochs = f"{p['epoch']}/{p.get('total_epochs', '?')}"
    if view.active and view.stage == TRAINED_MODEL:
        shown = bar(p["percent"] / 100) if "percent" in p else "[" + "?" * BAR_WIDTH + "]"
        percent = f"{p['percent']:5.1f}%" if "percent" in p else "     ?"
        return f"{shown} {epochs:>7} {percent}  {metric}  ETA {_clock(p.get('eta_s'))}"
    tail = f", then {view.stage}" if view.active and view.stage else ""
    if view.decision:
        tail = f"; challenger {view.decision}"
    return f"trained {epochs} epochs, {metric}{tail}"


def render(views: list[RunView], now: float | None = None) -> str:
    """The table of runs, one line each."""
    now = time.time() if now is None else now
    lines = [
        f"retraining runs at {datetime.fromtimestamp(now, UTC):%Y-%m-%d %H:%M:%S} UTC "
        f"(every model; {sum(v.active for v in views)} running)",
        f"{'run':8}  {'status':9} {'month':7}  {'started':8}  {'took':>7}  training",
    ]
    for v in views:
        started = f"{datetime.fromtimestamp(v.started, UTC):%H:%M:%S}" if v.started else "–"
        took = None if v.started is None else (v.ended or now) - v.started
        month = (v.partition or "–")[:7]
        # What a trainer reported (metric names) or a launch set (the partition) is shown on
        # one line, its control characters escaped: no escape sequence reaches the terminal.
        lines.append(
            printable(
                f"{v.run_id[:8]}  {v.status:9} {month:7}  {started:8}  {_clock(took):>7}  "
                f"{describe_training(v)}".rstrip()
            )
        )
    if not views:
        lines.append("(no retraining runs yet: `make demo`, or Materialize in the Dagster UI)")
    return "\n".join(lines)


def show(
    instance: dg.DagsterInstance,
    watch: bool = False,
    interval_s: float = 1.5,
    limit: int = 10,
    frames: int | None = None,
    out=None,
) -> int:
    """Prints the table once, or every `interval_s` until Ctrl-C (`frames` bounds it for tests).

    On a terminal each frame replaces the last; otherwise frames follow each other.
    """
    out = out or sys.stdout
    clear = watch and out.isatty()
    shown = 0
    try:
        while True:
            text = render(retraining_runs(instance, limit))
            out.write(("\x1b[H\x1b[2J" if clear else "\n" if shown else "") + text + "\n")
            out.flush()
            shown += 1
            if not watch or (frames is not None and shown >= frames):
                return 0
            time.sleep(interval_s)
    except KeyboardInterrupt:
        return 0
