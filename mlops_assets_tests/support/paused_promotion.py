"""A promotion in a process of its own that stops inside its write of `@champion` until told to go.

`python -m mlops_assets_tests.support.paused_promotion TRACKING_URI MODEL VERSION FOLDER [LOCK]`
touches FOLDER/ready once it is about to move the alias (it has read the champion it replaces)
and waits for FOLDER/go: a test runs another writer in between, so the interleaving is forced
rather than timed.
"""

import sys
import time
from pathlib import Path

from mlflow.tracking import MlflowClient

from mlops_assets.backends.registry import RegistryClient
from mlops_assets.constants import CHAMPION_ALIAS

GIVE_UP_S = 300


def main(tracking_uri: str, model_name: str, version: str, folder: str, lock_url: str = "") -> None:
    signals = Path(folder)
    write_alias = MlflowClient.set_registered_model_alias

    def paused(self, name, alias, target):
        if alias == CHAMPION_ALIAS:
            (signals / "ready").touch()
            deadline = time.monotonic() + GIVE_UP_S
            while not (signals / "go").exists() and time.monotonic() < deadline:
                time.sleep(0.01)
        return write_alias(self, name, alias, target)

    MlflowClient.set_registered_model_alias = paused
    options = {"lock_url": lock_url} if lock_url else {}
    RegistryClient(tracking_uri, model_name, **options).promote(version, "paused promotion")


if __name__ == "__main__":
    main(*sys.argv[1:])
