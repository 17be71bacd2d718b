"""Alerts: one notifier for a Slack incoming webhook, PagerDuty Events API v2 and a JSON webhook.

Each channel is on when its URL or key is configured. An alert carries a dedup key: the
notifier remembers the keys it sent (a small SQLite table), so a repeated sensor tick or a
retried step does not page twice; PagerDuty also receives the key as its `dedup_key`.
No dagster import: the rollback command sends alerts too.
"""

import logging
import sqlite3
import threading
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import httpx

from mlops_assets.contracts.safe_text import redact

log = logging.getLogger(__name__)

PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"

Severity = Literal["critical", "error", "warning", "info"]
SLACK_ICONS = {"critical": ":rotating_light:", "error": ":red_circle:", "warning": ":warning:"}


@dataclass(frozen=True)
class Alert:
    """Something a person should look at.

    Args:
        key: the dedup key: the same key is sent once (e.g. `run-failed-<run id>`).
        summary: one line a person reads first.
        severity: PagerDuty's severity vocabulary.
        kind: what happened: run_failed, champion_below_target, drift_detected, rollback.
        details: the numbers behind it.
    """

    key: str
    summary: str
    severity: Severity
    kind: str
    details: dict = field(default_factory=dict)
    source: str = "mlops_assets"


class AlertDeliveryError(RuntimeError):
    """No configured channel accepted the alert."""


class Notifier:
    """Sends alerts to every configured channel, each key once.

    Args:
        sent_path: the SQLite file remembering sent keys.
        slack_webhook_url: a Slack incoming webhook URL (a secret).
        pagerduty_routing_key: a PagerDuty Events API v2 integration key (a secret).
        webhook_url: any endpoint that takes the alert as JSON.
        pagerduty_url: the Events API endpoint (a test receiver in tests).
        timeout_s: per-request timeout.
    """

    def __init__(
        self,
        sent_path: str | Path,
        slack_webhook_url: str | None = None,
        pagerduty_routing_key: str | None = None,
        webhook_url: str | None = None,
        pagerduty_url: str = PAGERDUTY_EVENTS_URL,
        timeout_s: float = 10.0,
    ) -> None:
        self.sent_path = Path(sent_path)
        self.slack_webhook_url = slack_webhook_url or None
        self.pagerduty_routing_key = pagerduty_routing_key or None
        self.webhook_url = webhook_url or None
        self.pagerduty_url = pagerduty_url
        self.timeout_s = timeout_s
        self._lock = threading.Lock()

    @property
    def channels(self) -> list[str]:
        """The configured channels, by name (never their URLs or keys)."""
        configured = {
            "slack": self.slack_webhook_url,
            "pagerduty": self.pagerduty_routing_key,
            "webhook": self.webhook_url,
        }
        return [name for name, value in configured.items() if value]

    def _connect(self) -> sqlite3.Connection:
        self.sent_path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.sent_path, timeout=30)
        conn.execute(
            "CREATE TABLE IF NOT EXISTS sent_alerts (key TEXT PRIMARY KEY, kind TEXT, "
            "summary TEXT, sent_at TEXT, channels TEXT)"
        )
        return conn

    def already_sent(self, key: str) -> bool:
        """Tells whether an alert with this dedup key went out before."""
        with self._lock, self._connect() as conn:
            return (
                conn.execute("SELECT 1 FROM sent_alerts WHERE key = ?", (key,)).fetchone()
                is not None
            )

    def send(self, alert: Alert) -> list[str]:
        """Sends the alert to every configured channel unless its key was sent before.

        Returns:
            The channels that accepted it; empty when deduplicated or none is configured.

        Raises:
            AlertDeliveryError: channels are configured and none accepted it (the key is not
                remembered, so the next attempt sends again).
        """
        # The one door every alert leaves by: whatever built it, no secret goes out.
        alert = replace(alert, summary=redact(alert.summary))
        log.warning("ALERT %s [%s]: %s", alert.kind, alert.key, alert.summary)
        if not self.channels or self.already_sent(alert.key):
            return []
        delivered, errors = [], []
        with httpx.Client(timeout=self.timeout_s) as client:
            for channel in self.channels:
                try:
                    url, body = self._request(channel, alert)
                    response = client.post(url, json=body)
                    response.raise_for_status()
                    delivered.append(channel)
                except httpx.HTTPError as error:
                    # The URL may hold the secret: name the channel, not the address.
                    errors.append(f"{channel}: {type(error).__name__} {_status(error)}")
        if not delivered:
            raise AlertDeliveryError(
                f"alert {alert.key} reached no channel ({'; '.join(errors)}); check the "
                "MLOPS_ALERT_* variables and that the endpoints answer"
            )
        if errors:
            log.error("alert %s not delivered to: %s", alert.key, "; ".join(errors))
        with self._lock, self._connect() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO sent_alerts VALUES (?, ?, ?, ?, ?)",
                (
                    alert.key,
                    alert.kind,
                    alert.summary,
                    datetime.now(UTC).isoformat(),
                    ",".join(delivered),
                ),
            )
        return delivered

    def _request(self, channel: str, alert: Alert) -> tuple[str, dict]:
        if channel == "slack":
            icon = SLACK_ICONS.get(alert.severity, ":information_source:")
            facts = "\n".join(f"• {k}: {v}" for k, v in alert.details.items())
            text = f"{icon} *{alert.summary}*\n{facts}".rstrip()
            return self.slack_webhook_url, {"text": text}
        if channel == "pagerduty":
            body = {
                "routing_key": self.pagerduty_routing_key,
                "event_action": "trigger",
                "dedup_key": alert.key,
                "payload": {
                    "summary": alert.summary[:1024],
                    "source": alert.source,
                    "severity": alert.severity,
                    "component": alert.kind,
                    "custom_details": alert.details,
                },
            }
            return self.pagerduty_url, body
        return self.webhook_url, asdict(alert)


def _status(error: httpx.HTTPError) -> str:
    if isinstance(error, httpx.HTTPStatusError):
        return str(error.response.status_code)
    return ""
