"""Static names shared by assets, checks, jobs and the server (no dagster import)."""

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
# The registered model the server and the CLI use unless MLOPS_MODEL_NAME says otherwise: the
# fleet's task_photos `registry_name` (a test keeps them equal) until serving reads the fleet.
DEFAULT_MODEL_NAME = "task-photo-classifier"
# The fleet model the demo replays (the photo classifier), and its replay report's group.
DEMO_MODEL = "task_photos"
# The fleet entry the server's unprefixed routes (/predict, /admin/reload, …) answer for.
PHOTO_MODEL = "task_photos"
DEFAULT_EXPERIMENT = "mlops_assets"

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

# Champion monitoring (docs/monitoring.md); its thresholds are in the model spec.
CHAMPION_MONITOR = "champion_monitor"

# Every step that writes the registry alias or the inference server is in this Dagster
# concurrency pool; the instance (deploy/*.yaml) lets one run holding it go at a time.
REGISTRY_POOL = "mlops_registry"

# Celery queues of the step executor (MLOPS_EXECUTOR=celery): training goes to its own queue, which
# a GPU worker serves; every other step to the default queue.
TRAINING_QUEUE = "training"
DEFAULT_STEP_QUEUE = "dagster"
