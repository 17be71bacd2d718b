"""The champion monitor: live accuracy, input drift and prediction drift of `@champion`."""

import base64
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Literal

import dagster as dg
from pydantic import Field

from mlops_assets.backends import factory
from mlops_assets.contracts.model_spec import ModelSpec, MonitorSpec
from mlops_assets.contracts.monitoring import MonitorReport
from mlops_assets.graph.model_names import ModelNames
from mlops_assets.ml.metrics import monitor_history_png
from mlops_assets.resources.data_store import DataStoreResource
from mlops_assets.resources.object_store import ObjectStoreResource
from mlops_assets.resources.registry import RegistryResource
from mlops_assets.retraining.monitor_policy import describe_accuracy
from mlops_assets.retraining.monitoring import DriftThresholds
from mlops_assets.retraining.watch import evaluate_champion

HISTORY = 60


# Unset (None) fields take the model spec's `monitor` values (`MonitorConfig.resolved`).
class MonitorConfig(dg.Config):
    window_days: float | None = Field(
        default=None,
        gt=0,
        description="Length of the window that ends at window_end; unset: the spec's "
        "monitor.window_days (MLOPS_MONITOR_WINDOW_DAYS overrides it).",
    )
    window_end: str = Field(
        default="",
        description="End of the window, ISO 8601 UTC; empty: see window_anchor.",
    )
    window_anchor: Literal["now", "newest_confirmed_task"] = Field(
        default="now",
        description="Where a window without window_end ends: now (live traffic), or at the "
        "newest confirmed task in the training data store (historical data, as the demo's).",
    )
    target_accuracy: float | None = Field(
        default=None,
        description="Live accuracy the champion should keep; unset: the spec's "
        "monitor.target_value.",
    )
    input_drift_threshold: float | None = Field(
        default=None,
        description="KS statistic (0..1) of a photo summary above which the inputs drifted; "
        "unset: the spec's (MLOPS_MONITOR_INPUT_DRIFT_THRESHOLD overrides it).",
    )
    prediction_drift_threshold: float | None = Field(
        default=None,
        description="Total variation distance (0..1) of the predicted-label shares above which "
        "the predictions drifted; unset: the spec's "
        "(MLOPS_MONITOR_PREDICTION_DRIFT_THRESHOLD overrides it).",
    )
    drift_alpha: float | None = Field(
        default=None,
        description="Significance a drift test must also reach; unset: the spec's "
        "(MLOPS_MONITOR_DRIFT_ALPHA overrides it).",
    )

    def resolved(self, monitor: MonitorSpec) -> "MonitorConfig":
        """This config with every unset field taken from the model spec's `monitor`."""
        spec = {
            "window_days": monitor.window_days,
            "target_accuracy": monitor.target_value,
            "input_drift_threshold": monitor.input_drift_threshold,
            "prediction_drift_threshold": monitor.prediction_drift_threshold,
            "drift_alpha": monitor.drift_alpha,
        }
        return self.model_copy(update={k: v for k, v in spec.items() if getattr(self, k) is None})

    def window(self, newest_confirmed_at: datetime | None = None) -> tuple[datetime, datetime]:
        """[start, end): window_end, else the newest confirmed task (anchored there and given)
        included, else now."""
        if self.window_end:
            end = datetime.fromisoformat(self.window_end)
        elif self.window_anchor == "newest_confirmed_task" and newest_confirmed_at is not None:
            end = newest_confirmed_at + timedelta(seconds=1)
        else:
            end = datetime.now(UTC)
        end = end if end.tzinfo else end.replace(tzinfo=UTC)
        return end - timedelta(days=self.window_days), end

    def thresholds(self) -> DriftThresholds:
        return DriftThresholds(
            self.input_drift_threshold, self.prediction_drift_threshold, self.drift_alpha
        )


def latest_report(instance: dg.DagsterInstance, key: dg.AssetKey) -> MonitorReport | None:
    """The newest report of the `champion_monitor` at `key`, from its materialization's
    metadata."""
    reports = report_history(instance, key, limit=1)
    return reports[-1] if reports else None


def report_history(
    instance: dg.DagsterInstance, key: dg.AssetKey, limit: int = HISTORY
) -> list[MonitorReport]:
    """The newest `limit` reports of the `champion_monitor` at `key`, oldest first."""
    records = instance.fetch_materializations(key, limit=limit).records
    reports = []
    for record in records:
        entry = record.asset_materialization.metadata.get("report")
        if entry is not None:
            reports.append(MonitorReport.model_validate(entry.value))
    return sorted(reports, key=lambda r: r.window_end)


def report_metadata(report: MonitorReport, history: list[MonitorReport]) -> dict:
    """What a person reads first: accuracy with interval, drift per test, sizes, the plot."""
    a = report.accuracy
    png = monitor_history_png([*history, report])
    return {
        "champion_version": report.champion_version,
        "window": f"{report.window_start.isoformat()} – {report.window_end.isoformat()}",
        "live_accuracy": dg.MetadataValue.float(
            a.accuracy if a.accuracy is not None else float("nan")
        ),
        "accuracy": describe_accuracy(report),
        "confirmed_tasks": a.n,
        "joined_to_served": a.joined_served,
        "served_predictions": report.served_predictions,
        **{
            f"drift {t.name}": t.statistic if t.statistic is not None else float("nan")
            for t in report.drift
        },
        "drifted": ", ".join(t.name for t in report.drift if t.drifted) or "none",
        "reference": report.reference,
        "report": dg.MetadataValue.json(report.model_dump(mode="json")),
        "history_plot": dg.MetadataValue.md(
            f"![champion monitor](data:image/png;base64,{base64.b64encode(png).decode()})"
        ),
    }


# Before the first champion there is nothing to monitor: no materialization (its checks are
# skipped) and the run stays green, since nothing is broken.
def watch_champion(
    context: dg.AssetExecutionContext,
    model: ModelSpec,
    config: MonitorConfig,
    model_registry: RegistryResource,
    data_store: DataStoreResource,
    object_store: ObjectStoreResource,
) -> Iterator[dg.MaterializeResult]:
    """Evaluates the model's champion on the window the config names."""
    config = config.resolved(model.monitor)
    store = data_store.get_client()
    anchored = config.window_anchor == "newest_confirmed_task" and not config.window_end
    report = evaluate_champion(
        model_registry.get_client(model.registry_name),
        store,
        factory.prediction_log_for(object_store.get_client(), model),
        config.window(store.newest_confirmed_at() if anchored else None),
        config.thresholds(),
        config.target_accuracy,
    )
    if report is None:
        context.log.warning(
            f"no @champion in the registry yet, nothing to monitor: run "
            f"{ModelNames(model.name).retrain_job} once "
            "(or `make demo`)"
        )
        return
    context.log.info(describe_accuracy(report))
    yield dg.MaterializeResult(
        metadata=report_metadata(
            report, report_history(context.instance, ModelNames(model.name).champion_monitor)
        ),
        value=report,
    )


def champion_monitor_options(model: ModelSpec) -> dict:
    """What every task's `<model>/champion_monitor` shares: unpartitioned, in the model's
    group, materialized only once there is a champion."""
    return {
        "key": ModelNames(model.name).champion_monitor,
        "group_name": model.name,
        "kinds": {"scipy"},
        "output_required": False,
    }


def champion_monitor_asset(model: ModelSpec) -> dg.AssetsDefinition:
    """`<model>/champion_monitor` of a classification model."""

    @dg.asset(**champion_monitor_options(model))
    def champion_monitor(
        context: dg.AssetExecutionContext,
        config: MonitorConfig,
        model_registry: RegistryResource,
        data_store: DataStoreResource,
        object_store: ObjectStoreResource,
    ) -> Iterator[dg.MaterializeResult]:
        """The serving champion on the newest window: live accuracy ± interval, input and
        prediction drift."""
        yield from watch_champion(context, model, config, model_registry, data_store, object_store)

    return champion_monitor
