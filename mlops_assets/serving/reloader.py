"""Reloads the serving model: resolve the alias once, download, load, warm, smoke-test, swap.

Everything here runs off the event loop: in the watcher thread (polling, and pushes through
`notify`) or in a worker thread for `POST /admin/reload`. Reloads are serialized, and any failure
keeps the current model serving and is reported.

Two kinds of failure: a download that fails (the registry or the object store hiccups) is
transient and retried with exponential backoff, polling or not; a model that arrives but is
refused (hash mismatch, no recorded hash, unreadable, nonsense answers) is permanent for
that version and hash, and only a push or an admin request tries it again. The failure counter
counts load attempts, never a poll that repeats a known refusal.
"""

import logging
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, Protocol

from mlops_assets.backends.model_signing import SignatureError
from mlops_assets.contracts.safe_text import error_kind, redact
from mlops_assets.ml.predictor import ArtifactIntegrityError
from mlops_assets.serving.holder import LoadedModel, ModelHolder
from mlops_assets.serving.model_kinds import Loader, load_classifier
from mlops_assets.serving.model_source import VersionRef

log = logging.getLogger("mlops_assets.serving")


class TransientLoadError(RuntimeError):
    """The version could not be fetched this time (registry or object store): try again later."""


class ModelSource(Protocol):
    def resolve(self) -> VersionRef | None: ...

    def download(self, ref: VersionRef, destination: Path) -> Path: ...


@dataclass(frozen=True)
class ReloadOutcome:
    """What one reload did; `serving_version` is the version answering afterwards."""

    status: Literal["swapped", "unchanged", "no_model", "failed"]
    reason: str
    target_version: str | None
    serving_version: str | None
    previous_version: str | None
    seconds: float
    at: datetime
    error: str | None = None
    error_kind: str | None = None
    # False when a known refusal or a backoff answered without trying to load.
    attempted: bool = True
    transient: bool = False


class ModelReloader:
    """Keeps the holder on the version the alias points at (push via `notify`, or polling).

    Args:
        holder: where the loaded model goes.
        source: resolves the alias and downloads versions.
        poll_interval_s: seconds between polls; 0 turns polling off.
        download_dir: where versions are downloaded (default a temporary folder).
        retry_initial_s: first wait after a transient failure (doubling up to `retry_max_s`).
        retry_max_s: longest wait between retries.
        loader: loads a downloaded version, hash-checked and smoke-tested
            (`model_kinds.LOADERS`); default a classifier's `.keras` file.
        name: the fleet model this reloader serves, named in its log lines and thread.
    """

    def __init__(
        self,
        holder: ModelHolder,
        source: ModelSource,
        poll_interval_s: float,
        download_dir: Path | None = None,
        retry_initial_s: float = 1.0,
        retry_max_s: float = 60.0,
        loader: Loader = load_classifier,
        name: str = "",
    ):
        self.holder = holder
        self.loader = loader
        self.name = name
        self.source = source
        self.poll_interval_s = poll_interval_s
        self.download_dir = download_dir
        self.retry_initial_s = retry_initial_s
        self.retry_max_s = retry_max_s
        # After a transient failure: when to try again, and the wait after that one.
        self._retry_at: float | None = None
        self._retry_delay_s = retry_initial_s
        self.last_outcome: ReloadOutcome | None = None
        self.last_error: ReloadOutcome | None = None
        self.failures = 0
        self._lock = threading.Lock()
        self._refused: tuple[str, str | None] | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._pushed_reason: str | None = None
        self._thread: threading.Thread | None = None

    def reload(self, reason: str, retry_refused: bool = True) -> ReloadOutcome:
        """Brings the alias's current version into service, or keeps the current model.

        Args:
            reason: why (startup, poll, a pushed message, an admin request); logged and returned.
            retry_refused: try again a version that failed before (polling passes False, so a
                refused artifact is not downloaded again every few seconds).

        Returns:
            The outcome; on `failed`, `error` says why and the previous model still serves.
        """
        with self._lock:
            outcome = self._reload(reason, retry_refused)
            self._schedule_retry(outcome)
        self.last_outcome = outcome
        if outcome.status == "failed" and outcome.attempted:
            self.last_error = outcome
            self.failures += 1
            log.error(
                "%sreload (%s) failed, still serving v%s: %s", self._tag, *self._fields(outcome)
            )
        elif outcome.status == "swapped":
            log.info(
                "%sreload (%s): v%s -> v%s in %.3f s",
                self._tag,
                reason,
                outcome.previous_version,
                outcome.serving_version,
                outcome.seconds,
            )
        return outcome

    @property
    def _tag(self) -> str:
        return f"{self.name}: " if self.name else ""

    def notify(self, reason: str) -> None:
        """Asks the watcher thread to reload now, without waiting (for push notifiers).

        A queue consumer of `ModelPromoted` / `ModelRolledBack` calls this from its own thread.
        """
        self._pushed_reason = reason
        self._wake.set()

    def start(self) -> None:
        """Starts the watcher thread (polls every `poll_interval_s`, wakes early on `notify`)."""
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._watch, name=f"model-watcher-{self.name}".rstrip("-"), daemon=True
        )
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stops the watcher thread after any reload in progress."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    def _schedule_retry(self, outcome: ReloadOutcome) -> None:
        if not outcome.attempted:
            return
        if outcome.transient:
            self._retry_at = time.monotonic() + self._retry_delay_s
            self._retry_delay_s = min(self._retry_delay_s * 2, self.retry_max_s)
        else:
            self._retry_at, self._retry_delay_s = None, self.retry_initial_s

    def _next_wait(self) -> float | None:
        """Seconds until the next poll or the next retry of a transient failure."""
        waits = [self.poll_interval_s] if self.poll_interval_s else []
        if self._retry_at is not None:
            waits.append(max(0.0, self._retry_at - time.monotonic()))
        return min(waits) if waits else None

    def _watch(self) -> None:
        while not self._stop.is_set():
            pushed = self._wake.wait(self._next_wait())
            if self._stop.is_set():
                return
            # Cleared before reloading: a push that arrives during the reload runs another one.
            self._wake.clear()
            reason = (self._pushed_reason or "push") if pushed else "poll"
            self._pushed_reason = None
            self.reload(reason, retry_refused=pushed)

    def _reload(self, reason: str, retry_refused: bool) -> ReloadOutcome:
        started = time.perf_counter()
        current = self.holder.current
        current_version = current.version if current else None

        def outcome(
            status, target=None, serving=current_version, error=None, kind=None, **flags
        ) -> ReloadOutcome:
            return ReloadOutcome(
                status=status,
                reason=reason,
                target_version=target,
                serving_version=serving,
                previous_version=current_version,
                seconds=round(time.perf_counter() - started, 6),
                at=datetime.now(UTC),
                # A registry client's error may quote its URL, password included.
                error=None if error is None else redact(error),
                error_kind=kind,
                **flags,
            )

        # Any failure below (registry down, missing or tampered artifact, a model Keras cannot
        # load or that answers nonsense) must leave the current model serving, so it is reported
        # instead of raised.
        try:
            ref = self.source.resolve()
        except Exception as error:
            return outcome(
                "failed",
                error=f"registry lookup failed: {error}",
                kind=error_kind(error),
                transient=True,
            )
        if ref is None:
            return outcome("no_model" if current is None else "unchanged")
        if current is not None and (current.version, current.sha256) == (ref.version, ref.sha256):
            return outcome("unchanged", ref.version)
        if not retry_refused and self._refused == (ref.version, ref.sha256):
            known = self.last_error or outcome("failed", ref.version, error="refused before")
            return replace(known, reason=reason, attempted=False)
        if not retry_refused and self._retry_at is not None and time.monotonic() < self._retry_at:
            return outcome("failed", ref.version, error="waiting to retry", attempted=False)
        standby = self.holder.standby
        if standby is not None and (standby.version, standby.sha256) == (ref.version, ref.sha256):
            model = standby
        else:
            try:
                model = self._load(ref)
            except TransientLoadError as error:
                return outcome(
                    "failed",
                    ref.version,
                    error=f"v{ref.version}: {error}",
                    kind=error_kind(error),
                    transient=True,
                )
            except Exception as error:
                self._refused = (ref.version, ref.sha256)
                return outcome(
                    "failed", ref.version, error=f"v{ref.version}: {error}", kind=error_kind(error)
                )
        self._refused = None
        self.holder.swap(model)
        return outcome("swapped", ref.version, serving=model.version)

    def _load(self, ref: VersionRef) -> LoadedModel:
        if not ref.sha256:
            raise ArtifactIntegrityError(
                "no sha256 recorded at registration: refusing an artifact that cannot be verified"
            )
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(dir=self.download_dir, prefix="model-") as scratch:
            try:
                path = self.source.download(ref, Path(scratch))
            except (FileNotFoundError, SignatureError):
                raise  # no model, or one the pipeline did not sign: a refusal, not a hiccup
            except Exception as error:
                message = f"download failed: {type(error).__name__}: {error}"
                raise TransientLoadError(message) from error
            model = self.loader(path, ref.sha256)
        return LoadedModel(
            name=ref.name,
            version=ref.version,
            run_id=ref.run_id,
            source=ref.source,
            sha256=ref.sha256,
            loaded_at=datetime.now(UTC),
            load_seconds=round(time.perf_counter() - started, 3),
            predictor=model,
        )

    @staticmethod
    def _fields(outcome: ReloadOutcome) -> tuple:
        return outcome.reason, outcome.serving_version, outcome.error
