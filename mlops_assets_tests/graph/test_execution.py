"""The step executor: in-process by default; with MLOPS_EXECUTOR=celery every step is a Celery
task on real `dagster-celery` workers over the real RabbitMQ, training on its own queue."""

import signal
import subprocess
import time
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._core.execution.retries import RetryMode
from dagster_celery.executor import CeleryExecutor
from dagster_celery.make_app import make_app

from mlops_assets.backends import factory
from mlops_assets.definitions import build_definitions
from mlops_assets.graph.execution import celery_config, step_executor
from mlops_assets.tools.processes import registry_pool_command
from mlops_assets_tests.support.celery_workers import (
    broker_or_skip,
    celery_workers,
    champion_materialization,
    dagster_daemon,
    execute_command,
    launch_command,
    queue_depth,
    scaled_out_environment,
    worker_of_steps,
)
from mlops_assets_tests.support.fleet_files import single_model_fleet
from mlops_assets_tests.support.photo_graph import PHOTO, node
from mlops_assets_tests.support.private_broker import private_broker
from mlops_assets_tests.support.services import embedded_settings

MONTH = "2024-12-01"
RUN_CONFIG = {"ops": {node("verification_report"): {"config": {"min_improvement": 0.005}}}}
RUN_TIMEOUT_S = 900


def test_in_process_is_the_default(settings):
    job = build_definitions(settings).resolve_job_def(PHOTO.retrain_job)
    assert job.executor_def is dg.in_process_executor


def test_celery_executor_routes_training_to_its_queue(settings):
    scaled = settings.model_copy(
        update={"executor": "celery", "celery_broker_url": "amqp://b", "celery_queue": "steps"}
    )
    job = build_definitions(scaled).resolve_job_def(PHOTO.retrain_job)
    assert job.executor_def.name == "celery"
    assert job.graph.node_named(node("trained_model")).tags == {"dagster-celery/queue": "training"}
    assert "dagster-celery/queue" not in job.graph.node_named(node("champion_model")).tags


def test_celery_without_a_broker_says_what_to_set(settings):
    with pytest.raises(ValueError, match="RABBITMQ_URL"):
        build_definitions(settings.model_copy(update={"executor": "celery"}))


def test_celery_config_acknowledges_a_step_when_it_ends():
    source = celery_config("amqp://b", "rpc://", "steps")["config_source"]
    assert source["task_acks_late"] and source["task_reject_on_worker_lost"]
    assert source["task_default_queue"] == "steps"
    assert (
        step_executor("in_process", None, "rpc://", "steps", "filesystem") is dg.in_process_executor
    )


def test_queued_steps_survive_a_broker_restart():
    """What a RabbitMQ restart keeps: durable queues and persistent step messages, acknowledged
    only when the step ends (the app is built as dagster-celery builds it for the run)."""
    config = celery_config("amqp://b", "rpc://", "steps")
    app = make_app(CeleryExecutor(retries=RetryMode(RetryMode.DISABLED), **config).app_args())
    assert app.conf.task_default_delivery_mode == 2  # persistent
    assert app.conf.task_acks_late and app.conf.task_reject_on_worker_lost
    for queue in ("steps", "training"):
        assert app.amqp.queues[queue].durable and not app.amqp.queues[queue].auto_delete


def _long_training(env: dict[str, str], config: Path, epochs: int) -> None:
    """Training long enough for a fault to land in the middle of it. What the fault tests test
    is the broker handing the step back, so the step's own RetryPolicy is off: with it, a
    retried attempt and the redelivered task would both train."""
    env["MLOPS_RETRY_MAX_RETRIES"] = "0"
    config.write_text(
        yaml.safe_dump(
            {"ops": {**RUN_CONFIG["ops"], node("trained_model"): {"config": {"epochs": epochs}}}}
        )
    )


def _start_run(env: dict[str, str], config: Path) -> subprocess.Popen:
    """`retrain_job` for MONTH in a process of its own, its stderr kept for the failure text."""
    return subprocess.Popen(
        execute_command(MONTH, config), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def _wait_until_executing(home: Path, run: subprocess.Popen, step: str) -> list[str]:
    """Waits until a worker executes `step` of the only run; returns the workers that took it."""
    deadline = time.monotonic() + RUN_TIMEOUT_S
    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        while time.monotonic() < deadline:
            if run.poll() is not None:
                raise AssertionError(f"the run ended first: {run.stderr.read().decode()[-4000:]}")
            runs = instance.get_runs()
            taken = runs and worker_of_steps(instance, runs[0].run_id).get(step)
            if taken:
                return taken
            time.sleep(0.2)
    raise AssertionError(f"no worker took {step} in {RUN_TIMEOUT_S} s")


def _scaled_out_home(tmp_path, demo_records, monkeypatch):
    """The runs' home, their environment and run config. This process reads the same stores:
    embedded under `home`, whatever an earlier test exported (MLflow exports its tracking URI)."""
    home = tmp_path / "scaled"
    env = scaled_out_environment(home)
    settings = embedded_settings(home, monkeypatch)
    store = factory.data_store(settings)
    store.insert(demo_records)
    store.close()
    # The workers' processes open the MLflow SQLite store at the same moment: creating it here
    # first keeps two of them from racing on one schema migration ("duplicate column name").
    factory.registry(settings).client().search_experiments()
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump(RUN_CONFIG))
    return home, env, config


def _only_run(home) -> dg.DagsterRun:
    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        (run,) = instance.get_runs()
        return run


@pytest.mark.integration
@pytest.mark.model
def test_retrain_on_two_workers_decides_as_in_process(
    tmp_path, settings, definitions, seeded_store, demo_records, monkeypatch
):
    broker_or_skip()
    with dg.DagsterInstance.ephemeral() as instance:
        job = definitions.resolve_job_def(PHOTO.retrain_job)
        local = job.execute_in_process(
            run_config=RUN_CONFIG, instance=instance, partition_key=MONTH
        )
        expected = champion_materialization(instance, local.run_id)

    home, env, config = _scaled_out_home(tmp_path, demo_records, monkeypatch)
    with celery_workers(env, tmp_path / "workers") as workers:
        workers.start("steps", env["MLOPS_CELERY_QUEUE"])
        workers.start("gpu", env["MLOPS_CELERY_TRAINING_QUEUE"])
        run = subprocess.run(
            execute_command(MONTH, config), env=env, capture_output=True, timeout=RUN_TIMEOUT_S
        )
    assert run.returncode == 0, run.stderr.decode()[-4000:]

    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        (dagster_run,) = instance.get_runs()
        assert dagster_run.status == dg.DagsterRunStatus.SUCCESS
        scaled = champion_materialization(instance, dagster_run.run_id)
        steps = worker_of_steps(instance, dagster_run.run_id)
    assert steps.pop(node("trained_model")) == ["gpu"]
    assert {
        node("training_data"),
        node("verification_report"),
        node("champion_model"),
        node("deployment"),
    } <= set(steps)
    assert all(taken == ["steps"] for taken in steps.values())
    assert scaled["decision"] == expected["decision"] == "promoted"
    assert scaled["challenger_accuracy"] == pytest.approx(expected["challenger_accuracy"])


@pytest.mark.integration
@pytest.mark.model
def test_worker_killed_mid_training_hands_the_step_to_another(tmp_path, demo_records, monkeypatch):
    broker_or_skip()
    home, env, config = _scaled_out_home(tmp_path, demo_records, monkeypatch)
    _long_training(env, config, epochs=60)
    with celery_workers(env, tmp_path / "workers") as workers:
        workers.start("steps", env["MLOPS_CELERY_QUEUE"])
        workers.start("gpu-a", env["MLOPS_CELERY_TRAINING_QUEUE"])
        run = _start_run(env, config)
        victim = _wait_until_executing(home, run, node("trained_model"))
        assert victim == ["gpu-a"], victim
        # The second training worker joins only now: the step can go nowhere else.
        workers.kill("gpu-a", signal.SIGKILL)
        workers.start("gpu-b", env["MLOPS_CELERY_TRAINING_QUEUE"])
        _, stderr = run.communicate(timeout=RUN_TIMEOUT_S)
        # Nothing stays claimed: no step message left taken or waiting.
        assert queue_depth(env["MLOPS_CELERY_TRAINING_QUEUE"]) == 0
        assert queue_depth(env["MLOPS_CELERY_QUEUE"]) == 0
    assert run.returncode == 0, stderr.decode()[-4000:]

    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        (dagster_run,) = instance.get_runs()
        assert dagster_run.status == dg.DagsterRunStatus.SUCCESS
        assert worker_of_steps(instance, dagster_run.run_id)[node("trained_model")] == [
            "gpu-a",
            "gpu-b",
        ]
        decided = champion_materialization(instance, dagster_run.run_id)
    registry = factory.registry(embedded_settings(home, monkeypatch))
    assert registry.champion().version == str(decided["champion_version"])
    # Each attempt registered its own challenger; only the finished one may be the champion.
    assert decided["challenger_version"] == decided["champion_version"]


@pytest.mark.integration
@pytest.mark.model
def test_two_promoting_runs_from_two_launch_paths_run_one_after_the_other(
    tmp_path, demo_records, monkeypatch
):
    """retrain_job launched as sensors, schedules and the CLI do, and the implicit asset job the
    UI's asset page and backfills launch (without retrain_job's tags), submitted at once: the
    registry pool lets the second start only after the first ended."""
    home = tmp_path / "pooled"
    env = scaled_out_environment(home, executor="in_process")
    # The daemon also runs the sensors: keep task_confirmed_events_sensor from starting a third.
    env["MLOPS_MIN_NEW_LABELS"] = "1000000"
    # The photo model alone: the implicit asset job of the shipped fleet also holds the face
    # verifier's graph, whose blocking check fails on a store without face vectors.
    env["MLOPS_MODELS_FILE"] = str(single_model_fleet(tmp_path, PHOTO.model))
    store = factory.data_store(embedded_settings(home, monkeypatch))
    store.insert(demo_records)
    store.close()
    root = Path(__file__).resolve().parents[2]
    subprocess.run(registry_pool_command(), env=env, check=True, capture_output=True)
    with dagster_daemon(env, tmp_path / "daemon.log"):
        launches = [
            subprocess.Popen(command, cwd=root, env=env, stderr=subprocess.PIPE)
            for command in (
                launch_command(PHOTO.retrain_job, "2024-11-01"),
                launch_command("__ASSET_JOB", "2024-12-01"),
            )
        ]
        for launch in launches:
            _, stderr = launch.communicate(timeout=RUN_TIMEOUT_S)
            assert launch.returncode == 0, stderr.decode()[-4000:]
        with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
            deadline = time.monotonic() + RUN_TIMEOUT_S
            # Only the two launched runs: the monitor schedule may start one of its own meanwhile.
            launched = (
                dg.RunsFilter(job_name=PHOTO.retrain_job),
                dg.RunsFilter(job_name="__ASSET_JOB"),
            )
            while time.monotonic() < deadline:
                records = [r for f in launched for r in instance.get_run_records(filters=f)]
                if len(records) == 2 and all(r.dagster_run.is_finished for r in records):
                    break
                time.sleep(2)
            records = sorted(records, key=lambda r: r.start_time or 0)
    assert [r.dagster_run.status for r in records] == [dg.DagsterRunStatus.SUCCESS] * 2, (
        tmp_path / "daemon.log"
    ).read_text()[-4000:]
    first, second = records
    assert {first.dagster_run.job_name, second.dagster_run.job_name} == {
        PHOTO.retrain_job,
        "__ASSET_JOB",
    }
    # Both were waiting before the first ended, and the second started only after it ended.
    assert second.create_timestamp.timestamp() < first.end_time <= second.start_time


@pytest.mark.integration
@pytest.mark.model
def test_a_broker_restart_mid_training_loses_no_run(tmp_path, demo_records, monkeypatch):
    """RabbitMQ stopped and started again while `trained_model` runs (a private node: the shared
    broker serves everyone else): the run still ends green with one consistent champion."""
    home, env, config = _scaled_out_home(tmp_path, demo_records, monkeypatch)
    _long_training(env, config, epochs=300)
    with private_broker() as broker:
        env["MLOPS_CELERY_BROKER_URL"] = broker.url
        with celery_workers(env, tmp_path / "workers") as workers:
            workers.start("steps", env["MLOPS_CELERY_QUEUE"])
            workers.start("gpu", env["MLOPS_CELERY_TRAINING_QUEUE"])
            run = _start_run(env, config)
            assert _wait_until_executing(home, run, node("trained_model")) == ["gpu"]
            broker.stop()
            time.sleep(2)
            broker.start()
            _, stderr = run.communicate(timeout=RUN_TIMEOUT_S)
            depths = [
                queue_depth(env[name], broker.url)
                for name in ("MLOPS_CELERY_QUEUE", "MLOPS_CELERY_TRAINING_QUEUE")
            ]
            logs = workers.log("gpu")
    assert run.returncode == 0, stderr.decode()[-4000:] + logs
    assert depths == [0, 0]

    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        (dagster_run,) = instance.get_runs()
        assert dagster_run.status == dg.DagsterRunStatus.SUCCESS
        taken = worker_of_steps(instance, dagster_run.run_id)[node("trained_model")]
        decided = champion_materialization(instance, dagster_run.run_id)
    # The step stopped with the broker connection and ran again once it was back (or, when the
    # stop signal came at a moment the step could not be interrupted, it finished, and its
    # message, redelivered because the acknowledgement was lost, was dropped): either way one
    # challenger, and it is the champion.
    assert taken in (["gpu", "gpu"], ["gpu"]), taken
    registry = factory.registry(embedded_settings(home, monkeypatch))
    assert registry.champion().version == str(decided["champion_version"])
    assert str(decided["challenger_version"]) == str(decided["champion_version"]) == "1"
