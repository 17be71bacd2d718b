"""The trainer contract's dialects: the run manager's stdout lines and Pipes custom messages."""

import pytest

from mlops_assets.contracts.trainer import (
    EtaClock,
    MalformedTrainerMessage,
    Progress,
    RunMeta,
    parse_custom_message,
    parse_line,
    progress_line,
    progress_record,
)

RUN_ID = "0123456789abcdef0123456789abcdef"


def test_a_seed_progress_line_reads_as_progress_with_numeric_metrics():
    line = 'VTM_PROGRESS::{"epoch": 3, "total_epochs": 40, "val_accuracy": 0.91, "device": "gpu"}'
    progress = parse_line(line + "\n")
    assert progress == Progress(3, 40, {"val_accuracy": 0.91})
    assert progress.fraction == 0.075 and progress.headline == ("val_accuracy", 0.91)
    assert progress.eta_s(elapsed_s=6.0) == pytest.approx(74.0)
    assert parse_line(progress_line({"epoch": 3, "total_epochs": 40, "val_accuracy": 0.91})) == (
        progress
    )


def test_the_seed_run_meta_line_carries_the_mlflow_run_id():
    meta = parse_line(f'VTM_RUN_META::{{"mlflow_run_id": "{RUN_ID}", "host": "gpu-1"}}')
    assert isinstance(meta, RunMeta) and meta.mlflow_run_id == RUN_ID
    assert RunMeta({}).mlflow_run_id is None


def test_ordinary_output_is_not_protocol():
    assert parse_line("Epoch 3/40 - loss: 0.2") is None
    assert parse_line("") is None


@pytest.mark.parametrize(
    "line",
    [
        "VTM_PROGRESS::{not json",
        "VTM_PROGRESS::[1, 2]",
        'VTM_PROGRESS::{"epoch": "three"}',
        'VTM_PROGRESS::{"epoch": -1}',
        'VTM_PROGRESS::{"epoch": true}',
        'VTM_PROGRESS::{"epoch": 1, "total_epochs": 0}',
        "VTM_RUN_META::null",
        "VTM_PROGRESS::" + "[" * 100_000,
    ],
)
def test_unreadable_protocol_lines_are_malformed(line):
    with pytest.raises(MalformedTrainerMessage):
        parse_line(line)


def test_pipes_custom_messages_speak_the_same_objects_with_a_kind():
    assert parse_custom_message({"kind": "progress", "epoch": 2, "loss": 0.5}) == Progress(
        2, None, {"loss": 0.5}
    )
    meta = parse_custom_message({"kind": "run_meta", "mlflow_run_id": RUN_ID})
    assert meta.mlflow_run_id == RUN_ID
    assert parse_custom_message({"something": "else"}) is None
    assert parse_custom_message("text") is None
    with pytest.raises(MalformedTrainerMessage):
        parse_custom_message({"kind": "progress"})


def test_non_finite_metrics_are_dropped_and_the_record_without_a_total_has_no_eta():
    progress = parse_line('VTM_PROGRESS::{"epoch": 1, "loss": NaN, "accuracy": 0.5}')
    assert progress.metrics == {"accuracy": 0.5}
    assert progress_record(progress, 3.0, EtaClock(0.0).eta_s(progress, 3.0)) == {
        "epoch": 1,
        "elapsed_s": 3.0,
        "metric": "accuracy",
        "metric_value": 0.5,
    }


def test_the_eta_counts_epoch_time_from_the_first_report_not_the_process_start():
    clock = EtaClock(started=0.0)
    # The first epoch ends 10 s after the start, of which 8 s were the process starting.
    assert clock.eta_s(Progress(1, 10), now=10.0) == pytest.approx(90.0)
    assert clock.eta_s(Progress(3, 10), now=14.0) == pytest.approx(14.0)
    assert clock.eta_s(Progress(10, 10), now=28.0) == 0.0
    assert EtaClock(0.0).eta_s(Progress(3, None), now=5.0) is None


@pytest.mark.parametrize(
    "run_id", ["r1", "x' OR run_id LIKE '%", RUN_ID.upper(), RUN_ID + "0", 12345, ["a"]]
)
def test_a_run_id_that_is_not_an_mlflow_run_id_is_refused_item11(run_id):
    """Issue 26, item 11: the trainer's run id went unchecked into an MLflow filter."""
    with pytest.raises(MalformedTrainerMessage, match="mlflow_run_id must be an MLflow run id"):
        parse_custom_message({"kind": "run_meta", "mlflow_run_id": run_id})


def test_metric_names_that_are_not_printable_are_dropped_item11():
    """Issue 26, item 11: a metric name with a newline or an escape reached logs and the
    `mlops-assets runs` table."""
    progress = parse_line(
        'VTM_PROGRESS::{"epoch": 1, "val_accuracy": 0.9, "x\\n\\u001b[2Jfake": 1.0, '
        f'"{"m" * 251}": 2.0}}'
    )
    assert progress.metrics == {"val_accuracy": 0.9}
