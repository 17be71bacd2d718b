"""The retraining run on the production stack: SeaweedFS S3, an MLflow server, PostgreSQL.

The MLflow server runs on PostgreSQL and then on MySQL; the training data store on PostgreSQL.
Faults: S3 dies after the snapshot is written, the MLflow server restarts between runs, wrong
credentials.
"""

import threading
import time
from dataclasses import replace
from datetime import UTC, datetime

import dagster as dg
import numpy as np
import pytest

from mlops_assets.backends import factory
from mlops_assets.definitions import build_definitions
from mlops_assets.graph.assets.dataset import snapshot_key
from mlops_assets.ml.data import to_arrays
from mlops_assets.ml.predictor import Predictor
from mlops_assets_tests.support.photo_graph import PHOTO, key, node
from mlops_assets_tests.support.stack_fixtures import stack_settings

pytestmark = [pytest.mark.integration, pytest.mark.model]

# Small enough to train in a few seconds, good enough to pass the accuracy gate.
FAST = {"epochs": 10}
# A month with eleven months of demo photos before it.
MONTH = "2024-12-01"
# Promote whenever the value gates pass, so the second run moves the alias deterministically.
# The previous rule with a margin below any difference: every run that passes the value gates
# promotes (the paired rule would defend a rerun on the same data).
ALWAYS_PROMOTE = {"min_improvement": -1.0, "change_rule": "min_improvement", "latency_samples": 50}


def run_retraining(settings, training=None, verification=None) -> dg.ExecuteInProcessResult:
    run_config = {
        "ops": {
            node("trained_model"): {"config": training or FAST},
            node("verification_report"): {"config": verification or ALWAYS_PROMOTE},
        }
    }
    job = build_definitions(settings).resolve_job_def(PHOTO.retrain_job)
    with dg.DagsterInstance.ephemeral() as instance:
        return job.execute_in_process(
            run_config=run_config, instance=instance, partition_key=MONTH, raise_on_error=False
        )


def materialized(result) -> set[str]:
    return {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}


def failure_message(result) -> str:
    """The run's first error with its causes: 'step: message <- cause <- …'."""
    for event in result.all_events:
        error = getattr(event.event_specific_data, "error", None)
        if error is None:
            continue
        messages = []
        while error is not None:
            messages.append(error.message.strip())
            error = error.cause
        return f"{event.step_key or event.event_type_value}: " + " <- ".join(messages)
    raise AssertionError("the run has no error")


@pytest.fixture
def stack(tmp_path, seaweedfs, mlflow_server, data_store_database, demo_records, monkeypatch):
    settings = stack_settings(
        tmp_path / "var", seaweedfs, mlflow_server, data_store_database, monkeypatch
    )
    store = factory.data_store(settings)
    store.insert(demo_records)
    yield settings, factory.registry(settings)
    store.close()


def test_retraining_on_the_stack(stack, seaweedfs, mlflow_server, demo_records, tmp_path):
    settings, registry = stack
    first = run_retraining(settings)
    assert first.success, failure_message(first)
    assert registry.champion().version == "1"

    snapshot = first.output_for_node(node("training_data"))
    prefix = settings.object_store_url.removeprefix(f"s3://{seaweedfs.bucket}/")
    key = f"{prefix}/{snapshot_key(snapshot.data_version)}"
    assert snapshot.snapshot_uri == f"s3://{seaweedfs.bucket}/{key}"
    assert key in seaweedfs.keys(prefix)
    stored = factory.object_store(settings).get_frame(snapshot_key(snapshot.data_version))
    as_of = [r for r in demo_records if r.confirmed_at < datetime(2025, 1, 1, tzinfo=UTC)]
    assert len(stored) == len(as_of) == 12 * 150
    assert stored["pixels"][0].tolist() == list(as_of[0].pixels)

    source = registry.client().get_model_version_download_uri(settings.model_name, "1")
    assert source.startswith(f"s3://{seaweedfs.bucket}/mlflow/")
    model_files = seaweedfs.keys(source.removeprefix(f"s3://{seaweedfs.bucket}/"))
    assert any(k.endswith(".keras") for k in model_files)
    run = registry.client().get_run(registry.champion().run_id)
    assert run.data.params["data_snapshot"] == snapshot.snapshot_uri
    assert run.info.status == "FINISHED"

    # Restarting the tracking server loses nothing: runs, versions, aliases, history.
    before = (registry.champion(), registry.history(), run.data.metrics)
    mlflow_server.restart()
    after_run = registry.client().get_run(run.info.run_id)
    assert (registry.champion(), registry.history(), after_run.data.metrics) == before

    second = run_retraining(settings)
    assert second.success, failure_message(second)
    promoted = second.output_for_node(node("champion_model"))
    assert (promoted.version, promoted.previous_version, promoted.alias_moved) == ("2", "1", True)
    champion = registry.champion()
    assert champion.version == "2"

    # The inference server's path: resolve @champion, download the .keras from S3, load it.
    path = registry.download_version(champion.version, tmp_path / "serving")
    predictor = Predictor.load(path, champion.sha256)
    x, y = to_arrays(second.output_for_node(node("training_data")).holdout)
    accuracy = float(np.mean(predictor.predict_inputs(x).labels == y))
    assert accuracy > 0.9


def _kill_when_changed(weed, key: str, before: bytes, stop: threading.Event) -> None:
    while not stop.is_set():
        if weed.client().get_object(Bucket=weed.bucket, Key=key)["Body"].read() != before:
            weed.kill()
            return
        time.sleep(0.05)


@pytest.mark.parametrize("mlflow_database", ["postgresql"], indirect=True)
def test_s3_down_after_the_snapshot_fails_clearly_and_keeps_champion(
    tmp_path,
    private_seaweedfs,
    mlflow_server,
    data_store_database,
    demo_records,
    monkeypatch,
):
    weed = private_seaweedfs
    settings = stack_settings(
        tmp_path / "var", weed, mlflow_server, data_store_database, monkeypatch
    )
    # This experiment's artifacts live on this test's own SeaweedFS, which the test kills.
    settings = settings.model_copy(
        update={"artifact_location": f"s3://{weed.bucket}/mlflow-{settings.experiment}"}
    )
    store = factory.data_store(settings)
    store.insert(demo_records)
    registry = factory.registry(settings)
    assert run_retraining(settings).success
    champion = registry.champion()

    # New labels make a new data version; S3 dies right after its snapshot and the reference
    # the next steps read it by are written, before they read it back and train.
    store.insert([replace(r, event_id=f"{r.event_id}-again") for r in demo_records[:40]])
    prefix = settings.object_store_url.removeprefix(f"s3://{weed.bucket}/")
    reference = f"{prefix}/{key('training_data')}/handoff/{MONTH}.json"
    before = weed.client().get_object(Bucket=weed.bucket, Key=reference)["Body"].read()
    stop = threading.Event()
    killer = threading.Thread(target=_kill_when_changed, args=(weed, reference, before, stop))
    killer.start()
    try:
        failed = run_retraining(settings, training={**FAST, "epochs": 30, "patience": 30})
    finally:
        stop.set()
        killer.join()

    assert not failed.success
    message = failure_message(failed)
    # training_data finished; the first step that reads the snapshot back fails.
    assert message.startswith((f"{node('trained_model')}:", f"{node('training_data')}_")), message
    assert f"the S3 endpoint {weed.endpoint_url} does not answer" in message
    assert "S3_ENDPOINT_URL" in message
    assert key("training_data") in materialized(failed)
    assert key("champion_model") not in materialized(failed)
    assert registry.champion() == champion

    # Back up, the untouched champion still loads from S3.
    weed.start()
    path = registry.download_version(champion.version, tmp_path / "serving")
    Predictor.load(path, champion.sha256)
    store.close()


@pytest.mark.parametrize("mlflow_database", ["postgresql"], indirect=True)
@pytest.mark.parametrize(
    ("variable", "value"),
    [("AWS_SECRET_ACCESS_KEY", "not-the-secret"), ("AWS_ACCESS_KEY_ID", "nobody")],
)
def test_wrong_credentials_name_the_variable(stack, monkeypatch, variable, value):
    settings, registry = stack
    monkeypatch.setenv(variable, value)
    result = run_retraining(settings)
    assert not result.success
    message = failure_message(result)
    assert f"fix {variable}" in message, message
    assert registry.champion() is None
