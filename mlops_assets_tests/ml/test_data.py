import numpy as np
import pandas as pd

from mlops_assets.ml.data import make_dataset, split_as_of, to_arrays


def frame(*days: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "confirmed_at": pd.to_datetime(list(days), utc=True, format="ISO8601"),
            "label": list(range(len(days))),
            "pixels": [np.full(64, i, np.uint8) for i in range(len(days))],
        }
    )


def test_past_month_holds_out_exactly_that_month():
    rows = frame("2025-01-31 23:59", "2025-02-01 00:00", "2025-02-27")
    split = split_as_of(rows, pd.Timestamp("2025-03-01", tz="UTC"), pd.Timestamp.now(tz="UTC"))
    assert split.train["label"].tolist() == [0]
    assert split.holdout["label"].tolist() == [1, 2]
    assert split.holdout_start == pd.Timestamp("2025-02-01", tz="UTC")


def test_running_month_holds_out_the_month_before_the_newest_record():
    rows = frame("2025-01-10", "2025-01-20", "2025-02-15")
    now = pd.Timestamp("2025-02-16", tz="UTC")
    split = split_as_of(rows, pd.Timestamp("2025-03-01", tz="UTC"), now)
    assert split.holdout["label"].tolist() == [1, 2]
    assert split.train["label"].tolist() == [0]
    assert split.as_of == pd.Timestamp("2025-02-15", tz="UTC") + pd.Timedelta(microseconds=1)


def test_arrays_are_scaled_and_shaped():
    x, y = to_arrays(frame("2025-01-01", "2025-01-02"))
    assert x.shape == (2, 8, 8, 1) and x.dtype == np.float32
    assert x[1].max() == 1 / 16
    assert y.tolist() == [0, 1]


def test_dataset_batches_everything_once():
    x = np.zeros((10, 8, 8, 1), np.float32)
    y = np.arange(10)
    seen = np.concatenate([b[1].numpy() for b in make_dataset(x, y, 4, shuffle=True, seed=1)])
    assert sorted(seen.tolist()) == list(range(10))
