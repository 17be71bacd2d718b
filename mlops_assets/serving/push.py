"""Push: the server learns of a new champion from the pipeline's model events.

A subscriber thread consumes the queue `model.events` (`MODEL_EVENTS_QUEUE`) on the pipeline's
event queue backend (RABBITMQ_URL selects RabbitMQ, else the embedded SQLite file under
MLOPS_HOME, with the same queue prefix). For each `ModelPromoted` / `ModelRolledBack` of a
served model (by its registered name) it calls that model's `notify`, which wakes its reloader,
and then acks: the message is only a wake-up (the reloader resolves the alias itself), so a
server that dies after the ack loses nothing, it loads the alias's version when it starts.
Events of other models are acked and dropped (one subscriber serves every model of a server);
bodies that are not a model event go to the dead-letter queue with the reason. Each message is
settled on its own, parsed by the depth- and size-bounded `parse_event`, and one delivered more
than `MAX_DELIVERIES` times goes to the dead-letter queue unread.

Known limitation: one durable queue means several server processes (uvicorn workers, replicas)
compete for each message. One of them reloads at once; the others follow at their next alias
poll (MLOPS_SERVING_POLL_INTERVAL_S), so polling must stay on when more than one process serves.
Servers of different models on one queue would drop each other's events: serve the fleet from
one server, or give the servers different queue prefixes. A fan-out exchange with a queue per
server would lift both limits.
"""

import logging
import threading
from collections.abc import Callable, Mapping

from pydantic_core import from_json

from mlops_assets.backends import factory
from mlops_assets.backends.event_queue.base import EventQueue, Message
from mlops_assets.contracts.events import (
    EVENT_MAX_BYTES,
    MODEL_EVENTS_QUEUE,
    InvalidEvent,
    ModelPromoted,
    ModelRolledBack,
    parse_event,
)
from mlops_assets.serving.config import ServingSettings

log = logging.getLogger("mlops_assets.serving")

MODEL_EVENTS: dict[str, type[ModelPromoted | ModelRolledBack]] = {
    cls.__name__: cls for cls in (ModelPromoted, ModelRolledBack)
}
BATCH = 10
# A message delivered this often without being settled took its consumer down each time (or
# was never settled for another reason): it is dead-lettered unread.
MAX_DELIVERIES = 5

Notify = Callable[[str], None]


class Notifiers(dict[str, Notify]):
    """Each served model's reloader wake-up by registered model name (what model events
    carry); called with a reason alone, it wakes the default model's reloader."""

    def __init__(self, by_name: Mapping[str, Notify], default: str | None = None) -> None:
        super().__init__(by_name)
        self.default = default

    def __call__(self, reason: str) -> None:
        if self.default is not None:
            self[self.default](reason)


def parse_model_event(body: bytes) -> ModelPromoted | ModelRolledBack:
    """Validates a message of `model.events` as the event type it names.

    Raises:
        InvalidEvent: not one of the two model events, or not valid; the message says why.
    """
    named = None
    if len(body) <= EVENT_MAX_BYTES:
        try:
            # pydantic's parser bounds nesting depth (json.loads would raise RecursionError).
            raw = from_json(body)
        except ValueError:
            raw = None
        if isinstance(raw, dict) and isinstance(raw.get("event_type"), str):
            named = raw["event_type"]
    # Anything else is validated as ModelPromoted, whose diagnosis names what is wrong.
    return parse_event(body, MODEL_EVENTS.get(named, ModelPromoted))


def model_event_queue(settings: ServingSettings) -> EventQueue:
    """Returns a queue object on the pipeline's backend, chosen as the pipeline chooses it."""
    # One attempt per try: the subscriber retries itself, waiting on its stop event.
    return factory.event_queue(settings, connect_attempts=1)


class ModelEventSubscriber:
    """A thread that turns model events of the served models into `notify(reason)` calls.

    Args:
        make_queue: makes the queue object; called in the subscriber thread, which alone uses
            it (pika connections are not thread-safe).
        model_name: the served registered model, or a mapping of each served registered model
            to its `notify` (then `notify` is not used); events of others are dropped.
        notify: wakes the reloader (`ModelReloader.notify`); must not block.
        interval_s: wait between checks of an empty queue, and the bound of one fetch.
        retry_s: wait after the queue failed (broker down, file unreadable).
    """

    def __init__(
        self,
        make_queue: Callable[[], EventQueue],
        model_name: str | Mapping[str, Notify],
        notify: Notify | None = None,
        interval_s: float = 0.5,
        retry_s: float = 5.0,
    ) -> None:
        self.make_queue = make_queue
        if isinstance(model_name, str):
            if notify is None:
                raise TypeError("give notify with a single model name")
            model_name = {model_name: notify}
        self.notifiers: dict[str, Notify] = dict(model_name)
        self.interval_s = interval_s
        self.retry_s = retry_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Starts consuming in a daemon thread."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="model-events", daemon=True)
        self._thread.start()

    def close(self, timeout_s: float = 10.0) -> None:
        """Stops the thread after the batch in hand; unacked messages return to the queue."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    def handle(self, queue: EventQueue, messages: list[Message]) -> None:
        """Notifies for the served model's events, then acks them or dead-letters bad bodies.

        Each message is settled on its own: no body, however hostile, holds back the others.
        """
        settled, rejected = [], []
        for message in messages:
            try:
                reason = self._settle(message)
            except Exception as error:
                # A bug, not the message's fault, but it must not hold the queue: the message
                # is only a wake-up, and polling still finds the alias's version.
                log.exception("push: handling a model event failed")
                reason = f"handling failed: {type(error).__name__}"
            if reason is None:
                settled.append(message)
            else:
                rejected.append((message, reason))
        if rejected:
            queue.dead_letter(MODEL_EVENTS_QUEUE, rejected)
        if settled:
            queue.ack(MODEL_EVENTS_QUEUE, settled)

    def _settle(self, message: Message) -> str | None:
        """Handles one message; returns why it goes to the dead-letter queue, or None."""
        if message.deliveries > MAX_DELIVERIES:
            return f"delivered {message.deliveries} times without being settled; not read again"
        try:
            event = parse_model_event(message.body)
        except InvalidEvent as error:
            return error.reason
        notify = self.notifiers.get(event.model_name)
        if notify is not None:
            notify(f"{event.event_type} v{event.version}")
        return None

    def _run(self) -> None:
        queue: EventQueue | None = None
        try:
            while not self._stop.is_set():
                wait = self.interval_s
                try:
                    if queue is None:
                        queue = self.make_queue()
                    messages = queue.fetch(MODEL_EVENTS_QUEUE, BATCH, self.interval_s)
                    if messages:
                        self.handle(queue, messages)
                        wait = 0
                except Exception as error:
                    # Whatever breaks (broker gone, locked file, a bug), push must not end for
                    # good while the server runs: polling covers the gap, this thread retries.
                    log.warning(
                        "push: model events unavailable (%r); retrying in %.1f s",
                        error,
                        self.retry_s,
                    )
                    queue = _discard(queue)
                    wait = self.retry_s
                self._stop.wait(wait)
        finally:
            _discard(queue)


def _discard(queue: EventQueue | None) -> None:
    if queue is None:
        return None
    try:
        queue.close()
    except Exception as error:
        # Closing a broken connection may fail again; the queue is dropped either way.
        log.debug("push: closing the queue failed: %r", error)
    return None


def push_subscription(settings: ServingSettings) -> Callable[[Notifiers], Callable[[], None]]:
    """Returns the `subscribe` hook of `create_app` for the event queue in `settings`: one
    subscriber for every served model."""

    def subscribe(notifiers: Notifiers) -> Callable[[], None]:
        subscriber = ModelEventSubscriber(
            lambda: model_event_queue(settings),
            notifiers,
            interval_s=settings.push_interval_s,
        )
        subscriber.start()
        log.info("push: following %s on the event queue", MODEL_EVENTS_QUEUE)
        return subscriber.close

    return subscribe
