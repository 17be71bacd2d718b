"""The face snapshot: replicated face vectors as of a month, split by identity.

Verification is judged on faces the model never saw, so every split here is identity-disjoint:
all of one helper's vectors are on one side. The holdout is a share of the identities captured
in the newest month (the month that ends at the as-of instant), chosen by a hash of the helper
id, with every vector of theirs; the other identities train the verifier. A share of those,
chosen by another hash, are the validation identities the match threshold is fitted on
(`face_verifier.calibrate`), kept out of the projection's fit. Hashes, not random draws: the
same helper lands on the same side in every run and on every machine.

The frames keep the store's columns (`FACE_COLUMNS`), one vector a row as a list of floats, so
the snapshot writes to Parquet as it is.
"""

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

FACE_COLUMNS = ("event_id", "helper_id", "vector", "captured_at", "camera")
DEFAULT_HOLDOUT_SHARE = 0.5
DEFAULT_VALIDATION_SHARE = 0.2
# Fewer than two identities give no impostor pair: no threshold and no FAR.
MIN_IDENTITIES = 2
# Salts keep the holdout hash and the validation hash independent of each other.
_HOLDOUT_SALT = "face-holdout"
_VALIDATION_SALT = "face-validation"


def identity_share(helper_ids: pd.Series | list[str], salt: str) -> np.ndarray:
    """Each helper id's place in [0, 1), from a SHA-256 of the salt and the id."""
    return np.array(
        [
            int.from_bytes(hashlib.sha256(f"{salt}:{h}".encode()).digest()[:8], "big") / 2**64
            for h in helper_ids
        ],
        dtype=np.float64,
    )


def face_arrays(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Stacks a face frame's vectors and identities.

    Returns:
        `(vectors, identities)`: float64 rows, and each row's helper id (an object array).
    """
    if frame.empty:
        return np.zeros((0, 0)), np.zeros(0, dtype=object)
    vectors = np.stack([np.asarray(v, dtype=np.float64) for v in frame["vector"]])
    return vectors, frame["helper_id"].to_numpy(dtype=object)


def face_content_hash(frame: pd.DataFrame) -> str:
    """Hashes the event ids, helper ids and vectors of a face frame, in event-id order (the
    same rows give the same hash whatever order the store returned them in)."""
    digest = hashlib.sha256()
    for row in frame.sort_values("event_id", kind="stable").itertuples(index=False):
        digest.update(f"{row.event_id}\0{row.helper_id}\0".encode())
        digest.update(np.asarray(row.vector, dtype=np.float64).tobytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class FaceSnapshot:
    """What the face verifier trains, calibrates and is judged on, for one month.

    Attributes:
        month: the partition key (YYYY-MM-01).
        train: rows of the identities the projection is fitted on.
        validation: rows of the identities the threshold is fitted on.
        holdout: rows of the newest month's held-out identities (and their older rows).
        data_version: `<month>-<content hash>`, naming the stored snapshot.
        holdout_start: start of the newest month (UTC).
        as_of: end of the snapshot (exclusive, UTC).
        snapshot_uri: where the snapshot's rows are stored, if anywhere.
    """

    month: str
    train: pd.DataFrame
    validation: pd.DataFrame
    holdout: pd.DataFrame
    data_version: str
    holdout_start: pd.Timestamp
    as_of: pd.Timestamp
    snapshot_uri: str | None = None

    def counts(self) -> dict[str, int]:
        """Rows and identities on each side (the asset's metadata and MLflow params)."""
        return {
            f"{side}_{what}": int(n)
            for side, frame in (
                ("train", self.train),
                ("validation", self.validation),
                ("holdout", self.holdout),
            )
            for what, n in (("rows", len(frame)), ("identities", frame["helper_id"].nunique()))
        }


def as_of_instant(times: pd.Series, month_end: pd.Timestamp, now: pd.Timestamp) -> pd.Timestamp:
    """The snapshot's end: `month_end` for a month that is over; for the running month just
    after the newest capture, so a mid-month run still holds out a full month."""
    as_of = pd.Timestamp(month_end)
    if as_of > now and len(times):
        as_of = times.max() + pd.Timedelta(microseconds=1)
    return as_of


def _pick(candidates: np.ndarray, share: float, salt: str, enough_left: bool) -> set[str]:
    """Identities whose hash falls under `share`; when fewer than MIN_IDENTITIES fall there
    and `enough_left` says the others can spare them, the MIN_IDENTITIES lowest hashes (so a
    small month still gives a side with impostor pairs)."""
    shares = identity_share(candidates, salt)
    picked = set(candidates[shares < share].tolist())
    if len(picked) < MIN_IDENTITIES <= len(candidates) and enough_left:
        picked = set(candidates[np.argsort(shares, kind="stable")[:MIN_IDENTITIES]].tolist())
    return picked


def face_snapshot(
    frame: pd.DataFrame,
    month: str,
    month_end: pd.Timestamp,
    now: pd.Timestamp,
    *,
    holdout_share: float = DEFAULT_HOLDOUT_SHARE,
    validation_share: float = DEFAULT_VALIDATION_SHARE,
) -> FaceSnapshot:
    """Splits face vectors captured before `month_end` into train, validation and holdout.

    Args:
        frame: replicated face vectors (`FACE_COLUMNS`; `captured_at` UTC), e.g.
            `DataStore.face_vectors(until=month_end)`.
        month: the partition key, prefixing the data version.
        month_end: exclusive end of the partition's month (UTC).
        now: the current instant (UTC).
        holdout_share: share of the newest month's identities held out.
        validation_share: share of the other identities the threshold is fitted on.

    Returns:
        The snapshot; no helper id appears on two sides.

    Raises:
        ValueError: a column is missing, or a share is outside (0, 1).
    """
    missing = [c for c in FACE_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"face vectors need the columns {FACE_COLUMNS}; missing {missing}")
    for name, share in (("holdout_share", holdout_share), ("validation_share", validation_share)):
        if not 0 < share < 1:
            raise ValueError(f"{name} must lie in (0, 1), got {share}")
    captured = pd.to_datetime(frame["captured_at"], utc=True)
    as_of = as_of_instant(captured, pd.Timestamp(month_end), pd.Timestamp(now))
    holdout_start = as_of - pd.DateOffset(months=1)
    rows = frame.loc[captured < as_of].reset_index(drop=True)
    captured = captured.loc[captured < as_of].reset_index(drop=True)
    everyone = rows["helper_id"].unique()
    newest = rows.loc[captured >= holdout_start, "helper_id"].unique()
    # Training keeps at least two identities to fit on and two to calibrate on.
    held = _pick(newest, holdout_share, _HOLDOUT_SALT, len(everyone) >= 3 * MIN_IDENTITIES)
    trained = np.array([h for h in everyone if h not in held], dtype=object)
    calibrating = _pick(
        trained, validation_share, _VALIDATION_SALT, len(trained) >= 2 * MIN_IDENTITIES
    )
    side = rows["helper_id"].map(
        lambda h: "holdout" if h in held else "validation" if h in calibrating else "train"
    )
    parts = {name: rows.loc[side == name].reset_index(drop=True) for name in side.unique()}
    empty = rows.iloc[0:0]
    return FaceSnapshot(
        month=month,
        train=parts.get("train", empty),
        validation=parts.get("validation", empty),
        holdout=parts.get("holdout", empty),
        data_version=f"{month}-{face_content_hash(rows)[:12]}",
        holdout_start=holdout_start,
        as_of=as_of,
    )
