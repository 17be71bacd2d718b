"""A verification model's champion-relative gate: the paired bootstrap over holdout
identities, through the same change gate as every model."""

import numpy as np
import pytest

from mlops_assets.contracts.gate_spec import GateSpec, PairedTestSpec
from mlops_assets.contracts.stage_results import VerifierScore
from mlops_assets.demo.face_source import synthetic_face_vectors
from mlops_assets.graph.assets.face_verification import bootstrap_comparer
from mlops_assets.ml import face_metrics
from mlops_assets.ml.face_verifier import train_face_verifier
from mlops_assets.retraining import change_gate, gates

GATES = [
    GateSpec(name="tar_gate", metric="tar_at_far", comparison=">", threshold=0.5, severity="ERROR"),
    GateSpec(
        name="tar_vs_champion",
        metric="tar_at_far",
        comparison=">=",
        against="champion",
        severity="WARN",
    ),
]
SPEC = PairedTestSpec(bootstrap_resamples=1000, seed=5)


def scored(version, model, holdout, ids, embedded):
    vectors = model.embed(holdout)
    embedded[version] = (vectors, model.threshold)
    figures = face_metrics.evaluate(vectors, ids, model.threshold, 20_000, 0).as_dict()
    return VerifierScore(
        version=version,
        run_id=None,
        target_far=0.001,
        verify_latency_p50_s=0.001,
        verify_latency_p95_s=0.001,
        verify_latency_p99_s=0.001,
        **figures,
    )


@pytest.fixture(scope="module")
def face_case():
    train, train_ids = synthetic_face_vectors(200, 6, seed=1)
    holdout, ids = synthetic_face_vectors(100, 5, seed=2)
    strong = train_face_verifier(train, train_ids, components=32, seed=0)
    weak = train_face_verifier(train, train_ids, components=4, seed=0)
    embedded = {}
    scores = {
        "2": scored("2", strong, holdout, ids, embedded),
        "1": scored("1", weak, holdout, ids, embedded),
    }
    return scores, embedded, ids


def judge(challenger, champion, embedded, ids):
    outcome = change_gate.evaluate(
        GATES,
        challenger.metrics,
        champion.metrics,
        bootstrap_comparer(embedded, ids, challenger, champion, SPEC),
        SPEC,
        0.005,
    )
    return outcome, gates.decide(outcome.gates)


def test_a_better_verifier_is_promoted_on_the_identity_bootstrap(face_case):
    scores, embedded, ids = face_case
    outcome, decision = judge(scores["2"], scores["1"], embedded, ids)
    paired = outcome.paired
    assert paired.method == "paired_bootstrap" and paired.metric == "tar_at_far"
    assert paired.n == 100 and paired.b is None and paired.c is None
    assert paired.p_value < SPEC.alpha and paired.low > 0
    assert decision == "promoted" and paired.rule == "better"
    assert paired.difference == pytest.approx(
        scores["2"].tar_at_far - scores["1"].tar_at_far, abs=1e-9
    )
    assert "groups" in paired.power


def test_the_champion_against_itself_defends(face_case):
    scores, embedded, ids = face_case
    outcome, decision = judge(scores["2"], scores["2"], embedded, ids)
    assert outcome.paired.p_value == 1.0 and outcome.paired.difference == 0
    assert decision in ("defended", "rejected")


def test_an_embedding_with_nan_keeps_the_champion(face_case):
    scores, embedded, ids = face_case
    vectors, threshold = embedded["2"]
    broken = vectors.copy()
    broken[0, 0] = np.nan
    outcome, decision = judge(scores["2"], scores["1"], {**embedded, "2": (broken, threshold)}, ids)
    gate = outcome.gates[1]
    assert not gate.passed and "champion kept" in gate.reason and "not numbers" in gate.reason
    assert decision in ("defended", "rejected")
