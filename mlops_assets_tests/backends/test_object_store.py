"""Contract tests of the object store, run against a local folder and SeaweedFS's S3."""

import uuid

import numpy as np
import pandas as pd
import pytest

from mlops_assets.backends.object_store import LocalObjectStore, S3ObjectStore
from mlops_assets.backends.storage_errors import ObjectNotFoundError, ObjectStoreError
from mlops_assets.tools.processes import free_port


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.integration)])
def store(request, tmp_path, monkeypatch):
    if request.param == "local":
        return LocalObjectStore(root=str(tmp_path / "objects"))
    weed = request.getfixturevalue("seaweedfs")
    for name, value in weed.environment().items():
        monkeypatch.setenv(name, value)
    return S3ObjectStore(
        bucket=weed.bucket,
        prefix=f"contract-{uuid.uuid4().hex[:8]}",
        endpoint_url=weed.endpoint_url,
    )


def test_put_get_exists(store):
    assert not store.exists("a/b.bin")
    uri = store.put_bytes("a/b.bin", b"\x00\x01payload")
    assert uri == store.uri("a/b.bin")
    assert store.exists("a/b.bin")
    assert store.get_bytes("a/b.bin") == b"\x00\x01payload"
    store.put_bytes("a/b.bin", b"replaced")
    assert store.get_bytes("a/b.bin") == b"replaced"


def test_missing_object(store):
    with pytest.raises(ObjectNotFoundError):
        store.get_bytes("nothing/here")


def test_list_keys_by_prefix(store):
    assert store.list_keys() == []
    for key in ("x/2.bin", "x/1.bin", "y/1.bin"):
        store.put_bytes(key, b"1")
    assert store.list_keys() == ["x/1.bin", "x/2.bin", "y/1.bin"]
    assert store.list_keys("x/") == ["x/1.bin", "x/2.bin"]


def test_frame_round_trip(store):
    frame = pd.DataFrame(
        {
            "seq": [1, 2],
            "label": [3, 7],
            "pixels": [np.arange(64, dtype=np.uint8), np.zeros(64, dtype=np.uint8)],
            "confirmed_at": pd.to_datetime(["2025-01-01", "2025-02-01"], utc=True),
        }
    )
    uri = store.put_frame("snapshots/v1.parquet", frame)
    assert uri.endswith("snapshots/v1.parquet")
    back = store.get_frame("snapshots/v1.parquet")
    assert back["seq"].tolist() == [1, 2]
    assert back["pixels"][0].tolist() == list(range(64))
    assert str(back["confirmed_at"].dt.tz) == "UTC"
    # A key that names its content is written once.
    store.put_frame("snapshots/v1.parquet", frame.iloc[:1], overwrite=False)
    assert len(store.get_frame("snapshots/v1.parquet")) == 2


def test_check_answers(store):
    assert store.check()


@pytest.mark.parametrize("key", ["", "/abs", "a/../b", "a//b"])
def test_invalid_keys_are_refused(store, key):
    with pytest.raises(ValueError):
        store.put_bytes(key, b"1")


def test_unreachable_endpoint_names_the_variable(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    endpoint = f"http://127.0.0.1:{free_port()}"
    store = S3ObjectStore(bucket="mlops", endpoint_url=endpoint)
    with pytest.raises(ObjectStoreError) as raised:
        store.check()
    assert f"the S3 endpoint {endpoint} does not answer" in str(raised.value)
    assert "MLOPS_S3_ENDPOINT_URL" in str(raised.value)


@pytest.mark.integration
@pytest.mark.parametrize(
    ("variable", "value"),
    [("AWS_ACCESS_KEY_ID", "nobody"), ("AWS_SECRET_ACCESS_KEY", "not-the-secret")],
)
def test_wrong_credentials_name_the_variable(seaweedfs, monkeypatch, variable, value):
    for name, good in seaweedfs.environment().items():
        monkeypatch.setenv(name, good)
    monkeypatch.setenv(variable, value)
    store = S3ObjectStore(bucket=seaweedfs.bucket, endpoint_url=seaweedfs.endpoint_url)
    with pytest.raises(ObjectStoreError, match=f"fix {variable}"):
        store.put_bytes("k.bin", b"1")


@pytest.mark.integration
def test_missing_bucket_names_the_setting(seaweedfs, monkeypatch):
    for name, value in seaweedfs.environment().items():
        monkeypatch.setenv(name, value)
    store = S3ObjectStore(bucket="no-such-bucket", endpoint_url=seaweedfs.endpoint_url)
    with pytest.raises(ObjectStoreError, match="MLOPS_OBJECT_STORE_URL"):
        store.check()
