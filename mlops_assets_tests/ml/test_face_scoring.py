"""Scoring a face verifier on the snapshot's identity-disjoint holdout: the gates' metric names,
the report that holds them, and (model tier) the verifier's behaviour on synthetic months before
and after a camera change."""

import numpy as np
import pandas as pd
import pytest

from mlops_assets.contracts.gate_spec import METRICS
from mlops_assets.contracts.stage_results import (
    FaceVerificationReport,
    GateResult,
    VerificationReport,
    VerifierScore,
)
from mlops_assets.demo.face_source import FaceScenario, month_face_events
from mlops_assets.ml.face_data import FACE_COLUMNS, FaceSnapshot, face_arrays, face_snapshot
from mlops_assets.ml.face_scoring import score_verifier
from mlops_assets.ml.face_training import FaceTrainSettings, train_face_projection
from mlops_assets.ml.face_verifier import FaceVerifier

TARGET_FAR = 1e-3
CHANGE = 6
SCENARIO = FaceScenario(camera_change_month=CHANGE)
NOW = pd.Timestamp("2030-01-01", tz="UTC")
VERIFICATION_METRICS = {name for name, (task, _) in METRICS.items() if task == "verification"}


@pytest.fixture(scope="module")
def store() -> pd.DataFrame:
    """Eight synthetic months as the store's rows; the synthetic camera changes in month 6."""
    return pd.DataFrame(
        [
            {name: getattr(event, name) for name in FACE_COLUMNS}
            for month in range(1, 9)
            for event in month_face_events(SCENARIO, month)
        ]
    )


def snapshot(store: pd.DataFrame, month: int) -> FaceSnapshot:
    end = pd.Timestamp(SCENARIO.calendar.month_start(month + 1))
    return face_snapshot(store, f"month-{month}", end, NOW)


def trained(snap: FaceSnapshot, components: int = 64) -> FaceVerifier:
    train, validation = face_arrays(snap.train), face_arrays(snap.validation)
    mask = np.r_[np.zeros(len(train[1]), bool), np.ones(len(validation[1]), bool)]
    vectors, identities = np.r_[train[0], validation[0]], np.r_[train[1], validation[1]]
    settings = FaceTrainSettings(components=components)
    return train_face_projection(vectors, identities, mask, TARGET_FAR, settings).verifier


def test_the_score_names_every_verification_metric_and_the_pair_counts(store):
    snap = snapshot(store, 2)
    score = score_verifier(trained(snap, components=16), snap.holdout, latency_samples=20)
    assert VERIFICATION_METRICS <= set(score)
    identities = snap.holdout["helper_id"].nunique()
    assert score["identities"] == identities and score["target_far"] == TARGET_FAR
    assert score["genuine_pairs"] == identities * 45  # 10 vectors each
    assert score["impostor_pairs"] == (len(snap.holdout) ** 2 - identities * 100) // 2
    assert score["verify_latency_p50_s"] <= score["verify_latency_p95_s"]


def test_a_holdout_of_one_identity_is_refused_with_the_reason(store):
    snap = snapshot(store, 2)
    one = snap.holdout[snap.holdout["helper_id"] == snap.holdout["helper_id"].iloc[0]]
    with pytest.raises(ValueError, match="two identities"):
        score_verifier(trained(snap, components=16), one, latency_samples=5)


def test_the_report_holds_both_scores_and_the_gates_by_name(store):
    snap = snapshot(store, 2)
    score = VerifierScore(
        version="3",
        run_id=None,
        **score_verifier(trained(snap, 16), snap.holdout, latency_samples=5),
    )
    assert set(score.metrics) >= VERIFICATION_METRICS and "version" not in score.metrics
    gates = [
        GateResult(name="tar_at_far_above_minimum", passed=True, observed=score.tar_at_far),
        GateResult(name="eer_not_worse_than_champion", passed=False, reason="eer 0.02 > 0.01"),
    ]
    report = FaceVerificationReport(
        month="2024-02-01",
        data_version=snap.data_version,
        holdout_rows=len(snap.holdout),
        holdout_identities=score.identities,
        holdout_start=snap.holdout_start.isoformat(),
        min_improvement=0.0,
        challenger=score,
        champion=None,
        gates=gates,
        decision="defended",
    )
    assert report.gate("tar_at_far_above_minimum").observed == score.tar_at_far
    assert report.failed_reasons == ["eer 0.02 > 0.01"]
    assert FaceVerificationReport.model_validate_json(report.model_dump_json()) == report
    with pytest.raises(KeyError, match="no gate 'accuracy_above_minimum'"):
        report.gate("accuracy_above_minimum")
    # The photo report keeps its fields.
    assert "challenger" in VerificationReport.model_fields
    assert VerificationReport.model_fields["challenger"].annotation.__name__ == "ModelScore"


# Model tier: trained through the snapshot on synthetic months, judged on unseen identities.


@pytest.mark.model
def test_a_trained_verifier_reaches_the_tar_gate_on_the_identity_disjoint_holdout(store):
    snap = snapshot(store, CHANGE - 1)
    assert not set(snap.holdout["helper_id"]) & set(snap.train["helper_id"])
    score = score_verifier(trained(snap), snap.holdout)
    assert score["tar_at_far"] >= 0.90
    assert score["far_at_threshold"] <= 3 * TARGET_FAR  # the validation threshold carries over
    assert score["rank1_accuracy"] >= 0.95 and score["eer"] < 0.02


@pytest.mark.model
def test_the_camera_change_lowers_the_old_verifiers_tar_until_it_retrains(store):
    before = snapshot(store, CHANGE - 1)
    old = trained(before)
    on_old_camera = score_verifier(old, before.holdout)
    changed = snapshot(store, CHANGE)
    on_new_camera = score_verifier(old, changed.holdout)
    assert on_new_camera["tar_at_far"] < on_old_camera["tar_at_far"] - 0.3
    assert on_new_camera["tar_at_far"] < 0.90  # the gate would reject it
    assert on_new_camera["eer"] > 5 * on_old_camera["eer"]
    # A month of new-camera identities later, a retrained verifier passes again.
    later = snapshot(store, CHANGE + 1)
    assert score_verifier(trained(later), later.holdout)["tar_at_far"] >= 0.90
    assert score_verifier(old, later.holdout)["tar_at_far"] < 0.90
