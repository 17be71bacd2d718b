"""Fleet files the tests load and write: the example fleet with both models, and copies."""

from pathlib import Path

import yaml

from mlops_assets.contracts.fleet import SHIPPED_FLEET_FILE

ROOT = Path(__file__).resolve().parents[2]
# The photo classifier and the face verifier (the shipped fleet holds task_photos only until the
# verification graph builder exists).
EXAMPLE_FLEET_FILE = ROOT / "examples" / "fleet" / "face_verifier.yaml"


def write_fleet(folder: Path, fleet: dict) -> Path:
    """Writes `fleet` as `folder/fleet.yaml` and returns the path."""
    path = folder / "fleet.yaml"
    path.write_text(yaml.safe_dump(fleet, sort_keys=False))
    return path


def single_model_fleet(folder: Path, name: str) -> Path:
    """Writes the shipped fleet cut down to its model `name` (so a whole-graph launch, such as
    the implicit asset job, holds that model's assets only) and returns the path."""
    fleet = yaml.safe_load(SHIPPED_FLEET_FILE.read_text())
    fleet["models"] = [model for model in fleet["models"] if model["name"] == name]
    assert fleet["models"], f"the shipped fleet has no model {name!r}"
    return write_fleet(folder, fleet)
