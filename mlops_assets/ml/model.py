"""The task-photo classifier: a small Keras CNN and its training loop."""

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import keras
import numpy as np
import tensorflow as tf
from pydantic import BaseModel, ConfigDict, Field

from mlops_assets.constants import IMAGE_SHAPE, LABELS
from mlops_assets.ml.data import make_dataset


class TrainSettings(BaseModel):
    """Hyperparameters of one training run (the training asset's launchpad config extends it)."""

    model_config = ConfigDict(frozen=True)

    epochs: int = Field(default=40, ge=1, description="Maximum training epochs.")
    batch_size: int = Field(default=64, ge=1, description="Samples per batch.")
    learning_rate: float = Field(default=3e-3, gt=0, description="Adam learning rate.")
    filters: int = Field(default=32, ge=1, description="Filters per conv layer.")
    dense_units: int = Field(default=64, ge=1, description="Hidden dense width.")
    dropout: float = Field(default=0.2, ge=0, lt=1, description="Dropout before the head.")
    validation_fraction: float = Field(
        default=0.1,
        gt=0,
        lt=1,
        description="Share of the training rows held back for early stopping.",
    )
    patience: int = Field(
        default=5,
        ge=1,
        description="Early stopping: epochs without validation-loss improvement before stopping.",
    )
    seed: int = Field(default=42, description="Seed for weights and shuffling.")


@dataclass
class TrainResult:
    """What a training run produced."""

    model: keras.Model
    epochs_run: int
    seconds: float
    history: dict[str, list[float]] = field(default_factory=dict)


def build_model(settings: TrainSettings) -> keras.Model:
    """Builds and compiles the CNN.

    Args:
        settings: widths, dropout and learning rate.

    Returns:
        A compiled model taking (n, 8, 8, 1) inputs and returning class probabilities.
    """
    model = keras.Sequential(
        [
            keras.Input(shape=(*IMAGE_SHAPE, 1)),
            keras.layers.Conv2D(settings.filters, 3, padding="same", activation="relu"),
            keras.layers.Conv2D(settings.filters, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dropout(settings.dropout),
            keras.layers.Dense(settings.dense_units, activation="relu"),
            keras.layers.Dense(len(LABELS), activation="softmax"),
        ],
        name="task_photo_cnn",
    )
    model.compile(
        optimizer=keras.optimizers.Adam(settings.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


class _EpochReporter(keras.callbacks.Callback):
    def __init__(self, on_epoch: Callable[[int, dict[str, float]], None]):
        super().__init__()
        self._on_epoch = on_epoch

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self._on_epoch(epoch + 1, {k: float(v) for k, v in (logs or {}).items()})


def train(
    x: np.ndarray,
    y: np.ndarray,
    settings: TrainSettings,
    on_epoch: Callable[[int, dict[str, float]], None] | None = None,
) -> TrainResult:
    """Trains a fresh model with early stopping on a seeded validation split of `x`.

    Args:
        x: training inputs (the holdout is never passed here).
        y: training labels.
        settings: hyperparameters.
        on_epoch: called after each epoch with (epoch number, metrics).

    Returns:
        The trained model (best validation weights restored) and its history.
    """
    keras.utils.set_random_seed(settings.seed)
    tf.config.experimental.enable_op_determinism()
    order = np.random.default_rng(settings.seed).permutation(len(x))
    n_val = max(1, int(len(x) * settings.validation_fraction))
    val_idx, train_idx = order[:n_val], order[n_val:]
    train_ds = make_dataset(x[train_idx], y[train_idx], settings.batch_size, True, settings.seed)
    val_ds = make_dataset(x[val_idx], y[val_idx], settings.batch_size, False, settings.seed)
    callbacks: list[keras.callbacks.Callback] = [
        keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=settings.patience, restore_best_weights=True
        )
    ]
    if on_epoch is not None:
        callbacks.append(_EpochReporter(on_epoch))
    model = build_model(settings)
    started = time.perf_counter()
    # The dataset shuffles itself (seeded, every epoch); Keras ignores `shuffle` for a tf.data
    # input and warns when it is left at its default True.
    history = model.fit(
        train_ds,
        validation_data=val_ds,
        epochs=settings.epochs,
        callbacks=callbacks,
        verbose=0,
        shuffle=False,
    )
    seconds = time.perf_counter() - started
    return TrainResult(
        model=model,
        epochs_run=len(history.history["loss"]),
        seconds=seconds,
        history={k: [float(v) for v in vs] for k, vs in history.history.items()},
    )
