"""Retries of the steps that read or write external systems before the promotion decision.

Seed 001: a data-source failure at 02:00 is retried 3 times, 5 minutes apart; when every try
fails the run fails, the previous champion keeps serving and the failure sensor alerts.
`training_data` (data store, object store) and `trained_model` (MLflow) get this policy;
`verification_report`, `champion_model` and `deployment` never retry: they record decisions and
move the alias, and a retry after a compensation could promote again. A run whose process died
is retried by the instance (`run_retries` in deploy/dagster*.yaml), not here.
"""

import dagster as dg

DEFAULT_MAX_RETRIES = 3
DEFAULT_DELAY_S = 300.0


def external_step_retry_policy(
    max_retries: int = DEFAULT_MAX_RETRIES, delay_s: float = DEFAULT_DELAY_S
) -> dg.RetryPolicy:
    """The retry policy of the steps that talk to external systems.

    Args:
        max_retries: tries after the first (MLOPS_RETRY_MAX_RETRIES).
        delay_s: seconds before the first retry (MLOPS_RETRY_DELAY_S); the n-th retry waits
            n times as long (linear backoff: 5, 10, 15 minutes by default, so a 02:00 run has
            given up by 02:30 and the on-call alert goes out in the night, not at breakfast).

    Returns:
        A Dagster `RetryPolicy` with linear backoff.
    """
    return dg.RetryPolicy(max_retries=max_retries, delay=delay_s, backoff=dg.Backoff.LINEAR)
