"""Jobs: the retraining run selects the four retraining assets and their checks."""

import dagster as dg

from mlops_assets.constants import CHAMPION_MODEL, TRAINED_MODEL, TRAINING_DATA, VERIFICATION_REPORT

# The stages run one after another, so one process avoids importing TensorFlow once per step.
retrain_job = dg.define_asset_job(
    name="retrain_job",
    selection=dg.AssetSelection.assets(
        TRAINING_DATA, TRAINED_MODEL, VERIFICATION_REPORT, CHAMPION_MODEL
    ),
    description="Snapshot the data, train a challenger, verify it against the champion, promote.",
    executor_def=dg.in_process_executor,
)
