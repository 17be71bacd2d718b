"""The model holder: one-assignment swaps that never mix versions, and the standby."""

import threading
import time
from datetime import UTC, datetime

import numpy as np

from mlops_assets.ml.predictor import Prediction
from mlops_assets.serving.holder import LoadedModel, ModelHolder


class MarkedPredictor:
    """Answers with its own version number in every probability, so a mix would show."""

    def __init__(self, version: int):
        self.version = version

    def predict_pixels(self, pixels: np.ndarray) -> Prediction:
        return Prediction(
            labels=np.zeros(len(pixels), int),
            probabilities=np.full((len(pixels), 10), self.version),
        )


def marked(version: int) -> LoadedModel:
    return LoadedModel(
        name="m",
        version=str(version),
        run_id=None,
        source="test",
        sha256="0" * 64,
        loaded_at=datetime.now(UTC),
        load_seconds=0.0,
        predictor=MarkedPredictor(version),
    )


def test_swap_under_concurrent_readers_never_mixes_or_goes_back():
    holder = ModelHolder()
    holder.swap(marked(0))
    stop = threading.Event()
    problems: list[str] = []
    reads = [0] * 8

    def reader(slot: int) -> None:
        last = -1
        while not stop.is_set():
            model = holder.current
            answered = int(model.predict(np.zeros((1, 64))).probabilities[0, 0])
            if answered != int(model.version):
                problems.append(f"v{model.version} answered as v{answered}")
            if answered < last:
                problems.append(f"went back from v{last} to v{answered}")
            last = answered
            reads[slot] += 1

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    models = [marked(v) for v in range(1, 2001)]
    for model in models:
        holder.swap(model)
        if model.version == "1000":
            time.sleep(0.05)
    time.sleep(0.05)
    stop.set()
    for thread in threads:
        thread.join()

    assert problems == []
    assert all(count > 0 for count in reads)
    assert holder.current.version == "2000" and holder.standby.version == "1999"
    assert holder.swaps == 2001 and len(holder.swap_hold_ns) == 1000


def test_swap_back_to_standby_exchanges_the_two():
    holder = ModelHolder()
    one, two = marked(1), marked(2)
    assert holder.swap(one) is None and holder.standby is None
    assert holder.swap(two) is one and holder.standby is one
    assert holder.swap(one) is two and holder.standby is two
