"""The verification report: challenger and champion scored on the same newest holdout."""

import base64
import tempfile
from dataclasses import asdict

import dagster as dg
import numpy as np
from dagster_mlflow.resources import MlFlow
from pydantic import Field

from mlops_assets import gates
from mlops_assets.assets.dataset import TrainingSnapshot
from mlops_assets.constants import RETRAINING_GROUP, VERIFICATION_REPORT
from mlops_assets.ml import metrics
from mlops_assets.ml.data import to_arrays
from mlops_assets.ml.predictor import Predictor
from mlops_assets.ml.verification import AccuracyVerifier, PerformanceVerifier
from mlops_assets.partitions import monthly_partitions
from mlops_assets.registry_client import RegisteredModel
from mlops_assets.resources.registry import ModelRegistry


class VerificationConfig(dg.Config):
    min_improvement: float = Field(
        default=0.0,
        description="How much the challenger's holdout accuracy must exceed the champion's "
        "(0 = not worse).",
    )
    latency_samples: int = Field(
        default=200, description="Timed single-sample predictions per model after warm-up."
    )


def _score(
    registry: ModelRegistry, model: RegisteredModel, snapshot: TrainingSnapshot, samples: int
) -> dict:
    x, y = to_arrays(snapshot.holdout)
    with tempfile.TemporaryDirectory() as scratch:
        path = registry.download_version(model.version, scratch)
        predictor, performance = PerformanceVerifier(samples).verify(
            lambda: Predictor.load(path, model.sha256), x
        )
    result = AccuracyVerifier().verify(predictor, x, y)
    return {
        "version": model.version,
        "run_id": model.run_id,
        "accuracy": result.accuracy,
        "per_class_accuracy": {str(k): v for k, v in result.per_class_accuracy.items()},
        "confusion": result.confusion.tolist(),
        **asdict(performance),
    }


def _png_markdown(png: bytes, alt: str) -> str:
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode()})"


@dg.asset(
    key=VERIFICATION_REPORT,
    group_name=RETRAINING_GROUP,
    partitions_def=monthly_partitions,
    # Months run in order: the champion a month is judged against is the one the previous
    # month left, and the registry alias is shared state.
    deps=[
        dg.AssetDep(
            VERIFICATION_REPORT,
            partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-1, end_offset=-1),
        )
    ],
    kinds={"mlflow"},
)
def verification_report(
    context: dg.AssetExecutionContext,
    config: VerificationConfig,
    training_data: TrainingSnapshot,
    trained_model: RegisteredModel,
    model_registry: ModelRegistry,
    mlflow: dg.ResourceParam[MlFlow],
) -> dg.Output[dict]:
    """Challenger vs champion on the newest holdout: accuracy, latency and the gate verdicts."""
    champion = model_registry.champion_for(training_data.month)
    report = {
        "month": training_data.month,
        "data_version": training_data.data_version,
        "holdout_rows": len(training_data.holdout),
        "holdout_start": training_data.holdout_start.isoformat(),
        "min_improvement": config.min_improvement,
        "challenger": _score(model_registry, trained_model, training_data, config.latency_samples),
        "champion": (
            _score(model_registry, champion, training_data, config.latency_samples)
            if champion is not None
            else None
        ),
    }
    results = gates.evaluate(report)
    report["gates"] = [r.as_dict() for r in results]
    report["decision"] = gates.decide(results)
    if report["decision"] != "promote":
        reasons = "; ".join(r.reason for r in results if not r.passed)
        previous = champion.version if champion else None
        model_registry.record(
            report["decision"], trained_model.version, previous, f"{training_data.month}: {reasons}"
        )
    mlflow.log_dict(report, "verification_report.json")
    mlflow.log_metrics(
        {
            "holdout_accuracy": report["challenger"]["accuracy"],
            "latency_p95_s": report["challenger"]["latency_p95_s"],
        }
    )
    challenger = report["challenger"]
    matrix = np.asarray(challenger["confusion"])
    context.log.info(
        f"decision {report['decision']}: "
        + "; ".join(f"{r.name} {'passed' if r.passed else 'FAILED'}" for r in results)
    )
    return dg.Output(
        report,
        metadata={
            "decision": report["decision"],
            "challenger_version": challenger["version"],
            "challenger_accuracy": challenger["accuracy"],
            "champion_version": champion.version if champion else "none",
            **({"champion_accuracy": report["champion"]["accuracy"]} if champion else {}),
            "latency_p95_ms": challenger["latency_p95_s"] * 1000,
            "holdout_rows": report["holdout_rows"],
            "gates": dg.MetadataValue.md(
                "\n".join(
                    ["| gate | passed | reason |", "|---|---|---|"]
                    + [f"| {r.name} | {r.passed} | {r.reason} |" for r in results]
                )
            ),
            "confusion_matrix": dg.MetadataValue.md(metrics.confusion_markdown(matrix)),
            "confusion_plot": dg.MetadataValue.md(
                _png_markdown(
                    metrics.confusion_png(matrix, f"challenger v{challenger['version']}"),
                    "confusion matrix",
                )
            ),
        },
    )
