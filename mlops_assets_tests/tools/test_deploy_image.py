"""The path past one machine, checked without Docker or Kubernetes: the image's build context,
the whole product in the compose file, and the values for Dagster's Helm chart.

Neither `docker build` nor `docker compose config` nor `helm template` runs here; these tests
check what the files say against the code they deploy."""

import fnmatch
import re
from pathlib import Path

import pytest
import yaml

from mlops_assets.definitions import build_definitions
from mlops_assets.graph.execution import worker_config
from mlops_assets.graph.step_values import S3StepValues
from mlops_assets.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
PRODUCT = {
    "dagster-code",
    "dagster-webserver",
    "dagster-daemon",
    "worker-steps",
    "worker-training",
    "serving",
}


def _ignored(path: str, patterns: list[str]) -> bool:
    """Whether .dockerignore keeps `path` out of the context (the last matching line wins)."""
    ignored = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        pattern = pattern.removeprefix("!").rstrip("/")
        parts = Path(path).parts
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        names = [p for p in prefixes if fnmatch.fnmatch(p, pattern)]
        if pattern.startswith("**/"):
            names += [p for p in parts if fnmatch.fnmatch(p, pattern[3:])]
        if names:
            ignored = not negated
    return ignored


def _dockerignore() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _copy_sources() -> list[str]:
    sources = []
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            *paths, _destination = line.split()[1:]
            sources += [p for p in paths if not p.startswith("--")]
    return sources


def test_every_copy_source_is_in_the_build_context():
    patterns = _dockerignore()
    sources = _copy_sources()
    assert {"mlops_assets", "requirements.lock", "deploy/dagster.yaml"} <= set(sources)
    for source in sources:
        assert (ROOT / source).exists(), f"COPY {source}: no such file"
        assert not _ignored(source, patterns), f"COPY {source}: .dockerignore leaves it out"
    # What the package installs from must travel whole, caches excepted.
    assert not _ignored("mlops_assets/graph/execution.py", patterns)
    assert _ignored("mlops_assets/graph/__pycache__/execution.cpython-311.pyc", patterns)


@pytest.mark.parametrize(
    "path", ["var/stack.env", ".venv/bin/python", ".git/HEAD", "mlops_assets_tests/conftest.py"]
)
def test_local_state_stays_out_of_the_image(path):
    assert _ignored(path, _dockerignore())


def _compose() -> dict:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())


def test_compose_runs_the_whole_product_from_the_one_image():
    compose = _compose()
    services = compose["services"]
    assert PRODUCT <= set(services)
    image = compose["x-mlops"]["image"]
    for name in PRODUCT:
        service = services[name]
        assert service["image"] == image and service["build"]["context"] == ".."
        depends = service.get("depends_on", [])
        assert set(depends) <= set(services), f"{name} depends on an undefined service"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            assert (DEPLOY / source).is_file(), f"{name} mounts {source}, not in deploy/"
    workspace = yaml.safe_load((DEPLOY / "compose-workspace.yaml").read_text())
    (server,) = [entry["grpc_server"] for entry in workspace["load_from"]]
    assert server["host"] == "dagster-code"
    assert str(server["port"]) in services["dagster-code"]["command"]
    # Every ${VARIABLE} has a default: `docker compose up` needs no extra environment.
    text = (DEPLOY / "docker-compose.yml").read_text()
    for reference in re.findall(r"\$\{([^}]*)\}", text):
        assert ":-" in reference, f"${{{reference}}} has no default"


def _default_settings() -> Settings:
    """Settings with every default (the deploy files carry the defaults' queue names)."""
    return Settings.model_construct()


def test_compose_workers_consume_the_queues_the_executor_sends_to():
    settings = _default_settings()
    services = _compose()["services"]
    for name, queue in (
        ("worker-steps", settings.celery_queue),
        ("worker-training", settings.celery_training_queue),
    ):
        command = services[name]["command"]
        assert command[command.index("-q") + 1] == queue
        assert command[command.index("-y") + 1] == "/opt/dagster/celery-worker.yaml"
    mounted = yaml.safe_load((DEPLOY / "celery-worker.yaml").read_text())
    expected = worker_config(
        {"env": "RABBITMQ_URL"}, {"env": "MLOPS_CELERY_BACKEND_URL"}, settings.celery_queue
    )
    assert mounted == expected


def test_compose_environment_puts_step_values_and_logs_in_s3(monkeypatch):
    environment = _compose()["x-mlops"]["environment"]
    for name, value in environment.items():
        monkeypatch.setenv(name, str(value))
    settings = Settings()
    assert settings.executor == "celery"
    manager = build_definitions(settings).resources["io_manager"]
    assert isinstance(manager, S3StepValues)
    assert manager.location() == "s3://mlops/dagster/values"
    assert manager.s3_resource.endpoint_url == environment["MLOPS_S3_ENDPOINT_URL"]
    # deploy/dagster.yaml reads these for the step logs and the instance.
    instance = (DEPLOY / "dagster.yaml").read_text()
    for variable in re.findall(r"env: (\w+)", instance):
        assert variable in environment, f"dagster.yaml reads {variable}; compose never sets it"


def _values() -> dict:
    return yaml.safe_load((DEPLOY / "k8s" / "values.yaml").read_text())


def _workers() -> dict[str, dict]:
    documents = yaml.safe_load_all((DEPLOY / "k8s" / "celery-workers.yaml").read_text())
    return {document["metadata"]["name"]: document for document in documents}


def test_helm_values_run_the_code_location_from_the_image_with_the_instance_settings():
    values = _values()
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    assert deployment["dagsterApiGrpcArgs"] == ["--module-name", "mlops_assets.definitions"]
    instance = yaml.safe_load((DEPLOY / "dagster.yaml").read_text())
    logs = values["computeLogManager"]
    assert logs["type"] == instance["compute_logs"]["class"] == "S3ComputeLogManager"
    assert (
        logs["config"]["s3ComputeLogManager"]["prefix"]
        == instance["compute_logs"]["config"]["prefix"]
    )
    assert values["additionalInstanceConfig"]["concurrency"] == instance["concurrency"]
    retries = values["dagsterDaemon"]["runRetries"]
    assert retries["maxRetries"] == instance["run_retries"]["max_retries"]
    assert (
        retries["retryOnAssetOrOpFailure"]
        is instance["run_retries"]["retry_on_asset_or_op_failure"]
    )
    assert values["runLauncher"]["type"] == "K8sRunLauncher"


def test_k8s_workers_serve_each_queue_from_the_same_image_and_secret():
    settings = _default_settings()
    values = _values()
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    image = f"{deployment['image']['repository']}:{deployment['image']['tag']}"
    secret = deployment["envSecrets"][0]["name"]
    workers = _workers()
    queues = {}
    for name, manifest in workers.items():
        pod = manifest["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert container["image"] == image, name
        assert container["envFrom"] == [{"secretRef": {"name": secret}}]
        command = container["command"]
        queues[command[command.index("-q") + 1]] = container["resources"]["limits"]
        (mount,) = container["volumeMounts"]
        assert command[command.index("-y") + 1].startswith(mount["mountPath"] + "/")
    assert set(queues) == {settings.celery_queue, settings.celery_training_queue}
    assert queues[settings.celery_training_queue]["nvidia.com/gpu"] == 1
    assert "nvidia.com/gpu" not in queues[settings.celery_queue]
