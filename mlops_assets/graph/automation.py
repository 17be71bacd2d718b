"""Declarative automation of each model's retraining chain: its cadence, and for a model with
upstream models, a new upstream champion.

The chain's root (`training_data`) carries the reason to run; every later stage follows when
its parent in the chain is requested on the same tick, so one tick requests the whole chain as
one run of one partition (the latest month). One automation sensor per model group evaluates
them; it runs in the code server because "an upstream champion moved" is Python
(`UpstreamChampionMoved`).

Why not `data_version_changed()` on the upstream `champion_model`: in Dagster 1.13 it is true on
any new materialization (the queryer's data-version comparison is disabled), and
`champion_model` materializes for every decided month, defended and rejected included.
"""

import json
from collections.abc import Callable

import dagster as dg

from mlops_assets.contracts.model_spec import ModelSpec
from mlops_assets.graph.model_names import ModelNames, upstream_version_key

# How often each automation sensor evaluates its group (Dagster's default).
AUTOMATION_INTERVAL_S = 30


def recorded_version(value: object) -> str | None:
    """A recorded champion version as plain text ("3"), or None for none recorded."""
    text = str(getattr(value, "value", value) or "").strip().removeprefix("v")
    return None if text in ("", "none", "None") else text


# An asset's newest materialization (any partition), or None: the instance's
# `get_latest_materialization_event`, or `_tick_latest` during an evaluation.
Latest = Callable[[dg.AssetKey], dg.EventLogEntry | None]


def _tick_latest(context: dg.AutomationContext) -> Latest:
    """The newest materializations as the tick's asset records hold them: the evaluator
    fetches the records of every evaluated asset and its parents in one query and caches them
    for the tick, where `instance.get_latest_materialization_event` queries once per call."""
    queryer = context.asset_graph_view.get_inner_queryer_for_back_compat()

    def latest(key: dg.AssetKey) -> dg.EventLogEntry | None:
        record = queryer.get_asset_record(key)
        return record.asset_entry.last_materialization if record else None

    return latest


def _latest_metadata(latest: Latest, key: dg.AssetKey) -> dict:
    event = latest(key)
    materialization = event.asset_materialization if event else None
    return dict(materialization.metadata) if materialization else {}


class _UpstreamChampions(dg.AutomationCondition):
    """Reads the upstream models' champions from their newest `champion_model` materialization
    (any month: a defended or rejected month repeats the same `champion_version`)."""

    def __init__(self, model: str, upstream: tuple[str, ...]):
        self._model = model
        self._upstream = tuple(upstream)

    def current_versions(self, latest: Latest) -> dict[str, str]:
        """Each upstream model's newest champion version (models without one left out)."""
        versions = {}
        for name in self._upstream:
            metadata = _latest_metadata(latest, ModelNames(name).champion_model)
            version = recorded_version(metadata.get("champion_version"))
            if version is not None:
                versions[name] = version
        return versions


class UpstreamChampionsServe(_UpstreamChampions):
    """True when every upstream model has a champion: without one there is nothing to build
    the features on, so the model's cadence waits for it."""

    @property
    def name(self) -> str:
        return "upstream_champions_serve"

    @property
    def description(self) -> str:
        return f"{', '.join(self._upstream)} each have a champion"

    @property
    def requires_cursor(self) -> bool:
        return False

    def evaluate(self, context: dg.AutomationContext) -> dg.AutomationResult:
        serving = self.current_versions(_tick_latest(context))
        true = set(serving) == set(self._upstream)
        subset = context.candidate_subset if true else context.get_empty_subset()
        return dg.AutomationResult(context=context, true_subset=subset)


class UpstreamChampionMoved(_UpstreamChampions):
    """True for the candidate when an upstream model's newest champion is one the model's
    newest `training_data` was not built on, and no earlier request already answered it.

    It compares the upstream's newest `champion_version` with the `upstream_<name>_version`
    entries of the model's newest `training_data`. Its cursor keeps the upstream versions it
    saw on the previous tick and those a request already answered, so a run that fails is not
    relaunched every tick (only a newer upstream champion, or the cadence, asks again), and a
    promotion made before the sensor's first tick is still seen (Dagster issue #28943).
    """

    @property
    def name(self) -> str:
        return "upstream_champion_moved"

    @property
    def description(self) -> str:
        return f"a new champion of {', '.join(self._upstream)} not yet trained on"

    def recorded_versions(self, latest: Latest) -> dict[str, str | None]:
        """The upstream versions the model's newest `training_data` recorded."""
        metadata = _latest_metadata(latest, ModelNames(self._model).training_data)
        return {
            name: recorded_version(metadata.get(upstream_version_key(name)))
            for name in self._upstream
        }

    def evaluate(self, context: dg.AutomationContext) -> dg.AutomationResult:
        latest = _tick_latest(context)
        state = json.loads(context.cursor) if context.cursor else {}
        handled = state.get("handled")
        previous = context.get_previous_requested_subset(context.key)
        if previous is not None and not previous.is_empty:
            # Whatever requested the chain last tick ran it on the champions seen then.
            handled = state.get("seen")
        current = self.current_versions(latest)
        recorded = self.recorded_versions(latest)
        moved = any(recorded[name] != version for name, version in current.items())
        true = moved and current != handled
        return dg.AutomationResult(
            context=context,
            true_subset=context.candidate_subset if true else context.get_empty_subset(),
            cursor=json.dumps({"seen": current, "handled": handled}, sort_keys=True),
        )


def _true_nodes(result: dg.AutomationResult):
    stack = [result]
    while stack:
        node = stack.pop()
        stack.extend(node.child_results)
        if not node.true_subset.is_empty:
            yield node


def retrain_reason(
    result: dg.AutomationResult, model: ModelSpec, instance: dg.DagsterInstance
) -> str | None:
    """Why the evaluation `result` of `model`'s `training_data` requests its chain, read before
    the run: "upstream task_photos v4→v5", "cadence", both, or None (not requested).

    The demo's "retrained because" column and a person reading a tick use it."""
    if result.true_subset.is_empty:
        return None
    reasons = []
    for node in _true_nodes(result):
        condition = node.condition
        if isinstance(condition, UpstreamChampionMoved):
            latest = instance.get_latest_materialization_event
            recorded = condition.recorded_versions(latest)
            moves = [
                f"{name} v{recorded[name] or '–'}→v{version}"
                for name, version in condition.current_versions(latest).items()
                if recorded[name] != version
            ]
            reasons.append("upstream " + ", ".join(moves))
        elif (condition.get_label() or "").startswith("on_cron("):
            reasons.append("cadence")
    return "; ".join(sorted(set(reasons))) or None


def chain_root_condition(model: ModelSpec, timezone: str) -> dg.AutomationCondition:
    """`training_data`'s condition: the cadence or a new upstream champion, in the latest
    month, when every upstream model has a champion, no upstream run is in progress or about
    to start, no upstream blocking check failed, and the model's own chain is not running."""
    upstream = dg.AssetSelection.assets(*(ModelNames(u).champion_model for u in model.upstream))
    # on_cron waits for every dependency to update after the tick: the upstream champions
    # move on their own cadences, so they must not hold this one back.
    reason = dg.AutomationCondition.on_cron(model.cadence, timezone).ignore(upstream)
    if model.upstream:
        names = (model.name, tuple(model.upstream))
        reason = (
            dg.AutomationCondition.in_latest_time_window()
            & (reason | UpstreamChampionMoved(*names))
            & UpstreamChampionsServe(*names)
        )
    busy = dg.AutomationCondition.in_progress() | dg.AutomationCondition.will_be_requested()
    # A failed check stops the run; one not run yet (an upstream that has not reached this
    # month) does not: all_deps_blocking_checks_passed() would stall the cadence on it.
    failed = dg.AutomationCondition.any_checks_match(
        dg.AutomationCondition.check_failed(), blocking_only=True
    )
    return (
        reason
        & ~dg.AutomationCondition.any_deps_match(busy).with_label("any_deps_busy")
        & ~dg.AutomationCondition.any_deps_match(failed).with_label("any_deps_check_failed")
        & ~dg.AutomationCondition.in_progress()
    ).with_label(f"retrain {model.name}")


def chain_member_condition(model: ModelSpec) -> dg.AutomationCondition:
    """A later stage's condition: requested with its parent in the model's own chain."""
    chain = dg.AssetSelection.assets(*ModelNames(model.name).retraining_keys)
    return (
        dg.AutomationCondition.any_deps_match(dg.AutomationCondition.will_be_requested())
        .allow(chain)
        .with_label("chain parent requested")
    )


def retraining_conditions(model: ModelSpec, timezone: str) -> dict[dg.AssetKey, object]:
    """Each retraining stage's condition, by asset key."""
    names = ModelNames(model.name)
    root, *members = names.retraining_keys
    return {
        root: chain_root_condition(model, timezone),
        **{key: chain_member_condition(model) for key in members},
    }


def automate(defs: dg.Definitions, models: list[ModelSpec], timezone: str) -> dg.Definitions:
    """`defs` with every model's retraining conditions on its assets and one automation sensor
    per model group (running by default)."""
    conditions = {}
    for model in models:
        conditions.update(retraining_conditions(model, timezone))

    def with_condition(spec: dg.AssetSpec) -> dg.AssetSpec:
        condition = conditions.get(spec.key)
        return (
            spec if condition is None else spec.replace_attributes(automation_condition=condition)
        )

    sensors = dg.Definitions(sensors=[automation_sensor_for(model) for model in models])
    return dg.Definitions.merge(defs.map_asset_specs(func=with_condition), sensors)


def automation_sensor_for(model: ModelSpec) -> dg.AutomationConditionSensorDefinition:
    """`<model>_automation_sensor`: evaluates the model group's conditions in the code server."""
    moves = f" and when {', '.join(model.upstream)} promote a new champion"
    return dg.AutomationConditionSensorDefinition(
        ModelNames(model.name).automation_sensor,
        target=dg.AssetSelection.groups(model.name),
        default_status=dg.DefaultSensorStatus.RUNNING,
        use_user_code_server=True,
        # One partition of a chain per trigger: one run, never a backfill.
        emit_backfills=False,
        minimum_interval_seconds=AUTOMATION_INTERVAL_S,
        description=f"Retrains {model.name} on its cadence ({model.cadence})"
        + (moves if model.upstream else ""),
    )
