"""Storage failures in words: each boto3 failure names the setting that fixes it."""

import pytest
from botocore.exceptions import ClientError, NoCredentialsError

from mlops_assets.backends.storage_errors import (
    ObjectNotFoundError,
    ObjectStoreError,
    explain_storage_error,
    storage_errors_explained,
)


def client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, "PutObject")


@pytest.mark.parametrize(
    ("code", "fix"),
    [
        ("InvalidAccessKeyId", "fix AWS_ACCESS_KEY_ID"),
        ("SignatureDoesNotMatch", "fix AWS_SECRET_ACCESS_KEY"),
        ("NoSuchBucket", "fix MLOPS_OBJECT_STORE_URL"),
        ("AccessDenied", "the bucket's policy"),
    ],
)
def test_refusals_name_the_setting(code, fix):
    assert fix in explain_storage_error(client_error(code), "http://s3:8333", "b")


def test_missing_credentials_and_wrapped_upload_errors_are_explained():
    assert "AWS_ACCESS_KEY_ID" in explain_storage_error(NoCredentialsError())
    wrapped = RuntimeError("Failed to upload: An error occurred (SignatureDoesNotMatch) ...")
    assert "fix AWS_SECRET_ACCESS_KEY" in explain_storage_error(wrapped, "http://s3:8333")


def test_the_endpoint_is_taken_from_the_error_when_unknown():
    error = RuntimeError('Could not connect to the endpoint URL: "http://127.0.0.1:9/b/k"')
    explained = explain_storage_error(error, endpoint_variable="MLFLOW_S3_ENDPOINT_URL")
    assert "the S3 endpoint http://127.0.0.1:9 does not answer" in explained
    assert "MLFLOW_S3_ENDPOINT_URL" in explained


def test_the_context_manager_translates_known_failures_and_passes_the_rest():
    with pytest.raises(ObjectStoreError, match="writing k failed: .*fix AWS_ACCESS_KEY_ID"):
        with storage_errors_explained("writing k", "http://s3:8333", "b"):
            raise client_error("InvalidAccessKeyId")
    with pytest.raises(ObjectNotFoundError):
        with storage_errors_explained("reading k"):
            raise ObjectNotFoundError("s3://b/k")
    with pytest.raises(ZeroDivisionError):
        with storage_errors_explained("dividing"):
            raise ZeroDivisionError
    assert explain_storage_error(client_error("SlowDown")) is None
