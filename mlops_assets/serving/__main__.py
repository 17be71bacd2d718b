"""`python -m mlops_assets.serving` (what `make serve` runs): uvicorn with the server's settings."""

import logging
import os

import uvicorn

from mlops_assets.serving.config import ServingSettings


def main() -> None:
    settings = ServingSettings()
    # A download progress bar per reload is noise in a server log (workers inherit this).
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    uvicorn.run(
        "mlops_assets.serving.app:serving_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        access_log=settings.access_log,
    )


if __name__ == "__main__":
    main()
