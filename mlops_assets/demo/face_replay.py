"""The face verifier's replay: the synthetic face registrations of the same two years, month by
month, each month's challenger verifier against the champion.

The demo stands in for the Auth service: each month's synthetic registrations are delivered
(`commands.deliver_events`: published as FaceVectorRegisteredEvents and replicated as
`face_registered_events_sensor` does); from
`first_month` on each month runs the face verifier's retraining job for its partition.
"""

from collections.abc import Callable
from dataclasses import dataclass

import dagster as dg

from mlops_assets.contracts.face_events import FaceVectorRegisteredEvent
from mlops_assets.contracts.stage_results import ChampionChange, FaceVerificationReport, Outcome
from mlops_assets.demo.face_source import FaceScenario, month_face_events
from mlops_assets.graph.model_names import ModelNames

FACE_MODEL = "face_verifier"
FACE_NAMES = ModelNames(FACE_MODEL)


@dataclass(frozen=True)
class FaceMonthResult:
    """One replayed month of the face verifier: who was compared, what the gates decided."""

    month: str
    decision: Outcome
    champion_before: str | None
    challenger_version: str | None
    challenger_tar: float | None
    champion_tar: float | None
    challenger_eer: float | None
    reason: str
    champion_after: str | None


def _month_result(
    month: str, result: dg.ExecuteInProcessResult, serving: str | None
) -> FaceMonthResult:
    """The month's result; `serving` is the champion before it (kept when the run failed)."""

    def value(stage: str):
        return result.output_for_node(FACE_NAMES.key(stage).to_python_identifier())

    if not result.success:
        failed = [c.check_name for c in result.get_asset_check_evaluations() if not c.passed]
        reason = f"checks failed: {', '.join(failed)}" if failed else "run failed"
        return FaceMonthResult(month, "failed", serving, None, None, None, None, reason, serving)
    report: FaceVerificationReport = value("verification_report")
    change: ChampionChange = value("champion_model")
    champion = report.champion
    return FaceMonthResult(
        month=month,
        decision=change.decision,
        champion_before=champion.version if champion else None,
        challenger_version=report.challenger.version,
        challenger_tar=report.challenger.tar_at_far,
        champion_tar=champion.tar_at_far if champion else None,
        challenger_eer=report.challenger.eer,
        reason="; ".join(report.failed_reasons) or "every gate passed",
        champion_after=change.version,
    )


class FaceReplay:
    """Steps the face verifier's replay one month at a time (the demo interleaves it with the
    fleet's other models, month by month).

    Args:
        definitions: the fleet's definitions (with the face verifier's graph).
        instance: where the runs are recorded.
        scenario: the replayed period and its synthetic identities.
        deliver: hands a month's registrations to the system (the event path).
        first_month: the first month with a retraining run (1-based).
        run_config: run config for every month's run.
    """

    def __init__(
        self,
        definitions: dg.Definitions,
        instance: dg.DagsterInstance,
        scenario: FaceScenario,
        deliver: Callable[[list[FaceVectorRegisteredEvent]], None],
        first_month: int = 12,
        run_config: dict | None = None,
    ):
        self.job = definitions.resolve_job_def(FACE_NAMES.retrain_job)
        self.instance, self.scenario, self.deliver = instance, scenario, deliver
        self.first_month, self.run_config = first_month, run_config or {}
        self.results: list[FaceMonthResult] = []

    def step(self, month: int) -> FaceMonthResult | None:
        """Delivers month `month` (1-based) and, from `first_month` on, runs its partition."""
        self.deliver(month_face_events(self.scenario, month))
        if month < self.first_month:
            return None
        key = self.scenario.calendar.month_key(month)
        result = self.job.execute_in_process(
            run_config=self.run_config,
            instance=self.instance,
            partition_key=key,
            raise_on_error=False,
            tags={"mlops_assets/replay": "true"},
        )
        serving = self.results[-1].champion_after if self.results else None
        self.results.append(_month_result(key, result, serving))
        return self.results[-1]


def run_face_replay(
    definitions: dg.Definitions,
    instance: dg.DagsterInstance,
    scenario: FaceScenario,
    deliver: Callable[[list[FaceVectorRegisteredEvent]], None],
    first_month: int = 12,
    run_config: dict | None = None,
) -> list[FaceMonthResult]:
    """Replays the scenario's face registrations month by month (`FaceReplay`'s arguments).

    Returns:
        One result per retrained month, in order.
    """
    replay = FaceReplay(definitions, instance, scenario, deliver, first_month, run_config)
    for month in range(1, scenario.calendar.months + 1):
        replay.step(month)
    return replay.results


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def face_table_markdown(results: list[FaceMonthResult]) -> str:
    """The face verifier's month-by-month table (synthetic identities)."""
    lines = [
        "| month | champion | challenger | challenger TAR@FAR | champion TAR@FAR | "
        "challenger EER | decision | reason |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.month[:7]} | {'v' + r.champion_before if r.champion_before else '–'} | "
            f"{'v' + r.challenger_version if r.challenger_version else '–'} | "
            f"{_pct(r.challenger_tar)} | {_pct(r.champion_tar)} | {_pct(r.challenger_eer)} | "
            f"**{r.decision}** | {r.reason} |"
        )
    return "\n".join(lines)


def face_summary(results: list[FaceMonthResult]) -> dict:
    """Counts of each decision and the final champion."""
    counts = {
        d: sum(r.decision == d for r in results) for d in dict.fromkeys(r.decision for r in results)
    }
    return {**counts, "final_champion": results[-1].champion_after if results else None}
