"""Static names and thresholds shared by assets, checks, jobs and the server (no dagster import)."""

RETRAINING_GROUP = "retraining"

TRAINING_DATA = "training_data"
TRAINED_MODEL = "trained_model"
VERIFICATION_REPORT = "verification_report"
CHAMPION_MODEL = "champion_model"

# The demo photos are scikit-learn's 8x8 handwritten digits with grey levels 0..16.
IMAGE_SHAPE = (8, 8)
PIXEL_COUNT = IMAGE_SHAPE[0] * IMAGE_SHAPE[1]
PIXEL_MAX = 16
LABELS = tuple(range(10))
# Per-photo summaries the server records and the input-drift tests compare (ml.photo_stats).
PHOTO_FEATURES = ("mean_grey", "grey_spread", "ink_share")

CHAMPION_ALIAS = "champion"
CHALLENGER_ALIAS = "challenger"
DEFAULT_MODEL_NAME = "task-photo-classifier"
# The fleet entry the server's unprefixed routes (/predict, /admin/reload, …) answer for.
PHOTO_MODEL = "task_photos"
DEFAULT_EXPERIMENT = "mlops_assets"

# Promotion gates (ARCHITECTURE.md, "Gates").
MIN_ACCURACY = 0.90
MAX_P95_LATENCY_S = 3.0
# How much a challenger's holdout accuracy must exceed the champion's: above zero, so a rerun
# on the same data (the same accuracy) defends instead of promoting an equal model (churn, a
# needless deploy). Every launch path uses it unless its run config says otherwise.
MIN_IMPROVEMENT = 0.005

# Data checks on the training snapshot.
MIN_TRAIN_ROWS = 200
MIN_HOLDOUT_ROWS = 20

# First month of the monthly "as of" partitions (the demo's data starts here).
PARTITIONS_START = "2024-01-01"

# Plausible confirmation instants of task events (MLOPS_EVENTS_EARLIEST_CONFIRMED_AT,
# MLOPS_EVENTS_MAX_CLOCK_SKEW_S): from the first partition to now plus a small clock skew.
DEFAULT_EARLIEST_CONFIRMED_AT = f"{PARTITIONS_START}T00:00:00+00:00"
DEFAULT_MAX_CLOCK_SKEW_S = 300.0

# Deployment: the step after `champion_model` that makes the inference server serve the champion.
DEPLOYMENT = "deployment"

# Written by the two-year replay (`make demo`), downstream of `champion_model`.
REPLAY_REPORT = "replay_report"

# Champion monitoring (README, "Retraining on evidence"); settings override each default.
MONITORING_GROUP = "monitoring"
CHAMPION_MONITOR = "champion_monitor"
MONITOR_WINDOW_DAYS = 7
INPUT_DRIFT_THRESHOLD = 0.3
PREDICTION_DRIFT_THRESHOLD = 0.2
DRIFT_ALPHA = 0.01

# Every step that writes the registry alias or the inference server is in this Dagster
# concurrency pool; the instance (deploy/*.yaml) lets one run holding it go at a time.
REGISTRY_POOL = "mlops_registry"

# Celery queues of the step executor (MLOPS_EXECUTOR=celery): training goes to its own queue, which
# a GPU worker serves; every other step to the default queue.
TRAINING_QUEUE = "training"
DEFAULT_STEP_QUEUE = "dagster"
