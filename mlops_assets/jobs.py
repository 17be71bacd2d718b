"""Jobs: the retraining run (the retraining assets and their checks) and the rollback."""

import dagster as dg

from mlops_assets.assets.deployment import rollback_champion
from mlops_assets.constants import (
    CHAMPION_MODEL,
    DEPLOYMENT,
    TRAINED_MODEL,
    TRAINING_DATA,
    VERIFICATION_REPORT,
)

# Runs that move @champion carry this tag; the instance's dagster.yaml (deploy/) lets one such
# run go at a time, because alias moves are last-writer-wins.
REGISTRY_WRITER_TAGS = {"mlops_assets/registry": "writer"}

# The stages run one after another, so one process avoids importing TensorFlow once per step.
retrain_job = dg.define_asset_job(
    name="retrain_job",
    selection=dg.AssetSelection.assets(
        TRAINING_DATA, TRAINED_MODEL, VERIFICATION_REPORT, CHAMPION_MODEL, DEPLOYMENT
    ),
    description="Snapshot the data, train a challenger, verify it against the champion, promote, "
    "deploy.",
    executor_def=dg.in_process_executor,
    tags=REGISTRY_WRITER_TAGS,
)


@dg.job(
    description="Move @champion back to the version it replaced; the inference server follows.",
    executor_def=dg.in_process_executor,
    tags=REGISTRY_WRITER_TAGS,
)
def rollback_champion_job():
    rollback_champion()
