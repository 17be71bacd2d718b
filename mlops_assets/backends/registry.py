"""The model registry: versions of one registered model and its `champion` / `challenger` aliases.

dagster-mlflow has no registry helpers, so this small class wraps the few MLflow calls the
pipeline and the rollback command need. Aliases replace the stages deprecated in MLflow 2.9.
No dagster import: `mlops-assets rollback` uses it directly and starts in the time MLflow's import
takes; the pipeline gets it from `RegistryResource.get_client()`.
"""

import contextlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import mlflow
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException, RestException
from mlflow.tracking import MlflowClient

from mlops_assets.backends import outbox
from mlops_assets.backends.champion_lock import champion_lock, default_lock_url
from mlops_assets.constants import CHALLENGER_ALIAS, CHAMPION_ALIAS

SHA256_TAG = "artifact_sha256"
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


class RegistryClient:
    """Registers challengers, moves the `champion` alias and rolls it back.

    Args:
        tracking_uri: MLflow tracking URI (sqlite:///… or http://…).
        model_name: registered model that holds every version.
        ui_url: MLflow UI address used in links.
        lock_url: the champion lock every writer takes (`champion_lock`); default a file
            lock beside a SQLite registry.
    """

    def __init__(
        self,
        tracking_uri: str,
        model_name: str,
        ui_url: str = "http://127.0.0.1:5000",
        lock_url: str | None = None,
    ) -> None:
        self.tracking_uri = tracking_uri
        self.model_name = model_name
        self.ui_url = ui_url
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

    def champion_for(self, month: str) -> RegisteredModel | None:
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

    def holdout_month(self, version: str) -> str | None:
        """The month a version was judged on (its partition key, YYYY-MM-01): it trained on the
        months before it. From the promotion tag, else the training run's `month` parameter."""
        described = self.client().get_model_version(self.model_name, version)
        month = (described.tags or {}).get(PROMOTED_FOR_TAG)
        if month is None and described.run_id:
            month = self.client().get_run(described.run_id).data.params.get("month")
        return month

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
            versions = self.client().search_model_versions(f"name='{self.model_name}'")
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

    def download_version(self, version: str, destination: str | Path) -> Path:
        """Downloads a registered version and returns the path of its `.keras` file."""
        uri = self.client().get_model_version_download_uri(self.model_name, version)
        return self.download_keras(uri, destination)

    def download_keras(self, artifact_uri: str, destination: str | Path) -> Path:
        """Downloads a logged model (`models:/m-…`, `runs:/…`, a storage URI) to `destination`.

        Returns:
            The path of its `.keras` file.
        """
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=artifact_uri,
            dst_path=str(destination),
            tracking_uri=self.tracking_uri,
        )
        files = sorted(Path(local).rglob("*.keras"))
        if not files:
            raise FileNotFoundError(f"{artifact_uri} holds no .keras file")
        return files[0]

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
            experiment_ids=[experiment_id], filter_string=f"source_run_id = '{run_id}'"
        )
        for index, model in enumerate(logged):
            try:
                return self.download_keras(model.model_uri, Path(destination) / f"logged-{index}")
            except FileNotFoundError:
                continue
        return self.download_keras(f"runs:/{run_id}/", Path(destination) / "run")

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
        versions = self.client().search_model_versions(f"name='{self.model_name}'")
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

    def _describe(self, version: ModelVersion) -> RegisteredModel:
        return RegisteredModel(
            name=version.name,
            version=str(version.version),
            run_id=version.run_id,
            source=version.source,
            sha256=(version.tags or {}).get(SHA256_TAG),
        )
