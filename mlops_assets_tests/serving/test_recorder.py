"""The prediction recorder: nothing lost while the buffer has room, no request failed when full."""

import threading
import time

import numpy as np
import pandas as pd
from fastapi.testclient import TestClient

from mlops_assets.backends.object_store import LocalObjectStore
from mlops_assets.backends.prediction_log import PredictionLog
from mlops_assets.serving.app import create_app
from mlops_assets.serving.config import ServingSettings
from mlops_assets.serving.recorder import PredictionRecorder, ServedBatch

PHOTO = [float(i % 17) for i in range(64)]


def _batch(n: int, task: str = "t") -> ServedBatch:
    return ServedBatch(
        served_at=time.time(),
        model_version="1",
        labels=np.arange(n) % 10,
        confidences=np.full(n, 0.9),
        task_ids=[f"{task}-{i}" for i in range(n)],
        pixels=np.full((n, 64), 8.0),
    )


class CollectingSink:
    """Keeps every written batch; `gate` lets a test hold the writer."""

    def __init__(self) -> None:
        self.frames: list[pd.DataFrame] = []
        self.gate = threading.Event()
        self.gate.set()

    def __call__(self, frame: pd.DataFrame) -> None:
        self.gate.wait()
        self.frames.append(frame)

    @property
    def rows(self) -> pd.DataFrame:
        return pd.concat(self.frames, ignore_index=True)


def test_under_load_nothing_is_dropped_while_the_buffer_has_room():
    sink = CollectingSink()
    recorder = PredictionRecorder(sink, capacity=100_000, batch_size=500, flush_interval_s=0.05)
    recorder.start()

    def client(name: str) -> None:
        for i in range(200):
            assert recorder.record(_batch(4, f"{name}-{i}"))

    threads = [threading.Thread(target=client, args=(f"c{k}",)) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    recorder.stop()
    stats = recorder.stats()
    assert (stats.recorded, stats.dropped, stats.written, stats.pending) == (6400, 0, 6400, 0)
    rows = sink.rows
    assert len(rows) == 6400 and rows["task_id"].is_unique
    assert set(rows.columns) >= {"served_at", "model_version", "label", "confidence", "mean_grey"}
    assert max(len(f) for f in sink.frames) <= 500


def test_a_full_buffer_drops_and_counts_and_never_fails_a_request(source):
    source.alias = "1"
    sink = CollectingSink()
    sink.gate.clear()  # the sink hangs: nothing leaves the buffer
    settings = ServingSettings(poll_interval_s=0, record_buffer=5, record_batch=1)
    with TestClient(create_app(settings, source, prediction_sink=sink)) as client:
        codes = [
            client.post("/predict", json={"instances": [PHOTO, PHOTO]}).status_code
            for _ in range(10)
        ]
        recorder = client.get("/model").json()["recorder"]
        sink.gate.set()
    assert codes == [200] * 10
    # The writer holds one batch of 2 in its hands, the buffer 4 more; the rest are dropped.
    assert recorder["capacity"] == 5 and recorder["dropped"] >= 10
    assert recorder["recorded"] + recorder["dropped"] == 20


def test_served_predictions_reach_the_prediction_log_with_their_task_ids(source, tmp_path):
    source.alias = "1"
    log = PredictionLog(LocalObjectStore(str(tmp_path / "objects")))
    settings = ServingSettings(poll_interval_s=0, record_flush_s=0.05)
    with TestClient(create_app(settings, source, prediction_sink=log.write)) as client:
        body = {"instances": [PHOTO, [0] * 64], "task_ids": ["task-1", None]}
        answer = client.post("/predict", json=body).json()
        wrong = client.post("/predict", json={"instances": [PHOTO], "task_ids": ["a", "b"]})
    assert wrong.status_code == 422 and "task_ids has 2 entries for 1 photos" in wrong.text
    now = pd.Timestamp.now(tz="UTC")
    rows = log.read((now - pd.Timedelta(hours=1)).to_pydatetime(), now.to_pydatetime())
    assert rows["task_id"].tolist() == ["task-1", None]
    assert rows["model_version"].tolist() == ["1", "1"]
    assert rows["label"].tolist() == [p["label"] for p in answer["predictions"]]
    assert rows["mean_grey"].iloc[1] == 0.0


def test_a_task_id_is_recorded_with_its_first_prediction_only_item10(source):
    """Issue 26, item 10: a second caller sending the same task id no longer replaces the
    prediction the monitor judges; it is recorded without the task id, and counted."""
    source.alias = "1"
    sink = CollectingSink()
    settings = ServingSettings(poll_interval_s=0, record_flush_s=0.05)
    with TestClient(create_app(settings, source, prediction_sink=sink)) as client:
        for photo in (PHOTO, [0] * 64, [16] * 64):
            body = {"instances": [photo], "task_ids": ["task-7"]}
            assert client.post("/predict", json=body).status_code == 200
        recorder = client.get("/model").json()["recorder"]
    assert sink.rows["task_id"].tolist() == ["task-7", None, None]
    assert recorder["repeated_task_ids"] == 2


def test_task_ids_need_the_configured_token_item10(source):
    """Issue 26, item 10: with MLOPS_SERVING_TASK_IDS_TOKEN set, only its holder attaches task
    ids; predictions without task ids stay open."""
    source.alias = "1"
    settings = ServingSettings(poll_interval_s=0, task_ids_token="helper-secret")
    body = {"instances": [PHOTO], "task_ids": ["task-8"]}
    with TestClient(create_app(settings, source, prediction_sink=CollectingSink())) as client:
        assert client.post("/predict", json=body).status_code == 401
        wrong = client.post("/predict", json=body, headers={"X-Task-Ids-Token": "guess"})
        assert wrong.status_code == 401
        assert client.post("/predict", json={"instances": [PHOTO]}).status_code == 200
        good = client.post("/predict", json=body, headers={"X-Task-Ids-Token": "helper-secret"})
        assert good.status_code == 200


def test_task_ids_with_control_characters_are_refused_item11(source):
    """Issue 26, item 11: a task id reaches logs and the prediction log: printable only."""
    source.alias = "1"
    settings = ServingSettings(poll_interval_s=0)
    body = {"instances": [PHOTO], "task_ids": ["ok\n2026-12-06 FAKE LINE\x1b[2J"]}
    with TestClient(create_app(settings, source, prediction_sink=CollectingSink())) as client:
        response = client.post("/predict", json=body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "plain_text"


def test_the_recorder_writes_the_contract_columns_of_each_task():
    from mlops_assets.contracts.prediction_rows import PREDICTION_COLUMNS, VERIFICATION_COLUMNS
    from mlops_assets.serving.recorder import (
        VerifiedBatch,
        batches_to_rows,
        verifications_to_rows,
    )

    assert tuple(batches_to_rows([_batch(3)]).columns) == PREDICTION_COLUMNS
    verified = VerifiedBatch(time.time(), "2", np.array([0.7]), np.array([True]), 0.5, ["p-1"])
    assert tuple(verifications_to_rows([verified]).columns) == VERIFICATION_COLUMNS
