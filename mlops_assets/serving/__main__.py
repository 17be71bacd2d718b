"""`python -m mlops_assets.serving` (what `make serve` runs): uvicorn with the server's settings."""

import logging.config
import os
import sys

import uvicorn

from mlops_assets.serving.config import AdminTokenMissing, ServingSettings, check_admin_guard
from mlops_assets.serving.logs import log_config


def main() -> None:
    settings = ServingSettings()
    try:
        check_admin_guard(settings)
    except AdminTokenMissing as error:
        sys.exit(f"mlops_assets.serving: {error}")
    # A download progress bar per reload is noise in a server log (workers inherit this).
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    config = log_config(settings.log_format)
    logging.config.dictConfig(config)
    uvicorn.run(
        "mlops_assets.serving.app:serving_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        access_log=settings.access_log,
        log_config=config,
    )


if __name__ == "__main__":
    main()
