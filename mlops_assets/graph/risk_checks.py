"""The checks of an upstream_models (confirmation-risk) model's graph, one property each.

Blocking on `training_data`: both sides have enough rows, the training side holds risky and
safe rows, every feature is finite and every upstream's champion version is recorded. The gate
checks (one per spec gate) and `champion_alias_agrees` are the classification graph's. The graph
has no `champion_monitor`, so no monitor checks.
"""

import dagster as dg
import numpy as np

from mlops_assets.contracts.model_spec import ModelSpec
from mlops_assets.graph.checks import (
    champion_alias_agrees_for,
    check_result,
    checks_on,
    gate_check,
    rows_result,
)
from mlops_assets.graph.model_names import ModelNames
from mlops_assets.graph.partitions import monthly_partitions
from mlops_assets.ml.risk_data import RISK_LABEL, RiskSnapshot, feature_arrays
from mlops_assets.retraining.upstream_features import NO_CHAMPION


def enough_feature_rows(training_data: RiskSnapshot) -> dg.AssetCheckResult:
    """Train and holdout each have enough confirmations to train and to judge."""
    return rows_result(len(training_data.train), len(training_data.holdout))


def both_outcomes_in_train(training_data: RiskSnapshot) -> dg.AssetCheckResult:
    """The training side holds risky and safe confirmations (a classifier needs both)."""
    risky = int(training_data.train[RISK_LABEL].sum()) if len(training_data.train) else 0
    safe = len(training_data.train) - risky
    return check_result(risky > 0 and safe > 0, f"risky {risky}, safe {safe}", "both > 0")


def features_finite(training_data: RiskSnapshot) -> dg.AssetCheckResult:
    """Every feature value the upstream champions gave is finite."""
    bad = sum(
        int((~np.isfinite(feature_arrays(frame)[0])).any(axis=1).sum())
        for frame in (training_data.train, training_data.holdout)
    )
    return check_result(bad == 0, f"{bad} rows with non-finite features", "0")


def upstream_champions_recorded(training_data: RiskSnapshot) -> dg.AssetCheckResult:
    """Every upstream model's champion version the features came from is recorded."""
    missing = sorted(
        name for name, v in training_data.upstream_versions.items() if v == NO_CHAMPION
    )
    return check_result(
        not missing, dict(training_data.upstream_versions), "a version for each upstream"
    )


def risk_model_checks(model: ModelSpec) -> list[dg.AssetChecksDefinition]:
    """Every check of an upstream_models model's graph."""
    names = ModelNames(model.name)
    return [
        *checks_on(
            names.training_data,
            [
                enough_feature_rows,
                both_outcomes_in_train,
                features_finite,
                upstream_champions_recorded,
            ],
            blocking=True,
            partitions_def=monthly_partitions,
        ),
        *(gate_check(gate, names.verification_report) for gate in model.gates),
        champion_alias_agrees_for(model),
    ]
