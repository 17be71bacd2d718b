"""The alerts resource: hands out the plain `Notifier` (Slack, PagerDuty, JSON webhook)."""

import dagster as dg
from pydantic import Field

from mlops_assets.backends.notifier import PAGERDUTY_EVENTS_URL, Notifier


class AlertsResource(dg.ConfigurableResource):
    """Where alerts go. Secrets are wired as `dg.EnvVar`, so the UI shows the variable's name."""

    sent_path: str = Field(description="SQLite file remembering sent alert keys (dedup).")
    slack_webhook_url: str | None = Field(
        default=None, description="Slack incoming webhook (MLOPS_ALERT_SLACK_WEBHOOK_URL)."
    )
    pagerduty_routing_key: str | None = Field(
        default=None,
        description="PagerDuty Events API v2 routing key (MLOPS_ALERT_PAGERDUTY_ROUTING_KEY).",
    )
    webhook_url: str | None = Field(
        default=None, description="Generic JSON webhook (MLOPS_ALERT_WEBHOOK_URL)."
    )
    pagerduty_url: str = Field(
        default=PAGERDUTY_EVENTS_URL, description="PagerDuty Events API v2 endpoint."
    )

    def get_client(self) -> Notifier:
        """The notifier (it holds no connection)."""
        return Notifier(
            self.sent_path,
            self.slack_webhook_url,
            self.pagerduty_routing_key,
            self.webhook_url,
            self.pagerduty_url,
        )
