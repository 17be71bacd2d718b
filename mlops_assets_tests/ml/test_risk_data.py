"""The confirmation-risk model's synthetic join and features."""

import numpy as np
import pandas as pd
import pytest

from mlops_assets.ml.risk_data import (
    IMPOSTOR_SHARE,
    RISK_FEATURES,
    WRONG_LABEL_SHARE,
    feature_arrays,
    risk_features,
    synthetic_confirmations,
)


def tasks(n: int = 400) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "task_id": [f"task-{i:04d}" for i in range(n)],
            "confirmed_at": pd.date_range("2024-01-01", periods=n, freq="h", tz="UTC"),
            "label": np.arange(n) % 10,
            "pixels": [np.full(64, i % 17, np.uint8) for i in range(n)],
        }
    )


def faces(helpers: int = 5, per_helper: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "helper_id": [f"h{h}" for h in range(helpers) for _ in range(per_helper)],
            "vector": [rng.normal(size=8) for _ in range(helpers * per_helper)],
        }
    )


def test_the_join_is_deterministic_and_labels_impostors_and_wrong_labels_risky():
    joined = synthetic_confirmations(tasks(), faces())
    again = synthetic_confirmations(tasks(), faces())
    assert joined["risky"].equals(again["risky"])
    assert (joined["risky"] == (joined["impostor"] | joined["wrong_label"])).all()
    assert abs(joined["impostor"].mean() - IMPOSTOR_SHARE) < 0.07
    assert abs(joined["wrong_label"].mean() - WRONG_LABEL_SHARE) < 0.07
    wrong = joined["wrong_label"]
    assert (joined.loc[wrong, "confirmed_label"] != joined.loc[wrong, "label"]).all()
    assert (joined.loc[~wrong, "confirmed_label"] == joined.loc[~wrong, "label"]).all()
    # A genuine pair is two different vectors of one helper, an impostor pair two helpers'.
    known = faces()
    by_vector = {v.tobytes(): h for h, v in zip(known["helper_id"], known["vector"], strict=True)}
    same = [
        by_vector[a.tobytes()] == by_vector[b.tobytes()]
        for a, b in zip(joined["face_first"], joined["face_second"], strict=True)
    ]
    assert (np.array(same) == ~joined["impostor"].to_numpy()).all()
    genuine = joined.loc[~joined["impostor"]]
    pairs = zip(genuine.face_first, genuine.face_second, strict=True)
    assert all(a.tobytes() != b.tobytes() for a, b in pairs)


def test_the_join_needs_two_helpers_with_two_vectors():
    with pytest.raises(ValueError, match="1 helpers with two face vectors"):
        synthetic_confirmations(tasks(), faces(helpers=1))


def test_features_from_probabilities_and_scores():
    probabilities = np.array([[0.9, 0.1], [0.5, 0.5]])
    features = risk_features(probabilities, np.array([1, 0]), np.array([0.8, -0.2]))
    assert list(features.columns) == list(RISK_FEATURES)
    assert features["confirmed_label_probability"].tolist() == [0.1, 0.5]
    assert features["max_probability"].tolist() == [0.9, 0.5]
    assert features["entropy"][1] == pytest.approx(np.log(2))
    assert features["face_score"].tolist() == [0.8, -0.2]


@pytest.mark.parametrize(
    ("labels", "scores", "message"),
    [([0], [0.1, 0.2], "same rows"), ([0, 2], [0.1, 0.2], "classes 0..1")],
)
def test_features_refuse_inconsistent_inputs(labels, scores, message):
    with pytest.raises(ValueError, match=message):
        risk_features(np.full((2, 2), 0.5), np.array(labels), np.array(scores))


def test_feature_arrays():
    frame = risk_features(np.full((3, 2), 0.5), np.array([0, 1, 0]), np.zeros(3))
    frame["risky"] = [True, False, True]
    x, y = feature_arrays(frame)
    assert x.shape == (3, len(RISK_FEATURES)) and y.tolist() == [1, 0, 1]
