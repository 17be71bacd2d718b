"""Object storage for training-data snapshots: a local folder (embedded) or any S3 endpoint.

Both backends share the verbs below and one contract test suite. The S3 backend talks to AWS,
MinIO or SeaweedFS through boto3 with path-style addressing and checksums only where required
(boto3 >= 1.36 sends CRC checksums by default, which non-AWS servers may reject). Credentials come
only from boto3's environment chain (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`), never from
configuration, and storage failures are raised as `ObjectStoreError` naming what to fix
(`storage_errors.py`). No dagster import: the Dagster resource hands out these objects.
"""

import contextlib
import io
import os
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from mlops_assets.backends.storage_errors import (
    ObjectNotFoundError,
    ObjectStoreError,
    storage_errors_explained,
)


class ObjectStore(ABC):
    """Keys to bytes: `put_bytes`, `get_bytes`, `exists`, `list_keys`, plus Parquet helpers."""

    @abstractmethod
    def uri(self, key: str) -> str:
        """Returns the object's address (`s3://bucket/…` or `file:///…`)."""

    @abstractmethod
    def put_bytes(self, key: str, data: bytes) -> str:
        """Stores `data` under `key`, replacing any object there.

        Returns:
            The object's URI.
        """

    @abstractmethod
    def get_bytes(self, key: str) -> bytes:
        """Returns the object under `key`.

        Raises:
            ObjectNotFoundError: there is none.
        """

    @abstractmethod
    def exists(self, key: str) -> bool:
        """Says whether an object is stored under `key`."""

    @abstractmethod
    def list_keys(self, prefix: str = "") -> list[str]:
        """Returns the keys that start with `prefix`, sorted."""

    @abstractmethod
    def check(self) -> str:
        """Makes one cheap request to prove the store answers and accepts our credentials.

        Returns:
            Where the store is, for humans.

        Raises:
            ObjectStoreError: it does not answer or refuses us.
        """

    @abstractmethod
    def close(self) -> None:
        """Releases connections (the next call opens new ones)."""

    def put_frame(self, key: str, frame: pd.DataFrame, overwrite: bool = True) -> str:
        """Stores a DataFrame as Parquet.

        Args:
            key: where, conventionally ending in `.parquet`.
            frame: the rows; numpy-array cells become Parquet lists.
            overwrite: False keeps an existing object (for keys that name their content).

        Returns:
            The object's URI.
        """
        if not overwrite and self.exists(key):
            return self.uri(key)
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False, engine="pyarrow")
        return self.put_bytes(key, buffer.getvalue())

    def get_frame(self, key: str) -> pd.DataFrame:
        """Reads a DataFrame stored with `put_frame`."""
        return pd.read_parquet(io.BytesIO(self.get_bytes(key)), engine="pyarrow")


def _checked_key(key: str) -> str:
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"invalid object key {key!r}: use relative keys like 'a/b.parquet'")
    return key


class LocalObjectStore(ObjectStore):
    """Objects as files under a folder (the embedded default, MLOPS_HOME/objects).

    Args:
        root: folder that holds the objects.
    """

    def __init__(self, root: str) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return Path(self.root).resolve() / _checked_key(key)

    def uri(self, key: str) -> str:
        return self._path(key).as_uri()

    def put_bytes(self, key: str, data: bytes) -> str:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename, so a reader never sees half an object.
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as handle:
            handle.write(data)
        os.replace(handle.name, path)
        return path.as_uri()

    def get_bytes(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise ObjectNotFoundError(self.uri(key)) from None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list_keys(self, prefix: str = "") -> list[str]:
        root = Path(self.root).resolve()
        if not root.is_dir():
            return []
        # Walk only the folder the prefix names (the prediction log holds many files).
        folder = root / prefix.rsplit("/", 1)[0] if "/" in prefix else root
        if not folder.is_dir():
            return []
        found = (p.relative_to(root).as_posix() for p in folder.rglob("*") if p.is_file())
        return sorted(k for k in found if k.startswith(prefix))

    def close(self) -> None:
        """A folder holds no connection."""

    def check(self) -> str:
        root = Path(self.root).resolve()
        root.mkdir(parents=True, exist_ok=True)
        if not os.access(root, os.W_OK):
            raise ObjectStoreError(f"{root} is not writable: fix MLOPS_HOME or its permissions")
        return root.as_uri()


class S3ObjectStore(ObjectStore):
    """Objects in an S3 bucket under a prefix, on AWS or any S3-compatible server.

    Args:
        bucket: bucket that holds the objects.
        prefix: key prefix inside the bucket, without slashes.
        endpoint_url: S3 endpoint (http://127.0.0.1:8333); None means AWS.
        region: region used for request signing.
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str = "us-east-1",
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self.endpoint_url = endpoint_url
        self.region = region
        self._client = None

    @property
    def client(self):
        """The boto3 client, created on first use."""
        if self._client is None:
            import boto3
            from botocore.config import Config

            # A new session reads the credentials from the environment now; boto3's default
            # session would keep those it found first.
            self._client = boto3.session.Session().client(
                "s3",
                endpoint_url=self.endpoint_url or None,
                region_name=self.region,
                config=Config(
                    s3={"addressing_style": "path"},
                    request_checksum_calculation="when_required",
                    response_checksum_validation="when_required",
                    retries={"max_attempts": 3, "mode": "standard"},
                    connect_timeout=5,
                    read_timeout=60,
                ),
            )
        return self._client

    def close(self) -> None:
        """Drops the boto3 client (the next call makes a new one)."""
        self._client = None

    def _key(self, key: str) -> str:
        key = _checked_key(key)
        return f"{self.prefix.strip('/')}/{key}" if self.prefix.strip("/") else key

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    def put_bytes(self, key: str, data: bytes) -> str:
        with self._explained(f"writing {self.uri(key)}"):
            self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)
        return self.uri(key)

    def get_bytes(self, key: str) -> bytes:
        with self._explained(f"reading {self.uri(key)}"):
            try:
                response = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
            except self.client.exceptions.NoSuchKey:
                raise ObjectNotFoundError(self.uri(key)) from None
            return response["Body"].read()

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        with self._explained(f"looking up {self.uri(key)}"):
            try:
                self.client.head_object(Bucket=self.bucket, Key=self._key(key))
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey"):
                    return False
                raise
            return True

    def list_keys(self, prefix: str = "") -> list[str]:
        base = f"{self.prefix.strip('/')}/" if self.prefix.strip("/") else ""
        found = []
        with self._explained(f"listing s3://{self.bucket}/{base}{prefix}"):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=base + prefix
            )
            for page in pages:
                found.extend(item["Key"].removeprefix(base) for item in page.get("Contents", []))
        return sorted(found)

    def check(self) -> str:
        # A GET (not HEAD) so a refusal carries its error code: which credential is wrong.
        with self._explained(f"listing s3://{self.bucket}"):
            self.client.list_objects_v2(Bucket=self.bucket, MaxKeys=1)
        return f"s3://{self.bucket}/{self.prefix} at {self.endpoint_url or 'AWS'}"

    @contextlib.contextmanager
    def _explained(self, action: str) -> Iterator[None]:
        with storage_errors_explained(action, self.endpoint_url, self.bucket):
            yield
