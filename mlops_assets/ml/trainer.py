"""The built-in CNN as a trainer process: `python -m mlops_assets.ml.trainer`.

It keeps the trainer contract (`mlops_assets.contracts.trainer`) like any own `train.py`, so the
subprocess path is tested with the model the project knows. Launched by Dagster it speaks native
Pipes (progress as custom messages, a log line per epoch, the parameter count as reported
metadata) and takes every hyperparameter from the run's Pipes extras; run by hand it prints the
run manager's `VTM_PROGRESS::` lines and takes the hyperparameters from its flags.
"""

import argparse
import sys
from pathlib import Path

from dagster_pipes import PipesEnvVarParamsLoader, open_dagster_pipes

from mlops_assets.contracts.trainer import PROGRESS_KIND, add_setting_flags, progress_line
from mlops_assets.ml.model import TrainSettings, train
from mlops_assets.ml.trainer_files import read_training_data

HYPERPARAMETERS_EXTRA = "hyperparameters"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-data", required=True, help=".npz with x (n, 8, 8, 1) and y")
    parser.add_argument("--output-dir", required=True, help="where model.keras goes")
    add_setting_flags(parser, TrainSettings.model_fields)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    flags = {name: getattr(args, name) for name in TrainSettings.model_fields}
    x, y = read_training_data(args.train_data)
    if not PipesEnvVarParamsLoader().is_dagster_pipes_process():
        return _train_and_save(x, y, TrainSettings(**flags), Path(args.output_dir), _print_line)
    with open_dagster_pipes() as pipes:
        settings = TrainSettings(**{**flags, **pipes.extras.get(HYPERPARAMETERS_EXTRA, {})})

        def report(progress: dict) -> None:
            pipes.report_custom_message({"kind": PROGRESS_KIND, **progress})
            pipes.log.info(f"epoch {progress['epoch']}/{progress['total_epochs']}")

        code = _train_and_save(x, y, settings, Path(args.output_dir), report)
        pipes.report_asset_materialization(metadata={"trainer_kind": "built-in CNN (subprocess)"})
        return code


def _print_line(progress: dict) -> None:
    print(progress_line(progress), flush=True)


def _train_and_save(x, y, settings: TrainSettings, output_dir: Path, report) -> int:
    def on_epoch(epoch: int, metrics: dict[str, float]) -> None:
        report({"epoch": epoch, "total_epochs": settings.epochs, **metrics})

    result = train(x, y, settings, on_epoch=on_epoch)
    output_dir.mkdir(parents=True, exist_ok=True)
    result.model.save(output_dir / "model.keras")
    return 0


if __name__ == "__main__":
    sys.exit(main())
