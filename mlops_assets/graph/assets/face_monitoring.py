"""A verification model's champion monitor: TAR and FAR at the serving threshold on the faces
registered in the window (their identities are confirmed), and the drift of its score
distributions."""

from collections.abc import Iterator

import dagster as dg

from mlops_assets.backends.record_tables import FACE_RECORDS
from mlops_assets.contracts.model_spec import ModelSpec
from mlops_assets.contracts.monitoring import FaceMonitorReport
from mlops_assets.graph.assets.monitoring import MonitorConfig, champion_monitor_options
from mlops_assets.graph.model_names import ModelNames
from mlops_assets.resources.data_store import DataStoreResource
from mlops_assets.resources.registry import RegistryResource
from mlops_assets.retraining.face_watch import evaluate_face_champion


def _number(value: float | None) -> dg.MetadataValue:
    # NaN plots as a gap in the UI's metadata chart where a value is missing.
    return dg.MetadataValue.float(float("nan") if value is None else value)


def face_report_metadata(report: FaceMonitorReport) -> dict:
    """What a person reads first: TAR against target, FAR, pair counts, score drift."""
    return {
        "champion_version": report.champion_version,
        "window": f"{report.window_start.isoformat()} – {report.window_end.isoformat()}",
        "live_tar": _number(report.tar),
        "target_tar": report.target_tar,
        "live_far": _number(report.far),
        "threshold": report.threshold,
        "face_vectors": report.vectors,
        "identities": report.identities,
        "genuine_pairs": report.genuine.n,
        "impostor_pairs": report.impostor.n,
        "genuine_score_median": _number(report.genuine.p50),
        "impostor_score_p95": _number(report.impostor.p95),
        **{f"drift {t.name}": _number(t.statistic) for t in report.drift},
        "drifted": ", ".join(t.name for t in report.drift if t.drifted) or "none",
        "reference": report.reference,
        "report": dg.MetadataValue.json(report.model_dump(mode="json")),
    }


def watch_face_champion(
    context: dg.AssetExecutionContext,
    model: ModelSpec,
    config: MonitorConfig,
    model_registry: RegistryResource,
    data_store: DataStoreResource,
) -> Iterator[dg.MaterializeResult]:
    """Evaluates the model's verifier champion on the window the config names (its anchor
    `newest_confirmed_task` is the newest registered face here)."""
    config = config.resolved(model.monitor)
    store = data_store.get_client()
    anchored = config.window_anchor == "newest_confirmed_task" and not config.window_end
    report = evaluate_face_champion(
        model_registry.get_client(model.registry_name),
        store,
        config.window(store.newest_at(FACE_RECORDS) if anchored else None),
        config.thresholds(),
        config.target_accuracy,
    )
    if report is None:
        context.log.warning(
            f"no @champion in the registry yet, nothing to monitor: run "
            f"{ModelNames(model.name).retrain_job} once"
        )
        return
    context.log.info(
        f"v{report.champion_version}: TAR {report.tar} (target {report.target_tar}) on "
        f"{report.genuine.n} genuine pairs, FAR {report.far} on {report.impostor.n} impostor pairs"
    )
    yield dg.MaterializeResult(metadata=face_report_metadata(report), value=report)


def face_champion_monitor_asset(model: ModelSpec) -> dg.AssetsDefinition:
    """`<model>/champion_monitor` of a verification model."""

    @dg.asset(**champion_monitor_options(model))
    def champion_monitor(
        context: dg.AssetExecutionContext,
        config: MonitorConfig,
        model_registry: RegistryResource,
        data_store: DataStoreResource,
    ) -> Iterator[dg.MaterializeResult]:
        """The serving verifier on the newest window: TAR and FAR at its threshold on the
        registered (confirmed) faces, and the drift of its genuine and impostor scores."""
        yield from watch_face_champion(context, model, config, model_registry, data_store)

    return champion_monitor
