"""The champion alias as a state machine: compare-and-set moves, transition ids, the decisions.

MLflow has no atomic compare-and-set on an alias, so every move of `@champion` is
read-check-write under the champion lock (`champion_lock`), re-read after writing. Each move and
decision carries a transition id (a run id and step, or a request id) and is done once; every
decision is a tag on the version it is about, so the history is append-only. `RegistryClient`
mixes this in; no dagster import.
"""

import contextlib
import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from mlops_assets.backends import outbox
from mlops_assets.backends.champion_lock import champion_lock
from mlops_assets.backends.mlflow_filters import filter_value
from mlops_assets.constants import CHAMPION_ALIAS

if TYPE_CHECKING:
    from mlops_assets.backends.registry import RegisteredModel

PREVIOUS_CHAMPION_TAG = "previous_champion"
PROMOTED_FOR_TAG = "promoted_for_month"
DECISION_TAG = "decision"
DECISION_TAG_PREFIX = "decision/"
# MLflow limits a tag value to 5,000 characters; a reason is a sentence per gate.
MAX_REASON_CHARS = 4000
# Decisions recorded before the month had a field of its own start their reason with it.
MONTH_PREFIX = re.compile(r"^(\d{4}-\d{2}-\d{2})\b")
# `promote(expected=ANY)` moves the alias whatever it points at (setups, benchmarks).
ANY = object()
# Given (version rolled back from, version now serving): the outbox entries of the move.
Announce = Callable[[str, str], list[outbox.Entry]]


class ChampionConflict(ValueError):
    """`@champion` is not where a move expected it: another writer moved it meanwhile."""


def _v(version: object) -> str:
    return f"v{version}" if version else "no champion"


class ChampionMoves:
    """Moves of `@champion` and the decision history, for a registry client that provides
    `model_name`, `lock_url`, `client()`, `champion()` and `version()`."""

    model_name: str
    lock_url: str

    def client(self) -> MlflowClient:
        raise NotImplementedError

    def champion(self) -> "RegisteredModel | None":
        raise NotImplementedError

    def version(self, version: str) -> "RegisteredModel":
        raise NotImplementedError

    def champion_for(self, month: str) -> "RegisteredModel | None":
        """Returns the champion a month's challenger is judged against.

        That is the current champion, unless a later month has already been decided (promoted,
        defended or rejected: the month is being re-run): then it is the version promoted for the
        latest earlier month, so a re-run reproduces the month's original comparison.

        Args:
            month: the partition key (YYYY-MM-01).
        """
        if not self.later_month_decided(month):
            return self.champion()
        earlier = {m: v for m, v in self._promoted_months().items() if m < month}
        return self.version(earlier[max(earlier)]) if earlier else None

    def later_month_decided(self, month: str) -> bool:
        """Tells whether a month after `month` already has a decision (any of the three)."""
        decided = set(self._promoted_months()) | {e["month"] for e in self.history()}
        return any(m is not None and m > month for m in decided)

    def promote(
        self,
        version: str,
        reason: str,
        month: str | None = None,
        expected: str | None | object = ANY,
        transition: str | None = None,
    ) -> str | None:
        """Moves `champion` to `version` if it still points at `expected`, remembering the
        version it replaces.

        Promoting the version that already is champion is a no-op that keeps its recorded
        predecessor (a retried or re-materialized step); a transition already done returns
        what it did.

        Args:
            version: the version to serve.
            reason: why, kept in the decision history.
            month: the partition the decision belongs to.
            expected: the champion the decision was judged against (None: no champion);
                `ANY` skips the comparison.
            transition: the move's id (run id + step); the same id moves at most once.

        Returns:
            The previous champion's version, or None if there was none.

        Raises:
            ChampionConflict: `@champion` is not `expected` any more.
        """
        with self.locked():
            done = self.transition(transition)
            if done is not None:
                return done["previous"]
            current = self.champion()
            if current is not None and current.version == version:
                return self._tags(version).get(PREVIOUS_CHAMPION_TAG)
            before = current.version if current else None
            if expected is not ANY and before != expected:
                raise ChampionConflict(
                    f"@{CHAMPION_ALIAS} is {_v(before)}, not {_v(expected)} that v{version} was "
                    "judged against: another move happened meanwhile; decide the month again"
                )
            client = self.client()
            if month is not None:
                client.set_model_version_tag(self.model_name, version, PROMOTED_FOR_TAG, month)
            if before is not None:
                client.set_model_version_tag(
                    self.model_name, version, PREVIOUS_CHAMPION_TAG, before
                )
            client.set_registered_model_alias(self.model_name, CHAMPION_ALIAS, version)
            self._verify(version)
            self.record("promoted", version, before, reason, month=month, transition=transition)
            return before

    def rollback(
        self,
        reason: str,
        expected: str | None = None,
        transition: str | None = None,
        announce: Announce | None = None,
    ) -> tuple[str, str]:
        """Moves `champion` back to the version the current champion replaced.

        Args:
            reason: why, kept in the decision history.
            expected: the version being removed; None takes whatever serves now.
            transition: the move's id (a request id, run id + step); the same id moves once.
            announce: given (version rolled back from, version now serving), the outbox
                entries written with the move (see `mlops_assets.backends.outbox`).

        Returns:
            (version rolled back from, version now serving).

        Raises:
            ValueError: there is no champion or it has no recorded predecessor.
            ChampionConflict: `@champion` is not `expected`.
        """
        with self.locked():
            done = self.transition(transition)
            if done is not None:
                return done["previous"], done["version"]
            current = self.champion()
            if current is None:
                raise ValueError(
                    f"{self.model_name} has no @{CHAMPION_ALIAS}: nothing to roll back"
                )
            if expected is not None and current.version != expected:
                raise ChampionConflict(
                    f"@{CHAMPION_ALIAS} is v{current.version}, not v{expected} that this rollback "
                    "removes: another move happened meanwhile; nothing rolled back"
                )
            previous = self._tags(current.version).get(PREVIOUS_CHAMPION_TAG)
            if previous is None:
                raise ValueError(
                    f"{self.model_name} v{current.version} is the first champion: "
                    "there is no earlier version to roll back to"
                )
            self.client().set_registered_model_alias(self.model_name, CHAMPION_ALIAS, previous)
            self._verify(previous)
            self.record("rolled_back", previous, current.version, reason, transition=transition)
            if announce is not None:
                outbox.put(
                    self.client(),
                    self.model_name,
                    previous,
                    transition or f"rollback-{current.version}-to-{previous}",
                    announce(current.version, previous),
                )
            return current.version, previous

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Holds the champion lock every writer of the alias takes (see `champion_lock`)."""
        with champion_lock(self.lock_url, self.model_name):
            yield

    def transition(self, transition: str | None) -> dict | None:
        """The recorded decision of a transition id, or None if it has not happened."""
        if transition is None:
            return None
        return next((e for e in self.history() if e["transition"] == transition), None)

    def history(self) -> list[dict]:
        """Returns every champion decision recorded so far, oldest first.

        Each decision is a tag on the version it is about (`decision/<UTC time>`, see `record`),
        so the history has no size limit and a version's page shows its own decisions.
        """
        try:
            versions = self.client().search_model_versions(f"name={filter_value(self.model_name)}")
        except MlflowException:
            return []
        entries = []
        for version in versions:
            for key, value in (version.tags or {}).items():
                if key.startswith(DECISION_TAG_PREFIX):
                    entry = json.loads(value)
                    month = entry.get("month") or MONTH_PREFIX.match(entry["reason"])
                    entries.append(
                        {
                            "at": entry["at"],
                            "action": entry["action"],
                            "version": str(version.version),
                            "previous": entry["previous"],
                            "reason": entry["reason"],
                            "month": month if isinstance(month, str | None) else month[1],
                            "transition": entry.get("transition"),
                        }
                    )
        return sorted(entries, key=lambda e: (e["at"], int(e["version"])))

    def record(
        self,
        action: str,
        version: str,
        previous: str | None,
        reason: str,
        month: str | None = None,
        transition: str | None = None,
    ) -> None:
        """Records a champion decision (promoted, defended, rejected, rolled_back) on its version.

        Two tags on the model version: `decision/<UTC time>` holds the decision as JSON (one tag
        per decision, so none is ever dropped), and `decision` the latest action, for filtering
        in the MLflow UI (`tags.decision = 'rejected'`).

        Args:
            action: what happened.
            version: the version the decision is about.
            previous: the champion before it, if any.
            reason: why, in words.
            month: the partition the decision belongs to, if any.
            transition: the id of the move or decision (run id + step, a request id).
        """
        at = datetime.now(UTC)
        entry = {
            "at": at.isoformat(timespec="microseconds"),
            "action": action,
            "previous": previous,
            "reason": reason[:MAX_REASON_CHARS],
            "month": month,
            "transition": transition,
        }
        client = self.client()
        key = f"{DECISION_TAG_PREFIX}{at:%Y-%m-%dT%H:%M:%S.%fZ}"
        client.set_model_version_tag(self.model_name, version, key, json.dumps(entry))
        client.set_model_version_tag(self.model_name, version, DECISION_TAG, action)

    def _promoted_months(self) -> dict[str, str]:
        """Maps each month that promoted a champion to the version it promoted (the latest)."""
        months: dict[str, str] = {}
        versions = self.client().search_model_versions(f"name={filter_value(self.model_name)}")
        for version in sorted(versions, key=lambda v: int(v.version)):
            month = (version.tags or {}).get(PROMOTED_FOR_TAG)
            if month is not None:
                months[month] = str(version.version)
        return months

    def _tags(self, version: str) -> dict[str, str]:
        return self.client().get_model_version(self.model_name, version).tags or {}

    def _verify(self, version: str) -> None:
        """Re-reads the alias after moving it: a writer that bypassed the lock shows here."""
        now = self.champion()
        if now is None or now.version != version:
            raise ChampionConflict(
                f"@{CHAMPION_ALIAS} reads {_v(now and now.version)} right after moving it to "
                f"v{version}: a writer outside the champion lock moved it"
            )
