"""The prediction log: one Parquet file per batch and day, read back by window."""

import pandas as pd

from mlops_assets.backends.object_store import LocalObjectStore
from mlops_assets.backends.prediction_log import PredictionLog


def _t(day: str) -> pd.Timestamp:
    return pd.Timestamp(day, tz="UTC")


def _rows(times: list[str]) -> pd.DataFrame:
    n = len(times)
    return pd.DataFrame(
        {
            "served_at": pd.to_datetime(times, utc=True),
            "model_version": ["3"] * n,
            "label": list(range(n)),
            "confidence": [0.9] * n,
            "task_id": [f"t{i}" for i in range(n)],
            "mean_grey": [0.3] * n,
            "grey_spread": [0.2] * n,
            "ink_share": [0.1] * n,
        }
    )


def test_a_batch_spanning_midnight_is_split_by_day_and_read_back_by_window(tmp_path):
    store = LocalObjectStore(str(tmp_path))
    log = PredictionLog(store)
    uris = log.write(_rows(["2025-04-01 23:59:00", "2025-04-02 00:01:00", "2025-04-03 12:00:00"]))
    assert len(uris) == 3
    assert store.list_keys("predictions/model=task_photos/date=2025-04-02/")[0].endswith(".parquet")
    window = log.read(pd.Timestamp("2025-04-02", tz="UTC"), pd.Timestamp("2025-04-03", tz="UTC"))
    assert window["task_id"].tolist() == ["t1"]
    everything = log.read(
        pd.Timestamp("2025-03-01", tz="UTC"), pd.Timestamp("2025-05-01", tz="UTC")
    )
    assert everything["task_id"].tolist() == ["t0", "t1", "t2"]
    assert log.read(
        pd.Timestamp("2025-01-01", tz="UTC"), pd.Timestamp("2025-01-02", tz="UTC")
    ).empty
