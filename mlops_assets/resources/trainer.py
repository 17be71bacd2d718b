"""The trainer resource: which own trainer `trained_model` runs by default, and how long it may
take; hands out the Pipes client that runs it."""

import dagster as dg
from pydantic import Field

from mlops_assets.resources.trainer_pipes import TrainerPipesClient


class TrainerResource(dg.ConfigurableResource):
    """Defaults for own trainers (MLOPS_TRAINER_*); the launchpad can override each run."""

    command: list[str] = Field(
        default=[],
        description="Trainer command run through Dagster Pipes when the launchpad names none "
        "(MLOPS_TRAINER_COMMAND); empty: the built-in CNN trains in-process.",
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

    def get_client(self) -> TrainerPipesClient:
        """The Pipes client that runs and supervises a trainer process."""
        return TrainerPipesClient(termination_grace_s=self.termination_grace_s)
