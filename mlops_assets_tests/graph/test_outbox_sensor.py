"""champion_outbox_sensor delivers what a champion move left pending, once, and requests no run."""

import logging

import dagster as dg

from mlops_assets.backends import factory, outbox
from mlops_assets.backends.inference_server import InferenceServerClient
from mlops_assets.contracts.events import MODEL_EVENTS_QUEUE, ModelRolledBack, parse_event
from mlops_assets.contracts.fleet import load_fleet
from mlops_assets.graph.outbox_sensor import champion_outbox_sensor_for
from mlops_assets.retraining.rollback import roll_back_champion
from mlops_assets.tools import processes
from mlops_assets_tests.support.photo_graph import REGISTRY
from mlops_assets_tests.support.registry import register


def tick(instance, resources: dict):
    with dg.build_sensor_context(instance=instance, resources=resources) as context:
        return champion_outbox_sensor_for(load_fleet().model("task_photos"))(context)


def test_the_sensor_publishes_a_rollback_event_left_while_the_broker_was_down(
    resources, settings, tmp_path
):
    registry = resources["model_registry"].get_client(REGISTRY)
    for version in register(registry, tmp_path, 2):
        registry.promote(version, f"v{version}")
    down = factory.event_queue_for(
        f"amqp://guest:guest@{processes.HOST}:{processes.free_port()}/%2F", "", connect_attempts=1
    )
    moved = roll_back_champion(
        registry, InferenceServerClient(None), down, "broker down", logging.getLogger("test")
    )
    assert registry.champion().version == "1"
    assert moved.pending == (f"outbox/{moved.transition}/event",)
    sensor_resources = {
        "model_registry": resources["model_registry"],
        "event_queue": resources["event_queue"],
        "alerts": resources["alerts"],
    }
    with dg.instance_for_test() as instance:
        first = tick(instance, sensor_resources)
        second = tick(instance, sensor_resources)
    assert (
        first.skip_message == "outbox: 1 delivered" and second.skip_message == "outbox: 0 delivered"
    )
    assert outbox.pending(registry.client(), registry.model_name) == []
    queue = factory.event_queue(settings)
    [message] = queue.fetch(MODEL_EVENTS_QUEUE, 10, max_seconds=1)
    event = parse_event(message.body, ModelRolledBack)
    assert (event.version, event.previous_version, event.reason) == ("1", "2", "broker down")
    queue.close()
