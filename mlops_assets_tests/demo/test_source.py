import numpy as np

from mlops_assets.constants import LABELS, PIXEL_COUNT
from mlops_assets.demo.source import Scenario, demo_tasks, month_tasks


def test_same_seed_same_tasks(demo_records):
    again = demo_tasks()
    assert [r.event_id for r in again] == [r.event_id for r in demo_records]
    assert [r.pixels for r in again] == [r.pixels for r in demo_records]


def test_other_seed_other_tasks():
    assert month_tasks(Scenario(seed=1), 1)[0].pixels != month_tasks(Scenario(seed=2), 1)[0].pixels


def test_months_arrive_in_order_within_their_month(demo_records):
    scenario = Scenario()
    times = [r.confirmed_at for r in demo_records]
    assert times == sorted(times)
    assert len(demo_records) == scenario.months * scenario.per_month
    assert len({r.event_id for r in demo_records}) == len(demo_records)
    for month in (1, 13, 24):
        batch = month_tasks(scenario, month)
        assert all(
            scenario.month_start(month) <= r.confirmed_at < scenario.month_start(month + 1)
            for r in batch
        )


def test_photos_are_digits(demo_records):
    assert {r.label for r in demo_records} == set(LABELS)
    pixels = np.frombuffer(demo_records[0].pixels, dtype=np.uint8)
    assert pixels.shape == (PIXEL_COUNT,) and pixels.max() <= 16


def brightness(records):
    return np.mean([np.frombuffer(r.pixels, np.uint8).mean() for r in records])


def test_drift_makes_photos_fainter_from_the_drift_month():
    scenario = Scenario()
    before = month_tasks(scenario, scenario.drift_month - 1)
    after = month_tasks(scenario, scenario.drift_month)
    assert brightness(after) < 0.8 * brightness(before)
    steady = Scenario(drift=False)
    assert brightness(month_tasks(steady, steady.drift_month)) > 0.9 * brightness(before)


def test_late_label_becomes_common():
    scenario = Scenario()
    share = lambda month: np.mean(  # noqa: E731
        [r.label == scenario.late_label for r in month_tasks(scenario, month)]
    )
    assert share(scenario.late_label_month - 1) < 0.05
    assert share(scenario.late_label_month) > 0.15


def test_corrupted_month_has_shuffled_labels():
    clean = month_tasks(Scenario(), 3)
    corrupt = month_tasks(Scenario(corrupt_month=3), 3)
    agree = np.mean([a.label == b.label for a, b in zip(clean, corrupt, strict=True)])
    assert agree < 0.5
