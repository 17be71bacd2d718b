"""Storage failures in words: which endpoint did not answer, which variable to fix.

boto3's own errors ("SignatureDoesNotMatch", "Could not connect to the endpoint URL") say what
happened but not which setting is wrong; these helpers translate them for the object store and
for MLflow's S3 artifact store alike.
"""

import contextlib
import re
from collections.abc import Iterator
from urllib.parse import urlsplit

ENDPOINT_VARIABLES = "MLOPS_S3_ENDPOINT_URL (or MLFLOW_S3_ENDPOINT_URL)"


class ObjectStoreError(RuntimeError):
    """Object storage failed; the message says what to fix."""


class ObjectNotFoundError(KeyError):
    """No object under the key."""


@contextlib.contextmanager
def storage_errors_explained(
    action: str,
    endpoint_url: str | None = None,
    bucket: str | None = None,
    endpoint_variable: str = ENDPOINT_VARIABLES,
    location_variable: str = "MLOPS_OBJECT_STORE_URL",
) -> Iterator[None]:
    """Re-raises boto3 failures as `ObjectStoreError` naming the variable to fix.

    Args:
        action: what was being done, e.g. "storing the model in MLflow's artifact store".
        endpoint_url: the S3 endpoint in use; None takes it from the error, else AWS.
        bucket: the bucket, if known.
        endpoint_variable: the setting that names the endpoint.
        location_variable: the setting that names the bucket.
    """
    try:
        yield
    except ObjectNotFoundError:
        raise
    except Exception as error:
        explanation = explain_storage_error(
            error, endpoint_url, bucket, endpoint_variable, location_variable
        )
        if explanation is None:
            raise
        raise ObjectStoreError(f"{action} failed: {explanation}") from error


_UNREACHABLE = re.compile(r'Could not connect to the endpoint URL: "(?P<url>[^"]+)"')


def explain_storage_error(
    error: BaseException,
    endpoint_url: str | None = None,
    bucket: str | None = None,
    endpoint_variable: str = ENDPOINT_VARIABLES,
    location_variable: str = "MLOPS_OBJECT_STORE_URL",
) -> str | None:
    """Says in words what a boto3 failure means and which variable fixes it; None if unknown."""
    from botocore.exceptions import (
        ClientError,
        ConnectionClosedError,
        ConnectTimeoutError,
        EndpointConnectionError,
        NoCredentialsError,
        PartialCredentialsError,
    )

    text = str(error)
    unreachable = _UNREACHABLE.search(text)
    if endpoint_url is None and unreachable:
        parts = urlsplit(unreachable["url"])
        endpoint_url = f"{parts.scheme}://{parts.netloc}"
    endpoint = endpoint_url or "AWS S3"
    if unreachable or isinstance(
        error, EndpointConnectionError | ConnectTimeoutError | ConnectionClosedError
    ):
        return (
            f"the S3 endpoint {endpoint} does not answer; start it or point "
            f"{endpoint_variable} at a running one ({text})"
        )
    if isinstance(error, NoCredentialsError | PartialCredentialsError):
        return "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
    else:
        # boto3's upload manager wraps the ClientError in S3UploadFailedError's text.
        known = ("InvalidAccessKeyId", "SignatureDoesNotMatch", "NoSuchBucket", "AccessDenied")
        code = next((c for c in known if c in text), "")
    if code == "InvalidAccessKeyId":
        return f"{endpoint} does not know this access key: fix AWS_ACCESS_KEY_ID"
    if code == "SignatureDoesNotMatch":
        return (
            f"{endpoint} rejected the request signature: fix AWS_SECRET_ACCESS_KEY "
            "(it does not match AWS_ACCESS_KEY_ID)"
        )
    if code == "NoSuchBucket":
        return (
            f"bucket {bucket or ''} does not exist at {endpoint}: "
            f"create it or fix {location_variable}"
        )
    if code in ("AccessDenied", "403"):
        return (
            f"{endpoint} denied access to bucket {bucket or ''}: check AWS_ACCESS_KEY_ID, "
            "AWS_SECRET_ACCESS_KEY and the bucket's policy"
        )
    return None
