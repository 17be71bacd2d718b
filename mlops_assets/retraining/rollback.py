"""Rolling @champion back to the version it replaced, with the inference server following.

One use case behind `mlops-assets rollback`, the `rollback_champion` op and the deployment
step's compensation. No dagster import: the command should answer in well under two seconds,
and importing dagster alone takes longer than the rollback itself on a loaded machine.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from mlops_assets.backends.event_queue.base import EventQueue
from mlops_assets.backends.inference_client import DeploymentError, InferenceClient
from mlops_assets.backends.notifier import AlertDeliveryError, Notifier
from mlops_assets.backends.registry import RegistryClient
from mlops_assets.constants import CHAMPION_ALIAS
from mlops_assets.contracts.events import MODEL_EVENTS_QUEUE, ModelRolledBack
from mlops_assets.retraining import alerts


@dataclass(frozen=True)
class ChampionMoved:
    """The champion alias moved back: what a `ModelRolledBack` message carries."""

    model_name: str
    version: str
    previous_version: str
    reason: str
    server_following: bool | None


def roll_back_champion(
    registry: RegistryClient,
    server: InferenceClient,
    event_queue: EventQueue | None,
    reason: str,
    log: logging.Logger,
    server_reason: str | None = None,
    notifier: Notifier | None = None,
) -> ChampionMoved:
    """Moves @champion back, waits for the server to serve that version, announces it.

    Args:
        registry: the registry holding the alias.
        server: the inference server to bring back; an unconfigured one is left to its polling.
        event_queue: where `ModelRolledBack` goes; None publishes nothing.
        reason: why, kept in the decision history and carried by the event.
        log: a logger (Dagster's `context.log` is one).
        server_reason: what the server logs for its reload; default `reason`.
        notifier: where the rollback alert goes; None sends none.

    Returns:
        What moved; `server_following` is None without a server, False if it did not follow.

    Raises:
        ValueError: there is no champion or it has no recorded predecessor.
    """
    rolled_from, restored = registry.rollback(reason)
    moved = ChampionMoved(
        model_name=registry.model_name,
        version=restored,
        previous_version=rolled_from,
        reason=reason,
        server_following=_follow(log, server, restored, server_reason or reason),
    )
    on_champion_rolled_back(log, moved, event_queue, notifier)
    return moved


def on_champion_rolled_back(
    log: logging.Logger,
    moved: ChampionMoved,
    event_queue: EventQueue | None = None,
    notifier: Notifier | None = None,
) -> None:
    """Called after every rollback, compensation or on demand.

    Publishes `ModelRolledBack` (model name, version now serving, the version rolled back from,
    reason) on the model events queue and sends the rollback alert. A failed deployment also
    fails its run, which is where `PipelineFailed` comes from.
    """
    log.warning(
        f"champion rolled back: {moved.model_name} @{CHAMPION_ALIAS} v{moved.previous_version} "
        f"-> v{moved.version}; server following: {moved.server_following}; {moved.reason}"
    )
    if event_queue is not None:
        event = ModelRolledBack(
            model_name=moved.model_name,
            version=moved.version,
            previous_version=moved.previous_version,
            reason=moved.reason,
        )
        event_queue.publish(MODEL_EVENTS_QUEUE, [event])
    if notifier is not None:
        alert = alerts.rolled_back(
            moved.model_name, moved.version, moved.previous_version, moved.reason, datetime.now(UTC)
        )
        try:
            notifier.send(alert)
        except AlertDeliveryError as error:
            # The rollback itself succeeded; a dead alert channel must not undo or fail it.
            log.error(f"rollback alert not delivered: {error}")


def _follow(log: logging.Logger, server: InferenceClient, version: str, reason: str) -> bool | None:
    """Makes the server serve `version` after a rollback; None when no server is configured."""
    if not server.configured:
        return None
    try:
        server.deploy(version, reason)
    except DeploymentError as error:
        log.error(f"inference server did not come back to v{version}: {error}")
        return False
    return True
