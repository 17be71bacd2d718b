"""Rolling @champion back to the version it replaced, with the inference server following.

One use case behind `mlops-assets rollback`, the `rollback_champion` op and the deployment
step's compensation. No dagster import: the command should answer in well under two seconds,
and importing dagster alone takes longer than the rollback itself on a loaded machine.
"""

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from mlops_assets.backends import outbox
from mlops_assets.backends.event_queue.base import EventQueue
from mlops_assets.backends.inference_server import DeploymentError, InferenceServerClient
from mlops_assets.backends.notifier import Notifier
from mlops_assets.backends.registry import RegistryClient
from mlops_assets.constants import CHAMPION_ALIAS, PHOTO_MODEL
from mlops_assets.contracts.events import MODEL_EVENTS_QUEUE, ModelRolledBack
from mlops_assets.retraining import alerts


@dataclass(frozen=True)
class ChampionMoved:
    """The champion alias moved back: what a `ModelRolledBack` message carries, the move's id,
    and the outbox entries still waiting for their broker or channel."""

    model_name: str
    version: str
    previous_version: str
    reason: str
    server_following: bool | None
    transition: str = ""
    pending: tuple[str, ...] = ()


def roll_back_champion(
    registry: RegistryClient,
    inference_server: InferenceServerClient,
    event_queue: EventQueue | None,
    reason: str,
    log: logging.Logger,
    server_reason: str | None = None,
    notifier: Notifier | None = None,
    expected: str | None = None,
    transition: str | None = None,
    model: str = PHOTO_MODEL,
    route: str | None = None,
) -> ChampionMoved:
    """Moves @champion back, waits for the server to serve that version, announces it.

    The move is a compare-and-set under the champion lock; `ModelRolledBack` and the rollback
    alert are written to the outbox with it and delivered after it, so a broker that is down
    delays them and the move still stands (`pending` names what waits).

    Args:
        registry: the registry holding the alias.
        inference_server: the server to bring back; an unconfigured one is left to its polling.
        event_queue: where `ModelRolledBack` goes; None publishes nothing.
        reason: why, kept in the decision history and carried by the event.
        log: a logger (Dagster's `context.log` is one).
        server_reason: what the server logs for its reload; default `reason`.
        notifier: where the rollback alert goes; None sends none.
        expected: the version being rolled back from; None takes whatever serves now.
        transition: the move's id (default a new request id); the same id moves once.
        model: the fleet model (its spec's name) whose serving the server reloads.
        route: its serving route (the spec's `serving_route`), when not `/models/<model>`.

    Returns:
        What moved; `server_following` is None without a server, False if it did not follow.

    Raises:
        ValueError: there is no champion or it has no recorded predecessor.
        ChampionConflict: @champion is not `expected`.
    """
    transition = transition or f"rollback-{uuid.uuid4().hex}"
    registered = registry.model_name

    def announce(rolled_from: str, restored: str) -> list[outbox.Entry]:
        entries = []
        if event_queue is not None:
            event = ModelRolledBack(
                model_name=registered, version=restored, previous_version=rolled_from, reason=reason
            )
            entries.append(outbox.event_entry(MODEL_EVENTS_QUEUE, event))
        if notifier is not None:
            at = datetime.now(UTC)
            entries.append(
                outbox.alert_entry(
                    alerts.rolled_back(registered, restored, rolled_from, reason, at)
                )
            )
        return entries

    rolled_from, restored = registry.rollback(reason, expected, transition, announce)
    following = _follow(log, inference_server, restored, server_reason or reason, model, route)
    log.warning(
        f"champion rolled back: {registered} @{CHAMPION_ALIAS} v{rolled_from} -> v{restored}; "
        f"server following: {following}; {reason}"
    )
    drained = outbox.drain(registry.client(), registered, event_queue, notifier, log)
    return ChampionMoved(
        model_name=registered,
        version=restored,
        previous_version=rolled_from,
        reason=reason,
        server_following=following,
        transition=transition,
        pending=drained.pending,
    )


def _follow(
    log: logging.Logger,
    inference_server: InferenceServerClient,
    version: str,
    reason: str,
    model: str,
    route: str | None,
) -> bool | None:
    """Makes the server serve `version` after a rollback; None when no server is configured."""
    if not inference_server.configured:
        return None
    try:
        inference_server.deploy(version, reason, model, route)
    except DeploymentError as error:
        log.error(f"inference server did not come back to v{version}: {error}")
        return False
    return True
