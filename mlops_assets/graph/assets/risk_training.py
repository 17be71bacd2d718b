"""The confirmation-risk model's challenger and its verification report.

The challenger is the built-in `risk_logistic` fitted on the snapshot's feature rows, logged to
MLflow as a pyfunc with the upstream champion versions it was trained on. The report scores
challenger and champion on the same newest-month holdout and runs the spec's gates with the
photo classifier's paired rule (McNemar on per-row correctness).
"""

import dagster as dg
from dagster_mlflow.resources import MlFlow

from mlops_assets.backends import model_contract, risk_model_contract
from mlops_assets.backends.registry import RegisteredModel
from mlops_assets.contracts.model_spec import ModelSpec
from mlops_assets.contracts.stage_results import VerificationReport
from mlops_assets.graph.assets.training import _trained_model_options
from mlops_assets.graph.assets.verification import (
    VerificationConfig,
    verification_report_options,
    verify_challenger,
)
from mlops_assets.graph.trainer_runs import register_challenger
from mlops_assets.ml.risk_data import RiskSnapshot, feature_arrays
from mlops_assets.ml.risk_model import RiskTrainSettings, train_risk_logistic
from mlops_assets.resources.registry import RegistryResource
from mlops_assets.retraining.risk_verification import score_risk_version


class RiskTrainingConfig(dg.Config, RiskTrainSettings):
    """The launchpad config of an upstream_models model's `trained_model`."""


def upstream_params(snapshot: RiskSnapshot) -> dict[str, str]:
    """The upstream champion versions as MLflow params/tags: `upstream.<name>.version`."""
    return {f"upstream.{name}.version": v for name, v in snapshot.upstream_versions.items()}


def risk_trained_model_asset(
    model: ModelSpec, retry_policy: dg.RetryPolicy, queue: str
) -> dg.AssetsDefinition:
    """`<model>/trained_model` of an upstream_models model: `risk_logistic` on the features."""

    @dg.asset(**_trained_model_options(model, retry_policy, queue, {"scikit-learn", "mlflow"}))
    def trained_model(
        context: dg.AssetExecutionContext,
        config: RiskTrainingConfig,
        training_data: RiskSnapshot,
        model_registry: RegistryResource,
        # Requested so dagster-mlflow opens the run the challenger is logged in.
        mlflow: dg.ResourceParam[MlFlow],
    ) -> dg.Output[RegisteredModel]:
        """Confirmation-risk challenger (logistic regression on the upstream champions'
        features), registered in MLflow with the alias `challenger`."""
        registry = model_registry.get_client(model.registry_name)
        x, y = feature_arrays(training_data.train)
        if len(y) == 0:
            raise dg.Failure(
                f"snapshot {training_data.data_version} has no training rows",
                allow_retries=False,
            )
        settings = RiskTrainSettings(**config.model_dump())
        upstream = upstream_params(training_data)
        mlflow.log_params(
            {
                **settings.model_dump(),
                "month": training_data.month,
                "data_version": training_data.data_version,
                **training_data.counts(),
                **upstream,
            }
        )
        mlflow.set_tags({**upstream, "labels": "synthetic"})
        result = train_risk_logistic(x, y, settings)
        model_contract.log_datasets(
            risk_model_contract.risk_dataset(
                training_data.train, f"train-{training_data.data_version}"
            ),
            risk_model_contract.risk_dataset(
                training_data.holdout, f"holdout-{training_data.data_version}"
            ),
        )
        registered, sha256 = register_challenger(
            context,
            registry,
            training_data.month,
            lambda: risk_model_contract.log_risk_model(
                result.model, x, training_data.upstream_versions
            ),
        )
        run_id = mlflow.active_run().info.run_id
        return dg.Output(
            registered,
            metadata={
                "mlflow_run": dg.MetadataValue.url(registry.run_url(run_id)),
                "model_version": registered.version,
                "training_seconds": round(result.seconds, 3),
                "train_accuracy": result.train_accuracy,
                "artifact_sha256": sha256,
                **{
                    f"upstream_{name}_version": v
                    for name, v in training_data.upstream_versions.items()
                },
            },
        )

    return trained_model


def risk_verification_report_asset(model: ModelSpec) -> dg.AssetsDefinition:
    """`<model>/verification_report` of an upstream_models model: the spec's gates on the
    challenger and champion risk models."""

    @dg.asset(**verification_report_options(model))
    def verification_report(
        context: dg.AssetExecutionContext,
        config: VerificationConfig,
        training_data: RiskSnapshot,
        trained_model: RegisteredModel,
        model_registry: RegistryResource,
        mlflow: dg.ResourceParam[MlFlow],
    ) -> dg.Output[VerificationReport]:
        """Challenger vs champion risk model on the newest holdout: accuracy, latency and the
        gate verdicts."""
        registry = model_registry.get_client(model.registry_name)
        return verify_challenger(
            context,
            model,
            config,
            training_data,
            trained_model,
            registry,
            score=lambda version: score_risk_version(
                registry, version, training_data, config.latency_samples
            ),
            holdout=risk_model_contract.risk_dataset(
                training_data.holdout, f"holdout-{training_data.data_version}"
            ),
        )

    return verification_report
