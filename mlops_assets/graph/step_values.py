"""Where step outputs travel between steps: a folder under DAGSTER_HOME, or S3.

Steps in the run's own process, or on Celery workers of one machine, hand each other values
through Dagster's filesystem IO manager. Workers on other machines share no disk: their steps
hand values through `dagster-aws`'s `S3PickleIOManager` on the stack's S3 endpoint instead.

A worker decides for itself (it loads the code with its own environment), so the run records
what its orchestrating process chose, and its code version, as run tags
(`execution.step_executor`); each step checks them before it runs. A worker started with other
settings or other code fails its first step with a message naming what differs, before the
step writes anything.

A Celery worker starts the IO manager again for every step, so what that costs is paid per step:
the boto3 client is made once per process and reused (`ProcessS3Resource`), the bucket is checked
once per process and client, and a value is stored with one PUT.
"""

import hashlib
import os
import pickle
from functools import lru_cache
from pathlib import Path
from typing import Any

import dagster as dg
from botocore.exceptions import BotoCoreError, ClientError
from dagster_aws.s3 import PickledObjectS3IOManager, S3PickleIOManager, S3Resource
from dagster_aws.s3.utils import construct_s3_client
from pydantic import PrivateAttr
from upath import UPath

import mlops_assets

STEP_VALUES_TAG = "mlops/step_values"
CODE_VERSION_TAG = "mlops/code_version"
FILESYSTEM = "filesystem"
SETTING = "MLOPS_STEP_VALUES_URL"


def _source_digest() -> str:
    root = Path(mlops_assets.__file__).parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


# Hashed as the code is imported, once per process: the sources this process loaded, not the
# files on disk when a step first asks (an edit after a worker started would hide its old code).
_CODE_VERSION = _source_digest()


def code_version() -> str:
    """A digest of the package's Python sources: the same on two hosts only for the same code."""
    return _CODE_VERSION


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


@lru_cache(maxsize=8)
def _process_client(pid: int, **settings: Any) -> Any:
    """One boto3 client per process and settings (`pid`: a forked child makes its own, as
    boto3 clients must not cross a fork)."""
    return construct_s3_client(**settings)


class ProcessS3Resource(S3Resource):
    """`S3Resource` whose `get_client` returns the process's client for these settings instead
    of a new session and client each call (about 80 ms of CPU each, and a worker starts the IO
    manager for every step).
    boto3 clients are thread-safe; credentials are part of the key, so other keys get another
    client."""

    def get_client(self) -> Any:
        return _process_client(
            os.getpid(),
            max_attempts=self.max_attempts,
            region_name=self.region_name,
            endpoint_url=self.endpoint_url,
            use_unsigned_session=self.use_unsigned_session,
            profile_name=self.profile_name,
            use_ssl=self.use_ssl,
            verify=self.verify,
            aws_access_key_id=self.aws_access_key_id,
            aws_secret_access_key=self.aws_secret_access_key,
            aws_session_token=self.aws_session_token,
        )


@lru_cache(maxsize=16)
def _list_once(client: Any, bucket: str, prefix: str) -> None:
    """Lists at most one key of the prefix, once per client (a failure is not remembered): the
    bucket exists and the keys may read it."""
    client.list_objects(Bucket=bucket, Prefix=prefix, MaxKeys=1)


class StepPickles(PickledObjectS3IOManager):
    """`dagster-aws`'s pickles in S3, with the bucket checked once per process instead of at
    every start, and each value stored with one PUT instead of a managed transfer (a thread
    pool per value): step values are small here (a model travels as its registry version, a
    snapshot as its object key)."""

    def __init__(self, s3_bucket: str, s3_session: Any, s3_prefix: str) -> None:
        # Not the parent's __init__: it is the same but for a listing at every start.
        _list_once(s3_session, s3_bucket, s3_prefix)
        self.bucket, self.s3 = s3_bucket, s3_session
        dg.UPathIOManager.__init__(self, base_path=UPath(s3_prefix))

    def dump_to_path(self, context: dg.OutputContext, obj: Any, path: UPath) -> None:
        data = pickle.dumps(obj, pickle.HIGHEST_PROTOCOL)
        self.s3.put_object(Bucket=self.bucket, Key=path.as_posix(), Body=data)


class S3StepValues(S3PickleIOManager):
    """`S3PickleIOManager` that starts its S3 side when the step's resources start, so a wrong
    bucket or missing credentials fail there with the setting named, instead of on the first
    read or write."""

    _inner: StepPickles | None = PrivateAttr(default=None)

    def location(self) -> str:
        return f"s3://{self.s3_bucket}/{self.s3_prefix}"

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        check_same_setup(context.dagster_run, self.location())
        try:
            self._inner = StepPickles(
                s3_bucket=self.s3_bucket,
                s3_session=self.s3_resource.get_client(),
                s3_prefix=self.s3_prefix,
            )
        except (BotoCoreError, ClientError) as error:
            raise dg.Failure(
                f"step values cannot go to {self.location()} "
                f"(endpoint {self.s3_resource.endpoint_url or 'AWS'}): {error}; check {SETTING} "
                "(or MLOPS_OBJECT_STORE_URL), the S3 endpoint and AWS_ACCESS_KEY_ID / "
                "AWS_SECRET_ACCESS_KEY"
            ) from error
        super().setup_for_execution(context)

    def inner_io_manager(self) -> StepPickles:
        if self._inner is None:  # used without its setup (built by hand)
            self._inner = StepPickles(self.s3_bucket, self.s3_resource.get_client(), self.s3_prefix)
        return self._inner


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
        s3_resource=ProcessS3Resource(
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=dg.EnvVar("AWS_ACCESS_KEY_ID"),
            aws_secret_access_key=dg.EnvVar("AWS_SECRET_ACCESS_KEY"),
        ),
        s3_bucket=bucket,
        s3_prefix=prefix.strip("/") or "dagster",
    )
