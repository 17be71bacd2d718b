"""The deployment step's paths that need no server, and the client's failure reporting."""

import dagster as dg
import pytest

from mlops_assets.backends.inference_server import DeploymentError
from mlops_assets.contracts.fleet import load_fleet
from mlops_assets.contracts.stage_results import ChampionChange, DeploymentResult
from mlops_assets.graph.assets.deployment import deployment_asset
from mlops_assets.resources.inference_server import InferenceServerResource
from mlops_assets_tests.support.photo_graph import REGISTRY
from mlops_assets_tests.support.registry import register
from mlops_assets_tests.support.serving import champion_change, free_port

deployment = deployment_asset(load_fleet().model("task_photos"))


def run_deployment(resources, champion_model: ChampionChange, inference_server):
    return deployment(
        dg.build_asset_context(partition_key="2025-01-01"),
        champion_model=champion_model,
        model_registry=resources["model_registry"],
        inference_server=inference_server,
        event_queue=resources["event_queue"],
        alerts=resources["alerts"],
    )


def test_no_server_configured_is_recorded_and_passes(resources):
    output = run_deployment(resources, champion_change("2", "1"), InferenceServerResource(url=None))
    assert output.value == DeploymentResult(status="no_server", version="2")
    assert output.metadata["status"].value == "no server configured"


def test_an_unchanged_champion_deploys_nothing_and_says_so(resources):
    unreachable = InferenceServerResource(url=f"http://127.0.0.1:{free_port()}", timeout_s=1)
    output = run_deployment(resources, champion_change("3", "3", alias_moved=False), unreachable)
    assert output.value == DeploymentResult(status="unchanged", version="3")
    assert output.metadata["status"].value == "unchanged (defended)"


def test_unreachable_server_is_a_deployment_error():
    client = InferenceServerResource(url=f"http://127.0.0.1:{free_port()}", timeout_s=1)
    with pytest.raises(DeploymentError, match="unreachable"):
        client.get_client().deploy("2", "test")


def test_first_champion_refused_fails_without_a_way_back(resources):
    unreachable = InferenceServerResource(url=f"http://127.0.0.1:{free_port()}", timeout_s=1)
    with pytest.raises(dg.Failure, match="did not serve v1") as failure:
        run_deployment(resources, champion_change("1", None), unreachable)
    assert failure.value.metadata["compensation"].value == "none possible"


def test_compensation_moves_the_alias_back_when_it_still_is_the_failed_version(resources, tmp_path):
    registry = resources["model_registry"].get_client(REGISTRY)
    for version in register(registry, tmp_path, 2):
        registry.promote(version, f"v{version}")
    unreachable = InferenceServerResource(url=f"http://127.0.0.1:{free_port()}", timeout_s=1)
    with pytest.raises(dg.Failure, match="did not serve v2") as failure:
        run_deployment(resources, champion_change("2", "1"), unreachable)
    assert registry.champion().version == "1"
    compensation = failure.value.metadata["compensation"].value
    assert "'version': '1'" in compensation and "'server_following': False" in compensation


def test_compensation_leaves_an_alias_that_moved_on_meanwhile(resources, tmp_path):
    registry = resources["model_registry"].get_client(REGISTRY)
    for version in register(registry, tmp_path, 3):
        registry.promote(version, f"v{version}")
    unreachable = InferenceServerResource(url=f"http://127.0.0.1:{free_port()}", timeout_s=1)
    with pytest.raises(dg.Failure, match="did not serve v2") as failure:
        run_deployment(resources, champion_change("2", "1"), unreachable)
    assert failure.value.metadata["compensation"].value == "none possible"
    assert registry.champion().version == "3"
    assert [e["action"] for e in registry.history()].count("rolled_back") == 0
