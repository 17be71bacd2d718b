"""Event replication throughput (embedded SQLite queue, RabbitMQ) against a bare pika loop.

Replication = fetch -> validate -> insert into the training data store (SQLite) -> ack, the
task_events_sensor's drain. The bare pika loop publishes and consumes the same bodies on the
same broker, same queue type (durable quorum, persistent messages, publisher confirms, manual
acks with prefetch), with no validation and no store: the broker's own ceiling through pika.
Publishing (confirm per message, both sides) is timed on a smaller count. Besides wall-clock
rates it records rates per CPU second of this process, which neighbours on a shared machine
disturb far less. Rounds alternate ours
and bare on the same broker, and medians are reported: the machine is shared, so the ratio
measured side by side is the figure to trust. Also the task_events_sensor's tick time, from
which the event-to-run-request latency follows.

Writes bench/results/events.json. Usage: python bench/events.py
(BENCH_EVENTS=20000, BENCH_PUBLISH_EVENTS=2000, BENCH_ROUNDS=3)
"""

import json
import os
import platform
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import dagster as dg
import pika

from mlops_assets.backends.data_store import TrainingDataStore
from mlops_assets.backends.event_queue.rabbitmq_queue import PERSISTENT, RabbitMQQueue
from mlops_assets.backends.event_queue.sqlite_queue import SqliteQueue
from mlops_assets.contracts.events import TASK_CONFIRMED_QUEUE, TaskConfirmedEvent
from mlops_assets.demo.source import demo_tasks
from mlops_assets.retraining.replication import replicate
from mlops_assets.retraining.triggers import decide_retrain
from mlops_assets.settings import Settings

N = int(os.environ.get("BENCH_EVENTS", "20000"))
PUBLISH_EVENTS = int(os.environ.get("BENCH_PUBLISH_EVENTS", "2000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
RABBITMQ_URL = os.environ.get("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
RESULTS = Path(__file__).parent / "results" / "events.json"


def bodies(n: int) -> list[bytes]:
    """n TaskConfirmedEvents with distinct event ids, photos cycled from the demo data."""
    records = demo_tasks()
    return [
        TaskConfirmedEvent.from_record(records[i % len(records)])
        .model_copy(update={"event_id": f"bench-{i}"})
        .to_json()
        for i in range(n)
    ]


def rate(count: int, seconds: float) -> float:
    return round(count / seconds, 1)


def median(values: list[float]) -> float:
    return round(statistics.median(values), 1)


def new_store(scratch: Path) -> TrainingDataStore:
    store = TrainingDataStore(f"sqlite:///{scratch / f'store-{uuid.uuid4().hex}.db'}")
    store.count()  # creates the schema outside the timing
    return store


def time_replication(queue, payload: list[bytes], scratch: Path) -> tuple[float, float]:
    """Wall and CPU seconds (this process) to replicate `payload`, already on the queue."""
    store = new_store(scratch)
    started, cpu = time.perf_counter(), time.process_time()
    result = replicate(queue, store, max_messages=len(payload), max_seconds=600, batch_size=1000)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    assert result.inserted == len(payload) == store.count(), result
    store.close()
    return seconds, cpu


def sensor_tick_seconds(queue, payload: list[bytes], scratch: Path) -> float:
    """One task_events_sensor tick's work for a backlog of 100 new events (drain + decide)."""
    store = new_store(scratch)
    queue.publish_bodies(TASK_CONFIRMED_QUEUE, payload[:100])
    started = time.perf_counter()
    replicate(queue, store, max_messages=20000, max_seconds=20)
    decision = decide_retrain(store.high_water_mark(), 0, store.count(0), 100)
    seconds = time.perf_counter() - started
    assert decision.retrain
    store.close()
    return seconds


def bench_embedded(payload: list[bytes], scratch: Path) -> dict:
    queue = SqliteQueue(str(scratch / "events.db"), prefix="bench.")
    publish, replication, per_cpu = [], [], []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        queue.publish_bodies(TASK_CONFIRMED_QUEUE, payload)
        publish.append(rate(len(payload), time.perf_counter() - started))
        wall, cpu = time_replication(queue, payload, scratch)
        replication.append(rate(len(payload), wall))
        per_cpu.append(rate(len(payload), cpu))
    tick = sensor_tick_seconds(queue, payload, scratch)
    queue.close()
    return {
        "publish_events_per_s": median(publish),
        "replication_events_per_s": median(replication),
        "replication_events_per_s_rounds": replication,
        "replication_events_per_cpu_s": median(per_cpu),
        "sensor_tick_100_events_s": round(tick, 4),
    }


def preload(channel, name: str, payload: list[bytes]) -> None:
    """Fills a queue fast (no confirms), then waits until the broker holds every message."""
    for body in payload:
        channel.basic_publish("", name, body, properties=PERSISTENT)
    for _ in range(1200):
        if channel.queue_declare(name, passive=True).method.message_count >= len(payload):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{name} did not fill up")


def bare_consume(channel, name: str, count: int) -> float:
    """The bare loop: basic_consume with prefetch, one multiple-ack per 1000, nothing else."""
    channel.basic_qos(prefetch_count=1000)
    received = 0
    started, cpu = time.perf_counter(), time.process_time()
    for method, _, _ in channel.consume(name, inactivity_timeout=5):
        if method is None:
            break
        received += 1
        if received % 1000 == 0 or received == count:
            channel.basic_ack(method.delivery_tag, multiple=True)
        if received == count:
            break
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    channel.cancel()
    assert received == count, received
    return seconds, cpu


def bare_publish(channel, name: str, payload: list[bytes]) -> float:
    started = time.perf_counter()
    for body in payload:
        channel.basic_publish("", name, body, properties=PERSISTENT, mandatory=True)
    return time.perf_counter() - started


def bench_rabbitmq(payload: list[bytes], scratch: Path) -> tuple[dict, dict]:
    """Our queue and the bare pika loop, interleaved round by round on the same broker."""
    queue = RabbitMQQueue(RABBITMQ_URL, prefix=f"bench-{uuid.uuid4().hex[:8]}.")
    ours = queue.declare(TASK_CONFIRMED_QUEUE)
    bare_name = f"bench-bare-{uuid.uuid4().hex[:8]}"
    connection = pika.BlockingConnection(pika.URLParameters(RABBITMQ_URL))
    loader = connection.channel()
    bare = connection.channel()
    bare.queue_declare(bare_name, durable=True, arguments={"x-queue-type": "quorum"})
    bare.confirm_delivery()
    small = payload[:PUBLISH_EVENTS]
    results = {k: [] for k in ("pub", "bare_pub", "repl", "bare_cons", "repl_cpu", "bare_cpu")}
    try:
        tick = _rabbitmq_rounds(
            queue, ours, loader, bare, bare_name, payload, small, results, scratch
        )
    finally:
        queue.remove(TASK_CONFIRMED_QUEUE)
        queue.close()
        bare.queue_delete(bare_name)
        connection.close()
    return _rabbitmq_figures(results, tick)


def _rabbitmq_rounds(queue, ours, loader, bare, bare_name, payload, small, results, scratch):
    for _ in range(ROUNDS):
        started = time.perf_counter()
        queue.publish_bodies(TASK_CONFIRMED_QUEUE, small)
        results["pub"].append(rate(len(small), time.perf_counter() - started))
        results["bare_pub"].append(rate(len(small), bare_publish(bare, bare_name, small)))
        bare.queue_purge(bare_name)
        queue.remove(TASK_CONFIRMED_QUEUE)
        queue.declare(TASK_CONFIRMED_QUEUE)

        preload(loader, ours, payload)
        wall, cpu = time_replication(queue, payload, scratch)
        results["repl"].append(rate(len(payload), wall))
        results["repl_cpu"].append(rate(len(payload), cpu))
        preload(loader, bare_name, payload)
        wall, cpu = bare_consume(bare, bare_name, len(payload))
        results["bare_cons"].append(rate(len(payload), wall))
        results["bare_cpu"].append(rate(len(payload), cpu))
        # Unsubscribes our consumer so the next preload is not prefetched by it.
        queue.close()
    return sensor_tick_seconds(queue, payload, scratch)


def _rabbitmq_figures(results: dict, tick: float) -> tuple[dict, dict]:
    ratios = [round(r / b, 3) for r, b in zip(results["repl"], results["bare_cons"], strict=True)]
    rabbit = {
        "publish_events_per_s": median(results["pub"]),
        "replication_events_per_s": median(results["repl"]),
        "replication_events_per_s_rounds": results["repl"],
        "replication_vs_bare_consume": round(
            statistics.median(results["repl"]) / statistics.median(results["bare_cons"]), 3
        ),
        "replication_vs_bare_consume_rounds": ratios,
        "replication_events_per_cpu_s": median(results["repl_cpu"]),
        "replication_vs_bare_consume_per_cpu_s": round(
            statistics.median(results["repl_cpu"]) / statistics.median(results["bare_cpu"]), 3
        ),
        "sensor_tick_100_events_s": round(tick, 4),
    }
    bare_results = {
        "publish_events_per_s": median(results["bare_pub"]),
        "consume_events_per_s": median(results["bare_cons"]),
        "consume_events_per_s_rounds": results["bare_cons"],
        "consume_events_per_cpu_s": median(results["bare_cpu"]),
    }
    return rabbit, bare_results


def rabbitmq_answers() -> bool:
    try:
        pika.BlockingConnection(pika.URLParameters(RABBITMQ_URL)).close()
    except pika.exceptions.AMQPConnectionError:
        return False
    return True


def latency(interval_s: float, tick_s: float) -> dict:
    """Event-to-run-request latency: wait for the next tick (uniform over the interval) + tick."""
    return {
        "sensor_interval_s": interval_s,
        "mean_s": round(interval_s / 2 + tick_s, 2),
        "worst_s": round(interval_s + tick_s, 2),
        "explanation": "An event published just after a tick waits up to one interval; the "
        "next tick drains it and requests the run in tick_s. The daemon then launches the run "
        "(seconds, not counted). Lower MLOPS_EVENTS_SENSOR_INTERVAL_S to trade load for latency.",
    }


def main() -> None:
    payload = bodies(N)
    interval = Settings().events_sensor_interval_s
    results = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, load average {os.getloadavg()[0]:.1f} at start",
        "events": N,
        "publish_events": PUBLISH_EVENTS,
        "rounds": ROUNDS,
        "event_bytes": len(payload[0]),
    }
    with tempfile.TemporaryDirectory() as scratch:
        results["embedded"] = bench_embedded(payload, Path(scratch))
        results["embedded"]["latency"] = latency(
            interval, results["embedded"]["sensor_tick_100_events_s"]
        )
        if rabbitmq_answers():
            results["rabbitmq"], results["bare_pika"] = bench_rabbitmq(payload, Path(scratch))
            results["rabbitmq"]["latency"] = latency(
                interval, results["rabbitmq"]["sensor_tick_100_events_s"]
            )
        else:
            results["rabbitmq"] = {"skipped": f"RabbitMQ at {RABBITMQ_URL} does not answer"}
    results["targets"] = {
        "embedded_replication_events_per_s": ">= 20000",
        "rabbitmq_replication_events_per_s": ">= 5000",
        "rabbitmq_replication_vs_bare_consume": ">= 0.5",
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    dg.get_dagster_logger("bench").info(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
