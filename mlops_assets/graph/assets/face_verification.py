"""A verification model's report: challenger and champion verifiers scored on the same
identity-disjoint holdout (TAR at the target FAR, EER, rank-1, verify latency), judged by the
spec's gates."""

import dagster as dg
import numpy as np
from dagster_mlflow.resources import MlFlow

from mlops_assets.backends import face_logged_model, logged_model
from mlops_assets.backends.registry import RegisteredModel, RegistryClient
from mlops_assets.contracts.gate_spec import PairedTestSpec
from mlops_assets.contracts.model_spec import ModelSpec
from mlops_assets.contracts.stage_results import FaceVerificationReport, VerifierScore
from mlops_assets.graph.assets.verification import (
    VerificationConfig,
    judge,
    record_verdict,
    verification_report_options,
)
from mlops_assets.ml.face_data import FaceSnapshot, face_arrays
from mlops_assets.resources.registry import RegistryResource
from mlops_assets.retraining import change_gate
from mlops_assets.retraining.face_verification import (
    Embeddings,
    face_report,
    holdout_metrics,
    score_face_version,
)
from mlops_assets.retraining.paired_bootstrap import VERIFICATION_METRICS
from mlops_assets.retraining.verification_bootstrap import verifier_bootstrap


def bootstrap_comparer(
    embedded: Embeddings,
    identities: np.ndarray,
    challenger: VerifierScore,
    champion: VerifierScore,
    spec: PairedTestSpec,
) -> change_gate.Comparer:
    """The paired bootstrap over holdout identities for TAR at the threshold and EER."""

    def comparer(metric: str):
        if metric not in VERIFICATION_METRICS:
            return None
        return lambda: verifier_bootstrap(
            embedded[challenger.version],
            embedded[champion.version],
            identities,
            metric,
            resamples=spec.bootstrap_resamples,
            seed=spec.seed,
            alpha=spec.alpha,
        )

    return comparer


def verify_face_challenger(
    context: dg.AssetExecutionContext,
    model: ModelSpec,
    config: VerificationConfig,
    training_data: FaceSnapshot,
    trained_model: RegisteredModel,
    registry: RegistryClient,
) -> dg.Output[FaceVerificationReport]:
    """Scores challenger and champion verifiers on the holdout identities and runs the spec's
    gates on their figures."""
    embedded: Embeddings = {}
    verdict = judge(
        model,
        config,
        training_data.month,
        trained_model,
        registry,
        lambda version: score_face_version(
            registry, version, training_data, config.latency_samples, embedded
        ),
        lambda challenger, champion: bootstrap_comparer(
            embedded,
            face_arrays(training_data.holdout)[1],
            challenger,
            champion,
            model.paired_test,
        ),
    )
    challenger, champion = verdict.challenger, verdict.champion
    report = face_report(
        training_data,
        challenger,
        champion,
        verdict.gates,
        verdict.decision,
        verdict.min_improvement,
        verdict.paired,
    )
    gate_metadata = record_verdict(context, report)
    logged_model.log_holdout_metrics(
        holdout_metrics(challenger),
        trained_model.source,
        face_logged_model.face_dataset(
            training_data.holdout,
            f"holdout-{training_data.data_version}",
            training_data.snapshot_uri,
        ),
    )
    return dg.Output(
        report,
        metadata={
            **gate_metadata,
            "challenger_version": challenger.version,
            "challenger_tar_at_far": challenger.tar_at_far,
            "challenger_eer": challenger.eer,
            "champion_version": champion.version if champion else "none",
            **(
                {"champion_tar_at_far": champion.tar_at_far, "champion_eer": champion.eer}
                if champion
                else {}
            ),
            "rank1_accuracy": challenger.rank1_accuracy,
            "threshold": challenger.threshold,
            "target_far": challenger.target_far,
            "verify_latency_p95_ms": challenger.verify_latency_p95_s * 1000,
            "holdout_identities": report.holdout_identities,
            "genuine_pairs": challenger.genuine_pairs,
            "impostor_pairs": challenger.impostor_pairs,
        },
    )


def face_verification_report_asset(model: ModelSpec) -> dg.AssetsDefinition:
    """`<model>/verification_report` of a verification model: the spec's gates on the
    challenger and champion verifiers."""

    @dg.asset(**verification_report_options(model))
    def verification_report(
        context: dg.AssetExecutionContext,
        config: VerificationConfig,
        training_data: FaceSnapshot,
        trained_model: RegisteredModel,
        model_registry: RegistryResource,
        mlflow: dg.ResourceParam[MlFlow],
    ) -> dg.Output[FaceVerificationReport]:
        """Challenger vs champion verifier on the identity-disjoint holdout: TAR at the target
        FAR, EER, rank-1, verify latency and the gate verdicts."""
        registry = model_registry.get_client(model.registry_name)
        return verify_face_challenger(
            context, model, config, training_data, trained_model, registry
        )

    return verification_report
