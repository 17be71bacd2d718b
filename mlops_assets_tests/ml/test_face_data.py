"""The face snapshot: identity-disjoint sides chosen by a hash of the helper id, the newest month's
identities held out, a data version that follows the content, Parquet as it is."""

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlops_assets.demo.face_source import FaceScenario, month_face_events
from mlops_assets.ml.face_data import (
    FACE_COLUMNS,
    MIN_IDENTITIES,
    face_arrays,
    face_content_hash,
    face_snapshot,
    identity_share,
)

SCENARIO = FaceScenario()
NOW = pd.Timestamp("2030-01-01", tz="UTC")


def events_frame(months: range, scenario: FaceScenario = SCENARIO) -> pd.DataFrame:
    """The demo's synthetic face events as the store's rows."""
    return pd.DataFrame(
        [
            {name: getattr(event, name) for name in FACE_COLUMNS}
            for month in months
            for event in month_face_events(scenario, month)
        ]
    )


def month_end(month: int) -> pd.Timestamp:
    return pd.Timestamp(SCENARIO.calendar.month_start(month + 1))


@pytest.fixture(scope="module")
def four_months() -> pd.DataFrame:
    return events_frame(range(1, 5))


def sides(snapshot) -> dict[str, set[str]]:
    return {
        name: set(getattr(snapshot, name)["helper_id"])
        for name in ("train", "validation", "holdout")
    }


def test_the_newest_months_identities_are_held_out_with_none_on_two_sides(four_months):
    snapshot = face_snapshot(four_months, "2024-04-01", month_end(4), NOW)
    helpers = sides(snapshot)
    assert not helpers["train"] & helpers["holdout"]
    assert not helpers["validation"] & (helpers["train"] | helpers["holdout"])
    # Every held-out identity registered in the newest month (the demo's helpers register
    # once): the holdout is a share of month 4's 40, the rest of month 4 trains.
    assert {h[:19] for h in helpers["holdout"]} == {"synthetic-helper-04"}
    month4 = {h for h in four_months["helper_id"] if h.startswith("synthetic-helper-04")}
    assert 10 <= len(helpers["holdout"]) <= 30 and month4 - helpers["holdout"] <= (
        helpers["train"] | helpers["validation"]
    )
    counts = snapshot.counts()
    assert sum(counts[f"{s}_rows"] for s in ("train", "validation", "holdout")) == len(four_months)
    assert counts["holdout_identities"] == len(helpers["holdout"])
    assert counts["validation_identities"] == len(helpers["validation"]) > 0
    assert snapshot.holdout_start == pd.Timestamp(SCENARIO.calendar.month_start(4))
    assert snapshot.data_version.startswith("2024-04-01-")


def test_a_helper_stays_on_its_side_whatever_the_row_order_and_the_version_too(four_months):
    first = face_snapshot(four_months, "2024-04-01", month_end(4), NOW)
    shuffled = four_months.sample(frac=1.0, random_state=3).reset_index(drop=True)
    again = face_snapshot(shuffled, "2024-04-01", month_end(4), NOW)
    assert sides(first) == sides(again)
    assert first.data_version == again.data_version


def test_the_data_version_follows_the_content(four_months):
    changed = four_months.copy()
    changed.at[0, "vector"] = list(np.roll(changed.at[0, "vector"], 1))
    assert face_content_hash(changed) != face_content_hash(four_months)


def test_an_earlier_month_sees_only_what_was_captured_before_its_end(four_months):
    snapshot = face_snapshot(four_months, "2024-02-01", month_end(2), NOW)
    rows = pd.concat([snapshot.train, snapshot.validation, snapshot.holdout])
    assert len(rows) == 2 * SCENARIO.identities_per_month * SCENARIO.vectors_per_identity
    assert pd.to_datetime(rows["captured_at"], utc=True).max() < month_end(2)


def test_a_running_month_holds_out_the_month_before_its_newest_capture(four_months):
    newest = pd.to_datetime(four_months["captured_at"], utc=True).max()
    snapshot = face_snapshot(four_months, "2024-05-01", month_end(5), now=newest)
    assert snapshot.as_of == newest + pd.Timedelta(microseconds=1)
    assert len(snapshot.holdout) > 0


def test_a_small_month_still_gives_a_holdout_of_two_identities():
    start = pd.Timestamp("2024-03-01", tz="UTC")
    rows = [
        {"event_id": f"e{h}-{i}", "helper_id": f"h{h}", "vector": [1.0, 0.0],
         "captured_at": start - timedelta(days=40 if h < 6 else 1), "camera": "a"}
        for h in range(8) for i in range(3)
    ]  # fmt: skip
    snapshot = face_snapshot(
        pd.DataFrame(rows), "2024-02-01", start, NOW, holdout_share=0.01, validation_share=0.01
    )
    helpers = sides(snapshot)
    assert helpers["holdout"] == {"h6", "h7"}
    assert len(helpers["validation"]) == MIN_IDENTITIES and len(helpers["train"]) == 4


def test_the_snapshot_writes_to_parquet_and_reads_back_as_arrays(four_months, tmp_path):
    snapshot = face_snapshot(four_months, "2024-04-01", month_end(4), NOW)
    path = tmp_path / "holdout.parquet"
    snapshot.holdout.to_parquet(path)
    vectors, identities = face_arrays(pd.read_parquet(path))
    expected_vectors, expected_identities = face_arrays(snapshot.holdout)
    assert np.array_equal(vectors, expected_vectors)
    assert list(identities) == list(expected_identities)
    assert vectors.shape[1] == 128


def test_missing_columns_and_bad_shares_are_named(four_months):
    with pytest.raises(ValueError, match=r"missing \['camera'\]"):
        face_snapshot(four_months.drop(columns="camera"), "m", month_end(4), NOW)
    with pytest.raises(ValueError, match="holdout_share must lie in"):
        face_snapshot(four_months, "m", month_end(4), NOW, holdout_share=1.0)


def test_identity_shares_are_uniform_and_salted():
    ids = [f"helper-{i}" for i in range(4000)]
    shares = identity_share(ids, "a")
    assert 0 <= shares.min() and shares.max() < 1 and abs(shares.mean() - 0.5) < 0.02
    assert not np.array_equal(shares, identity_share(ids, "b"))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.text(min_size=1, max_size=6), st.integers(0, 90 * 24)),
        min_size=1,
        max_size=80,
    ),
    st.floats(0.05, 0.95),
    st.floats(0.05, 0.95),
)
def test_any_store_content_splits_without_an_identity_on_two_sides(rows, holdout, validation):
    end = pd.Timestamp("2024-04-01", tz="UTC")
    frame = pd.DataFrame(
        [
            {"event_id": f"e{i}", "helper_id": helper, "vector": [0.6, 0.8],
             "captured_at": end - timedelta(hours=hours + 1), "camera": "a"}
            for i, (helper, hours) in enumerate(rows)
        ]
    )  # fmt: skip
    snapshot = face_snapshot(
        frame, "2024-03-01", end, NOW, holdout_share=holdout, validation_share=validation
    )
    helpers = sides(snapshot)
    assert not helpers["train"] & helpers["holdout"]
    assert not helpers["validation"] & (helpers["train"] | helpers["holdout"])
    assert sum(len(getattr(snapshot, s)) for s in helpers) == len(frame)
    newest = set(frame.loc[frame["captured_at"] >= snapshot.holdout_start, "helper_id"])
    assert helpers["holdout"] <= newest
