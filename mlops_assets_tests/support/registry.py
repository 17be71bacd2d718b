"""Registry helpers: versions registered without training a model."""

from pathlib import Path

from mlops_assets.backends.registry import RegistryClient


def register(registry: RegistryClient, folder: Path, count: int) -> list[str]:
    """Registers `count` placeholder versions (no artifact behind them) and returns them."""
    return [
        registry.register(f"file://{folder}/model-{i}", None, f"{i:064d}").version
        for i in range(count)
    ]
