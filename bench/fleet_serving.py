"""Benchmark: one inference server for the fleet, `/models/face_verifier/verify` next to
`/predict`.

A temporary MLflow registry (SQLite file) holds the demo's CNN (default hyperparameters, logged
as `trained_model` logs it) and a face verifier trained on 1,000 synthetic identities × 10
vectors (64 components, logged through its MLflow model contract), each registered with its
sha256 and signature and made `@champion`. One server process (`python -m
mlops_assets.serving`, one uvicorn worker, the fleet file holding both models) serves both;
load comes from 1 or 4 client processes, each on one keep-alive connection sending requests back
to back (the serving benchmark's `run_load`). The two routes are measured in alternating rounds
on the same server, so both see the same machine; the table gives each round and the median.

Writes bench/results/fleet_serving.json. Usage: python bench/fleet_serving.py
"""

import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import yaml
from serving import (  # the serving benchmark beside this file
    ROOT,
    base_env,
    free_port,
    register_versions,
    run_load,
    wait_http,
)

RESULTS = Path(__file__).parent / "results" / "fleet_serving.json"
PHOTO = [float((i * 7) % 17) for i in range(64)]
LOAD_SECONDS = 5.0
ROUNDS = 3
CLIENTS = (1, 4)
FACE_MODEL = "face_verifier"


def fleet_text() -> str:
    """The shipped fleet's `task_photos` with the `face_verifier` entry, wherever it is
    declared (the shipped fleet file, or examples/fleet/face_verifier.yaml)."""
    from mlops_assets.contracts.fleet import load_fleet

    shipped = load_fleet()
    models = [shipped.model("task_photos")]
    if FACE_MODEL in shipped.names:
        models.append(shipped.model(FACE_MODEL))
    else:
        models.append(
            load_fleet(ROOT / "examples" / "fleet" / f"{FACE_MODEL}.yaml").model(FACE_MODEL)
        )
    specs = [spec.model_dump(mode="json", exclude_defaults=True) for spec in models]
    return yaml.safe_dump({"schema_version": 1, "models": specs})


def register_verifier(settings, registry_name: str) -> tuple[str, list[list[float]]]:
    """Trains, logs and registers the face verifier; returns its version and a genuine pair."""
    import mlflow

    from mlops_assets.backends import factory
    from mlops_assets.backends.face_logged_model import log_face_verifier
    from mlops_assets.demo.face_source import synthetic_face_vectors
    from mlops_assets.ml.face_verifier import train_face_verifier
    from mlops_assets.resources.tracking import ensure_experiment

    vectors, identities = synthetic_face_vectors(1000, 10, seed=3)
    verifier = train_face_verifier(vectors, identities, target_far=1e-3)
    registry = factory.registry(settings.model_copy(update={"model_name": registry_name}))
    experiment_id = ensure_experiment(
        settings.resolved_tracking_uri, settings.experiment, settings.resolved_artifact_location
    )
    mlflow.set_tracking_uri(settings.resolved_tracking_uri)
    with mlflow.start_run(experiment_id=experiment_id) as run:
        model_uri, sha256 = log_face_verifier(verifier, vectors[:4])
    version = registry.register(model_uri, run.info.run_id, sha256).version
    registry.promote(version, "bench")
    probe, _ = synthetic_face_vectors(1, 2, seed=99)
    return version, probe.tolist()


def median(rounds: list[dict], key: str) -> float:
    return round(float(np.median([r[key] for r in rounds])), 3)


def main() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import httpx

    from mlops_assets.backends import factory
    from mlops_assets.contracts.fleet import parse_fleet
    from mlops_assets.settings import Settings

    load_at_start = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "var"
        home.mkdir()
        text = fleet_text()
        fleet = parse_fleet(text, "bench fleet")
        fleet_file = home / "fleet.yaml"
        fleet_file.write_text(text)
        settings = Settings(home=home, tracking_uri=f"sqlite:///{home / 'mlflow.db'}")
        photos = factory.registry(
            settings.model_copy(update={"model_name": fleet.model("task_photos").registry_name})
        )
        [photo_version] = register_versions(settings, photos, 1)
        photos.promote(photo_version, "bench")
        face_version, pair = register_verifier(settings, fleet.model(FACE_MODEL).registry_name)

        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = {
            **base_env(home, settings.resolved_tracking_uri),
            "MLOPS_MODELS_FILE": str(fleet_file),
            "MLOPS_SERVING_PORT": str(port),
            "MLOPS_SERVING_POLL_INTERVAL_S": "0",
            "MLOPS_SERVING_PUSH": "false",
        }
        log_path = home / "server.log"
        routes = {
            "/predict": json.dumps({"instances": [PHOTO]}).encode(),
            "/models/face_verifier/verify": json.dumps(
                {"first": pair[0], "second": pair[1]}
            ).encode(),
        }
        measured: dict[str, dict[str, list[dict]]] = {
            route: {str(n): [] for n in CLIENTS} for route in routes
        }
        with open(log_path, "wb") as log:
            server = subprocess.Popen(
                [sys.executable, "-m", "mlops_assets.serving"], env=env, stdout=log, stderr=log
            )
            try:
                wait_http(f"{url}/ready", server, log_path)
                wait_http(f"{url}/models/{FACE_MODEL}/ready", server, log_path)
                served = httpx.get(f"{url}/models", timeout=10).json()
                for _ in range(ROUNDS):
                    for clients in CLIENTS:
                        for route, body in routes.items():
                            figures = run_load(port, route, body, clients, LOAD_SECONDS)
                            measured[route][str(clients)].append(figures)
                            print(route, json.dumps(figures), file=sys.stderr)
            finally:
                server.terminate()
                server.wait(30)

    summary = {
        route: {
            clients: {
                "p50_ms_median": median(rounds, "p50_ms"),
                "p99_ms_median": median(rounds, "p99_ms"),
                "req_per_s_median": median(rounds, "req_per_s"),
                "failed": sum(r["failed"] for r in rounds),
                "rounds": rounds,
            }
            for clients, rounds in by_clients.items()
        }
        for route, by_clients in measured.items()
    }
    figures = {
        "machine": f"{platform.machine()}, {len(os.sched_getaffinity(0))} cores",
        "load_average_at_start": [round(x, 2) for x in load_at_start],
        "models": {
            "task_photos": f"demo CNN, default hyperparameters, v{photo_version}, one 8x8 photo",
            FACE_MODEL: f"face verifier, 1,000 synthetic identities x 10, v{face_version}, "
            "one pair of 128-value vectors",
        },
        "served": served,
        "seconds_per_round": LOAD_SECONDS,
        "rounds": ROUNDS,
        "http": summary,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    print(
        json.dumps(
            {
                r: {c: {k: v for k, v in f.items() if k != "rounds"} for c, f in s.items()}
                for r, s in summary.items()
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
