"""A RabbitMQ node of one test's own, which the test may stop and start again.

The shared broker on 5672 serves every other test and session: a test that restarts a broker
restarts this one. It is a second node of the installed `rabbitmq-server` on free ports of
127.0.0.1, with its own data folder (so durable queues and persistent messages survive its
restart, as on a real broker) and no plugins (the shared node's management ports stay free).
"""

import os
import shutil
import subprocess
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from mlops_assets.tools import processes
from mlops_assets_tests.support.services import service_missing

START_TIMEOUT_S = 60
RABBITMQ_USER = "rabbitmq"


class PrivateBroker:
    """One RabbitMQ node: `url` to connect, `stop()` and `start()` to restart it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.node = f"mlops-test-{uuid.uuid4().hex[:8]}@localhost"
        self.port, dist_port = processes.free_port(), processes.free_port()
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "enabled_plugins").write_text("[].\n")
        self.env = {
            **os.environ,
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": processes.HOST,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(dist_port),
            "RABBITMQ_MNESIA_BASE": str(folder / "mnesia"),
            "RABBITMQ_LOG_BASE": str(folder / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(folder / "enabled_plugins"),
            "RABBITMQ_PID_FILE": str(folder / "node.pid"),
            "RABBITMQ_CONFIG_FILE": str(folder / "rabbitmq"),
        }
        if os.geteuid() == 0:
            # The packaged scripts run the node as the rabbitmq user.
            shutil.chown(folder, RABBITMQ_USER)
            shutil.chown(folder / "enabled_plugins", RABBITMQ_USER)

    def start(self) -> None:
        """Starts the node and waits until it accepts connections."""
        started = time.monotonic()
        subprocess.run(
            ["rabbitmq-server", "-detached"], env=self.env, check=True, capture_output=True
        )
        while not processes.answers(processes.HOST, self.port):
            if time.monotonic() - started > START_TIMEOUT_S:
                raise RuntimeError(f"RabbitMQ node {self.node} did not start: {self.log()}")
            time.sleep(0.2)

    def stop(self) -> None:
        """Stops the node as `rabbitmqctl stop` does (what a service restart does)."""
        subprocess.run(
            ["rabbitmqctl", "-n", self.node, "stop"], env=self.env, capture_output=True, check=True
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while processes.answers(processes.HOST, self.port) and time.monotonic() < deadline:
            time.sleep(0.2)

    def log(self) -> str:
        logs = sorted((self.folder / "log").glob("*.log"))
        return logs[-1].read_text(errors="replace")[-4000:] if logs else "(no log)"


@contextmanager
def private_broker():
    """A started private RabbitMQ node, stopped and deleted afterwards; skips (fails under CI)
    without `rabbitmq-server`.

    Its folder is not under pytest's tmp_path: the node runs as the rabbitmq user, who cannot
    enter root's private temporary folders.
    """
    if not shutil.which("rabbitmq-server") or not shutil.which("rabbitmqctl"):
        service_missing("rabbitmq-server is not installed (Debian package rabbitmq-server)")
    folder = Path(tempfile.mkdtemp(prefix="mlops-broker-"))
    folder.chmod(0o755)
    broker = PrivateBroker(folder)
    try:
        broker.start()
        yield broker
    finally:
        subprocess.run(
            ["rabbitmqctl", "-n", broker.node, "stop"], env=broker.env, capture_output=True
        )
        shutil.rmtree(folder, ignore_errors=True)
