"""tcp_proxy.py - a loopback TCP proxy whose path can be cut: until black_hole() it forwards
every connection to its target; from then on it reads and drops everything, on the connections
it already had and on new ones, and never answers or closes. That is a network path that
silently loses packets, as when one node's route to a database breaks, while the target itself
stays up for everyone else."""

import selectors
import socket
import threading
from typing import Dict, Optional


class BlackHoleProxy:
    """Listens on host:port (port 0 picks a free one) and forwards to target_host:target_port.
    black_hole() cuts the path for every connection open at that moment and every later one;
    restore() forwards new connections again (the cut ones stay cut, as a peer that timed out
    drops them anyway). .forwarded and .swallowed count the connections of each kind. Use as a
    context manager; leaving it closes every socket and joins the thread."""

    def __init__(self, target_port: int, host: str = "127.0.0.1", port: int = 0,
                 target_host: str = "127.0.0.1"):
        self.target = (target_host, target_port)
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((host, port))
        self.listener.listen(64)
        self.listener.setblocking(False)
        self.host = host
        self.port = self.listener.getsockname()[1]
        self.forwarded = 0
        self.swallowed = 0
        self._cut = threading.Event()
        self._lock = threading.Lock()
        # socket -> its partner, or None for a cut one whose bytes are dropped.
        self._pairs: Dict[socket.socket, Optional[socket.socket]] = {}
        self._selector = selectors.DefaultSelector()
        self._selector.register(self.listener, selectors.EVENT_READ)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> "BlackHoleProxy":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stopping.set()
        self._thread.join(5)
        for sock in list(self._pairs):
            sock.close()
        self._selector.close()
        self.listener.close()

    def black_hole(self) -> None:
        """Cuts the path: nothing more reaches either side of any connection."""
        with self._lock:
            self._cut.set()
            for sock in self._pairs:
                self._pairs[sock] = None

    def restore(self) -> None:
        """New connections are forwarded again."""
        self._cut.clear()

    def _add(self, sock: socket.socket, partner: Optional[socket.socket]) -> None:
        sock.setblocking(False)
        self._pairs[sock] = partner
        self._selector.register(sock, selectors.EVENT_READ)

    def _drop(self, sock: socket.socket) -> None:
        self._pairs.pop(sock, None)
        self._selector.unregister(sock)
        sock.close()

    def _accept(self) -> None:
        try:
            client, _ = self.listener.accept()
        except OSError:
            return
        with self._lock:
            if self._cut.is_set():
                self.swallowed += 1
                self._add(client, None)
                return
        try:
            upstream = socket.create_connection(self.target, timeout=2)
        except OSError:
            client.close()
            return
        with self._lock:
            self.forwarded += 1
            cut = self._cut.is_set()
            self._add(client, None if cut else upstream)
            self._add(upstream, None if cut else client)

    def _pump(self, sock: socket.socket) -> None:
        try:
            data = sock.recv(65536)
        except OSError:
            data = b""
        with self._lock:
            partner = self._pairs.get(sock)
            if not data:
                # A cut path never tells the other side: only this end goes.
                self._drop(sock)
                if partner is not None and partner in self._pairs:
                    self._drop(partner)
                return
            if partner is None:
                return  # swallowed
        try:
            partner.setblocking(True)
            partner.settimeout(2)
            partner.sendall(data)
            partner.setblocking(False)
        except OSError:
            with self._lock:
                self._drop(sock)
                if partner in self._pairs:
                    self._drop(partner)

    def _serve(self) -> None:
        while not self._stopping.is_set():
            for key, _ in self._selector.select(timeout=0.05):
                if key.fileobj is self.listener:
                    self._accept()
                elif key.fileobj in self._pairs:
                    self._pump(key.fileobj)
