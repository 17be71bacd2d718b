"""A trainer that misbehaves on purpose, for the fault tests: `python fake_trainer.py MODE ...`.

Modes: `fail` (stderr lines, exit 3), `hang` (progress, then sleeps with a child), `garbage`
(unreadable protocol lines among good ones, then exits 0 leaving no model), `bad-model` (a file
named model.keras that is not a model), `pipes` (native Pipes: log, progress, run meta,
reported metadata, no model). Every process it starts writes its pid to --pid-dir.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path


def record_pid(pid_dir: str | None, name: str) -> None:
    if pid_dir:
        Path(pid_dir, f"{name}.pid").write_text(str(os.getpid()))


def progress(epoch: int, total: int, **metrics) -> None:
    print("VTM_PROGRESS::" + json.dumps({"epoch": epoch, "total_epochs": total, **metrics}),
          flush=True)  # fmt: skip


def main() -> int:
    if sys.argv[1] == "child":  # a child (or grandchild) that only sleeps
        record_pid(sys.argv[2], sys.argv[3])
        if sys.argv[3] == "child":
            subprocess.Popen([sys.executable, __file__, "child", sys.argv[2], "grandchild"])
        time.sleep(3600)
        return 0
    parser = argparse.ArgumentParser()
    parser.add_argument("mode")
    parser.add_argument("--pid-dir")
    parser.add_argument("--train-data")
    parser.add_argument("--output-dir")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int)
    args, extra = parser.parse_known_args()
    record_pid(args.pid_dir, "trainer")
    if args.mode == "fail":
        print("loading data", flush=True)
        for i in range(30):
            print(f"noise line {i}", file=sys.stderr)
        print("RuntimeError: CUDA out of memory (simulated)", file=sys.stderr, flush=True)
        return 3
    if args.mode == "hang":
        subprocess.Popen([sys.executable, __file__, "child", args.pid_dir, "child"])
        progress(1, args.epochs, val_accuracy=0.5)
        time.sleep(3600)
    if args.mode == "garbage":
        print("VTM_PROGRESS::{not json", flush=True)
        print("VTM_PROGRESS::[1, 2, 3]", flush=True)
        print('VTM_PROGRESS::{"epoch": "three"}', flush=True)
        sys.stdout.buffer.write(b"\xff\xfe\x00 binary junk\n")
        print("VTM_RUN_META::not-an-object", flush=True)
        progress(1, args.epochs, val_accuracy=0.75, device="cpu")
        print("ordinary output line", flush=True)
        print("VTM_RUN_META::" + json.dumps({"note": "extra"}), flush=True)
        return 0
    if args.mode == "bad-model":
        Path(args.output_dir, "model.keras").write_bytes(b"not a zip file")
        return 0
    if args.mode == "pipes":
        from dagster_pipes import open_dagster_pipes

        with open_dagster_pipes() as pipes:
            pipes.log.info(f"pipes trainer got extras {sorted(pipes.extras)}")
            for epoch in (1, 2):
                pipes.report_custom_message(
                    {"kind": "progress", "epoch": epoch, "total_epochs": 2, "val_accuracy": 0.5}
                )
            pipes.report_custom_message({"kind": "progress", "epoch": "bad"})
            pipes.report_custom_message({"kind": "run_meta", "framework": "none"})
            pipes.report_asset_materialization(metadata={"trainer_flavour": "pipes-fake"})
        return 0
    raise SystemExit(f"unknown mode {args.mode}")


if __name__ == "__main__":
    sys.exit(main())
