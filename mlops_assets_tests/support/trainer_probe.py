"""An asset that only runs a trainer through `TrainerPipesClient`, for the client's tests.

`python -m mlops_assets_tests.support.trainer_probe MODE PID_DIR` materializes it with the fake
trainer in MODE; the cancel test interrupts that process as Dagster's run worker is interrupted
when a run is terminated from the UI.
"""

import json
import sys
from pathlib import Path

import dagster as dg

from mlops_assets.resources.trainer import TrainerResource

FAKE_TRAINER = Path(__file__).with_name("fake_trainer.py")


def fake_trainer(mode: str, *args: str) -> list[str]:
    return [sys.executable, str(FAKE_TRAINER), mode, *args]


def probe_asset(command: list[str], timeout_s: float = 120, seen: list | None = None):
    @dg.asset
    def trainer_probe(context: dg.AssetExecutionContext, trainer: TrainerResource):
        invocation = trainer.get_client().run(
            context=context,
            command=command,
            timeout_s=timeout_s,
            extras={"hyperparameters": {"epochs": 2}},
            on_progress=(seen.append if seen is not None else None),
        )
        return dg.MaterializeResult(
            metadata={
                **invocation.reported_metadata,
                "run_meta": json.dumps(invocation.run_meta),
                "custom_messages": len(invocation.get_custom_messages()),
            }
        )

    return trainer_probe


def materialize_probe(
    command, instance, timeout_s: float = 120, seen=None, grace_s: float = 2, passthrough=()
):
    trainer = TrainerResource(termination_grace_s=grace_s, env_passthrough=list(passthrough))
    return dg.materialize(
        [probe_asset(command, timeout_s, seen)],
        resources={"trainer": trainer},
        instance=instance,
        raise_on_error=False,
    )


if __name__ == "__main__":
    mode, pid_dir = sys.argv[1], sys.argv[2]
    with dg.DagsterInstance.ephemeral() as instance:
        result = materialize_probe(fake_trainer(mode, "--pid-dir", pid_dir), instance)
    print("run success" if result.success else "run failed", flush=True)
