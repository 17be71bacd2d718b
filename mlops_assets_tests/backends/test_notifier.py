"""The notifier against a real local HTTP receiver: each channel's payload, dedup, failures."""

import pytest

from mlops_assets.backends.notifier import Alert, AlertDeliveryError, Notifier
from mlops_assets_tests.support.receiver import http_receiver


@pytest.fixture
def receiver():
    with http_receiver() as received:
        yield received


def _notifier(tmp_path, receiver, **channels) -> Notifier:
    return Notifier(tmp_path / "alerts.db", pagerduty_url=f"{receiver.base_url}/pd", **channels)


def _alert(key: str = "drift-v3-20250401") -> Alert:
    return Alert(
        key=key,
        summary="champion v3: drift detected",
        severity="warning",
        kind="drift_detected",
        details={"input:mean_grey": 0.74},
    )


def test_every_channel_receives_the_alert_once(tmp_path, receiver):
    notifier = _notifier(
        tmp_path,
        receiver,
        slack_webhook_url=f"{receiver.base_url}/slack",
        pagerduty_routing_key="routing-key-123",
        webhook_url=f"{receiver.base_url}/hook",
    )
    assert notifier.send(_alert()) == ["slack", "pagerduty", "webhook"]
    assert notifier.send(_alert()) == []  # a repeated tick: deduplicated
    assert len(receiver.requests) == 3
    (slack,) = receiver.bodies("/slack")
    assert "champion v3: drift detected" in slack["text"] and "input:mean_grey" in slack["text"]
    (page,) = receiver.bodies("/pd")
    assert page["routing_key"] == "routing-key-123"
    assert page["event_action"] == "trigger" and page["dedup_key"] == "drift-v3-20250401"
    assert page["payload"]["severity"] == "warning"
    assert page["payload"]["custom_details"] == {"input:mean_grey": 0.74}
    (hook,) = receiver.bodies("/hook")
    assert hook["key"] == "drift-v3-20250401" and hook["kind"] == "drift_detected"


def test_dedup_survives_a_new_notifier_on_the_same_file(tmp_path, receiver):
    url = f"{receiver.base_url}/hook"
    assert _notifier(tmp_path, receiver, webhook_url=url).send(_alert()) == ["webhook"]
    assert _notifier(tmp_path, receiver, webhook_url=url).send(_alert()) == []
    assert _notifier(tmp_path, receiver, webhook_url=url).send(_alert("other")) == ["webhook"]
    assert len(receiver.requests) == 2


def test_a_refused_alert_raises_without_the_secret_and_is_sent_again_later(tmp_path, receiver):
    secret_url = f"{receiver.base_url}/slack/T000/B000/secret-token"
    notifier = _notifier(tmp_path, receiver, slack_webhook_url=secret_url)
    receiver.status = 500
    with pytest.raises(AlertDeliveryError) as error:
        notifier.send(_alert())
    assert "slack" in str(error.value) and "secret-token" not in str(error.value)
    receiver.status = 200
    assert notifier.send(_alert()) == ["slack"]
    assert len(receiver.requests) == 2


def test_without_channels_nothing_is_sent(tmp_path, receiver):
    notifier = _notifier(tmp_path, receiver)
    assert notifier.channels == [] and notifier.send(_alert()) == []
    assert receiver.requests == []
