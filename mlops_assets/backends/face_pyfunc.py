"""The face verifier as an MLflow pyfunc model, logged as code (MLflow's "models from code").

MLflow copies this file into the logged model and runs it when the model is loaded with
`mlflow.pyfunc.load_model`, so no pickled object travels with the model. `predict` takes pairs
of face vectors (n, 2, dimension) and answers each pair's cosine score and match. Loading it
needs this package installed (the verifier's arrays are read by `FaceVerifier.load`).
"""

import mlflow
import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel, PythonModelContext

from mlops_assets.backends.face_logged_model import VERIFIER_ARTIFACT
from mlops_assets.ml.face_verifier import FaceVerifier


class FaceVerifierModel(PythonModel):
    """Scores pairs of face vectors with the logged verifier."""

    def load_context(self, context: PythonModelContext) -> None:
        self.verifier = FaceVerifier.load(context.artifacts[VERIFIER_ARTIFACT])

    def predict(self, context, model_input: np.ndarray, params=None) -> pd.DataFrame:
        """Each pair's cosine score and whether it matches at the verifier's threshold.

        Raises:
            ValueError: the input is not pairs of `dimension` finite values.
        """
        pairs = np.asarray(model_input, dtype=np.float64)
        if pairs.ndim != 3 or pairs.shape[1] != 2:
            raise ValueError(
                f"expected pairs of vectors shaped (n, 2, dimension), got {pairs.shape}"
            )
        scores = self.verifier.scores(pairs[:, 0], pairs[:, 1])
        return pd.DataFrame({"score": scores, "match": scores >= self.verifier.threshold})


mlflow.models.set_model(FaceVerifierModel())
