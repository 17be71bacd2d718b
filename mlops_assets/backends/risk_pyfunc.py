"""The confirmation-risk model as an MLflow pyfunc model, logged as code (MLflow's "models from
code").

MLflow copies this file into the logged model and runs it when the model is loaded with
`mlflow.pyfunc.load_model`, so no pickled object travels with the model. `predict` takes a frame
of the feature columns (`ml.risk_data.RISK_FEATURES`) and answers each row's risk probability
and label. Loading it needs this package installed (`RiskModel.load` reads the arrays).
"""

import mlflow
import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel, PythonModelContext

from mlops_assets.backends.risk_model_contract import RISK_ARTIFACT
from mlops_assets.ml.risk_data import RISK_FEATURES
from mlops_assets.ml.risk_model import RiskModel


class ConfirmationRiskModel(PythonModel):
    """Scores confirmation feature rows with the logged risk model."""

    def load_context(self, context: PythonModelContext) -> None:
        self.model = RiskModel.load(context.artifacts[RISK_ARTIFACT])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        """Each row's risk probability and whether it is risky.

        Raises:
            ValueError: a feature column is missing or a value is not finite.
        """
        missing = [name for name in RISK_FEATURES if name not in model_input]
        if missing:
            raise ValueError(f"missing feature columns {missing}")
        x = np.asarray(model_input[list(RISK_FEATURES)], dtype=np.float64)
        probabilities = self.model.probabilities(x)
        return pd.DataFrame(
            {"risk_probability": probabilities, "risky": probabilities >= self.model.threshold}
        )


mlflow.models.set_model(ConfirmationRiskModel())
