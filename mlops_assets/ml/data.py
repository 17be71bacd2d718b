"""Turns snapshot rows into arrays and tf.data pipelines."""

from dataclasses import dataclass

import numpy as np
import pandas as pd
import tensorflow as tf

from mlops_assets.constants import IMAGE_SHAPE, PIXEL_MAX


def scale_pixels(pixels: np.ndarray) -> np.ndarray:
    """Maps grey levels (n, 64) in 0..PIXEL_MAX to the model's input (n, 8, 8, 1) in 0..1.

    Args:
        pixels: grey levels, any numeric dtype, one row per photo.

    Returns:
        float32 array shaped for the CNN.
    """
    array = np.asarray(pixels, dtype=np.float32) / PIXEL_MAX
    return array.reshape((-1, *IMAGE_SHAPE, 1))


def to_arrays(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Stacks a snapshot's pixels and labels.

    Args:
        frame: rows with `pixels` (uint8 arrays) and `label` columns.

    Returns:
        (inputs shaped for the CNN, int32 labels).
    """
    if frame.empty:
        return np.zeros((0, *IMAGE_SHAPE, 1), np.float32), np.zeros((0,), np.int32)
    pixels = np.stack(frame["pixels"].to_list())
    return scale_pixels(pixels), frame["label"].to_numpy(dtype=np.int32)


def make_dataset(
    x: np.ndarray, y: np.ndarray, batch_size: int, shuffle: bool, seed: int
) -> tf.data.Dataset:
    """Builds the input pipeline: cache, shuffle each epoch, batch, prefetch.

    Prefetching lets the next batch be prepared while the current one trains.

    Args:
        x: model inputs.
        y: labels.
        batch_size: samples per batch.
        shuffle: reshuffle every epoch (training) or keep order (validation).
        seed: shuffle seed.

    Returns:
        The dataset.
    """
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).cache()
    if shuffle:
        dataset = dataset.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


@dataclass(frozen=True)
class Split:
    """A snapshot split in time: the holdout is the newest month, never trained on."""

    train: pd.DataFrame
    holdout: pd.DataFrame
    holdout_start: pd.Timestamp
    as_of: pd.Timestamp


def split_as_of(frame: pd.DataFrame, month_end: pd.Timestamp, now: pd.Timestamp) -> Split:
    """Holds out the month that ends at the as-of instant; trains on everything older.

    The as-of instant is `month_end` for a month that is over, so a past month's holdout is
    exactly that calendar month. For the running month it is just after the newest record, so
    a run in the middle of a month still holds out a full month of the newest data.

    Args:
        frame: snapshot rows confirmed before `month_end`, with a UTC `confirmed_at` column.
        month_end: exclusive end of the partition's month (UTC).
        now: the current instant (UTC).

    Returns:
        Train rows (before the holdout month) and holdout rows (the holdout month).
    """
    as_of = pd.Timestamp(month_end)
    if as_of > now and not frame.empty:
        as_of = frame["confirmed_at"].max() + pd.Timedelta(microseconds=1)
    holdout_start = as_of - pd.DateOffset(months=1)
    newest = frame["confirmed_at"] >= holdout_start
    return Split(
        train=frame.loc[~newest].reset_index(drop=True),
        holdout=frame.loc[newest].reset_index(drop=True),
        holdout_start=holdout_start,
        as_of=as_of,
    )
