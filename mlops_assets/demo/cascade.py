"""The fleet's months in order: after each task_photos month of the replay, the face verifier's
month, then the confirmation_risk group's automation conditions decide whether it retrains
that month (the cascade), as the automation sensor would once the upstream runs ended.
"""

import logging
from collections.abc import Callable

import dagster as dg

from mlops_assets.contracts.face_events import FaceVectorRegisteredEvent
from mlops_assets.contracts.model_spec import ModelSpec
from mlops_assets.demo import face_replay, risk_replay
from mlops_assets.demo.face_replay import FACE_NAMES
from mlops_assets.demo.face_source import FaceScenario
from mlops_assets.demo.replay import MonthResult
from mlops_assets.demo.source import Scenario
from mlops_assets.graph.model_names import ModelNames

log = logging.getLogger("mlops_assets")


class FleetCascade:
    """The other models' steps after each task_photos month (`run_replay`'s `after_month`):
    the models the fleet declares, each left out when it does not.

    Args:
        definitions: the fleet's definitions (with the automation conditions).
        instance: where every run is recorded.
        scenario: the replayed calendar.
        deliver_faces: hands a month's face registrations to the system (the event path).
        risk_model: the downstream model's spec, None when the fleet has none.
        run_config: run config for every run.
    """

    def __init__(
        self,
        definitions: dg.Definitions,
        instance: dg.DagsterInstance,
        scenario: Scenario,
        deliver_faces: Callable[[list[FaceVectorRegisteredEvent]], None],
        risk_model: ModelSpec | None,
        run_config: dict,
    ):
        jobs = {job.name for job in definitions.jobs or []}
        self.scenario = scenario
        self.face = None
        if FACE_NAMES.retrain_job in jobs:
            self.face = face_replay.FaceReplay(
                definitions, instance, FaceScenario(), deliver_faces, run_config=run_config
            )
        self.risk = None
        if risk_model is not None and ModelNames(risk_model.name).retrain_job in jobs:
            job = definitions.resolve_job_def(ModelNames(risk_model.name).retrain_job)
            self.risk = risk_replay.DownstreamReplay(
                definitions, instance, risk_model, job, run_config
            )

    def after_month(self, month: int, photos: MonthResult | None) -> None:
        """Month `month`'s face verifier step, then (a decided month) the risk group's tick."""
        if self.face is not None:
            self.face.step(month)
        if self.risk is None or photos is None:
            return
        at = risk_replay.evaluation_time(self.scenario.month_start(month + 1))
        outcome = self.risk.step(photos.month, at)
        log.debug("cascade %s: %s", photos.month[:7], outcome.retrained_because or "not retrained")

    def report_markdown(self) -> str:
        """The face verifier's and the downstream model's tables (empty without them)."""
        text = ""
        if self.face is not None:
            results = self.face.results
            text += (
                "face verifier (synthetic identities, TAR at the spec's target FAR):\n"
                f"{face_replay.face_table_markdown(results)}\n\n"
                f"{face_replay.face_summary(results)}\n\n"
            )
        if self.risk is not None:
            text += f"{risk_markdown(self.risk.model, self.risk.results)}\n\n"
        return text

    def risk_section(self) -> str:
        """The downstream model's section of the published report (empty without it)."""
        if self.risk is None:
            return ""
        return f"## The cascade\n\n{risk_markdown(self.risk.model, self.risk.results)}"


def risk_markdown(model: ModelSpec, results: list[risk_replay.RiskMonthResult]) -> str:
    """The downstream model's heading, table and summary (its labels are synthetic)."""
    return (
        f"{model.name} (SYNTHETIC labels; retrained when its automation conditions ask: its "
        f"cadence `{model.cadence}` or a new champion of {', '.join(model.upstream)}):\n\n"
        f"{risk_replay.risk_table_markdown(results)}\n\n{risk_replay.risk_summary(results)}"
    )
