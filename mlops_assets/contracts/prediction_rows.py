"""The served-prediction log's columns, named once for the server that writes the rows and the
monitor that reads them back.

A classification model's rows have `PREDICTION_COLUMNS` (the label, its confidence, the task it
answered and the photo's summary features the input-drift tests compare); a verification model's
`VERIFICATION_COLUMNS` (the score and the match, never the face vectors).
"""

from mlops_assets.constants import PHOTO_FEATURES

PREDICTION_COLUMNS = (
    "served_at",
    "model_version",
    "label",
    "confidence",
    "task_id",
    *PHOTO_FEATURES,
)
VERIFICATION_COLUMNS = ("served_at", "model_version", "score", "match", "threshold", "pair_id")


def columns_for(task: str) -> tuple[str, ...]:
    """The log's columns for a model of `task` (a spec's `task`)."""
    return VERIFICATION_COLUMNS if task == "verification" else PREDICTION_COLUMNS
