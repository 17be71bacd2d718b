"""The training data store's record and the rules every stored record obeys, in a module of its
own so event contracts and the store share them without importing each other (or dagster).

The same rules guard the queue (`contracts.events.TaskConfirmedEvent`) and the store
(`backends.data_store.TrainingDataStore.insert`), so a row that slipped past one is refused by
the other and can never break a snapshot, the sensor or the schedule.
"""

import unicodedata
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from mlops_assets.constants import (
    DEFAULT_EARLIEST_CONFIRMED_AT,
    DEFAULT_MAX_CLOCK_SKEW_S,
    LABELS,
    PIXEL_COUNT,
    PIXEL_MAX,
)

TEXT_MAX_LENGTH = 64
# Every valid grey level as a byte: deleting them from a photo's bytes leaves nothing.
GREY_LEVELS = bytes(range(PIXEL_MAX + 1))
# Unicode categories refused in identifiers and names: control characters (NUL, which
# PostgreSQL refuses in text; newlines; escapes) and lone surrogates (not encodable as UTF-8).
REFUSED_CATEGORIES = frozenset({"Cc", "Cs"})


@dataclass(frozen=True)
class TaskRecord:
    """One confirmed task photo as the store keeps it.

    `pixels` are the photo's grey levels in row-major order (uint8).
    """

    event_id: str
    task_id: str
    confirmed_at: datetime
    label: int
    pixels: bytes
    source: str

    def summary(self) -> str:
        """The record in a few words (dead-letter reasons name the record holding an id)."""
        return (
            f"task {self.task_id!r}, confirmed_at {self.confirmed_at.isoformat()}, "
            f"label {self.label}, source {self.source!r}"
        )


@dataclass(frozen=True)
class ConfirmedWindow:
    """The plausible `confirmed_at` instants: from `earliest` to now plus `max_skew`.

    Args:
        earliest: the oldest accepted instant (MLOPS_EVENTS_EARLIEST_CONFIRMED_AT).
        max_skew: how far ahead of this machine's clock a producer's clock may run
            (MLOPS_EVENTS_MAX_CLOCK_SKEW_S).
    """

    earliest: datetime = field(
        default_factory=lambda: datetime.fromisoformat(DEFAULT_EARLIEST_CONFIRMED_AT)
    )
    max_skew: timedelta = timedelta(seconds=DEFAULT_MAX_CLOCK_SKEW_S)
    now: datetime | None = field(default=None, compare=False)

    def at(self, now: datetime) -> "ConfirmedWindow":
        """The same window with the clock read once (a batch judges all its events at one
        instant, and reading the clock per event costs more than the rest of the check)."""
        return replace(self, now=now)

    def latest(self, now: datetime | None = None) -> datetime:
        """The newest accepted instant: `now` (default the window's fixed instant, else this
        machine's clock) plus the skew."""
        return (now or self.now or datetime.now(UTC)) + self.max_skew

    def problem(self, instant: datetime, now: datetime | None = None) -> str | None:
        """Why `instant` lies outside the window, or None when it is inside."""
        if instant.tzinfo is None:
            return "a timestamp without a timezone"
        if instant < self.earliest:
            return (
                f"{instant.isoformat()} is before the earliest accepted instant "
                f"{self.earliest.isoformat()} (MLOPS_EVENTS_EARLIEST_CONFIRMED_AT)"
            )
        latest = self.latest(now)
        if instant > latest:
            return (
                f"{instant.isoformat()} is in the future: later than now plus "
                f"{self.max_skew.total_seconds():g} s of clock skew ({latest.isoformat()}; "
                "MLOPS_EVENTS_MAX_CLOCK_SKEW_S)"
            )
        return None


def text_problem(value: str) -> str | None:
    """Why `value` is not acceptable as an identifier or name, or None when it is."""
    if not value:
        return "empty text"
    if len(value) > TEXT_MAX_LENGTH:
        return f"text of {len(value)} characters (at most {TEXT_MAX_LENGTH})"
    if value.isprintable():  # the common case, at C speed: no control character at all
        return None
    for position, char in enumerate(value):
        if unicodedata.category(char) in REFUSED_CATEGORIES:
            return f"control character U+{ord(char):04X} at position {position}"
    return None


def _plain_at_a_glance(value: str) -> bool:
    return 0 < len(value) <= TEXT_MAX_LENGTH and value.isprintable()


def record_problems(record: TaskRecord, window: ConfirmedWindow) -> list[str]:
    """Every rule `record` breaks (empty when it may be stored)."""
    # The common case first, in a few C-speed tests; any doubt takes the full path below.
    instant = record.confirmed_at
    if (
        _plain_at_a_glance(record.event_id)
        and _plain_at_a_glance(record.task_id)
        and _plain_at_a_glance(record.source)
        and type(record.label) is int
        and LABELS[0] <= record.label <= LABELS[-1]
        and len(record.pixels) == PIXEL_COUNT
        and not bytes(record.pixels).translate(None, GREY_LEVELS)
        and instant.tzinfo is not None
        and window.earliest <= instant <= window.latest()
    ):
        return []
    problems = [
        f"{name}: {problem}"
        for name in ("event_id", "task_id", "source")
        if (problem := text_problem(getattr(record, name))) is not None
    ]
    if (problem := window.problem(record.confirmed_at)) is not None:
        problems.append(f"confirmed_at: {problem}")
    if type(record.label) is not int or record.label not in LABELS:
        problems.append(f"label: {record.label!r} is not one of {LABELS[0]}..{LABELS[-1]}")
    if len(record.pixels) != PIXEL_COUNT or max(record.pixels, default=0) > PIXEL_MAX:
        problems.append(f"pixels: not {PIXEL_COUNT} grey levels in 0..{PIXEL_MAX}")
    return problems
