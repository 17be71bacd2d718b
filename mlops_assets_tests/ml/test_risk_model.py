"""The confirmation-risk logistic regression: it learns the synthetic rule, saves without
pickle and refuses bad files and inputs."""

import numpy as np
import pytest

from mlops_assets.ml.risk_data import RISK_FEATURES, risk_features
from mlops_assets.ml.risk_model import RiskModel, RiskTrainSettings, train_risk_logistic


def synthetic_rows(n: int = 1000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Features as good upstream champions would give them: an impostor pair scores low, a
    wrong label gets a low probability."""
    rng = np.random.default_rng(seed)
    impostor = rng.random(n) < 0.2
    wrong = rng.random(n) < 0.2
    labels = rng.integers(0, 10, n)
    probabilities = np.full((n, 10), 0.02)
    probabilities[np.arange(n), labels] = 0.82
    confirmed = np.where(wrong, (labels + 1) % 10, labels)
    scores = np.where(impostor, rng.normal(0.05, 0.1, n), rng.normal(0.75, 0.1, n))
    frame = risk_features(probabilities, confirmed, scores)
    return frame.to_numpy(), (impostor | wrong).astype(int)


def test_training_reaches_the_spec_gate_on_synthetic_rows():
    x, y = synthetic_rows()
    result = train_risk_logistic(x, y)
    holdout_x, holdout_y = synthetic_rows(seed=1)
    accuracy = (result.model.predict(holdout_x) == holdout_y.astype(bool)).mean()
    assert accuracy > 0.85 and result.train_accuracy > 0.85
    probabilities = result.model.probabilities(holdout_x)
    assert ((probabilities >= 0) & (probabilities <= 1)).all()


def test_save_and_load_round_trip(tmp_path):
    x, y = synthetic_rows()
    model = train_risk_logistic(x, y, RiskTrainSettings(inverse_regularization=0.5)).model
    model.save(tmp_path / "risk.npz")
    loaded = RiskModel.load(tmp_path / "risk.npz")
    assert np.allclose(loaded.probabilities(x), model.probabilities(x))


def test_load_refuses_another_file(tmp_path):
    np.savez(tmp_path / "other.npz", mean=np.zeros(3))
    with pytest.raises(ValueError, match="not a risk model"):
        RiskModel.load(tmp_path / "other.npz")


def test_training_needs_both_outcomes():
    x, _ = synthetic_rows(50)
    with pytest.raises(ValueError, match="risky and safe rows"):
        train_risk_logistic(x, np.zeros(50, int))


def test_scoring_refuses_rows_of_another_width():
    x, y = synthetic_rows()
    model = train_risk_logistic(x, y).model
    with pytest.raises(ValueError, match=f"rows of {len(RISK_FEATURES)} finite values"):
        model.probabilities(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="finite"):
        model.probabilities(np.full((1, len(RISK_FEATURES)), np.nan))
