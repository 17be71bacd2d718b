"""The face verifier's replay through the event path on the embedded defaults."""

import dagster as dg
import pytest

from mlops_assets.backends import factory
from mlops_assets.backends.record_tables import FACE_RECORDS
from mlops_assets.definitions import build_definitions
from mlops_assets.demo.commands import deliver_events
from mlops_assets.demo.face_replay import (
    face_summary,
    face_table_markdown,
    run_face_replay,
)
from mlops_assets.demo.face_source import FaceScenario
from mlops_assets.demo.source import Scenario
from mlops_assets.retraining.replication import FACE_EVENTS

pytestmark = pytest.mark.model

# Three synthetic months: the first only delivers, the next two retrain.
SCENARIO = FaceScenario(calendar=Scenario(months=3))


def test_the_replay_publishes_each_month_and_decides_by_the_gates(settings):
    store, queue = factory.data_store(settings), factory.event_queue(settings)
    try:
        with dg.DagsterInstance.ephemeral() as instance:
            results = run_face_replay(
                build_definitions(settings),
                instance,
                SCENARIO,
                deliver=lambda events: deliver_events(queue, store, events, FACE_EVENTS),
                first_month=2,
                run_config={
                    "ops": {
                        "face_verifier__verification_report": {"config": {"latency_samples": 20}}
                    }
                },
            )
        stored = store.count(table=FACE_RECORDS)
    finally:
        queue.close()
        store.close()
    per_month = SCENARIO.identities_per_month * SCENARIO.vectors_per_identity
    assert stored == 3 * per_month
    assert [r.month for r in results] == ["2024-02-01", "2024-03-01"]
    first, second = results
    assert first.decision == "promoted" and first.champion_after == first.challenger_version
    assert second.champion_before == first.challenger_version
    assert second.decision in ("promoted", "defended", "rejected")
    expected = second.challenger_version if second.decision == "promoted" else first.champion_after
    assert second.champion_after == expected
    table = face_table_markdown(results)
    assert table.count("\n") == 3 and "TAR@FAR" in table
    assert face_summary(results)["final_champion"] == second.champion_after
