"""`champion_outbox_sensor`: delivers what champion moves left in the outbox (a broker or alert
channel that was down when @champion moved), so events leave once the broker is back without
anyone running `mlops-assets outbox`."""

import dagster as dg

from mlops_assets.backends import outbox
from mlops_assets.contracts.model_spec import ModelSpec
from mlops_assets.graph.model_names import ModelNames
from mlops_assets.resources.alerts import AlertsResource
from mlops_assets.resources.event_queue import EventQueueResource
from mlops_assets.resources.registry import RegistryResource
from mlops_assets.retraining.triggers import is_preview


def champion_outbox_sensor_for(model: ModelSpec) -> dg.SensorDefinition:
    """Builds `<model>_champion_outbox_sensor`: the outbox of the model's registered model."""

    @dg.sensor(
        name=ModelNames(model.name).outbox_sensor,
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Publishes the ModelRolledBack events and sends the alerts that champion moves "
        "left in the outbox while the broker or alert channel was down; requests no run.",
    )
    def champion_outbox_sensor(
        context: dg.SensorEvaluationContext,
        model_registry: RegistryResource,
        event_queue: EventQueueResource,
        alerts: AlertsResource,
    ) -> dg.SkipReason:
        if is_preview(context.log_key, context.repository_name):
            return dg.SkipReason("preview: nothing delivered (a tick delivers)")
        registry = model_registry.get_client(model.registry_name)
        drained = outbox.drain(
            registry.client(),
            registry.model_name,
            event_queue.get_client(),
            alerts.get_client(),
            context.log,
        )
        waiting = f"; still pending: {', '.join(drained.pending)}" if drained.pending else ""
        return dg.SkipReason(f"outbox: {len(drained.delivered)} delivered{waiting}")

    return champion_outbox_sensor
