"""Health checks: which backend each concern is configured to use, and whether it answers.

`mlops-assets health` (or `make health`) prints one line per backend and exits non-zero when a
configured backend does not answer. Each check makes one cheap request with a short timeout.
"""

import base64
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
import yaml

from mlops_assets.backends import factory
from mlops_assets.backends.object_store import S3ObjectStore
from mlops_assets.backends.storage_errors import ObjectStoreError
from mlops_assets.settings import Settings

TIMEOUT_S = 3


@dataclass(frozen=True)
class Health:
    """One backend: what it is, where, and whether it answered."""

    concern: str
    backend: str
    target: str
    ok: bool
    detail: str = ""


def _database(concern: str, url: str) -> Health:
    parsed = sa.make_url(url)
    shown = parsed.render_as_string(hide_password=True)
    if parsed.get_backend_name() == "sqlite":
        path = Path(parsed.database or "")
        detail = "file exists" if path.exists() else "created on first use"
        return Health(concern, "SQLite (embedded)", shown, _writable(path), detail)
    connect_args = {"connect_timeout": TIMEOUT_S}
    engine = sa.create_engine(url, connect_args=connect_args)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        return Health(concern, parsed.get_backend_name(), shown, True, "answers")
    except sa.exc.SQLAlchemyError as error:
        detail = str(getattr(error, "orig", error)).strip().splitlines()[0]
        return Health(concern, parsed.get_backend_name(), shown, False, detail)
    finally:
        engine.dispose()


def _writable(path: Path) -> bool:
    # Embedded files are created on first use: the nearest existing folder must be writable.
    folder = path.resolve().parent
    while not folder.exists():
        folder = folder.parent
    return os.access(folder, os.W_OK)


def data_store(settings: Settings) -> Health:
    return _database("training data store", settings.resolved_data_store_url)


def dagster_instance(settings: Settings) -> Health:
    home = settings.dagster_home
    if home is None:
        return Health("Dagster instance", "unset", "DAGSTER_HOME", False, "set DAGSTER_HOME")
    config_file = Path(home) / "dagster.yaml"
    config = yaml.safe_load(config_file.read_text()) if config_file.exists() else None
    storage = (config or {}).get("storage", {})
    if "postgres" not in storage:
        ok = _writable(Path(home) / "dagster.yaml")
        return Health("Dagster instance", "SQLite (embedded)", str(home), ok)
    url = _resolve(storage["postgres"].get("postgres_url"))
    if url is None:
        return Health("Dagster instance", "postgresql", str(config_file), False, "no postgres_url")
    return _database("Dagster instance", url)


def _resolve(value) -> str | None:
    # dagster.yaml values may be {"env": NAME}; Dagster reads those from the environment too.
    if isinstance(value, dict) and "env" in value:
        return os.environ.get(value["env"])
    return value


def without_password(url: str) -> str:
    """A URL as it may be shown: any password in it replaced by ***."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    return parts._replace(netloc=f"{parts.username}:***@{netloc}").geturl()


def http_get(url: str, headers: dict[str, str] | None = None) -> urllib.request.Request:
    """A GET of `url` whose userinfo (user:password@) travels as a basic-auth header, never
    as part of the host name that is looked up."""
    parts = urllib.parse.urlsplit(url)
    headers = dict(headers or {})
    if "@" in parts.netloc:
        user = urllib.parse.unquote(parts.username or "")
        password = urllib.parse.unquote(parts.password or "")
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
        url = parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]).geturl()
    return urllib.request.Request(url, headers=headers)


def tracking(settings: Settings) -> Health:
    uri = settings.resolved_tracking_uri
    if not uri.startswith(("http://", "https://")):
        return _database("MLflow tracking + registry", uri)
    shown = without_password(uri)
    request = http_get(f"{uri.rstrip('/')}/health")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            body = response.read().decode().strip()
        return Health("MLflow tracking + registry", "MLflow server", shown, True, body)
    except OSError as error:
        return Health("MLflow tracking + registry", "MLflow server", shown, False, str(error))


def event_queue(settings: Settings) -> Health:
    """The event queues: the embedded SQLite file, or RabbitMQ (one connection, one attempt)."""
    url = settings.resolved_rabbitmq_url
    if url is None:
        path = settings.resolved_event_queue_path
        detail = "file exists" if path.exists() else "created on first use"
        return Health("event queues", "SQLite (embedded)", str(path), _writable(path), detail)
    from pika.exceptions import AMQPError  # only with a broker configured

    queue = factory.event_queue(settings, connect_attempts=1)
    try:
        queue.open()
        return Health("event queues", "RabbitMQ", without_password(url), True, "answers")
    except (AMQPError, OSError) as error:
        detail = str(error) or type(error).__name__
        return Health("event queues", "RabbitMQ", without_password(url), False, detail)
    finally:
        queue.close()


def _not_ready(url: str, status: int, admin_token: str | None) -> Health:
    """A server without a model: healthy while it waits for a first champion, down when its
    last load failed (GET /model says why; with the admin token, in words)."""
    headers = {"X-Admin-Token": admin_token} if admin_token else {}
    request = http_get(f"{url.rstrip('/')}/model", headers)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            last_error = json.load(response).get("last_error")
    except (OSError, ValueError) as error:
        return Health("inference server", "mlops_assets serving", url, False, str(error))
    if last_error:
        detail = f"answered {status}, no model: {last_error.get('error')}"
        return Health("inference server", "mlops_assets serving", url, False, detail)
    detail = "up, no model yet: it loads the first @champion when one is promoted"
    return Health("inference server", "mlops_assets serving", url, True, detail)


def inference_server(settings: Settings) -> Health:
    """The inference server's readiness (`GET /ready`): 200 once it serves a model."""
    url = settings.serving_url
    if not url:
        detail = "MLOPS_SERVING_URL unset: deployments record that no server is configured"
        return Health("inference server", "none", "-", True, detail)
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/ready", timeout=TIMEOUT_S) as response:
            version = json.load(response).get("model_version")
        return Health("inference server", "mlops_assets serving", url, True, f"serving v{version}")
    except urllib.error.HTTPError as error:
        return _not_ready(url, error.code, settings.resolved_admin_token)
    except OSError as error:
        return Health("inference server", "mlops_assets serving", url, False, str(error))


def artifacts(settings: Settings) -> Health:
    location = settings.resolved_artifact_location
    if location is None:
        location = _server_artifact_location(settings)
    if location is None:
        detail = "the tracking server chooses when the experiment is created by the first run"
        return Health("MLflow artifacts", "MLflow server's choice", "-", True, detail)
    if not location.startswith("s3://"):
        return Health("MLflow artifacts", "local folder", location, True)
    bucket = location.removeprefix("s3://").split("/", 1)[0]
    store = S3ObjectStore(
        bucket=bucket,
        endpoint_url=settings.mlflow_s3_endpoint_url,
        region=settings.s3_region,
    )
    return _object_store("MLflow artifacts", store, location)


def _server_artifact_location(settings: Settings) -> str | None:
    # The experiment's own location; before the first run, ask for nothing we cannot know.
    url = (
        f"{settings.resolved_tracking_uri.rstrip('/')}/api/2.0/mlflow/experiments/get-by-name?"
        f"experiment_name={urllib.parse.quote(settings.experiment)}"
    )
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            return json.load(response)["experiment"]["artifact_location"]
    except (OSError, KeyError, ValueError):
        return None


def object_store(settings: Settings) -> Health:
    store = factory.object_store(settings)
    return _object_store("training-data snapshots", store, settings.resolved_object_store_url)


def _object_store(concern: str, store, target: str) -> Health:
    backend = "S3" if isinstance(store, S3ObjectStore) else "local folder (embedded)"
    if isinstance(store, S3ObjectStore):
        backend = f"S3 at {store.endpoint_url or 'AWS'}"
    try:
        store.check()
        return Health(concern, backend, target, True, "answers")
    except ObjectStoreError as error:
        return Health(concern, backend, target, False, str(error))


def step_workers(settings: Settings) -> Health:
    """With MLOPS_EXECUTOR=celery, whether each step queue has a worker consuming it."""
    if settings.executor != "celery":
        detail = "steps run in the run's process (MLOPS_EXECUTOR=celery: on workers)"
        return Health("step executor", "in-process", "-", True, detail)
    from celery import Celery
    from kombu.exceptions import OperationalError

    try:
        broker = settings.resolved_celery_broker_url
    except ValueError as error:
        return Health("step executor", "Celery workers", "-", False, str(error))
    shown = without_password(broker)
    app = Celery(broker=broker, broker_connection_timeout=TIMEOUT_S)
    app.conf.broker_transport_options = {"max_retries": 1}
    try:
        replies = app.control.inspect(timeout=TIMEOUT_S).active_queues() or {}
    except (OSError, OperationalError) as error:
        return Health("step executor", "Celery workers", shown, False, str(error))
    finally:
        app.close()
    serving = {
        queue: sorted(w for w, queues in replies.items() if queue in {q["name"] for q in queues})
        for queue in (settings.celery_queue, settings.celery_training_queue)
    }
    detail = "; ".join(f"{q}: {', '.join(w) or 'no worker'}" for q, w in serving.items())
    return Health("step executor", "Celery workers", shown, all(serving.values()), detail)


CHECKS: list[Callable[[Settings], Health]] = [
    dagster_instance,
    data_store,
    tracking,
    artifacts,
    object_store,
    event_queue,
    inference_server,
    step_workers,
]


def check_all(settings: Settings) -> list[Health]:
    """Runs every check once."""
    return [check(settings) for check in CHECKS]


def render(results: list[Health]) -> str:
    """One line per backend: status, concern, backend, target, detail."""
    lines = []
    for r in results:
        status = "ok  " if r.ok else "DOWN"
        detail = f" ({r.detail})" if r.detail else ""
        lines.append(f"{status} {r.concern:<28} {r.backend:<26} {r.target}{detail}")
    return "\n".join(lines)
