import numpy as np

from mlops_assets.constants import LABELS, PIXEL_COUNT
from mlops_assets.demo_source import DEMO_DAYS, DEMO_START, demo_tasks


def test_same_seed_same_tasks(demo_records):
    again = demo_tasks()
    assert [r.event_id for r in again] == [r.event_id for r in demo_records]
    assert [r.confirmed_at for r in again] == [r.confirmed_at for r in demo_records]


def test_other_seed_other_order():
    assert demo_tasks(seed=1)[0].event_id != demo_tasks(seed=2)[0].event_id


def test_tasks_cover_two_years_in_order(demo_records):
    times = [r.confirmed_at for r in demo_records]
    assert times == sorted(times)
    assert times[0] >= DEMO_START
    assert (times[-1] - DEMO_START).days >= DEMO_DAYS - 30
    assert len({r.event_id for r in demo_records}) == len(demo_records) == 1797


def test_photos_are_digits(demo_records):
    assert {r.label for r in demo_records} == set(LABELS)
    pixels = np.frombuffer(demo_records[0].pixels, dtype=np.uint8)
    assert pixels.shape == (PIXEL_COUNT,) and pixels.max() <= 16
