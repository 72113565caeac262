"""secret_states.py - distinctive secrets, every request a client can make, and a grep that says
where a secret showed up, for test_secrets.py."""

import json
import secrets
import urllib.parse
from typing import Iterable, NamedTuple, Optional

import harness

# Characters that URL encoding, JSON escaping and libpq's parsers each treat specially, so that a
# leak in any of those forms is told apart from the raw text. No "=" and no "://": a database
# name holding either is refused by the loader, and one test uses the password as a database name.
SPECIAL = "/@:%+&#"


class Secret(NamedTuple):
    """A password and the forms it could leak in. core is the random part: it survives any
    encoding, so finding it anywhere means a leak whatever was done to the rest."""

    label: str
    value: str
    core: str

    def forms(self) -> dict:
        return {
            "raw": self.value,
            "url-encoded": urllib.parse.quote(self.value, safe=""),
            "form-encoded": urllib.parse.quote_plus(self.value),
            "json-escaped": json.dumps(self.value)[1:-1],
            "random core": self.core,
        }


def make_secret(label: str, prefix: str) -> Secret:
    """prefix + "SECRET" + 16 random hex digits + SPECIAL: right and wrong passwords share the
    pattern, and no text the daemon writes could hold one by chance."""
    core = secrets.token_hex(8)
    return Secret(label, f"{prefix}SECRET{core}{SPECIAL}", core)


def find_leaks(where: str, data, found: Iterable[Secret]) -> list:
    """One line per secret form in data (bytes or text): where, which secret, which form and
    80 characters of context."""
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    leaks = []
    for secret in found:
        for form, needle in secret.forms().items():
            at = text.find(needle)
            if at >= 0:
                context = text[max(0, at - 40):at + len(needle) + 40]
                leaks.append(f"{where}: {secret.label} ({form}) in ...{context!r}...")
                break
    return leaks


# The variants of one probe path: queries, Accept headers and HEAD.
QUERIES = ("", "?verbose", "?verbose=1", "?format=json", "?format=text", "?format=health%2Bjson",
           "?format=health+json", "?exclude=nope")
ACCEPTS = ("application/health+json", "text/plain", "application/json")
PROBES = ("/live", "/livez", "/healthz", "/ready", "/readyz", "/startup", "/startupz", "/health")


def request_bytes(method: str, path: str, accept: Optional[str] = None) -> bytes:
    """A whole HTTP/1.1 request that asks the server to close afterwards, so that raw_request
    returns at once with every byte of the answer."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    if accept:
        lines.append(f"Accept: {accept}")
    if method == "POST":
        lines.append("Content-Length: 0")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def every_request(check_names: Iterable[str]) -> list:
    """(label, request bytes) for every endpoint and variant: the probes and the per-check paths
    with each query, Accept and HEAD; /metrics; /debug/history in JSON and text, all and per
    check; and a 404, a 400 (bad query) and a 405 (POST)."""
    paths = list(PROBES)
    for name in check_names:
        paths += [f"/health/{name}", f"/livez/{name}", f"/readyz/{name}"]
    reqs = []
    for path in paths:
        for query in QUERIES:
            reqs.append((f"GET {path}{query}", request_bytes("GET", path + query)))
        for accept in ACCEPTS:
            reqs.append((f"GET {path} Accept: {accept}", request_bytes("GET", path, accept)))
        reqs.append((f"HEAD {path}", request_bytes("HEAD", path)))
    extra = ["/metrics", "/debug/history", "/debug/history?verbose",
             "/debug/history?format=text", "/nope", "/health?format=bogus",
             "/ready?verbose=maybe"]
    for name in check_names:
        extra += [f"/debug/history/{name}", f"/debug/history/{name}?verbose"]
    for path in extra:
        reqs.append((f"GET {path}", request_bytes("GET", path)))
    reqs.append(("POST /ready", request_bytes("POST", "/ready")))
    reqs.append(("POST /health/NAME", request_bytes("POST", "/health/x")))
    return reqs


def sweep(port: int, reqs: list) -> dict:
    """label -> the raw answer (status line, headers and body). Each answer must be a whole
    HTTP response, so that an empty or cut answer cannot pass the grep unseen."""
    answers = {}
    for label, data in reqs:
        raw = harness.raw_request(port, data)
        harness.parse_raw_response(raw)
        answers[label] = raw
    return answers
