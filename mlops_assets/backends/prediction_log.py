"""The served-prediction log: Parquet files in the object store, one folder per model and UTC day.

The inference server's recorder writes a file per batch
(`predictions/model=<name>/date=YYYY-MM-DD/…`); each model's `champion_monitor` reads the days
of its window back. Files in the object store need no extra service (a folder by default, S3 in
production), are cheap to append, and Parquet keeps 100k predictions a few megabytes that
pandas reads in well under a second.

The columns are the contract's (`contracts.prediction_rows`); `backends.factory.prediction_log`
builds a model's log.
"""

import uuid
from datetime import UTC, datetime, timedelta

import pandas as pd

from mlops_assets.backends.object_store import ObjectStore
from mlops_assets.constants import PHOTO_MODEL
from mlops_assets.contracts.prediction_rows import PREDICTION_COLUMNS

PREFIX = "predictions"


class PredictionLog:
    """Appends and reads one model's served predictions.

    Args:
        store: the object store holding the files.
        model: the fleet model whose predictions these are (its name partitions the log).
        columns: the rows' columns (`contracts.prediction_rows.columns_for`).
    """

    def __init__(
        self,
        store: ObjectStore,
        model: str = PHOTO_MODEL,
        columns: tuple[str, ...] = PREDICTION_COLUMNS,
    ) -> None:
        self.store = store
        self.model = model
        self.columns = columns

    def _day_prefix(self, day: datetime) -> str:
        return f"{PREFIX}/model={self.model}/date={day:%Y-%m-%d}/"

    def write(self, frame: pd.DataFrame) -> list[str]:
        """Appends rows with the log's `columns` (`served_at` UTC); one file per day.

        Returns:
            The URIs written.
        """
        if frame.empty:
            return []
        frame = frame.loc[:, list(self.columns)]
        served = pd.to_datetime(frame["served_at"], utc=True)
        uris = []
        for day, rows in frame.groupby(served.dt.floor("D")):
            first = pd.Timestamp(rows["served_at"].min()).tz_convert("UTC")
            key = f"{self._day_prefix(day)}{first:%H%M%S%f}-{uuid.uuid4().hex[:12]}.parquet"
            uris.append(self.store.put_frame(key, rows.reset_index(drop=True)))
        return uris

    def read(self, start: datetime, end: datetime) -> pd.DataFrame:
        """Predictions served in [start, end), oldest first."""
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        frames = []
        day = datetime(start.year, start.month, start.day, tzinfo=UTC)
        while day < end:
            for key in self.store.list_keys(self._day_prefix(day)):
                frames.append(self.store.get_frame(key))
            day += timedelta(days=1)
        if not frames:
            return pd.DataFrame({name: [] for name in self.columns})
        frame = pd.concat(frames, ignore_index=True)
        served = pd.to_datetime(frame["served_at"], utc=True)
        frame = frame.assign(served_at=served)
        frame = frame[(served >= start) & (served < end)]
        return frame.sort_values("served_at", kind="stable").reset_index(drop=True)
