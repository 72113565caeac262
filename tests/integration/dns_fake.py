"""dns_fake.py - a tiny UDP DNS server on loopback for resolver tests: fixed A/AAAA records,
NXDOMAIN for every other name, or silence."""

import socket
import struct
import threading
from typing import Dict, List, Optional

TYPE_A = 1
TYPE_AAAA = 28
CLASS_IN = 1
RCODE_NXDOMAIN = 3


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
    .queries lists (name, type) as received. Use as a context manager."""

    def __init__(self, records: Optional[Dict[str, List[str]]] = None, silent: bool = False):
        self.records = {k.lower(): v for k, v in (records or {}).items()}
        self.silent = silent
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.queries: list = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> "FakeDns":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        self.thread.join(5)
        self.sock.close()

    def _answer(self, packet: bytes) -> bytes:
        qid, flags = struct.unpack("!HH", packet[:4])
        end = _question_end(packet)
        question = packet[12:end]
        qtype, _qclass = struct.unpack("!HH", packet[end - 4 : end])
        name = _qname(packet).lower()
        self.queries.append((name, qtype))
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
            answers += struct.pack("!HHHIH", 0xC00C, rtype, CLASS_IN, 30, len(rdata)) + rdata
            count += 1
        header = struct.pack("!HHHHHH", qid, 0x8080 | rd, 1, count, 0, 0)
        return header + question + answers

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
