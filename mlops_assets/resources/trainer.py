"""The trainer resource: which own trainer `trained_model` runs by default, and how long it may
take; hands out the Pipes client that runs it."""

import dagster as dg
from pydantic import Field

from mlops_assets.resources.trainer_process import TrainerPipesClient

# The launchpad's name for the built-in CNN trained in-process.
BUILT_IN = "built-in"


class TrainerResource(dg.ConfigurableResource):
    """The trainers this deployment allows (MLOPS_TRAINER_*); the launchpad picks one by name."""

    command: list[str] = Field(
        default=[],
        description="Trainer command run through Dagster Pipes when the launchpad names none "
        "(MLOPS_TRAINER_COMMAND); empty: the built-in CNN trains in-process.",
    )
    trainers: dict[str, list[str]] = Field(
        default={},
        description="Named trainer commands the launchpad may choose (MLOPS_TRAINERS, JSON: "
        '{"mlp": ["python", "examples/train.py"]}); the launchpad runs nothing else.',
    )
    env_passthrough: list[str] = Field(
        default=[],
        description="Variables a trainer gets besides the minimal environment (MLOPS_TRAINER_ENV, "
        'JSON: ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]); no other secret reaches it.',
    )
    timeout_s: float = Field(
        default=3600.0,
        gt=0,
        description="Seconds a trainer may run before its process group is killed "
        "(MLOPS_TRAINER_TIMEOUT_S).",
    )
    termination_grace_s: float = Field(
        default=10.0,
        ge=0,
        description="After a timeout or a cancelled run: seconds between SIGTERM and SIGKILL.",
    )

    def command_for(self, name: str) -> list[str]:
        """The command of the trainer `name` chose in the launchpad; [] is the built-in CNN.

        Raises:
            dagster.Failure: no trainer of that name is configured (not retried).
        """
        if not name:
            return self.command
        if name == BUILT_IN:
            return []
        if name not in self.trainers:
            known = ", ".join(sorted([BUILT_IN, *self.trainers]))
            raise dg.Failure(
                f"no trainer named {name!r} in this deployment (configured: {known}); add it "
                "to MLOPS_TRAINERS to make it available",
                allow_retries=False,
            )
        return self.trainers[name]

    def get_client(self) -> TrainerPipesClient:
        """The Pipes client that runs and supervises a trainer process."""
        return TrainerPipesClient(
            termination_grace_s=self.termination_grace_s, env_passthrough=self.env_passthrough
        )
