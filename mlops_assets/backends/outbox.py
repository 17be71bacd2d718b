"""The champion outbox: events and alerts of an alias move, kept in the registry until delivered.

A move writes its `ModelRolledBack` event and its alert as tags on the version it moved to
(`outbox/<transition id>/event`, `.../alert`), under the champion lock right after the move, so
a broker or alert channel that is down delays them and loses none. `drain` publishes what is
pending and deletes each tag once the broker confirmed it (or the notifier delivered it); a
crash between the two publishes again, and consumers dedupe on the event id, the notifier on
the alert key. Drains run right after every move, at the start of every `mlops-assets rollback`,
on `mlops-assets outbox`, and on every tick of each model's `<model>_champion_outbox_sensor`
(each minute). No dagster import.
"""

import json
import logging
from dataclasses import asdict, dataclass

from mlflow.tracking import MlflowClient

from mlops_assets.backends.event_queue.base import EventQueue
from mlops_assets.backends.mlflow_filters import filter_value
from mlops_assets.backends.notifier import Alert, Notifier
from mlops_assets.contracts.events import Event

OUTBOX_TAG_PREFIX = "outbox/"

# (kind, JSON payload): what `put` writes for one delivery.
Entry = tuple[str, str]


@dataclass(frozen=True)
class Drained:
    """What one drain delivered and what is still pending (their tag keys)."""

    delivered: tuple[str, ...]
    pending: tuple[str, ...]


def event_entry(queue: str, event: Event) -> Entry:
    """An event to publish on `queue` (its id travels with it, so a re-publish is a duplicate)."""
    return "event", json.dumps({"queue": queue, "body": event.to_json().decode()})


def alert_entry(alert: Alert) -> Entry:
    """An alert to send (its dedup key travels with it)."""
    return "alert", json.dumps(asdict(alert))


def put(
    client: MlflowClient, model_name: str, version: str, transition: str, entries: list[Entry]
) -> None:
    """Writes the entries of one transition as tags on `version`."""
    for kind, payload in entries:
        key = f"{OUTBOX_TAG_PREFIX}{transition}/{kind}"
        client.set_model_version_tag(model_name, version, key, payload)


def pending(client: MlflowClient, model_name: str) -> list[tuple[str, str, str]]:
    """Every pending entry as (version, tag key, payload), in key order."""
    found = []
    for version in client.search_model_versions(f"name={filter_value(model_name)}"):
        for key, value in (version.tags or {}).items():
            if key.startswith(OUTBOX_TAG_PREFIX):
                found.append((str(version.version), key, value))
    return sorted(found, key=lambda item: item[1])


def drain(
    client: MlflowClient,
    model_name: str,
    event_queue: EventQueue | None,
    notifier: Notifier | None,
    log: logging.Logger,
) -> Drained:
    """Delivers what is pending; an entry whose sink is missing or down stays for a later drain.

    Returns:
        The keys delivered now and the keys still pending.
    """
    delivered, left = [], []
    for version, key, value in pending(client, model_name):
        payload = json.loads(value)
        try:
            if key.endswith("/event") and event_queue is not None:
                event_queue.publish_bodies(payload["queue"], [payload["body"].encode()])
            elif key.endswith("/alert") and notifier is not None:
                notifier.send(Alert(**payload))
            else:
                left.append(key)
                continue
        # Whatever the broker or channel raised, the entry stays pending and the move stands.
        except Exception as error:  # noqa: BLE001
            log.warning(f"outbox: {key} not delivered yet: {type(error).__name__}: {error}")
            left.append(key)
            continue
        client.delete_model_version_tag(model_name, version, key)
        delivered.append(key)
    return Drained(tuple(delivered), tuple(left))
