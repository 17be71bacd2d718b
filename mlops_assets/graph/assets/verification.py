"""The verification report: challenger and champion scored on the same newest holdout."""

import base64
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import dagster as dg
import mlflow
import numpy as np
from dagster_mlflow.resources import MlFlow
from mlflow.data.pandas_dataset import PandasDataset
from pydantic import Field

from mlops_assets.backends import model_contract
from mlops_assets.backends.registry import RegisteredModel, RegistryClient
from mlops_assets.constants import TRAINED_MODEL, TRAINING_DATA
from mlops_assets.contracts.model_spec import ModelSpec
from mlops_assets.contracts.stage_results import (
    Decision,
    GatedReport,
    GateResult,
    ModelScore,
    PairedSummary,
    VerificationReport,
)
from mlops_assets.graph.assets.dataset import TrainingSnapshot, snapshot_datasets
from mlops_assets.graph.model_names import ModelNames
from mlops_assets.graph.partitions import monthly_partitions
from mlops_assets.ml import metrics
from mlops_assets.ml.data import to_arrays
from mlops_assets.ml.face_data import FaceSnapshot
from mlops_assets.ml.predictor import Predictor
from mlops_assets.ml.risk_data import RiskSnapshot
from mlops_assets.ml.verification import AccuracyVerifier, PerformanceVerifier
from mlops_assets.resources.registry import RegistryResource
from mlops_assets.retraining import change_gate, gates
from mlops_assets.retraining.change_gate import ChangeRule

# A task's score of one model version (`ModelScore`, `VerifierScore`): its `metrics` feed the gates.
S = TypeVar("S")


class VerificationConfig(dg.Config):
    min_improvement: float | None = Field(
        default=None,
        description="How much better than the champion the challenger must be on each gate "
        "against the champion (0 = not worse); unset: the model spec's min_improvement.",
    )
    latency_samples: int = Field(
        default=200, description="Timed single-sample predictions per model after warm-up."
    )
    change_rule: ChangeRule = Field(
        default="paired",
        description="paired: the champion-relative gate is the paired decision (better with "
        "p < alpha, or non-inferior to a champion failing a value gate); min_improvement: the "
        "previous rule (reach the champion's value + min_improvement).",
    )


def _score(
    registry: RegistryClient, model: RegisteredModel, snapshot: TrainingSnapshot, samples: int
) -> ModelScore:
    x, y = to_arrays(snapshot.holdout)
    with tempfile.TemporaryDirectory() as scratch:
        path = registry.download_version(model.version, scratch)
        predictor, performance = PerformanceVerifier(samples).verify(
            lambda: Predictor.load(path, model.sha256), x
        )
    result = AccuracyVerifier().verify(predictor, x, y)
    return ModelScore(
        version=model.version,
        run_id=model.run_id,
        accuracy=result.accuracy,
        per_class_accuracy={str(k): v for k, v in result.per_class_accuracy.items()},
        confusion=result.confusion.tolist(),
        load_seconds=performance.load_seconds,
        latency_p50_s=performance.latency_p50_s,
        latency_p95_s=performance.latency_p95_s,
        latency_p99_s=performance.latency_p99_s,
        correct=result.correct.tolist(),
    )


def _png_markdown(png: bytes, alt: str) -> str:
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode()})"


@dataclass(frozen=True)
class Verdict(Generic[S]):
    """Challenger and champion scored on one holdout, and the spec's gates on their metrics."""

    challenger: S
    champion: S | None
    min_improvement: float
    gates: list[GateResult]
    paired: PairedSummary | None = None

    @property
    def decision(self) -> Decision:
        return gates.decide(self.gates)

    def report_fields(self, snapshot: TrainingSnapshot | FaceSnapshot | RiskSnapshot) -> dict:
        """The fields every task's verification report has, for this verdict on `snapshot`."""
        return {
            "month": snapshot.month,
            "data_version": snapshot.data_version,
            "holdout_rows": len(snapshot.holdout),
            "holdout_start": snapshot.holdout_start.isoformat(),
            "min_improvement": self.min_improvement,
            "challenger": self.challenger,
            "champion": self.champion,
            "gates": self.gates,
            "decision": self.decision,
            "paired": self.paired,
        }


def judge(
    model: ModelSpec,
    config: VerificationConfig,
    month: str,
    trained_model: RegisteredModel,
    registry: RegistryClient,
    score: Callable[[RegisteredModel], S],
    comparer: Callable[[S, S], change_gate.Comparer],
) -> Verdict[S]:
    """Scores the challenger and the champion the month is judged against with `score` (any
    task's: its result's `metrics` are named as the gates' metrics) and runs the spec's gates,
    the champion-relative ones by the config's change rule on `comparer(challenger, champion)`
    (the paired comparison of each metric on the same holdout).
    """
    champion = registry.champion_for(month)
    challenger = score(trained_model)
    champion_score = score(champion) if champion else None
    min_improvement = (
        model.min_improvement if config.min_improvement is None else config.min_improvement
    )
    outcome = change_gate.evaluate(
        model.gates,
        challenger.metrics,
        champion_score.metrics if champion_score else None,
        comparer(challenger, champion_score) if champion_score else (lambda metric: None),
        model.paired_test,
        min_improvement,
        config.change_rule,
    )
    return Verdict(challenger, champion_score, min_improvement, outcome.gates, outcome.paired)


def record_verdict(context: dg.AssetExecutionContext, report: GatedReport) -> dict:
    """Logs the report and its gates in the MLflow run (`verification_report.json`, one tag
    `gate.<name>` per gate) and in the step's log; returns the gates' metadata table."""
    mlflow.log_dict(report.model_dump(mode="json"), "verification_report.json")
    mlflow.set_tags({f"gate.{r.name}": "passed" if r.passed else "failed" for r in report.gates})
    mlflow.set_tag("decision", report.decision)
    paired = report.paired.as_metadata() if report.paired else {}
    # MLflow tag values are strings of at most 5,000 characters.
    mlflow.set_tags({k.replace("_", ".", 1): str(v)[:5000] for k, v in paired.items()})
    context.log.info(
        f"decision {report.decision}: "
        + "; ".join(f"{r.name} {'passed' if r.passed else 'FAILED'}" for r in report.gates)
        + (f"; {report.paired.reason}; {report.paired.power}" if report.paired else "")
    )
    return {
        "decision": report.decision,
        **paired,
        "gates": dg.MetadataValue.md(
            "\n".join(
                ["| gate | passed | reason |", "|---|---|---|"]
                + [f"| {r.name} | {r.passed} | {r.reason} |" for r in report.gates]
            )
        ),
    }


def verify_challenger(
    context: dg.AssetExecutionContext,
    model: ModelSpec,
    config: VerificationConfig,
    training_data: TrainingSnapshot | RiskSnapshot,
    trained_model: RegisteredModel,
    registry: RegistryClient,
    score: Callable[[RegisteredModel], ModelScore] | None = None,
    holdout: PandasDataset | None = None,
) -> dg.Output[VerificationReport]:
    """Scores challenger and champion on the holdout and runs the spec's gates on them.

    Args:
        score: scores a version on the holdout (default: a photo classifier's `.keras` file;
            the confirmation-risk model passes its own).
        holdout: the holdout as an MLflow dataset (default: the photo snapshot's).
    """
    if score is None:

        def score(version: RegisteredModel) -> ModelScore:
            return _score(registry, version, training_data, config.latency_samples)

    verdict = judge(
        model,
        config,
        training_data.month,
        trained_model,
        registry,
        score,
        lambda challenger, champion: change_gate.correctness_comparer(
            challenger.correct, champion.correct, model.paired_test.alpha
        ),
    )
    challenger, champion_score = verdict.challenger, verdict.champion
    report = VerificationReport(**verdict.report_fields(training_data))
    gate_metadata = record_verdict(context, report)
    model_contract.log_holdout_metrics(
        {"holdout_accuracy": challenger.accuracy, "latency_p95_s": challenger.latency_p95_s},
        trained_model.source,
        holdout or snapshot_datasets(training_data)[1],
    )
    matrix = np.asarray(challenger.confusion)
    return dg.Output(
        report,
        metadata={
            **gate_metadata,
            "challenger_version": challenger.version,
            "challenger_accuracy": challenger.accuracy,
            "champion_version": champion_score.version if champion_score else "none",
            **({"champion_accuracy": champion_score.accuracy} if champion_score else {}),
            "latency_p95_ms": challenger.latency_p95_s * 1000,
            "holdout_rows": report.holdout_rows,
            "confusion_matrix": dg.MetadataValue.md(metrics.confusion_markdown(matrix)),
            "confusion_plot": dg.MetadataValue.md(
                _png_markdown(
                    metrics.confusion_png(matrix, f"challenger v{challenger.version}"),
                    "confusion matrix",
                )
            ),
        },
    )


def verification_report_options(model: ModelSpec) -> dict:
    """What every task's `<model>/verification_report` shares: key, inputs, group, partitions
    and the dependency on the previous month."""
    names = ModelNames(model.name)
    return {
        "key": names.verification_report,
        "ins": {
            TRAINING_DATA: dg.AssetIn(names.training_data),
            TRAINED_MODEL: dg.AssetIn(names.trained_model),
        },
        "group_name": model.name,
        "partitions_def": monthly_partitions,
        # Months run in order: the champion a month is judged against is the one the previous
        # month left, and the registry alias is shared state.
        "deps": [
            dg.AssetDep(
                names.verification_report,
                partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-1, end_offset=-1),
            )
        ],
        "kinds": {"mlflow"},
    }


def verification_report_asset(model: ModelSpec) -> dg.AssetsDefinition:
    """`<model>/verification_report` of a classification model: the spec's gates on
    challenger and champion."""

    @dg.asset(**verification_report_options(model))
    def verification_report(
        context: dg.AssetExecutionContext,
        config: VerificationConfig,
        training_data: TrainingSnapshot,
        trained_model: RegisteredModel,
        model_registry: RegistryResource,
        mlflow: dg.ResourceParam[MlFlow],
    ) -> dg.Output[VerificationReport]:
        """Challenger vs champion on the newest holdout: accuracy, latency and the gate
        verdicts."""
        registry = model_registry.get_client(model.registry_name)
        return verify_challenger(context, model, config, training_data, trained_model, registry)

    return verification_report
