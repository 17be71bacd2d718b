"""The retraining chain's automation conditions, evaluated over a real (ephemeral) instance:
an upstream promotion retrains the downstream model within one tick, a defended month or a
failed blocking check does not, nothing starts while an upstream run is in progress, and the
cadence requests the whole chain as one run of the latest month."""

import datetime as dt

import dagster as dg
import pytest
from dagster._core.definitions.automation_tick_evaluation_context import build_run_requests
from dagster._core.execution.api import create_execution_plan

from mlops_assets.graph.automation import retrain_reason
from mlops_assets.graph.model_names import ModelNames
from mlops_assets_tests.support.automation_fleet import (
    automated_fleet,
    champion_run_config,
    spec,
)

UP, DOWN = ModelNames("up"), ModelNames("down")
MONTH = "2026-03-01"
# Between two of the cadence's ticks (02:00): only an upstream change can trigger.
QUIET = dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC)
DAILY = "0 2 * * *"
# The upstream never reaches its own cadence in these tests.
YEARLY = "0 0 1 1 *"


def defs_spec(name: str):
    return spec(name, ["up"] if name == "down" else [])


@pytest.fixture
def defs() -> dg.Definitions:
    return automated_fleet([spec("up", cadence=YEARLY), spec("down", ["up"], cadence=DAILY)])


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:
        yield instance


class Ticks:
    """Successive automation ticks over one instance, the cursor carried between them."""

    def __init__(self, defs: dg.Definitions, instance: dg.DagsterInstance):
        self.defs, self.instance, self.cursor = defs, instance, None

    def tick(self, at: dt.datetime) -> dg.AutomationResult:
        result = dg.evaluate_automation_conditions(
            defs=self.defs, instance=self.instance, cursor=self.cursor, evaluation_time=at
        )
        self.cursor = result.cursor
        return result

    def requested(self, at: dt.datetime, model: ModelNames) -> set[str]:
        """The partitions of `model`'s training_data the tick at `at` requested."""
        return set(self.tick(at).get_requested_partitions(model.training_data))


def run_requests(defs, result) -> list[dg.RunRequest]:
    """The runs the automation sensor launches for a tick's requests (one partition of several
    assets: one run; no backfill)."""
    subsets = result._requested_subsets  # noqa: SLF001 (what the sensor hands to the daemon)
    return build_run_requests(subsets, defs.resolve_asset_graph(), None, emit_backfills=False)


def run_chain(defs, instance, model: str, month=MONTH, **champion) -> dg.ExecuteInProcessResult:
    """Materializes `model`'s five stages for `month`; champion_model settles as `champion`."""
    keys = ModelNames(model).retraining_keys
    config = champion_run_config(model, **champion) if champion else None
    job = defs.resolve_implicit_global_asset_job_def().get_subset(asset_selection=set(keys))
    return job.execute_in_process(
        instance=instance, partition_key=month, run_config=config, raise_on_error=False
    )


def trained_downstream_on_v1(defs, instance) -> Ticks:
    """The upstream promoted v1, the downstream trained on it; the first tick has run."""
    run_chain(defs, instance, "up", version="1", previous="none")
    run_chain(defs, instance, "down")
    ticks = Ticks(defs, instance)
    assert ticks.requested(QUIET, DOWN) == set()
    return ticks


def test_an_upstream_promotion_retrains_the_downstream_on_the_next_tick(defs, instance):
    ticks = trained_downstream_on_v1(defs, instance)
    run_chain(defs, instance, "up", version="2", previous="1")
    result = ticks.tick(QUIET + dt.timedelta(seconds=30))
    # The downstream chain, as one run of the latest month; nothing of the upstream.
    (request,) = run_requests(defs, result)
    assert set(request.asset_selection) == set(DOWN.retraining_keys)
    assert request.partition_key == MONTH
    (root,) = (r for r in result.results if r.key == DOWN.training_data)
    assert retrain_reason(root, defs_spec("down"), instance) == "upstream up v1→v2"
    # Answered once: no second request while nothing new happened.
    assert ticks.requested(QUIET + dt.timedelta(seconds=60), DOWN) == set()


@pytest.mark.parametrize("previous", ["1"], ids=["defended or rejected"])
def test_an_upstream_month_that_keeps_its_champion_does_not_retrain(defs, instance, previous):
    ticks = trained_downstream_on_v1(defs, instance)
    run_chain(defs, instance, "up", version="1", previous=previous)
    assert ticks.requested(QUIET + dt.timedelta(seconds=30), DOWN) == set()


def test_a_failed_blocking_check_upstream_stops_the_automatic_run(defs, instance):
    ticks = trained_downstream_on_v1(defs, instance)
    run_chain(defs, instance, "up", version="2", previous="1", passes=False)
    result = ticks.tick(QUIET + dt.timedelta(seconds=30))
    assert result.get_requested_partitions(DOWN.training_data) == set()
    assert "any_deps_check_failed" in true_labels(result, DOWN.training_data)
    # Once the champion's check passes again, the waiting promotion goes through.
    run_chain(defs, instance, "up", version="2", previous="2")
    assert ticks.requested(QUIET + dt.timedelta(seconds=60), DOWN) == {MONTH}


def test_nothing_starts_while_an_upstream_run_is_in_progress(defs, instance):
    ticks = trained_downstream_on_v1(defs, instance)
    run_chain(defs, instance, "up", version="2", previous="1")
    # A second upstream run of the month, planned and not finished.
    in_progress = plan_run(defs, instance, UP.retraining_keys)
    result = ticks.tick(QUIET + dt.timedelta(seconds=30))
    assert result.get_requested_partitions(DOWN.training_data) == set()
    assert "any_deps_busy" in true_labels(result, DOWN.training_data)
    instance.report_run_canceled(in_progress)
    # The promotion waited: the next good upstream month (defended) lets it through.
    run_chain(defs, instance, "up", version="2", previous="2")
    assert ticks.requested(QUIET + dt.timedelta(seconds=60), DOWN) == {MONTH}


def true_labels(result, key: dg.AssetKey) -> set[str]:
    """The labels of the conditions in `key`'s tree that were true for some partition."""
    (root,) = (r for r in result.results if r.key == key)
    labels, stack = set(), [root]
    while stack:
        node = stack.pop()
        stack.extend(node.child_results)
        label = node.condition.get_label() or node.condition.name
        if not node.true_subset.is_empty:
            labels.add(label)
    return labels


def plan_run(defs, instance, keys) -> dg.DagsterRun:
    """A run of `keys` for MONTH that is created (its materializations planned) and not ended."""
    job = defs.resolve_implicit_global_asset_job_def().get_subset(asset_selection=set(keys))
    plan = create_execution_plan(job, tags={"dagster/partition": MONTH})
    return instance.create_run_for_job(
        job_def=job,
        execution_plan=plan,
        tags={"dagster/partition": MONTH},
        asset_selection=frozenset(keys),
    )


def test_the_cadence_requests_the_chain_when_the_upstream_has_not_updated(defs, instance):
    ticks = trained_downstream_on_v1(defs, instance)
    after_tick = dt.datetime(2026, 3, 11, 2, 1, tzinfo=dt.UTC)
    result = ticks.tick(after_tick)
    # The downstream's own 02:00 tick, its latest month only, although the upstream (yearly)
    # has not updated since that tick.
    (request,) = run_requests(defs, result)
    assert set(request.asset_selection) == set(DOWN.retraining_keys)
    assert request.partition_key == MONTH
    assert "upstream_champion_moved" not in true_labels(result, DOWN.training_data)
    (root,) = (r for r in result.results if r.key == DOWN.training_data)
    assert retrain_reason(root, defs_spec("down"), instance) == "cadence"
    assert ticks.requested(after_tick + dt.timedelta(seconds=30), DOWN) == set()


def test_the_cadence_does_not_wait_for_an_upstream_month_not_run_yet(defs, instance):
    # The upstream's champion comes from February; its March partition does not exist yet.
    run_chain(defs, instance, "up", month="2026-02-01", version="1", previous="none")
    run_chain(defs, instance, "down", month="2026-02-01")
    ticks = Ticks(defs, instance)
    assert ticks.requested(QUIET, DOWN) == set()
    assert ticks.requested(dt.datetime(2026, 3, 11, 2, 1, tzinfo=dt.UTC), DOWN) == {MONTH}


def test_a_downstream_waits_for_an_upstream_that_never_ran(defs, instance):
    # Dagster issue #34094: no parent partition exists. The upstream has no champion, so the
    # downstream has nothing to build on and does not start.
    ticks = Ticks(defs, instance)
    assert ticks.requested(dt.datetime(2026, 3, 10, 1, 59, tzinfo=dt.UTC), DOWN) == set()
    result = ticks.tick(dt.datetime(2026, 3, 10, 2, 1, tzinfo=dt.UTC))
    assert result.get_requested_partitions(DOWN.training_data) == set()
    assert "upstream_champions_serve" not in true_labels(result, DOWN.training_data)
    # Its first upstream champion then retrains it (the pending cadence tick, or the move).
    run_chain(defs, instance, "up", version="1", previous="none")
    assert ticks.requested(dt.datetime(2026, 3, 10, 2, 2, tzinfo=dt.UTC), DOWN) == {MONTH}


def test_a_promotion_made_before_the_first_tick_is_still_seen(defs, instance):
    # Dagster issue #28943: materializations before the sensor's first evaluation.
    run_chain(defs, instance, "up", version="1", previous="none")
    run_chain(defs, instance, "down")
    run_chain(defs, instance, "up", version="2", previous="1")
    assert Ticks(defs, instance).requested(QUIET, DOWN) == {MONTH}


def test_a_failed_downstream_run_is_not_relaunched_every_tick(defs, instance):
    ticks = trained_downstream_on_v1(defs, instance)
    run_chain(defs, instance, "up", version="2", previous="1")
    assert ticks.requested(QUIET + dt.timedelta(seconds=30), DOWN) == {MONTH}
    # The requested run failed before training_data recorded v2: still "moved", not asked again.
    for tick in range(2, 5):
        assert ticks.requested(QUIET + dt.timedelta(seconds=30 * tick), DOWN) == set()
    # A newer upstream champion asks again.
    run_chain(defs, instance, "up", version="3", previous="2")
    assert ticks.requested(QUIET + dt.timedelta(seconds=150), DOWN) == {MONTH}


def test_a_model_without_upstream_retrains_on_its_cadence_only(instance):
    defs = automated_fleet([spec("solo", cadence=DAILY)])
    solo = ModelNames("solo")
    ticks = Ticks(defs, instance)
    assert ticks.requested(dt.datetime(2026, 3, 10, 1, tzinfo=dt.UTC), solo) == set()
    assert ticks.requested(dt.datetime(2026, 3, 10, 2, 1, tzinfo=dt.UTC), solo) == {MONTH}
    assert ticks.requested(dt.datetime(2026, 3, 10, 2, 2, tzinfo=dt.UTC), solo) == set()


def test_the_shipped_fleet_retrains_confirmation_risk_when_task_photos_promotes(instance):
    from mlops_assets.definitions import defs

    risk, photos, faces = (
        ModelNames(m) for m in ("confirmation_risk", "task_photos", "face_verifier")
    )

    def champion(model: ModelNames, version: str, previous: str) -> None:
        metadata = {"champion_version": version, "previous_champion_version": previous}
        event = dg.AssetMaterialization(model.champion_model, partition=MONTH, metadata=metadata)
        instance.report_runless_asset_event(event)

    champion(photos, "4", "3")
    champion(faces, "2", "1")
    recorded = {"upstream_task_photos_version": "4", "upstream_face_verifier_version": "2"}
    instance.report_runless_asset_event(
        dg.AssetMaterialization(risk.training_data, partition=MONTH, metadata=recorded)
    )
    ticks = Ticks(defs, instance)
    assert ticks.requested(QUIET, risk) == set()
    champion(faces, "2", "2")  # defended
    assert ticks.requested(QUIET + dt.timedelta(seconds=30), risk) == set()
    champion(photos, "5", "4")  # promoted
    (request,) = run_requests(defs, ticks.tick(QUIET + dt.timedelta(seconds=60)))
    assert set(request.asset_selection) == set(risk.retraining_keys)
    assert request.partition_key == MONTH
