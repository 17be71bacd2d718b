"""Reloads the serving model: resolve the alias once, download, load, warm, smoke-test, swap.

Everything here runs off the event loop: in the watcher thread (polling, and pushes through
`notify`) or in a worker thread for `POST /admin/reload`. Reloads are serialized, and any failure
keeps the current model serving and is reported.
"""

import logging
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, Protocol

import numpy as np

from mlops_assets.constants import LABELS, PIXEL_COUNT, PIXEL_MAX
from mlops_assets.contracts.safe_text import error_kind, redact
from mlops_assets.ml.predictor import ArtifactIntegrityError, Predictor
from mlops_assets.serving.holder import LoadedModel, ModelHolder
from mlops_assets.serving.model_source import VersionRef

log = logging.getLogger("mlops_assets.serving")

# A blank photo and a ramp of every grey level: a model that cannot answer these cannot serve.
SMOKE_PIXELS = np.stack([np.zeros(PIXEL_COUNT), np.linspace(0, PIXEL_MAX, PIXEL_COUNT)]).astype(
    np.float32
)


class SmokeTestError(ValueError):
    """A loaded model gave an answer that is not a probability per label."""


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


def smoke_test(predictor: Predictor) -> None:
    """Raises SmokeTestError unless the model returns a probability per label for each photo."""
    probabilities = predictor.predict_pixels(SMOKE_PIXELS).probabilities
    expected = (len(SMOKE_PIXELS), len(LABELS))
    if probabilities.shape != expected:
        raise SmokeTestError(f"smoke prediction shaped {probabilities.shape}, expected {expected}")
    if not np.isfinite(probabilities).all():
        raise SmokeTestError("smoke prediction holds NaN or infinite values")
    if not np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-3):
        raise SmokeTestError("smoke prediction rows do not sum to 1: not class probabilities")


class ModelReloader:
    """Keeps the holder on the version the alias points at (push via `notify`, or polling)."""

    def __init__(
        self,
        holder: ModelHolder,
        source: ModelSource,
        poll_interval_s: float,
        download_dir: Path | None = None,
    ):
        self.holder = holder
        self.source = source
        self.poll_interval_s = poll_interval_s
        self.download_dir = download_dir
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
        self.last_outcome = outcome
        if outcome.status == "failed":
            self.last_error = outcome
            self.failures += 1
            log.error("reload (%s) failed, still serving v%s: %s", *self._fields(outcome))
        elif outcome.status == "swapped":
            log.info(
                "reload (%s): v%s -> v%s in %.3f s",
                reason,
                outcome.previous_version,
                outcome.serving_version,
                outcome.seconds,
            )
        return outcome

    def notify(self, reason: str) -> None:
        """Asks the watcher thread to reload now, without waiting (for push notifiers).

        A queue consumer of `ModelPromoted` / `ModelRolledBack` calls this from its own thread.
        """
        self._pushed_reason = reason
        self._wake.set()

    def start(self) -> None:
        """Starts the watcher thread (polls every `poll_interval_s`, wakes early on `notify`)."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._watch, name="model-watcher", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stops the watcher thread after any reload in progress."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    def _watch(self) -> None:
        interval = self.poll_interval_s or None
        while not self._stop.is_set():
            pushed = self._wake.wait(interval)
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
            status, target=None, serving=current_version, error=None, kind=None
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
            )

        # Any failure below (registry down, missing or tampered artifact, a model Keras cannot
        # load or that answers nonsense) must leave the current model serving, so it is reported
        # instead of raised.
        try:
            ref = self.source.resolve()
        except Exception as error:
            return outcome(
                "failed", error=f"registry lookup failed: {error}", kind=error_kind(error)
            )
        if ref is None:
            return outcome("no_model" if current is None else "unchanged")
        if current is not None and (current.version, current.sha256) == (ref.version, ref.sha256):
            return outcome("unchanged", ref.version)
        if not retry_refused and self._refused == (ref.version, ref.sha256):
            return self.last_error or outcome(
                "failed", ref.version, error="refused before", kind="Refused"
            )
        standby = self.holder.standby
        if standby is not None and (standby.version, standby.sha256) == (ref.version, ref.sha256):
            model = standby
        else:
            try:
                model = self._load(ref)
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
            path = self.source.download(ref, Path(scratch))
            predictor = Predictor.load(path, ref.sha256)
        smoke_test(predictor)
        return LoadedModel(
            name=ref.name,
            version=ref.version,
            run_id=ref.run_id,
            source=ref.source,
            sha256=ref.sha256,
            loaded_at=datetime.now(UTC),
            load_seconds=round(time.perf_counter() - started, 3),
            predictor=predictor,
        )

    @staticmethod
    def _fields(outcome: ReloadOutcome) -> tuple:
        return outcome.reason, outcome.serving_version, outcome.error
