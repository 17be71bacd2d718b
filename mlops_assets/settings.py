"""Environment-driven configuration, read once when the definitions or the server are wired.

With no variable set, everything is embedded under MLOPS_HOME (default ./var): SQLite files and
local folders, zero configuration. Each production backend is chosen by setting its URL.

`SharedSettings` holds what the pipeline and the inference server must agree on (the registry,
the event queue, the server's admin token), so each embedded default is written once; `Settings`
(the pipeline) and `serving.config.ServingSettings` (the server) extend it.
"""

from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, AwareDatetime, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from mlops_assets.constants import (
    DEFAULT_EARLIEST_CONFIRMED_AT,
    DEFAULT_EXPERIMENT,
    DEFAULT_MAX_CLOCK_SKEW_S,
    DEFAULT_MODEL_NAME,
    DEFAULT_STEP_QUEUE,
    TRAINING_QUEUE,
)


def reveal(secret: SecretStr | str | None) -> str | None:
    """The plain value of a secret setting (None stays None).

    A plain string passes through: `model_copy(update=...)` stores values unvalidated.
    """
    if isinstance(secret, SecretStr):
        secret = secret.get_secret_value()
    return secret or None


class SharedSettings(BaseSettings):
    """Settings read under the same variable names by the pipeline and the server.

    Each field names its variable explicitly (`validation_alias`), so a subclass's own
    `env_prefix` does not change it.
    """

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    home: Path = Field(
        default=Path("var"),
        validation_alias="MLOPS_HOME",
        description="Folder for the embedded defaults' files (MLOPS_HOME).",
    )
    tracking_uri: SecretStr | None = Field(
        default=None,
        validation_alias="MLFLOW_TRACKING_URI",
        description="MLflow tracking URI and registry (MLFLOW_TRACKING_URI); default sqlite "
        "under MLOPS_HOME. Secret: a database URI may hold a password.",
    )
    registry_lock_url: SecretStr | None = Field(
        default=None,
        validation_alias="MLOPS_REGISTRY_LOCK_URL",
        description="The champion lock every writer of @champion takes (MLOPS_REGISTRY_LOCK_URL): "
        "the MLflow server's PostgreSQL or MySQL database URL (an advisory lock), or "
        "file:///path; default a file lock beside the SQLite registry, else under MLOPS_HOME. "
        "Secret: a database URL may hold a password.",
    )
    model_name: str = Field(
        default=DEFAULT_MODEL_NAME,
        validation_alias="MLOPS_MODEL_NAME",
        description="The photo model's registered model (MLOPS_MODEL_NAME); when set, it "
        "replaces task_photos' registry_name of the fleet file for the graph, the server and "
        "the commands alike; unset, the fleet file's name stands.",
    )
    rabbitmq_url: SecretStr | None = Field(
        default=None,
        validation_alias="RABBITMQ_URL",
        description="RabbitMQ broker for the event queues (RABBITMQ_URL); default the embedded "
        "SQLite queue under MLOPS_HOME. Secret: it holds the broker password.",
    )
    event_queue_path: Path | None = Field(
        default=None,
        validation_alias="MLOPS_EVENT_QUEUE_PATH",
        description="Embedded event queue file (MLOPS_EVENT_QUEUE_PATH); default "
        "MLOPS_HOME/events.db.",
    )
    event_queue_prefix: str = Field(
        default="",
        validation_alias="MLOPS_EVENT_QUEUE_PREFIX",
        description="Prefix of every queue name (MLOPS_EVENT_QUEUE_PREFIX; separates "
        "environments).",
    )
    serving_admin_token: SecretStr | None = Field(
        default=None,
        validation_alias="MLOPS_SERVING_ADMIN_TOKEN",
        description="The inference server's admin token (MLOPS_SERVING_ADMIN_TOKEN): POST "
        "/admin/reload needs it in X-Admin-Token, and the pipeline sends it; without one the "
        "admin endpoints are closed (MLOPS_SERVING_ADMIN_OPEN=1 opens them on loopback).",
    )
    model_signing_key: SecretStr | None = Field(
        default=None,
        validation_alias="MLOPS_MODEL_SIGNING_KEY",
        description="Key of the HMAC the pipeline signs each registered version with (its "
        "artifact hash, name and version) and the server verifies before loading "
        "(MLOPS_MODEL_SIGNING_KEY); default a key generated once into "
        "MLOPS_HOME/model-signing.key. Secret: keep it out of the registry's reach.",
    )

    object_store_url: str | None = Field(
        default=None,
        validation_alias="MLOPS_OBJECT_STORE_URL",
        description="Where training-data snapshots and the served-prediction log go "
        "(MLOPS_OBJECT_STORE_URL): s3://bucket/prefix or a folder; default MLOPS_HOME/objects.",
    )
    s3_endpoint_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("MLOPS_S3_ENDPOINT_URL", "MLFLOW_S3_ENDPOINT_URL"),
        description="S3 endpoint of the object store (MLOPS_S3_ENDPOINT_URL, else "
        "MLFLOW_S3_ENDPOINT_URL); unset means AWS.",
    )
    s3_region: str = Field(
        default="us-east-1",
        validation_alias=AliasChoices("MLOPS_S3_REGION", "AWS_DEFAULT_REGION"),
        description="Region for S3 request signing (MLOPS_S3_REGION, else AWS_DEFAULT_REGION).",
    )
    models_file: Path | None = Field(
        default=None,
        validation_alias="MLOPS_MODELS_FILE",
        description="The fleet file declaring every model (MLOPS_MODELS_FILE); default the one "
        "shipped in the package, mlops_assets/contracts/fleet.yaml.",
    )

    @property
    def home_dir(self) -> Path:
        return self.home.resolve()

    @property
    def resolved_tracking_uri(self) -> str:
        return reveal(self.tracking_uri) or f"sqlite:///{self.home_dir / 'mlflow.db'}"

    @property
    def resolved_registry_lock_url(self) -> str | None:
        """The champion lock's URL; None: a file lock beside the SQLite registry."""
        if self.registry_lock_url is not None or self.resolved_tracking_uri.startswith("sqlite"):
            return reveal(self.registry_lock_url)
        return f"file://{self.home_dir / 'champion.lock'}"

    @property
    def resolved_rabbitmq_url(self) -> str | None:
        return reveal(self.rabbitmq_url)

    @property
    def resolved_admin_token(self) -> str | None:
        return reveal(self.serving_admin_token)

    @property
    def resolved_event_queue_path(self) -> Path:
        return self.event_queue_path or self.home_dir / "events.db"

    @property
    def resolved_object_store_url(self) -> str:
        return self.object_store_url or (self.home_dir / "objects").as_uri()


class Settings(SharedSettings):
    """Every setting the pipeline reads; docs/configuration.md's table is generated from it."""

    model_config = SettingsConfigDict(env_prefix="MLOPS_", extra="ignore", populate_by_name=True)

    data_store_url: SecretStr | None = Field(
        default=None,
        description="Training data store as a SQLAlchemy URL; default sqlite under MLOPS_HOME. "
        "Secret: a database URL may hold a password.",
    )
    artifact_location: str | None = Field(
        default=None,
        description="Artifact root for the MLflow experiment; default MLOPS_HOME/mlartifacts "
        "with an embedded tracking store, the server's choice with a tracking server.",
    )
    mlflow_ui_url: str = Field(
        default="http://127.0.0.1:5000", description="MLflow UI address for asset links."
    )
    experiment: str = Field(default=DEFAULT_EXPERIMENT, description="MLflow experiment name.")
    schedule_timezone: str = Field(
        default="UTC",
        description="Timezone of every model's cadence (its automation condition) and of the "
        "monitor schedules' cron.",
    )
    min_new_labels: int = Field(
        default=100, ge=1, description="New confirmed labels that trigger a retraining run."
    )
    events_sensor_interval_s: int = Field(
        default=30, ge=5, description="Seconds between ticks of each task-events source sensor."
    )
    events_max_batch: int = Field(
        default=20000, ge=1, description="Most task events one sensor tick replicates."
    )
    events_max_seconds: float = Field(
        default=20.0, gt=0, description="Most seconds one sensor tick spends replicating."
    )
    events_earliest_confirmed_at: AwareDatetime = Field(
        default=datetime.fromisoformat(DEFAULT_EARLIEST_CONFIRMED_AT),
        description="Oldest confirmed_at a task event may carry (ISO 8601 with timezone); "
        "older events are dead-lettered and the store refuses them. Default: the first "
        "monthly partition.",
    )
    events_max_clock_skew_s: float = Field(
        default=DEFAULT_MAX_CLOCK_SKEW_S,
        ge=0,
        description="How many seconds past this machine's clock a task event's confirmed_at "
        "may lie (producers' clock skew); later events are dead-lettered.",
    )
    mlflow_s3_endpoint_url: str | None = Field(
        default=None,
        validation_alias="MLFLOW_S3_ENDPOINT_URL",
        description="S3 endpoint MLflow's artifact store uses (read by MLflow itself; "
        "the health check reads it too).",
    )
    dagster_home: Path | None = Field(
        default=None,
        validation_alias="DAGSTER_HOME",
        description="Dagster instance folder (DAGSTER_HOME), for the health check.",
    )
    retry_max_retries: int = Field(
        default=3,
        ge=0,
        description="Retries of training_data and trained_model after a failure (seed 001).",
    )
    retry_delay_s: float = Field(
        default=300.0,
        ge=0,
        description="Seconds before the first retry; the n-th retry waits n times as long.",
    )
    serving_url: str | None = Field(
        default=None,
        description="Inference server the deployment step and rollback notify; unset: none.",
    )
    serving_timeout_s: float = Field(
        default=60.0, description="How long a deployment waits for the server to serve a version."
    )
    executor: Literal["in_process", "celery"] = Field(
        default="in_process",
        description="Where a run's steps execute: in the run's own process (embedded default) "
        "or on Celery workers (`dagster-celery`) over the broker.",
    )
    celery_broker_url: str | None = Field(
        default=None,
        description="Celery broker for the step executor; default RABBITMQ_URL.",
    )
    celery_backend_url: str | None = Field(
        default=None,
        description="Celery result backend, where workers leave each step's events for the "
        "run: default a SQLite file in MLOPS_HOME (one machine); workers on other machines "
        "need a shared one (db+postgresql://…, redis://…). Not rpc://: its replies die with "
        "a broker restart, and the run with them.",
    )
    step_values_url: str | None = Field(
        default=None,
        pattern=r"^s3://[^/]+(/.*)?$",
        description="Where step outputs go between steps, s3://bucket/prefix "
        "(MLOPS_STEP_VALUES_URL): needed by Celery workers on other machines. Default: with "
        "MLOPS_EXECUTOR=celery and an s3:// object store, that bucket under dagster/values; "
        "otherwise a folder under DAGSTER_HOME.",
    )
    celery_queue: str = Field(
        default=DEFAULT_STEP_QUEUE, description="Celery queue of every step but training."
    )
    celery_training_queue: str = Field(
        default=TRAINING_QUEUE,
        description="Celery queue of the `trained_model` step; serve it with a GPU worker.",
    )

    @property
    def resolved_celery_backend_url(self) -> str:
        return self.celery_backend_url or f"db+sqlite:///{self.home_dir / 'celery-results.db'}"

    @property
    def resolved_step_values_url(self) -> str | None:
        if self.step_values_url is not None or self.executor != "celery":
            return self.step_values_url
        store = self.resolved_object_store_url
        if not store.startswith("s3://"):
            return None
        return f"s3://{store.removeprefix('s3://').split('/')[0]}/dagster/values"

    @property
    def resolved_celery_broker_url(self) -> str:
        broker = self.celery_broker_url or self.resolved_rabbitmq_url
        if broker is None:
            raise ValueError(
                "MLOPS_EXECUTOR=celery needs a broker: set RABBITMQ_URL (or "
                "MLOPS_CELERY_BROKER_URL), e.g. amqp://guest:guest@127.0.0.1:5672/%2F"
            )
        return broker

    trainer_command: str = Field(
        default="",
        description="Own trainer that trained_model runs through Dagster Pipes, as a command "
        "line (e.g. 'python examples/train.py'); empty: the built-in CNN in-process.",
    )
    trainers: dict[str, list[str]] = Field(
        default={},
        description="Named own trainers the launchpad's `trainer` field may choose, as JSON "
        '({"mlp": ["python", "examples/train.py"]}); the launchpad runs no other command.',
    )
    trainer_env: list[str] = Field(
        default=[],
        description="Variables passed to a trainer besides its minimal environment (PATH, "
        "locale, Pipes, MLflow URI), as JSON; broker, store, S3, token and webhook secrets "
        "reach it only when named here.",
    )
    trainer_timeout_s: float = Field(
        default=3600.0,
        gt=0,
        description="Seconds an own trainer may run before its process group is killed.",
    )

    # Overrides of every model's `monitor` settings in the fleet file (documented variables);
    # unset: each model's own spec value.
    monitor_cron: str | None = Field(
        default=None,
        description="Overrides each model's monitor.cron: when its monitor schedule evaluates "
        "the champion (cron, schedule_timezone).",
    )
    monitor_window_days: float | None = Field(
        default=None,
        gt=0,
        description="Overrides each model's monitor.window_days: days of confirmed tasks and "
        "served predictions each monitor run judges.",
    )
    monitor_input_drift_threshold: float | None = Field(
        default=None,
        gt=0,
        le=1,
        description="Overrides each model's monitor.input_drift_threshold: KS statistic of a "
        "photo summary (brightness, contrast, ink) above which the inputs drifted.",
    )
    monitor_prediction_drift_threshold: float | None = Field(
        default=None,
        gt=0,
        le=1,
        description="Overrides each model's monitor.prediction_drift_threshold: total "
        "variation distance of the predicted-label shares above which the predictions drifted.",
    )
    monitor_drift_alpha: float | None = Field(
        default=None,
        gt=0,
        lt=1,
        description="Overrides each model's monitor.drift_alpha: significance (p-value) a "
        "drift test must also reach.",
    )
    monitor_min_samples: int | None = Field(
        validation_alias=AliasChoices("MLOPS_MONITOR_MIN_SAMPLES", "MLOPS_HEALTH_MIN_SAMPLES"),
        default=None,
        ge=1,
        description="Overrides each model's monitor.min_samples: confirmed tasks (accuracy) or "
        "window photos (drift) below which the monitor sensor does not act on the evidence. "
        "MLOPS_HEALTH_MIN_SAMPLES is its deprecated old name.",
    )
    monitor_cooldown_hours: float | None = Field(
        validation_alias=AliasChoices(
            "MLOPS_MONITOR_COOLDOWN_HOURS", "MLOPS_HEALTH_COOLDOWN_HOURS"
        ),
        default=None,
        ge=0,
        description="Overrides each model's monitor.cooldown_hours: hours after a "
        "monitor-triggered retraining run before the next one. MLOPS_HEALTH_COOLDOWN_HOURS is its "
        "deprecated old name.",
    )
    monitor_sensor_interval_s: int = Field(
        validation_alias=AliasChoices(
            "MLOPS_MONITOR_SENSOR_INTERVAL_S", "MLOPS_HEALTH_SENSOR_INTERVAL_S"
        ),
        default=300,
        ge=30,
        description="Seconds between champion monitor sensor ticks (every model's). "
        "MLOPS_HEALTH_SENSOR_INTERVAL_S is its deprecated old name.",
    )
    alert_slack_webhook_url: SecretStr | None = Field(
        default=None,
        description="Slack incoming webhook for alerts (a secret: the Dagster UI shows only "
        "the variable's name).",
    )
    alert_pagerduty_routing_key: SecretStr | None = Field(
        default=None, description="PagerDuty Events API v2 routing key for alerts (a secret)."
    )
    alert_webhook_url: SecretStr | None = Field(
        default=None,
        description="Any endpoint that takes each alert as a JSON POST (may hold a token).",
    )
    alert_pagerduty_url: str = Field(
        default="https://events.pagerduty.com/v2/enqueue",
        description="PagerDuty Events API v2 endpoint.",
    )

    @property
    def resolved_alerts_path(self) -> Path:
        """The SQLite file of sent alert keys (dedup)."""
        return self.home_dir / "alerts.db"

    @property
    def resolved_data_store_url(self) -> str:
        return reveal(self.data_store_url) or f"sqlite:///{self.home_dir / 'training_data.db'}"

    @property
    def resolved_artifact_location(self) -> str | None:
        if self.artifact_location:
            return self.artifact_location
        if self.resolved_tracking_uri.startswith(("http://", "https://")):
            return None
        return (self.home_dir / "mlartifacts").as_uri()
