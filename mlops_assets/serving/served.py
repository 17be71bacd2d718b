"""The fleet as this server serves it: per model its spec, holder, reloader and recorder.

Each model is independent: its own alias to follow, its own watcher thread, its own holder
(so a swap of one never touches another) and its own prediction log.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import pandas as pd

from mlops_assets.backends import factory
from mlops_assets.backends.prediction_log import COLUMNS, VERIFICATION_COLUMNS, PredictionLog
from mlops_assets.contracts.fleet import FleetSpec
from mlops_assets.contracts.gate_spec import Task
from mlops_assets.contracts.model_spec import ModelSpec
from mlops_assets.serving.config import ServingSettings
from mlops_assets.serving.holder import ModelHolder
from mlops_assets.serving.model_kinds import LOADERS, ServingKind, serving_kind
from mlops_assets.serving.model_source import RegistrySource
from mlops_assets.serving.recorder import (
    PredictionRecorder,
    batches_to_rows,
    verifications_to_rows,
)
from mlops_assets.serving.reloader import ModelReloader, ModelSource

# Where the recorder writes batches of served predictions (a DataFrame each).
PredictionSink = Callable[[pd.DataFrame], object]

ACTIONS: dict[ServingKind, str] = {
    "classification": "predict",
    "verification": "verify",
    "risk": "predict",
}


@dataclass
class ServedModel:
    """One model of the fleet in service."""

    spec: ModelSpec
    registry_name: str
    holder: ModelHolder
    reloader: ModelReloader
    recorder: PredictionRecorder | None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def task(self) -> Task:
        return self.spec.task

    @property
    def kind(self) -> ServingKind:
        """How it is served (photos, face pairs or risk features in)."""
        return serving_kind(self.spec)

    @property
    def route(self) -> str:
        """The path prefix it answers under (its spec's serving_route)."""
        return self.spec.serving_route

    @property
    def action_path(self) -> str:
        """Its request route: `<route>/predict` or `<route>/verify`."""
        return f"{self.route}/{ACTIONS[self.kind]}"


def served_specs(
    fleet: FleetSpec, settings: ServingSettings, names: list[str] | None = None
) -> list[ModelSpec]:
    """The specs of the models to serve: `names`, else MLOPS_SERVING_MODELS, else the fleet.

    Raises:
        ValueError: a name the fleet does not declare (the message lists those it does).
    """
    wanted = names or settings.served_models or fleet.names
    unknown = [name for name in wanted if name not in fleet.names]
    if unknown:
        raise ValueError(
            f"MLOPS_SERVING_MODELS names {', '.join(map(repr, unknown))}, not in the fleet file "
            f"{settings.models_file or 'shipped with the package'} (declared: "
            f"{', '.join(fleet.names)})"
        )
    return [fleet.model(name) for name in dict.fromkeys(wanted)]


def registry_name(spec: ModelSpec, settings: ServingSettings) -> str:
    """The registered model a fleet model is served from: its spec's `registry_name`, except
    that MLOPS_MODEL_NAME, when set, still names the default model's (as the pipeline reads
    it)."""
    if spec.name == settings.default_model and "model_name" in settings.model_fields_set:
        return settings.model_name
    return spec.registry_name


def _recorder(
    spec: ModelSpec, settings: ServingSettings, sink: PredictionSink | None
) -> PredictionRecorder | None:
    # A risk model's answers are not recorded yet (no monitor reads them).
    if not settings.record_predictions or serving_kind(spec) == "risk":
        return None
    verification = spec.task == "verification"
    if sink is None:
        columns = VERIFICATION_COLUMNS if verification else COLUMNS
        sink = PredictionLog(factory.object_store(settings), spec.name, columns).write
    return PredictionRecorder(
        sink,
        settings.record_buffer,
        settings.record_batch,
        settings.record_flush_s,
        to_rows=verifications_to_rows if verification else batches_to_rows,
    )


def build_served(
    spec: ModelSpec,
    settings: ServingSettings,
    source: ModelSource | None = None,
    sink: PredictionSink | Mapping[str, PredictionSink] | None = None,
) -> ServedModel:
    """Wires one model: its source (default: its registered model's alias), reloader and
    recorder. Nothing is loaded or started here.

    Args:
        spec: the fleet entry.
        settings: the server's settings.
        source: where its versions come from; default the registry.
        sink: where its recorded predictions go: one sink for every model, or one per model
            name; default its prediction log in the object store.
    """
    registered = registry_name(spec, settings)
    if source is None:
        source = RegistrySource(
            settings.resolved_tracking_uri,
            registered,
            settings.alias,
            factory.model_signer(settings),
            serving_kind(spec),
        )
    holder = ModelHolder()
    reloader = ModelReloader(
        holder,
        source,
        settings.poll_interval_s,
        settings.download_dir,
        loader=LOADERS[serving_kind(spec)],
        name=spec.name,
    )
    if isinstance(sink, Mapping):
        sink = sink.get(spec.name)
    return ServedModel(spec, registered, holder, reloader, _recorder(spec, settings, sink))
