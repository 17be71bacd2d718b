"""The confirmation-risk logistic regression: it learns the synthetic rule, saves without
pickle and refuses bad files and inputs."""

import numpy as np
import pytest

from mlops_assets.ml.risk_data import RISK_FEATURES
from mlops_assets.ml.risk_model import RiskModel, RiskTrainSettings, train_risk_logistic
from mlops_assets_tests.support.risk import synthetic_rows


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
