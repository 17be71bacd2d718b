"""Server settings from the environment (MLOPS_SERVING_*), with the pipeline's registry defaults.

The server is deployable on its own, so it reads its own settings instead of the pipeline's; the
registry variables (MLOPS_HOME, MLFLOW_TRACKING_URI, MLOPS_MODEL_NAME) and the event queue's
(RABBITMQ_URL, MLOPS_EVENT_QUEUE_PATH, MLOPS_EVENT_QUEUE_PREFIX) mean the same in both.
"""

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from mlops_assets.constants import CHAMPION_ALIAS, DEFAULT_MODEL_NAME


class ServingSettings(BaseSettings):
    """Every setting the inference server reads; README's configuration table lists the same."""

    model_config = SettingsConfigDict(
        env_prefix="MLOPS_SERVING_", extra="ignore", populate_by_name=True
    )

    host: str = Field(default="127.0.0.1", description="Address uvicorn binds to.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port uvicorn listens on.")
    workers: int = Field(
        default=1,
        ge=1,
        description="uvicorn worker processes; each holds its own model and polls the registry.",
    )
    access_log: bool = Field(
        default=False, description="uvicorn's access log, one line per request."
    )
    home: Path = Field(
        default=Path("var"),
        validation_alias="MLOPS_HOME",
        description="Folder of the embedded defaults (MLOPS_HOME), as in the pipeline.",
    )
    tracking_uri: str | None = Field(
        default=None,
        validation_alias="MLFLOW_TRACKING_URI",
        description="MLflow registry (MLFLOW_TRACKING_URI); default sqlite under MLOPS_HOME.",
    )
    model_name: str = Field(
        default=DEFAULT_MODEL_NAME,
        validation_alias="MLOPS_MODEL_NAME",
        description="Registered model to serve (MLOPS_MODEL_NAME).",
    )
    alias: str = Field(default=CHAMPION_ALIAS, description="Registry alias the server follows.")
    poll_interval_s: float = Field(
        default=3.0,
        ge=0,
        description="Seconds between alias polls (the fallback to push); 0 turns polling off.",
    )
    max_batch: int = Field(default=256, ge=1, description="Most photos one /predict may carry.")
    max_body_bytes: int = Field(
        default=1 << 20, ge=1024, description="Larger request bodies get a 413."
    )
    admin_token: str | None = Field(
        default=None,
        description="When set, POST /admin/reload needs the header `X-Admin-Token` with it.",
    )
    download_dir: Path | None = Field(
        default=None,
        description="Where model versions are downloaded; default a temporary folder.",
    )
    push: bool = Field(
        default=True,
        description="Reload on ModelPromoted / ModelRolledBack messages from the pipeline's "
        "event queue (queue `model.events`), besides polling.",
    )
    push_interval_s: float = Field(
        default=0.5,
        gt=0,
        description="Seconds between checks of an empty model-events queue (and the most a "
        "shutdown waits for the subscriber).",
    )
    rabbitmq_url: str | None = Field(
        default=None,
        validation_alias="RABBITMQ_URL",
        description="RabbitMQ broker of the event queues (RABBITMQ_URL); default the embedded "
        "SQLite queue under MLOPS_HOME, as in the pipeline.",
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
        description="Prefix of every queue name (MLOPS_EVENT_QUEUE_PREFIX), as in the pipeline.",
    )

    @property
    def resolved_tracking_uri(self) -> str:
        return self.tracking_uri or f"sqlite:///{self.home.resolve() / 'mlflow.db'}"

    @property
    def resolved_event_queue_path(self) -> Path:
        return self.event_queue_path or self.home.resolve() / "events.db"
