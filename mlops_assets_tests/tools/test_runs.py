"""`mlops-assets runs`: the live view of retraining runs, read from a real Dagster instance."""

import io

import dagster as dg
import pytest

from mlops_assets.tools.runs import RunView, bar, render, retraining_runs, show
from mlops_assets_tests.graph.test_jobs import run_retraining
from mlops_assets_tests.support.trainer_probe import fake_trainer

NOW = 1_796_000_000.0


def view(**changes) -> RunView:
    fields = dict(
        run_id="e76520f6-2026-4b35",
        status="STARTED",
        partition="2024-12-01",
        started=NOW - 18,
        ended=None,
        stage="trained_model",
        progress={
            "epoch": 9,
            "total_epochs": 40,
            "percent": 22.5,
            "metric": "val_accuracy",
            "metric_value": 0.8727,
            "eta_s": 26.4,
        },
    )
    return RunView(**{**fields, **changes})


def test_a_running_training_shows_a_bar_epochs_metric_and_eta():
    (_, _, line) = render([view()], now=NOW).splitlines()
    assert line.startswith("e76520f6  STARTED   2024-12  ")
    assert "0:18  [#####...................]    9/40  22.5%  val_accuracy 0.8727  ETA 0:26" in line


def test_what_a_trainer_reported_cannot_forge_lines_or_drive_the_terminal_item11():
    """Issue 26, item 11: a metric name (from progress stored before the trainer contract
    dropped unprintable names) with a newline and an escape sequence stays one escaped line."""
    hostile = {**view().progress, "metric": "acc\nfake-run  SUCCESS\x1b[2J"}
    lines = render([view(progress=hostile)], now=NOW).splitlines()
    assert len(lines) == 3 and "\x1b" not in lines[2]
    assert "acc\\nfake-run  SUCCESS\\x1b[2J" in lines[2]


def test_finished_and_not_yet_training_runs_say_where_they_are():
    lines = render(
        [
            view(stage="training_data", progress=None),
            view(status="SUCCESS", ended=NOW - 3, stage="deployment", decision="promoted"),
            view(status="FAILURE", ended=NOW - 3, progress=None),
        ],
        now=NOW,
    ).splitlines()
    assert "(every model; 1 running)" in lines[0]
    assert lines[2].endswith("at training_data")
    assert lines[3].endswith("0:15  trained 9/40 epochs, val_accuracy 0.8727; challenger promoted")
    assert " FAILURE " in lines[4] and lines[4].endswith("0:15")
    assert render([], now=NOW).splitlines()[-1].startswith("(no retraining runs yet")


def test_the_bar_fills_with_the_fraction():
    assert bar(0.0, 4) == "[....]" and bar(0.5, 4) == "[##..]" and bar(1.2, 4) == "[####]"


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"trainers": {"garbage": fake_trainer("garbage")}})


@pytest.mark.model
def test_the_view_reads_progress_of_a_real_run_from_the_instance(definitions, seeded_store):
    with dg.DagsterInstance.ephemeral() as instance:
        result = run_retraining(definitions, instance, training={"trainer": "garbage"})
        (run,) = retraining_runs(instance)
        out = io.StringIO()
        assert show(instance, watch=True, interval_s=0, frames=2, out=out) == 0
    assert run.run_id == result.run_id and run.status == "FAILURE"
    assert run.progress["epoch"] == 1 and run.progress["metric"] == "val_accuracy"
    assert run.progress["percent"] == 2.5  # the asset passed --epochs 40
    frames = out.getvalue().split("\n\n")
    assert len(frames) == 2
    assert frames[1].splitlines()[-1].endswith("trained 1/40 epochs, val_accuracy 0.7500")
