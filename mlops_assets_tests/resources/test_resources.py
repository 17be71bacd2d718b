"""The resources are configuration shells: each hands out its backend and owns its lifecycle."""

import dagster as dg
import pytest

from mlops_assets.backends.data_store import TrainingDataStore
from mlops_assets.backends.event_queue.sqlite_queue import SqliteQueue
from mlops_assets.backends.inference_server import InferenceServerClient
from mlops_assets.backends.object_store import LocalObjectStore, S3ObjectStore
from mlops_assets.backends.registry import RegistryClient
from mlops_assets.backends.storage_errors import ObjectStoreError
from mlops_assets.contracts.events import TASK_CONFIRMED_QUEUE
from mlops_assets.resources.object_store import ObjectStoreResource
from mlops_assets.tools.processes import free_port


def test_each_resource_hands_out_the_backend_the_settings_choose(resources, settings):
    # The IO managers are Dagster's own (they hand out no backend) and `mlflow` is dagster-mlflow's.
    shells = {n: r for n, r in resources.items() if n != "mlflow" and "io_manager" not in n}
    # The registry hands out one client per registered model (the spec's registry_name).
    clients = {
        name: r.get_client(settings.model_name) if name == "model_registry" else r.get_client()
        for name, r in shells.items()
    }
    assert isinstance(clients["data_store"], TrainingDataStore)
    assert clients["data_store"].url == settings.resolved_data_store_url
    assert isinstance(clients["event_queue"], SqliteQueue)
    assert clients["event_queue"].path == str(settings.resolved_event_queue_path)
    assert isinstance(clients["object_store"], LocalObjectStore)
    assert isinstance(clients["model_registry"], RegistryClient)
    assert clients["model_registry"].model_name == settings.model_name
    assert isinstance(clients["inference_server"], InferenceServerClient)
    assert not clients["inference_server"].configured


def test_a_run_opens_the_queue_once_and_closes_it_at_teardown(resources, backends):
    seen = []

    @dg.asset
    def publishes(event_queue: dg.ResourceParam[dg.ConfigurableResource]) -> None:
        queue = event_queue.get_client()
        assert queue is event_queue.get_client()
        queue.publish_bodies(TASK_CONFIRMED_QUEUE, [b"{}"])
        seen.append(queue)

    assert dg.materialize([publishes], resources={"event_queue": resources["event_queue"]}).success
    [queue] = seen
    assert queue._conn is None  # closed at teardown
    assert backends.event_queue.depth(TASK_CONFIRMED_QUEUE) == 1


def test_an_unreachable_object_store_fails_the_step_before_any_work(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    endpoint = f"http://127.0.0.1:{free_port()}"
    ran = []

    @dg.asset
    def writes(object_store: ObjectStoreResource) -> None:
        ran.append(True)

    store = ObjectStoreResource(url="s3://bucket/prefix", endpoint_url=endpoint)
    assert isinstance(store.get_client(), S3ObjectStore)
    with pytest.raises(dg.DagsterResourceFunctionError) as raised:
        dg.materialize([writes], resources={"object_store": store})
    assert isinstance(raised.value.__cause__, ObjectStoreError)
    assert "MLOPS_S3_ENDPOINT_URL" in str(raised.value.__cause__)
    assert ran == []
