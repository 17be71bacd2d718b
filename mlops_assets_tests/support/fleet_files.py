"""Fleet files the tests load and write: the example fleet with both models, and copies."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
# The photo classifier and the face verifier (the shipped fleet holds task_photos only until the
# verification graph builder exists).
EXAMPLE_FLEET_FILE = ROOT / "examples" / "fleet" / "face_verifier.yaml"


def write_fleet(folder: Path, fleet: dict) -> Path:
    """Writes `fleet` as `folder/fleet.yaml` and returns the path."""
    path = folder / "fleet.yaml"
    path.write_text(yaml.safe_dump(fleet, sort_keys=False))
    return path
