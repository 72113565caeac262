"""dns_fake.py - a tiny DNS server on loopback for resolver tests: fixed A/AAAA records,
NXDOMAIN for every other name, or silence; over UDP as RFC 1035 says (512 bytes at most, the
truncation bit set when records are left out) and over TCP on the same port (RFC 7766)."""

import socket
import struct
import threading
from typing import Dict, List, Optional

TYPE_A = 1
TYPE_AAAA = 28
CLASS_IN = 1
RCODE_NXDOMAIN = 3
FLAG_TC = 0x0200
UDP_MAX = 512  # no EDNS0: RFC 1035 4.2.1


def _question_end(packet: bytes) -> int:
    """The offset just past the first question's QTYPE and QCLASS."""
    pos = 12
    while packet[pos] != 0:
        pos += 1 + packet[pos]
    return pos + 1 + 4


def _qname(packet: bytes) -> str:
    labels = []
    pos = 12
    while packet[pos] != 0:
        n = packet[pos]
        labels.append(packet[pos + 1 : pos + 1 + n].decode("ascii"))
        pos += 1 + n
    return ".".join(labels)


class FakeDns:
    """Answers on 127.0.0.1:PORT. records maps a lower-case name to its addresses (IPv4 and IPv6
    literals mixed); a known name asked for a type it lacks gets an empty NOERROR answer, an
    unknown one NXDOMAIN. silent=True binds the port and never answers. Names are matched
    without regard to case (evdns randomizes it) and the question is echoed byte for byte.
    .queries lists (name, type) as received over UDP, .tcp_queries over TCP. tcp: "serve"
    answers length-prefixed queries, several per connection, on the same port; "close" accepts
    and closes without a word; "hold" accepts, reads and never answers; "none" leaves the TCP port closed (connection refused); "reset"
    answers a single query per connection and then closes it. udp_max=None puts every record
    in one datagram however big, without TC, as no standard server does. .answers lists
    (over_tcp, qtype, records, bytes) of each answer sent; .edns counts the queries that
    carried an additional record (EDNS0's OPT). Use as a context manager."""

    def __init__(self, records: Optional[Dict[str, List[str]]] = None, silent: bool = False,
                 tcp: str = "serve", udp_max: Optional[int] = UDP_MAX):
        self.records = {k.lower(): v for k, v in (records or {}).items()}
        self.silent = silent
        self.tcp = tcp
        self.udp_max = udp_max
        self.answers: list = []
        self.edns = 0
        self.sock, self.listener = self._bind(tcp != "none")
        self.port = self.sock.getsockname()[1]
        self.queries: list = []
        self.tcp_queries: list = []
        self.truncated = 0  # UDP answers sent with TC
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.tcp_thread = threading.Thread(target=self._serve_tcp, daemon=True)

    @staticmethod
    def _bind(with_tcp: bool):
        """A UDP socket on a free port, and a TCP listener on the same port: a port free for
        UDP may be taken for TCP, so try a few."""
        for _ in range(20):
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            udp.bind(("127.0.0.1", 0))
            udp.settimeout(0.05)
            if not with_tcp:
                return udp, None
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                listener.bind(("127.0.0.1", udp.getsockname()[1]))
            except OSError:
                listener.close()
                udp.close()
                continue
            listener.listen(16)
            listener.settimeout(0.05)
            return udp, listener
        raise RuntimeError("no loopback port free for both UDP and TCP")

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> "FakeDns":
        self.thread.start()
        if self.listener:
            self.tcp_thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        self.thread.join(5)
        self.sock.close()
        if self.listener:
            self.tcp_thread.join(5)
            self.listener.close()

    def _answer(self, packet: bytes, over_tcp: bool = False) -> bytes:
        qid, flags = struct.unpack("!HH", packet[:4])
        end = _question_end(packet)
        question = packet[12:end]
        qtype, _qclass = struct.unpack("!HH", packet[end - 4 : end])
        name = _qname(packet).lower()
        (self.tcp_queries if over_tcp else self.queries).append((name, qtype))
        self.edns += struct.unpack("!H", packet[10:12])[0] > 0
        rd = flags & 0x0100
        addresses = self.records.get(name)
        if addresses is None:
            header = struct.pack("!HHHHHH", qid, 0x8080 | rd | RCODE_NXDOMAIN, 1, 0, 0, 0)
            return header + question
        answers = b""
        count = 0
        for addr in addresses:
            family = socket.AF_INET6 if ":" in addr else socket.AF_INET
            rtype = TYPE_AAAA if family == socket.AF_INET6 else TYPE_A
            if rtype != qtype:
                continue
            rdata = socket.inet_pton(family, addr)
            # 0xC00C points back at the question's name.
            record = struct.pack("!HHHIH", 0xC00C, rtype, CLASS_IN, 30, len(rdata)) + rdata
            limit = None if over_tcp else self.udp_max
            if limit and 12 + len(question) + len(answers) + len(record) > limit:
                # What fits, and TC: the client is to ask again over TCP.
                flags_tc = FLAG_TC
                self.truncated += 1
                break
            answers += record
            count += 1
        else:
            flags_tc = 0
        header = struct.pack("!HHHHHH", qid, 0x8080 | rd | flags_tc, 1, count, 0, 0)
        out = header + question + answers
        self.answers.append((over_tcp, qtype, count, len(out)))
        return out

    def _serve_tcp(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with conn:
                if self.tcp == "hold":
                    self._hold(conn)
                elif self.tcp == "close":
                    # Read the query first, so that closing sends FIN and not RST.
                    conn.settimeout(1)
                    try:
                        conn.recv(4096)
                    except OSError:
                        pass
                else:
                    self._serve_connection(conn)

    def _hold(self, conn: socket.socket) -> None:
        conn.settimeout(0.05)
        while not self.stopping.is_set():
            try:
                if not conn.recv(4096):
                    return
            except socket.timeout:
                continue
            except OSError:
                return

    def _serve_connection(self, conn: socket.socket) -> None:
        """Answers queries until the client closes, one at a time (the daemon asks so)."""
        conn.settimeout(2)
        buffer = b""
        while not self.stopping.is_set():
            while len(buffer) >= 2 and len(buffer) >= 2 + struct.unpack("!H", buffer[:2])[0]:
                n = struct.unpack("!H", buffer[:2])[0]
                packet, buffer = buffer[2 : 2 + n], buffer[2 + n :]
                if self.silent:
                    self.tcp_queries.append((_qname(packet).lower(), None))
                    continue
                try:
                    reply = self._answer(packet, over_tcp=True)
                except (IndexError, struct.error, UnicodeDecodeError):
                    return
                conn.sendall(struct.pack("!H", len(reply)) + reply)
                if self.tcp == "reset":
                    return
            try:
                data = conn.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            if not data:
                return
            buffer += data

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                packet, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                if self.silent:
                    self.queries.append((_qname(packet).lower(), None))
                    continue
                self.sock.sendto(self._answer(packet), peer)
            except (OSError, IndexError, struct.error, UnicodeDecodeError):
                continue
