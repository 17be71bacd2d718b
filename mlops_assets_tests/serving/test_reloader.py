"""The reloader: resolve, download, verify, smoke-test, swap; a failed load keeps serving."""

import time
from dataclasses import replace

import keras
import pytest

from mlops_assets.ml.predictor import file_sha256
from mlops_assets.serving.holder import ModelHolder
from mlops_assets.serving.reloader import ModelReloader
from mlops_assets_tests.support.serving import tiny_model


@pytest.fixture
def reloader(source, tmp_path):
    reloader = ModelReloader(ModelHolder(), source, poll_interval_s=0.05, download_dir=tmp_path)
    yield reloader
    reloader.stop()


def test_reload_swaps_to_the_alias_then_reports_unchanged(reloader, source):
    assert reloader.reload("startup").status == "no_model"
    source.alias = "1"
    outcome = reloader.reload("test")
    assert (outcome.status, outcome.serving_version, outcome.previous_version) == (
        "swapped",
        "1",
        None,
    )
    assert reloader.holder.current.run_id == "run-1"
    assert reloader.reload("again").status == "unchanged"


def test_swap_back_uses_the_standby_without_loading(reloader, source):
    source.alias = "1"
    reloader.reload("test")
    first = reloader.holder.current
    source.alias = "2"
    reloader.reload("test")
    source.alias = "1"
    outcome = reloader.reload("rollback")
    assert outcome.status == "swapped" and reloader.holder.current is first
    assert outcome.seconds < 0.05


def test_tampered_artifact_is_refused_and_the_current_model_keeps_serving(reloader, source):
    source.alias = "1"
    reloader.reload("test")
    source.files["2"].write_bytes(source.files["2"].read_bytes() + b"tampered")
    source.alias = "2"
    outcome = reloader.reload("deploy v2")
    assert outcome.status == "failed" and outcome.serving_version == "1"
    assert "differs from the registered" in outcome.error
    assert reloader.holder.current.version == "1" and reloader.last_error is outcome


def test_bad_bytes_with_their_own_hash_are_refused(reloader, source):
    source.alias = "1"
    reloader.reload("test")
    source.add("3", tiny_model(3))
    source.files["3"].write_bytes(b"not a keras archive")
    source.refs["3"] = replace(source.refs["3"], sha256=file_sha256(source.files["3"]))
    source.alias = "3"
    outcome = reloader.reload("deploy v3")
    assert outcome.status == "failed" and reloader.holder.current.version == "1"


def test_version_without_a_recorded_hash_is_refused(reloader, source):
    source.add("3", tiny_model(3), sha256=None)
    source.alias = "3"
    outcome = reloader.reload("deploy v3")
    assert outcome.status == "failed" and "no sha256 recorded" in outcome.error
    assert reloader.holder.current is None


def test_model_that_does_not_answer_probabilities_fails_the_smoke_test(reloader, source):
    wrong = keras.Sequential(
        [keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(3)]
    )
    source.add("3", wrong)
    source.alias = "3"
    outcome = reloader.reload("deploy v3")
    assert outcome.status == "failed" and "smoke prediction shaped (2, 3)" in outcome.error


def test_registry_down_keeps_serving(reloader, source, monkeypatch):
    source.alias = "1"
    reloader.reload("test")

    def down():
        raise ConnectionError("registry unreachable")

    monkeypatch.setattr(source, "resolve", down)
    outcome = reloader.reload("poll")
    assert outcome.status == "failed" and "registry unreachable" in outcome.error
    assert reloader.holder.current.version == "1"


def test_polling_does_not_download_a_refused_version_again(reloader, source):
    source.alias = "1"
    reloader.reload("test")
    source.add("3", tiny_model(3), sha256="0" * 64)
    source.alias = "3"
    assert reloader.reload("push").status == "failed"
    resolves = source.resolves
    assert reloader.reload("poll", retry_refused=False).status == "failed"
    assert source.resolves == resolves + 1
    assert reloader.reload("push again").error.startswith("v3: ")


def wait_for(condition, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


def test_watcher_follows_the_alias_by_polling(reloader, source):
    reloader.start()
    source.alias = "1"
    assert wait_for(lambda: reloader.holder.current and reloader.holder.current.version == "1")
    source.alias = "2"
    assert wait_for(lambda: reloader.holder.current.version == "2")
    assert reloader.last_outcome.reason == "poll"


def test_notify_wakes_the_watcher_without_polling(source, tmp_path):
    reloader = ModelReloader(ModelHolder(), source, poll_interval_s=0)
    reloader.start()
    try:
        source.alias = "2"
        time.sleep(0.1)
        assert reloader.holder.current is None
        reloader.notify("ModelPromoted v2")
        assert wait_for(lambda: reloader.holder.current and reloader.holder.current.version == "2")
        assert reloader.last_outcome.reason == "ModelPromoted v2"
    finally:
        reloader.stop()


def test_case6_a_transient_download_failure_is_retried_with_backoff(source, tmp_path):
    download = source.download
    calls = []

    def flaky(ref, destination):
        calls.append(ref.version)
        if len(calls) <= 2:
            raise ConnectionError("object store reset the connection")
        return download(ref, destination)

    source.download = flaky
    # No polling at all: only the backoff brings the version in.
    reloader = ModelReloader(
        ModelHolder(), source, poll_interval_s=0, download_dir=tmp_path, retry_initial_s=0.01
    )
    source.alias = "1"
    first = reloader.reload("startup")
    assert first.status == "failed" and first.transient and "ConnectionError" in first.error
    reloader.start()
    try:
        assert wait_for(lambda: reloader.holder.current is not None)
    finally:
        reloader.stop()
    assert reloader.holder.current.version == "1" and calls == ["1", "1", "1"]
    assert reloader.failures == 2


def test_case6_polls_of_a_refused_version_count_no_new_failures(reloader, source):
    source.alias = "1"
    reloader.reload("test")
    source.add("3", tiny_model(3), sha256="0" * 64)
    source.alias = "3"
    refused = reloader.reload("push")
    assert refused.status == "failed" and not refused.transient
    for _ in range(3):
        poll = reloader.reload("poll", retry_refused=False)
        assert poll.status == "failed" and not poll.attempted
    assert reloader.failures == 1 and reloader.last_error is refused
