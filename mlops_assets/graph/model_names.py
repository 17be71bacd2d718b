"""The names of one model's graph: asset keys under the model's prefix, its jobs, schedules and
sensors. Every user of a model's graph (sensors, the demo, the CLI, tests) reads them here."""

from dataclasses import dataclass

import dagster as dg

from mlops_assets.constants import (
    CHAMPION_MODEL,
    CHAMPION_MONITOR,
    DEPLOYMENT,
    TRAINED_MODEL,
    TRAINING_DATA,
    VERIFICATION_REPORT,
)

STAGES = (TRAINING_DATA, TRAINED_MODEL, VERIFICATION_REPORT, CHAMPION_MODEL, DEPLOYMENT)


@dataclass(frozen=True)
class ModelNames:
    """Every name in the graph of the model called `model` (its spec's `name`)."""

    model: str

    def key(self, stage: str) -> dg.AssetKey:
        """The asset key of a stage (`training_data`, …) of this model: `<model>/<stage>`."""
        return dg.AssetKey([self.model, stage])

    @property
    def training_data(self) -> dg.AssetKey:
        return self.key(TRAINING_DATA)

    @property
    def trained_model(self) -> dg.AssetKey:
        return self.key(TRAINED_MODEL)

    @property
    def verification_report(self) -> dg.AssetKey:
        return self.key(VERIFICATION_REPORT)

    @property
    def champion_model(self) -> dg.AssetKey:
        return self.key(CHAMPION_MODEL)

    @property
    def deployment(self) -> dg.AssetKey:
        return self.key(DEPLOYMENT)

    @property
    def champion_monitor(self) -> dg.AssetKey:
        return self.key(CHAMPION_MONITOR)

    @property
    def retraining_keys(self) -> list[dg.AssetKey]:
        """The retraining stages in order, training_data to deployment."""
        return [self.key(stage) for stage in STAGES]

    @property
    def retrain_job(self) -> str:
        return f"{self.model}_retrain_job"

    @property
    def monitor_job(self) -> str:
        return f"{self.model}_monitor_job"

    @property
    def rollback_job(self) -> str:
        return f"{self.model}_rollback_job"

    @property
    def automation_sensor(self) -> str:
        return f"{self.model}_automation_sensor"

    @property
    def monitor_schedule(self) -> str:
        return f"{self.model}_monitor_schedule"

    @property
    def monitor_sensor(self) -> str:
        return f"{self.model}_champion_monitor_sensor"

    @property
    def outbox_sensor(self) -> str:
        return f"{self.model}_champion_outbox_sensor"


def upstream_version_key(upstream: str) -> str:
    """The metadata key under which a downstream model's `training_data` records the champion
    version of its upstream model `upstream` that it was built on: `upstream_<name>_version`."""
    return f"upstream_{upstream}_version"


def events_sensor_name(queue: str) -> str:
    """The replication sensor of a source queue, e.g. `task_confirmed_events_sensor`."""
    return "".join(c if c.isalnum() else "_" for c in queue) + "_events_sensor"
