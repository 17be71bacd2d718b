"""Names in the shipped photo model's graph (`task_photos`), as the tests address them."""

from mlops_assets.graph.model_names import ModelNames

PHOTO = ModelNames("task_photos")


def node(stage: str) -> str:
    """The op (node) name of a stage's asset in the photo graph, for `output_for_node` and
    run config: `task_photos__trained_model`."""
    return PHOTO.key(stage).to_python_identifier()


def key(stage: str) -> str:
    """The user string of a stage's asset key: `task_photos/trained_model`."""
    return PHOTO.key(stage).to_user_string()


# The photo model's registered model (its spec's registry_name).
REGISTRY = "task-photo-classifier"
