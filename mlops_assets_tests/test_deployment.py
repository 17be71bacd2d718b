"""The deployment step's paths that need no server, and the client's failure reporting."""

import dagster as dg
import pytest

from mlops_assets.graph.assets.deployment import deployment
from mlops_assets.resources.serving_client import ServingClient
from mlops_assets.backends.inference_client import DeploymentError
from mlops_assets_tests.serving_support import free_port


def run_deployment(resources, champion_model: dict, serving_client: ServingClient):
    return deployment(
        dg.build_asset_context(partition_key="2025-01-01"),
        champion_model=champion_model,
        model_registry=resources["model_registry"],
        serving_client=serving_client,
        event_queue=resources["event_queue"],
    )


def test_no_server_configured_is_recorded_and_passes(resources):
    output = run_deployment(
        resources, {"version": "2", "previous_version": "1"}, ServingClient(url=None)
    )
    assert output.value == {"version": "2", "status": "no_server"}
    assert output.metadata["status"].value == "no server configured"


def test_a_rerun_that_left_the_alias_alone_deploys_nothing(resources):
    unreachable = ServingClient(url=f"http://127.0.0.1:{free_port()}", timeout_s=1)
    champion = {"version": "5", "previous_version": "3", "alias_moved": False}
    output = run_deployment(resources, champion, unreachable)
    assert output.value["status"] == "alias_not_moved"


def test_unreachable_server_is_a_deployment_error():
    client = ServingClient(url=f"http://127.0.0.1:{free_port()}", timeout_s=1)
    with pytest.raises(DeploymentError, match="unreachable"):
        client.deploy("2", "test")


def test_first_champion_refused_fails_without_a_way_back(resources):
    unreachable = ServingClient(url=f"http://127.0.0.1:{free_port()}", timeout_s=1)
    with pytest.raises(dg.Failure, match="did not serve v1") as failure:
        run_deployment(resources, {"version": "1", "previous_version": None}, unreachable)
    assert failure.value.metadata["compensation"].value == "none possible"
