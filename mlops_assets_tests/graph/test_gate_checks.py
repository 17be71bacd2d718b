"""The gate checks on verification_report show the recorded verdicts; the champion-relative
gate's check carries the paired comparison's numbers."""

import dagster as dg
import numpy as np

from mlops_assets.contracts.fleet import load_fleet
from mlops_assets.contracts.stage_results import ModelScore, VerificationReport
from mlops_assets.graph.checks import gate_check
from mlops_assets.retraining import change_gate, gates
from mlops_assets_tests.support.paired import table

SPEC = load_fleet().model("task_photos")


def score(version: str, correct: np.ndarray) -> ModelScore:
    return ModelScore(
        version=version,
        run_id=None,
        accuracy=float(correct.mean()),
        per_class_accuracy={},
        confusion=[],
        load_seconds=0.1,
        latency_p50_s=0.001,
        latency_p95_s=0.002,
        latency_p99_s=0.003,
        correct=correct.tolist(),
    )


def report_for(challenger: np.ndarray, champion: np.ndarray) -> VerificationReport:
    ch, cp = score("2", challenger), score("1", champion)
    outcome = change_gate.evaluate(
        SPEC.gates,
        ch.metrics,
        cp.metrics,
        change_gate.correctness_comparer(ch.correct, cp.correct, SPEC.paired_test.alpha),
        SPEC.paired_test,
        SPEC.min_improvement,
    )
    return VerificationReport(
        month="2025-02-01",
        data_version="d",
        holdout_rows=len(challenger),
        holdout_start="2025-02-01",
        min_improvement=SPEC.min_improvement,
        challenger=ch,
        champion=cp,
        gates=outcome.gates,
        decision=gates.decide(outcome.gates),
        paired=outcome.paired,
    )


def run_check(gate_name: str, report: VerificationReport) -> dg.AssetCheckResult:
    gate = next(g for g in SPEC.gates if g.name == gate_name)
    return gate_check(gate, dg.AssetKey(["task_photos", "verification_report"]))(report)


def test_the_champion_gate_check_shows_n_b_c_interval_and_p():
    report = report_for(*table(146, 2, 1, 1))  # 98.7 % vs 98.0 %: one photo
    assert report.decision == "defended"
    result = run_check("not_worse_than_champion", report)
    assert not result.passed and result.severity == dg.AssetCheckSeverity.WARN
    metadata = {k: v.value for k, v in result.metadata.items()}
    assert (metadata["paired_n"], metadata["paired_b"], metadata["paired_c"]) == (150, 2, 1)
    assert metadata["paired_p_value"] == metadata["observed"] == report.paired.p_value
    assert metadata["threshold"] == 0.05
    assert metadata["paired_low"] < 0 < metadata["paired_high"]
    assert "p = 0.50 at n = 150 (b = 2, c = 1)" in metadata["reason"]
    # A value gate's check shows its own comparison only.
    value = run_check("accuracy_above_minimum", report)
    assert value.passed and not any(k.startswith("paired_") for k in value.metadata)
