"""Server settings from the environment (MLOPS_SERVING_*) on top of the shared settings.

The server deploys on its own, so it reads its own settings; what it must agree on with the
pipeline (MLOPS_HOME, MLFLOW_TRACKING_URI, MLOPS_MODEL_NAME, the event queue's RABBITMQ_URL,
MLOPS_EVENT_QUEUE_PATH and MLOPS_EVENT_QUEUE_PREFIX, MLOPS_SERVING_ADMIN_TOKEN) comes from
`mlops_assets.settings.SharedSettings`, written once for both.
"""

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from mlops_assets.constants import CHAMPION_ALIAS, PHOTO_MODEL
from mlops_assets.settings import SharedSettings

# A photo's 64 grey levels as JSON, each as long as a float can print ("1.2345678901234567e-05"
# plus a comma and a space); a task id of 200 characters, quoted; the braces and key names.
PHOTO_JSON_BYTES = 64 * 25 + 2
TASK_ID_JSON_BYTES = 200 + 4
BODY_OVERHEAD_BYTES = 4096


class ServingSettings(SharedSettings):
    """Every setting the inference server reads (docs/configuration.md is generated from it)."""

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
    admin_open: bool = Field(
        default=False,
        description="Leave POST /admin/reload open when MLOPS_SERVING_ADMIN_TOKEN is unset "
        "(development on loopback only); by default it is refused without the token.",
    )
    alias: str = Field(default=CHAMPION_ALIAS, description="Registry alias the server follows.")
    models: str | None = Field(
        default=None,
        description="Comma-separated fleet models this server serves (e.g. `face_verifier`); "
        "default every model of the fleet file (MLOPS_MODELS_FILE).",
    )
    default_model: str = Field(
        default=PHOTO_MODEL,
        description="The fleet model the unprefixed routes answer for (`POST /predict`, "
        "`GET /ready`, `GET /model`, `POST /admin/reload`); every model also answers under "
        "its own serving route (`/models/<name>/…`).",
    )
    poll_interval_s: float = Field(
        default=3.0,
        ge=0,
        description="Seconds between alias polls (the fallback to push); 0 turns polling off.",
    )
    max_batch: int = Field(default=256, ge=1, description="Most photos one /predict may carry.")
    max_body_bytes: int | None = Field(
        default=None,
        ge=1024,
        description="Larger request bodies get a 413; default: what MLOPS_SERVING_MAX_BATCH "
        "photos with their task ids can take (about 2.3 kB a photo).",
    )
    download_dir: Path | None = Field(
        default=None,
        description="Where model versions are downloaded; default a temporary folder.",
    )
    metrics: bool = Field(
        default=True,
        description="Prometheus metrics at GET /metrics (latency by route and status, serving "
        "version, swaps, reload failures, predictions by label).",
    )
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="`json`: one JSON object per log line, with the request id of the request "
        "that logged it.",
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
    record_predictions: bool = Field(
        default=True,
        description="Record each prediction (version, label, confidence, photo summary, task id) "
        "in the object store's prediction log for `champion_monitor`, off the request path.",
    )
    record_buffer: int = Field(
        default=50_000,
        ge=1,
        description="Predictions the recorder holds before it drops new ones (and counts them); "
        "a full buffer never blocks or fails a request.",
    )
    record_batch: int = Field(
        default=5_000, ge=1, description="Most predictions the recorder writes as one file."
    )
    task_ids_token: SecretStr | None = Field(
        default=None,
        description="When set, /predict accepts task_ids only with this value in "
        "X-Task-Ids-Token (the service whose tasks they are), so no other caller can attach "
        "predictions to a task. Secret.",
    )
    record_flush_s: float = Field(
        default=5.0, gt=0, description="Most seconds a recorded prediction waits to be written."
    )

    @property
    def served_models(self) -> list[str] | None:
        """The names in MLOPS_SERVING_MODELS, or None for the whole fleet."""
        if self.models is None or not self.models.strip():
            return None
        return [name.strip() for name in self.models.split(",") if name.strip()]

    @property
    def body_limit(self) -> int:
        """MLOPS_SERVING_MAX_BODY_BYTES, or the size a full batch of valid photos can reach."""
        if self.max_body_bytes is not None:
            return self.max_body_bytes
        return BODY_OVERHEAD_BYTES + self.max_batch * (PHOTO_JSON_BYTES + TASK_ID_JSON_BYTES)


class AdminTokenMissing(RuntimeError):
    """The server would listen beyond this machine with its admin endpoints unguarded."""


def is_loopback(host: str) -> bool:
    """True when `host` is reachable from this machine only (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_admin_guard(settings: ServingSettings) -> None:
    """Refuses a non-loopback address without an admin token (fail closed off loopback).

    Raises:
        AdminTokenMissing: saying how to set the token.
    """
    if settings.resolved_admin_token or is_loopback(settings.host):
        return
    raise AdminTokenMissing(
        f"refusing to listen on {settings.host} without an admin token: anyone who reaches "
        "the server could reload it. Set MLOPS_SERVING_ADMIN_TOKEN to a long random value "
        "(e.g. `export MLOPS_SERVING_ADMIN_TOKEN=$(python -c 'import secrets; "
        "print(secrets.token_urlsafe(32))')`) and give the pipeline the same one, or bind "
        "MLOPS_SERVING_HOST=127.0.0.1."
    )
