"""The model registry: versions of one registered model and its `champion` / `challenger` aliases.

dagster-mlflow has no registry helpers, so this small class wraps the few MLflow calls the
pipeline and the rollback command need. Aliases replace the stages deprecated in MLflow 2.9.
No dagster import: `mlops-assets rollback` uses it directly and starts in the time MLflow's import
takes; the pipeline gets it from `RegistryResource.get_client()`.
"""

from dataclasses import dataclass
from pathlib import Path

import mlflow
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException, RestException
from mlflow.tracking import MlflowClient

from mlops_assets.backends.champion_lock import default_lock_url
from mlops_assets.backends.champion_moves import PROMOTED_FOR_TAG, ChampionMoves
from mlops_assets.backends.mlflow_filters import filter_value
from mlops_assets.backends.model_signing import SIGNATURE_TAG, ModelSigner
from mlops_assets.constants import CHALLENGER_ALIAS, CHAMPION_ALIAS

SHA256_TAG = "artifact_sha256"


def logged_model_id(model_uri: str) -> str | None:
    """The MLflow 3 logged model id of `models:/m-…`, else None (an older `runs:/` URI)."""
    return model_uri.removeprefix("models:/") if model_uri.startswith("models:/m-") else None


@dataclass(frozen=True)
class RegisteredModel:
    """A model version as the pipeline and the server need it."""

    name: str
    version: str
    run_id: str | None
    source: str
    sha256: str | None
    signature: str | None = None


class RegistryClient(ChampionMoves):
    """Registers challengers, moves the `champion` alias and rolls it back.

    Args:
        tracking_uri: MLflow tracking URI (sqlite:///… or http://…).
        model_name: registered model that holds every version.
        ui_url: MLflow UI address used in links.
        signer: signs each registered version (`artifact_signature`); None leaves them
            unsigned, which the inference server refuses.
        lock_url: the champion lock every writer takes (`champion_lock`); default a file
            lock beside a SQLite registry.
    """

    def __init__(
        self,
        tracking_uri: str,
        model_name: str,
        ui_url: str = "http://127.0.0.1:5000",
        signer: ModelSigner | None = None,
        lock_url: str | None = None,
    ) -> None:
        self.tracking_uri = tracking_uri
        self.model_name = model_name
        self.ui_url = ui_url
        self.signer = signer
        self.lock_url = lock_url or default_lock_url(tracking_uri)

    def client(self) -> MlflowClient:
        """Returns a client bound to this registry's tracking URI."""
        return MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)

    def run_url(self, run_id: str) -> str:
        """Returns the MLflow UI page of a run."""
        experiment_id = self.client().get_run(run_id).info.experiment_id
        return f"{self.ui_url.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"

    def register(self, model_uri: str, run_id: str, sha256: str) -> RegisteredModel:
        """Registers a logged model as a new version and points `challenger` at it.

        Args:
            model_uri: the logged model (`models:/m-…` or `runs:/…`).
            run_id: the MLflow run that produced it.
            sha256: hash of its `.keras` file, checked again before every load.

        Returns:
            The new version.
        """
        client = self.client()
        try:
            client.create_registered_model(self.model_name)
        except MlflowException as error:
            if error.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
        # A tracking server accepts a `models:/m-…` source only with the logged model's id.
        version = client.create_model_version(
            self.model_name,
            source=model_uri,
            run_id=run_id,
            tags={SHA256_TAG: sha256},
            model_id=logged_model_id(model_uri),
        )
        if self.signer is not None:
            signature = self.signer.sign(sha256, self.model_name, str(version.version))
            client.set_model_version_tag(self.model_name, version.version, SIGNATURE_TAG, signature)
            version = client.get_model_version(self.model_name, version.version)
        client.set_registered_model_alias(self.model_name, CHALLENGER_ALIAS, version.version)
        return self._describe(version)

    def by_alias(self, alias: str) -> RegisteredModel | None:
        """Returns the version an alias points at, or None if the alias is unset."""
        try:
            version = self.client().get_model_version_by_alias(self.model_name, alias)
        except (MlflowException, RestException) as error:
            if error.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
                return None
            raise
        return self._describe(version)

    def champion(self) -> RegisteredModel | None:
        """Returns the current champion, or None before the first promotion."""
        return self.by_alias(CHAMPION_ALIAS)

    def version(self, version: str) -> RegisteredModel:
        """Returns one version by number."""
        return self._describe(self.client().get_model_version(self.model_name, version))

    def holdout_month(self, version: str) -> str | None:
        """The month a version was judged on (its partition key, YYYY-MM-01): it trained on the
        months before it. From the promotion tag, else the training run's `month` parameter."""
        described = self.client().get_model_version(self.model_name, version)
        month = (described.tags or {}).get(PROMOTED_FOR_TAG)
        if month is None and described.run_id:
            month = self.client().get_run(described.run_id).data.params.get("month")
        return month

    def download_version(self, version: str, destination: str | Path) -> Path:
        """Downloads a registered version and returns the path of its `.keras` file."""
        uri = self.client().get_model_version_download_uri(self.model_name, version)
        return self.download_keras(uri, destination)

    def download_keras(self, artifact_uri: str, destination: str | Path) -> Path:
        """Downloads a logged model (`models:/m-…`, `runs:/…`, a storage URI) to `destination`.

        Returns:
            The path of its `.keras` file.
        """
        files = sorted(self.download_folder(artifact_uri, destination).rglob("*.keras"))
        if not files:
            raise FileNotFoundError(f"{artifact_uri} holds no .keras file")
        return files[0]

    def download_folder(self, artifact_uri: str, destination: str | Path) -> Path:
        """Downloads a logged model or artifact folder of any flavor to `destination`.

        Returns:
            The local folder.
        """
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=artifact_uri,
            dst_path=str(destination),
            tracking_uri=self.tracking_uri,
        )
        return Path(local)

    def download_version_folder(self, version: str, destination: str | Path) -> Path:
        """Downloads a registered version's whole model folder (e.g. a face verifier's, for
        `face_logged_model.load_face_verifier`) and returns it."""
        uri = self.client().get_model_version_download_uri(self.model_name, version)
        return self.download_folder(uri, destination)

    def download_run_model(self, run_id: str, destination: str | Path) -> Path:
        """Downloads the `.keras` model an MLflow run logged (a trainer that reports its run id).

        Looks at the run's logged models first (MLflow 3 keeps them apart from the run's
        artifacts), then at the run's own artifacts.

        Returns:
            The path of its `.keras` file.

        Raises:
            FileNotFoundError: the run logged no `.keras` file.
        """
        client = self.client()
        experiment_id = client.get_run(run_id).info.experiment_id
        logged = client.search_logged_models(
            experiment_ids=[experiment_id], filter_string=f"source_run_id = {filter_value(run_id)}"
        )
        for index, model in enumerate(logged):
            try:
                return self.download_keras(model.model_uri, Path(destination) / f"logged-{index}")
            except FileNotFoundError:
                continue
        return self.download_keras(f"runs:/{run_id}/", Path(destination) / "run")

    def _describe(self, version: ModelVersion) -> RegisteredModel:
        return RegisteredModel(
            name=version.name,
            version=str(version.version),
            run_id=version.run_id,
            source=version.source,
            sha256=(version.tags or {}).get(SHA256_TAG),
            signature=(version.tags or {}).get(SIGNATURE_TAG),
        )
