"""Where step outputs travel between steps: a folder under DAGSTER_HOME, or S3.

Steps in the run's own process, or on Celery workers of one machine, hand each other values
through Dagster's filesystem IO manager. Workers on other machines share no disk: their steps
hand values through `dagster-aws`'s `S3PickleIOManager` on the stack's S3 endpoint instead.

A worker decides for itself (it loads the code with its own environment), so the run records
what its orchestrating process chose, and its code version, as run tags
(`execution.step_executor`); each step checks them before it runs. A worker started with other
settings or other code fails its first step with a message naming what differs, before the
step writes anything.
"""

import hashlib
from functools import cache
from pathlib import Path

import dagster as dg
from botocore.exceptions import BotoCoreError, ClientError
from dagster_aws.s3 import S3PickleIOManager, S3Resource

import mlops_assets

STEP_VALUES_TAG = "mlops/step_values"
CODE_VERSION_TAG = "mlops/code_version"
FILESYSTEM = "filesystem"
SETTING = "MLOPS_STEP_VALUES_URL"


@cache
def code_version() -> str:
    """A digest of the package's Python sources: the same on two hosts only for the same code."""
    root = Path(mlops_assets.__file__).parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def run_stamp(location: str) -> dict[str, str]:
    """The tags an orchestrating process adds to a run whose steps leave it."""
    return {STEP_VALUES_TAG: location, CODE_VERSION_TAG: code_version()}


def check_same_setup(run: dg.DagsterRun | None, location: str) -> None:
    """Raises when this process would store step values elsewhere, or runs other code, than
    the process that started the run (the run's tags say what that one chose)."""
    tags = run.tags if run is not None else {}
    expected = tags.get(STEP_VALUES_TAG)
    if expected is not None and expected != location:
        raise dg.Failure(
            f"this worker keeps step values in {location}, the run's in {expected}: start the "
            f"worker with the run's {SETTING} (or MLOPS_OBJECT_STORE_URL), S3 endpoint and "
            "credentials, or no step can read another's output"
        )
    expected = tags.get(CODE_VERSION_TAG)
    if expected is not None and expected != code_version():
        raise dg.Failure(
            f"this worker runs mlops_assets code {code_version()}, the run was started with "
            f"{expected}: deploy the same code (the same image) on every worker"
        )


class FilesystemStepValues(dg.FilesystemIOManager):
    """Dagster's filesystem IO manager, for steps that share the run's disk."""

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        check_same_setup(context.dagster_run, FILESYSTEM)
        super().setup_for_execution(context)


class S3StepValues(S3PickleIOManager):
    """`S3PickleIOManager` whose setup says which setting is wrong when the bucket is not
    there, instead of failing on the first read or write."""

    def location(self) -> str:
        return f"s3://{self.s3_bucket}/{self.s3_prefix}"

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        check_same_setup(context.dagster_run, self.location())
        client = self.s3_resource.get_client()
        try:
            client.head_bucket(Bucket=self.s3_bucket)
        except (BotoCoreError, ClientError) as error:
            raise dg.Failure(
                f"step values cannot go to {self.location()} "
                f"(endpoint {self.s3_resource.endpoint_url or 'AWS'}): {error}; check {SETTING} "
                "(or MLOPS_OBJECT_STORE_URL), the S3 endpoint and AWS_ACCESS_KEY_ID / "
                "AWS_SECRET_ACCESS_KEY"
            ) from error
        super().setup_for_execution(context)


def step_io_manager(
    url: str | None, endpoint_url: str | None, region: str
) -> FilesystemStepValues | S3StepValues:
    """The `io_manager` of every job: S3 when `url` (s3://bucket/prefix) is set, else the
    filesystem under DAGSTER_HOME. S3 credentials are read from the environment when a step
    starts (`dg.EnvVar`), so a worker without them fails naming the variable."""
    if url is None:
        return FilesystemStepValues()
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    return S3StepValues(
        s3_resource=S3Resource(
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=dg.EnvVar("AWS_ACCESS_KEY_ID"),
            aws_secret_access_key=dg.EnvVar("AWS_SECRET_ACCESS_KEY"),
        ),
        s3_bucket=bucket,
        s3_prefix=prefix.strip("/") or "dagster",
    )
