"""tcp_servers.py - loopback peers for the tcp and http checks: a listener that accepts and hangs
up, and a small HTTP server with fixed routes that records what it was sent."""

import http.server
import socket
import threading
from typing import Optional


class Acceptor:
    """Listens on 127.0.0.1 (or ::1) on port (a free one by default), accepts every connection
    and closes it at once, so a backlog never fills however often a check connects. close()
    stops listening: later connects are refused. Use as a context manager."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(64)
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> "Acceptor":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.stopping.set()
        if self.thread.is_alive():
            self.thread.join(5)
        self.sock.close()

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.accepted += 1
            conn.close()


BIG_BODY = b"x" * 100_000

# path -> (status, body)
ROUTES = {
    "/ok": (200, b"status: healthy\n"),
    "/fail": (500, b"database down\n"),
    "/big": (200, BIG_BODY),
    "/teapot": (418, b"short and stout\n"),
}


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
        self.server.requests.append((self.path, dict(self.headers.items())))
        status, body = ROUTES.get(self.path.split("?")[0], (404, b"no such route\n"))
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:
            pass  # the client may hang up on a body it refuses

    def log_message(self, *args) -> None:
        pass


class HttpTarget:
    """A threaded HTTP/1.1 server on 127.0.0.1:PORT answering ROUTES (404 elsewhere). .requests
    lists (path, headers) as received. Use as a context manager."""

    def __init__(self):
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.server.requests = []
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def requests(self) -> list:
        return self.server.requests

    def url(self, path: str, host: Optional[str] = None) -> str:
        return f"http://{host or '127.0.0.1'}:{self.port}{path}"

    def __enter__(self) -> "HttpTarget":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
