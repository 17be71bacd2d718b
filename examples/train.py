"""An own trainer for the task-photo classifier, written for a run manager, not for this project.

It imports nothing from mlops_assets and keeps the run manager's `train.py` contract:
arguments on the command line, progress as `VTM_PROGRESS::{json}` lines on stdout, the MLflow
run as a `VTM_RUN_META::{json}` line, exit code 0 when it completed. It trains a different model
from the built-in CNN, a small multilayer perceptron, on the data the pipeline hands it.

    python examples/train.py --train-data train.npz --output-dir out --epochs 30 --seed 7

`--train-data` is an .npz with `x` (n, 8, 8, 1) float32 grey levels scaled to 0..1 and `y` the
labels 0..9; the model goes to `<output-dir>/model.keras`. With `--mlflow` it also logs the run
to MLflow (MLFLOW_TRACKING_URI, MLFLOW_EXPERIMENT_ID) and reports its id; `--model-to-mlflow`
logs the model there instead of writing it, and the pipeline registers it from the run.
"""

import argparse
import json
import os
import sys
import time

import keras
import numpy as np


def emit(prefix: str, payload: dict) -> None:
    print(prefix + json.dumps(payload), flush=True)


class Progress(keras.callbacks.Callback):
    """Prints one VTM_PROGRESS line per epoch (and logs the metrics to MLflow when asked)."""

    def __init__(self, total_epochs: int, mlflow_module=None):
        super().__init__()
        self.total_epochs = total_epochs
        self.mlflow = mlflow_module

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        metrics = {k: round(float(v), 6) for k, v in (logs or {}).items()}
        emit("VTM_PROGRESS::", {"epoch": epoch + 1, "total_epochs": self.total_epochs,
                                **metrics, "device": "cpu"})  # fmt: skip
        if self.mlflow is not None:
            self.mlflow.log_metrics(metrics, step=epoch + 1)


def build(hidden_units: int, dropout: float, learning_rate: float) -> keras.Model:
    model = keras.Sequential(
        [
            keras.Input(shape=(8, 8, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(hidden_units, activation="relu"),
            keras.layers.Dropout(dropout),
            keras.layers.Dense(hidden_units // 2, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ],
        name="example_mlp",
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Trains a small MLP on task photos.")
    parser.add_argument("--train-data", required=True)
    parser.add_argument("--output-dir", required=True)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hidden-units", type=int, default=128)
    parser.add_argument("--dropout", type=float, default=0.2)
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument("--mlflow", action="store_true", help="log the run to MLflow")
    parser.add_argument("--model-to-mlflow", action="store_true", help="log the model to MLflow")
    args = parser.parse_args(argv)

    with np.load(args.train_data, allow_pickle=False) as data:
        x, y = data["x"], data["y"]
    keras.utils.set_random_seed(args.seed)
    order = np.random.default_rng(args.seed).permutation(len(x))
    n_val = max(1, len(x) // 10)
    val, train = order[:n_val], order[n_val:]

    mlflow = None
    if args.mlflow or args.model_to_mlflow:
        import mlflow

        mlflow.start_run(experiment_id=os.environ.get("MLFLOW_EXPERIMENT_ID") or None)
        mlflow.log_params({k: v for k, v in vars(args).items() if k not in ("train_data",)})
        emit("VTM_RUN_META::", {"mlflow_run_id": mlflow.active_run().info.run_id})

    model = build(args.hidden_units, args.dropout, args.learning_rate)
    started = time.perf_counter()
    model.fit(
        x[train], y[train], validation_data=(x[val], y[val]), epochs=args.epochs,
        batch_size=64, verbose=0, callbacks=[Progress(args.epochs, mlflow)],
        shuffle=True,
    )  # fmt: skip
    print(f"trained {args.epochs} epochs in {time.perf_counter() - started:.1f} s", flush=True)
    if args.model_to_mlflow:
        mlflow.tensorflow.log_model(model, name="model")
    else:
        os.makedirs(args.output_dir, exist_ok=True)
        model.save(os.path.join(args.output_dir, "model.keras"))
    if mlflow is not None:
        mlflow.end_run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
