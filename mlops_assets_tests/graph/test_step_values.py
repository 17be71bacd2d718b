"""Where step values go: the filesystem by default, S3 on the stack; a step checks it runs with
the settings and code its run was started with."""

import dagster as dg
import pytest

from mlops_assets.definitions import build_definitions
from mlops_assets.graph.assets.dataset import SNAPSHOT_IO_MANAGER
from mlops_assets.graph.step_values import (
    CODE_VERSION_TAG,
    FILESYSTEM,
    STEP_VALUES_TAG,
    FilesystemStepValues,
    S3StepValues,
    check_same_setup,
    code_version,
    run_stamp,
    step_io_manager,
)


@dg.asset
def numbers() -> list[int]:
    return [1, 2, 3]


@dg.asset
def total(numbers: list[int]) -> int:
    return sum(numbers)


def _errors(result) -> str:
    """Every error the run reported (a resource that fails to start fails the run in-process,
    the step on a Celery worker)."""
    return "\n".join(
        event.event_specific_data.error.to_string()
        for event in result.all_events
        if getattr(event.event_specific_data, "error", None) is not None
    )


def _run(tags: dict[str, str]) -> dg.DagsterRun:
    return dg.DagsterRun(job_name="retrain_job", tags=tags)


def test_embedded_steps_keep_values_on_the_filesystem(settings):
    assert isinstance(build_definitions(settings).resources["io_manager"], FilesystemStepValues)


def test_celery_with_an_s3_object_store_keeps_values_in_that_bucket(settings):
    stack = settings.model_copy(
        update={
            "executor": "celery",
            "celery_broker_url": "amqp://b",
            "object_store_url": "s3://mlops/datasets",
            "s3_endpoint_url": "http://127.0.0.1:8333",
        }
    )
    manager = build_definitions(stack).resources["io_manager"]
    assert isinstance(manager, S3StepValues)
    assert manager.location() == "s3://mlops/dagster/values"
    assert manager.s3_resource.endpoint_url == "http://127.0.0.1:8333"
    # Credentials are read where the step runs, so the UI shows the variables' names only.
    assert manager.s3_resource.aws_access_key_id == dg.EnvVar("AWS_ACCESS_KEY_ID")
    in_process = stack.model_copy(update={"executor": "in_process"})
    assert in_process.resolved_step_values_url is None


def test_a_step_refuses_other_step_values_or_other_code():
    check_same_setup(_run(run_stamp(FILESYSTEM)), FILESYSTEM)
    check_same_setup(_run({}), "s3://anything/values")  # an in-process run carries no stamp
    with pytest.raises(dg.Failure, match="MLOPS_STEP_VALUES_URL"):
        check_same_setup(_run(run_stamp("s3://mlops/values")), FILESYSTEM)
    stamp = {STEP_VALUES_TAG: FILESYSTEM, CODE_VERSION_TAG: "0123456789ab"}
    with pytest.raises(dg.Failure, match=f"code {code_version()}.*0123456789ab"):
        check_same_setup(_run(stamp), FILESYSTEM)


def test_a_step_with_values_elsewhere_fails_before_computing(tmp_path):
    result = dg.materialize(
        [numbers],
        resources={"io_manager": step_io_manager(None, None, "us-east-1")},
        instance=dg.DagsterInstance.ephemeral(),
        tags=run_stamp("s3://mlops/values"),
        raise_on_error=False,
    )
    assert not result.success
    assert "MLOPS_STEP_VALUES_URL" in _errors(result)
    assert not result.get_asset_materialization_events()


@pytest.mark.integration
def test_values_round_trip_through_seaweedfs_with_boto3_defaults(seaweedfs, monkeypatch):
    """No checksum settings: boto3's default CRC checksums work against the pinned SeaweedFS."""
    for name, value in seaweedfs.environment().items():
        if "CHECKSUM" not in name:
            monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_REQUEST_CHECKSUM_CALCULATION", raising=False)
    monkeypatch.delenv("AWS_RESPONSE_CHECKSUM_VALIDATION", raising=False)
    url = f"s3://{seaweedfs.bucket}/round-trip"
    manager = step_io_manager(url, seaweedfs.endpoint_url, "us-east-1")
    result = dg.materialize([numbers, total], resources={"io_manager": manager})
    assert result.success and result.output_for_node("total") == 6
    assert seaweedfs.keys("round-trip/") == ["round-trip/numbers", "round-trip/total"]


@pytest.mark.integration
def test_a_missing_bucket_is_named_with_its_setting(seaweedfs, monkeypatch):
    for name, value in seaweedfs.environment().items():
        monkeypatch.setenv(name, value)
    manager = step_io_manager("s3://no-such-bucket/values", seaweedfs.endpoint_url, "us-east-1")
    result = dg.materialize([numbers], resources={"io_manager": manager}, raise_on_error=False)
    assert not result.success
    message = _errors(result)
    assert "s3://no-such-bucket/values" in message and "MLOPS_STEP_VALUES_URL" in message
    assert seaweedfs.keys("values/") == []


def test_training_data_refuses_other_step_values_before_computing(resources):
    """`training_data` writes through the snapshot handoff only: it checks the stamp too."""

    @dg.asset(io_manager_key=SNAPSHOT_IO_MANAGER)
    def snapshot() -> int:
        raise AssertionError("computed although the worker differs from the run")

    result = dg.materialize(
        [snapshot],
        resources={SNAPSHOT_IO_MANAGER: resources[SNAPSHOT_IO_MANAGER]},
        instance=dg.DagsterInstance.ephemeral(),
        tags=run_stamp("s3://mlops/values"),
        raise_on_error=False,
    )
    assert not result.success
    errors = _errors(result)
    assert "MLOPS_STEP_VALUES_URL" in errors and "computed although" not in errors


def test_a_process_makes_one_s3_client_per_settings(monkeypatch):
    """A worker starts the IO manager for every step: the boto3 client is made once."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "key-a")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-a")
    first = step_io_manager("s3://mlops/values", "http://127.0.0.1:1", "us-east-1")
    again = step_io_manager("s3://mlops/other", "http://127.0.0.1:1", "us-east-1")
    with (
        dg.build_resources({"s3": first.s3_resource}) as one,
        dg.build_resources({"s3": again.s3_resource}) as two,
    ):
        assert one.s3 is two.s3
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "key-b")
    with dg.build_resources({"s3": first.s3_resource}) as other_keys:
        assert other_keys.s3 is not one.s3


@pytest.mark.integration
def test_steps_of_one_process_share_the_client_and_still_find_a_missing_bucket(
    seaweedfs, monkeypatch
):
    for name, value in seaweedfs.environment().items():
        monkeypatch.setenv(name, value)
    manager = step_io_manager(f"s3://{seaweedfs.bucket}/shared", seaweedfs.endpoint_url, "x")
    for _ in range(2):
        result = dg.materialize([numbers, total], resources={"io_manager": manager})
        assert result.output_for_node("total") == 6
    assert seaweedfs.keys("shared/") == ["shared/numbers", "shared/total"]
    missing = step_io_manager("s3://no-such-bucket/v", seaweedfs.endpoint_url, "x")
    for _ in range(2):  # a failed check is not remembered
        result = dg.materialize([numbers], resources={"io_manager": missing}, raise_on_error=False)
        assert not result.success and "MLOPS_STEP_VALUES_URL" in _errors(result)
