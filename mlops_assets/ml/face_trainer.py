"""The built-in `face_projection` trainer as a process: `python -m mlops_assets.ml.face_trainer`.

It keeps the trainer contract (`mlops_assets.contracts.trainer`) for verification models like
any own `train.py`: it reads the face data file (`--train-data`), leaves `VERIFIER_FILE` in
`--output-dir` and reports its two steps as progress. Launched by Dagster it speaks native Pipes
(custom messages, a log line per step, reported metadata) and takes the hyperparameters from
the run's Pipes extras; run by hand it prints `VTM_PROGRESS::` lines and takes them from flags.
"""

import argparse
import sys
from pathlib import Path

from dagster_pipes import PipesEnvVarParamsLoader, open_dagster_pipes

from mlops_assets.contracts.trainer import (
    PROGRESS_KIND,
    VERIFIER_FILE,
    add_setting_flags,
    progress_line,
)
from mlops_assets.ml.face_training import (
    TOTAL_STEPS,
    FaceTrainSettings,
    read_face_training_data,
    train_face_projection,
)

HYPERPARAMETERS_EXTRA = "hyperparameters"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-data", required=True, help=".npz: x, y, validation, target_far")
    parser.add_argument("--output-dir", required=True, help=f"where {VERIFIER_FILE} goes")
    parser.add_argument("--epochs", type=int, default=TOTAL_STEPS, help="ignored: two steps")
    add_setting_flags(parser, FaceTrainSettings.model_fields)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    flags = {name: getattr(args, name) for name in FaceTrainSettings.model_fields}
    data = read_face_training_data(args.train_data)
    output_dir = Path(args.output_dir)
    if not PipesEnvVarParamsLoader().is_dagster_pipes_process():
        return _train_and_save(data, FaceTrainSettings(**flags), output_dir, _print_line)
    with open_dagster_pipes() as pipes:
        hyperparameters = pipes.extras.get(HYPERPARAMETERS_EXTRA, {})
        known = {k: v for k, v in hyperparameters.items() if k in FaceTrainSettings.model_fields}
        settings = FaceTrainSettings(**{**flags, **known})

        def report(progress: dict) -> None:
            pipes.report_custom_message({"kind": PROGRESS_KIND, **progress})
            pipes.log.info(f"step {progress['epoch']}/{progress['total_epochs']}")

        code = _train_and_save(data, settings, output_dir, report)
        pipes.report_asset_materialization(
            metadata={"trainer_kind": "built-in face_projection (subprocess)"}
        )
        return code


def _print_line(progress: dict) -> None:
    print(progress_line(progress), flush=True)


def _train_and_save(data, settings: FaceTrainSettings, output_dir: Path, report) -> int:
    vectors, identities, validation, target_far = data

    def on_step(step: int, metrics: dict[str, float]) -> None:
        report({"epoch": step, "total_epochs": TOTAL_STEPS, **metrics})

    result = train_face_projection(vectors, identities, validation, target_far, settings, on_step)
    output_dir.mkdir(parents=True, exist_ok=True)
    result.verifier.save(output_dir / VERIFIER_FILE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
