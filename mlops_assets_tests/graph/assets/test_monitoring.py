"""champion_monitor on a real champion: trained by retrain_job, loaded from MLflow, judged on the
demo's months through the data store and the prediction log."""

import dagster as dg
import pandas as pd
import pytest

from mlops_assets.backends.prediction_log import PredictionLog
from mlops_assets.graph.assets.monitoring import latest_report
from mlops_assets_tests.support.photo_graph import PHOTO, node

pytestmark = pytest.mark.model


@pytest.fixture
def instance():
    with dg.DagsterInstance.ephemeral() as instance:
        yield instance


def monitor(definitions, instance, window_end: str):
    config = {"window_days": 30, "window_end": window_end}
    return definitions.resolve_job_def(PHOTO.monitor_job).execute_in_process(
        run_config={"ops": {node("champion_monitor"): {"config": config}}},
        instance=instance,
        raise_on_error=False,
    )


def checks_of(result) -> dict[str, tuple[bool, str]]:
    return {
        c.check_name: (c.passed, c.severity.value) for c in result.get_asset_check_evaluations()
    }


def test_champion_monitor_sees_the_new_camera_and_warns(
    definitions, backends, seeded_store, instance
):
    # No champion yet: nothing to monitor, nothing broken: a green run without a report.
    before = monitor(definitions, instance, "2025-01-31")
    assert before.success and not before.get_asset_materialization_events()
    first = definitions.resolve_job_def(PHOTO.retrain_job).execute_in_process(
        instance=instance, partition_key="2024-12-01"
    )
    assert first.success and backends.registry.champion().version == "1"

    # The month after the champion's holdout: same camera, same label mix.
    healthy = monitor(definitions, instance, "2025-01-31")
    assert healthy.success
    assert checks_of(healthy) == {
        "champion_accuracy_at_target": (True, "WARN"),
        "champion_drift_within_threshold": (True, "WARN"),
    }
    [event] = healthy.get_asset_materialization_events()
    metadata = event.materialization.metadata
    assert metadata["champion_version"].value == "1"
    assert metadata["confirmed_tasks"].value > 100 and metadata["live_accuracy"].value > 0.9
    assert metadata["drifted"].value == "none"
    assert "data:image/png;base64," in metadata["history_plot"].value
    assert metadata["reference"].value == "v1 on 2024-12, the month it was judged on"

    # Month 16 (2025-04): the new camera. Part of it was served and recorded with task ids.
    april = seeded_store.snapshot(
        since=pd.Timestamp("2025-04-01", tz="UTC"), until=pd.Timestamp("2025-05-01", tz="UTC")
    )
    served = april.head(60)
    PredictionLog(backends.object_store).write(
        pd.DataFrame(
            {
                "served_at": served["confirmed_at"],
                "model_version": "1",
                "label": served["label"],
                "confidence": 0.9,
                "task_id": served["task_id"],
                "mean_grey": 0.2,
                "grey_spread": 0.3,
                "ink_share": 0.1,
            }
        )
    )
    drifted = monitor(definitions, instance, "2025-05-01")
    assert drifted.success  # WARN checks do not fail the run
    assert checks_of(drifted)["champion_drift_within_threshold"] == (False, "WARN")
    report = latest_report(instance, PHOTO.champion_monitor)
    assert report.window_end == pd.Timestamp("2025-05-01", tz="UTC")
    assert report.accuracy.joined_served == 60 and report.served_predictions == 60
    assert any(t.drifted for t in report.drift if t.name.startswith("input:"))
