"""Monthly "as of" partitions of the retraining assets.

Partition m holds out the month that ends at its as-of instant (the end of month m, or the newest
record when month m is still running) and trains on everything before that month.
"""

from datetime import datetime

import dagster as dg

from mlops_assets.constants import PARTITIONS_START

monthly_partitions = dg.MonthlyPartitionsDefinition(start_date=PARTITIONS_START, end_offset=1)


def month_key(instant: datetime) -> str:
    """Returns the partition key of the month containing `instant`."""
    return instant.strftime("%Y-%m-01")


def existing_month_key(instant: datetime, now: datetime | None = None) -> str:
    """Returns the partition of the month containing `instant`, clamped to the partitions that
    exist at `now` (default: the current time), so a sensor or schedule never requests a month
    the definition lacks, whatever instant the store hands it."""
    key = month_key(instant)
    with dg.partition_loading_context(effective_dt=now):
        first = monthly_partitions.get_first_partition_key()
        last = monthly_partitions.get_last_partition_key()
    # Keys are YYYY-MM-01, so their order is the string order.
    return min(max(key, first), last)
