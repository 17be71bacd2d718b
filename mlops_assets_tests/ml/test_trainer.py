"""The built-in CNN as a trainer process, run by hand: the run manager's dialect on stdout."""

import subprocess
import sys

import numpy as np
import pytest

from mlops_assets.contracts.trainer import Progress, parse_line
from mlops_assets.ml.trainer_files import check_model_file, write_training_data

pytestmark = pytest.mark.model


def test_run_by_hand_it_prints_progress_lines_and_writes_a_usable_model(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.random((200, 8, 8, 1), dtype=np.float32), rng.integers(0, 10, 200)
    data = write_training_data(tmp_path / "train.npz", x, y)
    done = subprocess.run(
        [sys.executable, "-m", "mlops_assets.ml.trainer", "--train-data", str(data),
         "--output-dir", str(tmp_path / "out"), "--epochs", "2", "--filters", "4"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    progress = [p for p in map(parse_line, done.stdout.splitlines()) if isinstance(p, Progress)]
    assert [(p.epoch, p.total_epochs) for p in progress] == [(1, 2), (2, 2)]
    assert "val_accuracy" in progress[0].metrics
    produced = check_model_file(tmp_path / "out" / "model.keras", x[:4])
    assert produced.model.layers[0].filters == 4
