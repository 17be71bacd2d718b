"""The served-prediction log: Parquet files in the object store, one folder per UTC day.

The inference server's recorder writes a file per batch (`predictions/date=YYYY-MM-DD/…`);
`champion_monitor` reads the days of its window back. Files in the object store need no extra
service (a folder by default, S3 in production), are cheap to append, and Parquet keeps 100k
predictions a few megabytes that pandas reads in well under a second.
"""

import uuid
from datetime import UTC, datetime, timedelta

import pandas as pd

from mlops_assets.backends.object_store import ObjectStore
from mlops_assets.constants import PHOTO_FEATURES

PREFIX = "predictions"
COLUMNS = ("served_at", "model_version", "label", "confidence", "task_id", *PHOTO_FEATURES)


def _day_prefix(day: datetime) -> str:
    return f"{PREFIX}/date={day:%Y-%m-%d}/"


class PredictionLog:
    """Appends and reads served predictions.

    Args:
        store: the object store holding the files.
    """

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    def write(self, frame: pd.DataFrame) -> list[str]:
        """Appends rows with the columns in `COLUMNS` (`served_at` UTC); one file per day.

        Returns:
            The URIs written.
        """
        if frame.empty:
            return []
        frame = frame.loc[:, list(COLUMNS)]
        served = pd.to_datetime(frame["served_at"], utc=True)
        uris = []
        for day, rows in frame.groupby(served.dt.floor("D")):
            first = pd.Timestamp(rows["served_at"].min()).tz_convert("UTC")
            key = f"{_day_prefix(day)}{first:%H%M%S%f}-{uuid.uuid4().hex[:12]}.parquet"
            uris.append(self.store.put_frame(key, rows.reset_index(drop=True)))
        return uris

    def read(self, start: datetime, end: datetime) -> pd.DataFrame:
        """Predictions served in [start, end), oldest first."""
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        frames = []
        day = datetime(start.year, start.month, start.day, tzinfo=UTC)
        while day < end:
            for key in self.store.list_keys(_day_prefix(day)):
                frames.append(self.store.get_frame(key))
            day += timedelta(days=1)
        if not frames:
            return pd.DataFrame({name: [] for name in COLUMNS})
        frame = pd.concat(frames, ignore_index=True)
        served = pd.to_datetime(frame["served_at"], utc=True)
        frame = frame.assign(served_at=served)
        frame = frame[(served >= start) & (served < end)]
        return frame.sort_values("served_at", kind="stable").reset_index(drop=True)
