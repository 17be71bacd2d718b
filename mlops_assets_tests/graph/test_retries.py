"""The steps before the decision retry external failures; the steps after it never retry."""

from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa
import yaml

from mlops_assets.constants import (
    CHAMPION_MODEL,
    DEPLOYMENT,
    TRAINED_MODEL,
    TRAINING_DATA,
    VERIFICATION_REPORT,
)
from mlops_assets.contracts.fleet import load_fleet
from mlops_assets.definitions import build_definitions
from mlops_assets.graph.assets.dataset import SNAPSHOT_IO_MANAGER, training_data_asset
from mlops_assets.graph.retries import external_step_retry_policy
from mlops_assets_tests.support.photo_graph import PHOTO, node

SPEC = load_fleet().model("task_photos")

MONTH = "2024-12-01"
DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


class FlakyStore:
    """The real data store behind a connection that refuses the first `failures` reads."""

    def __init__(self, store, failures: int):
        self._store = store
        self.failures_left = failures
        self.reads = 0

    def high_water_mark(self) -> int:
        self.reads += 1
        if self.failures_left:
            self.failures_left -= 1
            raise sa.exc.OperationalError("SELECT max(seq)", {}, ConnectionRefusedError(111))
        return self._store.high_water_mark()

    def __getattr__(self, name):
        return getattr(self._store, name)


class FlakyStoreResource:
    """Stands in for `DataStoreResource`: hands out the flaky store."""

    def __init__(self, store: FlakyStore):
        self.store = store

    def get_client(self) -> FlakyStore:
        return self.store


def _materialize(flaky: FlakyStore, resources: dict, max_retries: int) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [training_data_asset(SPEC, external_step_retry_policy(max_retries, delay_s=0))],
        partition_key=MONTH,
        resources={
            "data_store": FlakyStoreResource(flaky),
            "object_store": resources["object_store"],
            SNAPSHOT_IO_MANAGER: resources[SNAPSHOT_IO_MANAGER],
        },
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


def _count(result: dg.ExecuteInProcessResult, event_type: dg.DagsterEventType) -> int:
    return sum(1 for e in result.all_events if e.event_type == event_type)


def test_a_store_that_fails_twice_then_answers_is_retried_to_success(seeded_store, resources):
    flaky = FlakyStore(seeded_store, failures=2)
    result = _materialize(flaky, resources, max_retries=3)
    assert result.success
    assert flaky.reads == 3
    assert _count(result, dg.DagsterEventType.STEP_UP_FOR_RETRY) == 2
    snapshot = result.output_for_node(node("training_data"))
    assert snapshot.high_water_mark == seeded_store.high_water_mark()


def test_a_store_that_stays_down_fails_the_run_after_the_retries(seeded_store, resources):
    flaky = FlakyStore(seeded_store, failures=10)
    result = _materialize(flaky, resources, max_retries=3)
    assert not result.success
    assert flaky.reads == 4
    assert _count(result, dg.DagsterEventType.STEP_FAILURE) == 1


def test_default_policy_is_three_retries_five_minutes_apart_with_backoff():
    policy = external_step_retry_policy()
    assert (policy.max_retries, policy.delay, policy.backoff) == (3, 300, dg.Backoff.LINEAR)
    assert [policy.calculate_delay(n) for n in (1, 2, 3)] == [300, 600, 900]


@pytest.mark.parametrize(
    ("asset", "retries"),
    [
        (TRAINING_DATA, 3),
        (TRAINED_MODEL, 3),
        (VERIFICATION_REPORT, None),
        (CHAMPION_MODEL, None),
        (DEPLOYMENT, None),
    ],
)
def test_only_the_steps_before_the_decision_retry(settings, asset, retries):
    policy = build_definitions(settings).resolve_assets_def(PHOTO.key(asset)).op.retry_policy
    assert (policy.max_retries if policy else None) == retries
    if policy:
        assert policy.delay == settings.retry_delay_s


def test_the_instance_retries_runs_whose_process_died():
    for name in ("dagster-local.yaml", "dagster.yaml"):
        config = yaml.safe_load((DEPLOY / name).read_text())
        assert config["run_retries"]["enabled"] is True
        assert config["run_retries"]["retry_on_asset_or_op_failure"] is False
