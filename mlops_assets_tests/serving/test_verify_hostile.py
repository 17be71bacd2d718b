"""Hostile verify bodies (Hypothesis): whatever arrives, the answer is a score or a 4xx that
says why, never a 5xx, and the model keeps answering."""

import json
import math

import numpy as np
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops_assets.demo.face_source import synthetic_face_vectors
from mlops_assets.serving.app import create_app
from mlops_assets.serving.config import ServingSettings
from mlops_assets_tests.support.serving import FolderSource, tiny_verifier, two_model_fleet

VERIFY = "/models/face_verifier/verify"
DIMENSION = 128
REFUSED = {400, 413, 422}

_PAIR = synthetic_face_vectors(1, 2, seed=5)[0].tolist()


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    faces = FolderSource(tmp_path_factory.mktemp("faces"), name="face-verifier")
    faces.add("1", tiny_verifier(1))
    faces.alias = "1"
    serving = ServingSettings(poll_interval_s=0, record_predictions=False, max_body_bytes=65536)
    app = create_app(serving, sources={"face_verifier": faces}, fleet=two_model_fleet())
    with TestClient(app) as client:
        yield client


numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(min_value=-1, max_value=1),
)
json_values = st.recursive(
    st.none() | st.booleans() | numbers | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=30,
)
vectors = st.one_of(
    st.lists(numbers, min_size=DIMENSION, max_size=DIMENSION),
    st.lists(numbers, max_size=300),
    json_values,
    # Nearly valid: a unit vector with one component replaced.
    st.tuples(st.integers(0, DIMENSION - 1), json_values).map(
        lambda change: [*_PAIR[0][: change[0]], change[1], *_PAIR[0][change[0] + 1 :]]
    ),
)
bodies = st.one_of(
    st.fixed_dictionaries({"first": vectors, "second": vectors}),
    st.fixed_dictionaries(
        {"first": vectors, "second": vectors}, optional={"pair_id": json_values, "x": json_values}
    ),
    json_values,
)


def _encoded(body: object) -> bytes:
    # Python's json writes NaN and Infinity, as a careless client would.
    return json.dumps(body, allow_nan=True).encode()


def _check(client: TestClient, content: bytes) -> None:
    response = client.post(VERIFY, content=content, headers={"content-type": "application/json"})
    assert response.status_code < 500, response.text
    if response.status_code == 200:
        body = response.json()
        assert math.isfinite(body["score"]) and -1.0001 <= body["score"] <= 1.0001
    else:
        assert response.status_code in REFUSED, response.text
        assert response.json()["detail"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=bodies)
def test_hostile_json_bodies_never_get_a_server_error(client, body):
    _check(client, _encoded(body))


@settings(max_examples=100, deadline=None)
@given(raw=st.binary(max_size=2000))
def test_arbitrary_bytes_never_get_a_server_error(client, raw):
    _check(client, raw)


@settings(max_examples=100, deadline=None)
@given(
    first=st.lists(st.floats(-1, 1, allow_subnormal=True), min_size=DIMENSION, max_size=DIMENSION),
    second=st.lists(st.floats(-1, 1), min_size=DIMENSION, max_size=DIMENSION),
)
def test_any_pair_of_unit_vectors_gets_a_score(client, first, second):
    """Normalised here, so the only refusals left are vectors with no direction."""
    pair = [np.asarray(v) for v in (first, second)]
    norms = [np.linalg.norm(v) for v in pair]
    body = {"first": first, "second": second}
    if all(n > 1e-3 for n in norms):
        body = {"first": (pair[0] / norms[0]).tolist(), "second": (pair[1] / norms[1]).tolist()}
    _check(client, _encoded(body))


def test_the_server_still_answers_after_the_hostile_bodies(client):
    response = client.post(VERIFY, json={"first": _PAIR[0], "second": _PAIR[1]})
    assert response.status_code == 200 and response.json()["match"] is True
