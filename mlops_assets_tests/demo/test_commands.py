"""The demo's commands: demo tasks and synthetic face registrations travel the event path."""

from mlops_assets.contracts.events import TASK_CONFIRMED_QUEUE
from mlops_assets.contracts.face_events import FACE_REGISTERED_QUEUE
from mlops_assets.demo import commands
from mlops_assets.demo.face_source import (
    CAMERAS,
    FaceScenario,
    demo_face_events,
    month_face_events,
)


def test_publish_demo_events_puts_every_demo_task_on_the_queue(settings, backends, demo_records):
    assert commands.publish_demo_events(settings) == len(demo_records)
    assert backends.event_queue.depth(TASK_CONFIRMED_QUEUE) == len(demo_records)
    assert backends.data_store.count() == 0


def test_seed_demo_goes_through_the_queue_and_dead_letters_nothing(settings, backends):
    added = commands.seed_demo(settings)
    assert added == backends.data_store.count() > 0
    assert commands.seed_demo(settings) == 0  # republished events are duplicates
    queue = backends.event_queue
    assert queue.depth(TASK_CONFIRMED_QUEUE) == 0
    assert queue.dead_letters(TASK_CONFIRMED_QUEUE) == []


def test_publish_demo_face_events_puts_every_synthetic_registration_on_the_face_queue(
    settings, backends
):
    scenario = FaceScenario(identities_per_month=2, vectors_per_identity=3)
    published = commands.publish_demo_face_events(settings, scenario)
    assert published == len(demo_face_events(scenario)) == 2 * 3 * scenario.calendar.months
    assert backends.event_queue.depth(FACE_REGISTERED_QUEUE) == published
    assert backends.event_queue.depth(TASK_CONFIRMED_QUEUE) == 0


def test_face_months_travel_the_event_path_into_face_vectors_once(settings, backends):
    """What the replay does month by month: publish the month's synthetic registrations, then
    replicate them as the face source's sensor does; a replayed month adds nothing."""
    scenario = FaceScenario(identities_per_month=4, vectors_per_identity=5)
    queue, store = backends.event_queue, backends.data_store
    assert commands.deliver_face_month(queue, store, scenario, 1) == 20
    assert commands.deliver_face_month(queue, store, scenario, 2) == 20
    assert commands.deliver_face_month(queue, store, scenario, 2) == 0
    frame = store.face_vectors()
    expected = month_face_events(scenario, 1) + month_face_events(scenario, 2)
    assert list(frame["event_id"]) == [event.event_id for event in expected]
    assert [row.tolist() for row in frame["vector"]] == [event.vector for event in expected]
    assert set(frame["camera"]) == {CAMERAS[scenario.camera(1)]}
    assert queue.depth(FACE_REGISTERED_QUEUE) == 0
    assert queue.dead_letters(FACE_REGISTERED_QUEUE) == []
    until = scenario.calendar.month_start(2)
    assert len(store.face_vectors(until=until)) == 20
