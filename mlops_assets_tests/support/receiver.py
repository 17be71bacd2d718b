"""A real HTTP receiver on 127.0.0.1 that records every POST it gets (alerts tests)."""

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    """What the receiver got: (path, JSON body) pairs, and the status it answers with."""

    requests: list[tuple[str, dict]] = field(default_factory=list)
    status: int = 200
    base_url: str = ""

    def bodies(self, path: str) -> list[dict]:
        return [body for p, body in self.requests if p == path]


@contextmanager
def http_receiver() -> Iterator[Received]:
    """Starts the receiver on a free port; yields what it records."""
    received = Received()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            length = int(self.headers.get("Content-Length", 0))
            received.requests.append((self.path, json.loads(self.rfile.read(length) or b"{}")))
            self.send_response(received.status)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    received.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield received
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
