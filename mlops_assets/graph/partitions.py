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
