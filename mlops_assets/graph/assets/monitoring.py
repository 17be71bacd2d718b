"""The champion monitor: live accuracy, input drift and prediction drift of `@champion`."""

import base64
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Literal

import dagster as dg
from pydantic import Field

from mlops_assets.backends.prediction_log import PredictionLog
from mlops_assets.constants import (
    CHAMPION_MONITOR,
    DRIFT_ALPHA,
    INPUT_DRIFT_THRESHOLD,
    MIN_ACCURACY,
    MONITOR_WINDOW_DAYS,
    MONITORING_GROUP,
    PREDICTION_DRIFT_THRESHOLD,
)
from mlops_assets.contracts.monitoring import MonitorReport
from mlops_assets.ml.metrics import monitor_history_png
from mlops_assets.resources.data_store import DataStoreResource
from mlops_assets.resources.object_store import ObjectStoreResource
from mlops_assets.resources.registry import RegistryResource
from mlops_assets.retraining.health import describe_accuracy
from mlops_assets.retraining.monitoring import DriftThresholds
from mlops_assets.retraining.watch import evaluate_champion

HISTORY = 60


class MonitorConfig(dg.Config):
    window_days: float = Field(
        default=MONITOR_WINDOW_DAYS,
        gt=0,
        description="Length of the window that ends at window_end (MLOPS_MONITOR_WINDOW_DAYS).",
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
    target_accuracy: float = Field(
        default=MIN_ACCURACY, description="Live accuracy the champion should keep."
    )
    input_drift_threshold: float = Field(
        default=INPUT_DRIFT_THRESHOLD,
        description="KS statistic (0..1) of a photo summary above which the inputs drifted "
        "(MLOPS_MONITOR_INPUT_DRIFT_THRESHOLD).",
    )
    prediction_drift_threshold: float = Field(
        default=PREDICTION_DRIFT_THRESHOLD,
        description="Total variation distance (0..1) of the predicted-label shares above which "
        "the predictions drifted (MLOPS_MONITOR_PREDICTION_DRIFT_THRESHOLD).",
    )
    drift_alpha: float = Field(
        default=DRIFT_ALPHA,
        description="Significance a drift test must also reach (MLOPS_MONITOR_DRIFT_ALPHA).",
    )

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


def latest_report(instance: dg.DagsterInstance) -> MonitorReport | None:
    """The newest `champion_monitor` report, from its materialization's metadata."""
    reports = report_history(instance, limit=1)
    return reports[-1] if reports else None


def report_history(instance: dg.DagsterInstance, limit: int = HISTORY) -> list[MonitorReport]:
    """The newest `limit` reports, oldest first."""
    records = instance.fetch_materializations(dg.AssetKey(CHAMPION_MONITOR), limit=limit).records
    reports = []
    for record in records:
        entry = record.asset_materialization.metadata.get("report")
        if entry is not None:
            reports.append(MonitorReport.model_validate(entry.value))
    return sorted(reports, key=lambda r: r.window_end)


def _number(value: float | None) -> dg.MetadataValue:
    # NaN plots as a gap in the UI's metadata chart where a value is missing.
    return dg.MetadataValue.float(float("nan") if value is None else value)


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
@dg.asset(key=CHAMPION_MONITOR, group_name=MONITORING_GROUP, kinds={"scipy"}, output_required=False)
def champion_monitor(
    context: dg.AssetExecutionContext,
    config: MonitorConfig,
    model_registry: RegistryResource,
    data_store: DataStoreResource,
    object_store: ObjectStoreResource,
) -> Iterator[dg.MaterializeResult]:
    """The serving champion on the newest window: live accuracy ± interval, input and
    prediction drift."""
    store = data_store.get_client()
    anchored = config.window_anchor == "newest_confirmed_task" and not config.window_end
    report = evaluate_champion(
        model_registry.get_client(),
        store,
        PredictionLog(object_store.get_client()),
        config.window(store.newest_confirmed_at() if anchored else None),
        config.thresholds(),
        config.target_accuracy,
    )
    if report is None:
        context.log.warning(
            "no @champion in the registry yet, nothing to monitor: run retrain_job once "
            "(or `make demo`)"
        )
        return
    context.log.info(describe_accuracy(report))
    yield dg.MaterializeResult(
        metadata=report_metadata(report, report_history(context.instance)),
        value=report,
    )
