"""test_access.py - who sees details (details, trust_loopback, token, token_file, reload) and
GET /drain: statuses only without access, 401/403 on history and drain, the token kept secret."""

import json
import os
import re
import secrets
import signal
import threading
import time

import pytest

import harness
from harness import bound, free_port, poll, run_cli

USAGE_EXIT = 2  # a config error, like every other one check-config reports (test_cli.py)
REALM = 'Bearer realm="veza-health"'
INVALID = 'Bearer realm="veza-health", error="invalid_token"'
PROBES = ["/live", "/ready", "/startup", "/health", "/live/self-mem", "/ready/dep",
          "/health/dep", "/health/self-mem"]
TEXT_PROBES = ["/live?verbose", "/ready?verbose", "/health?verbose"]
HEALTH_JSON = {"Accept": "application/health+json"}
DRAIN_S = 1.5


def new_token() -> str:
    """A fresh random token68 of 40 characters: nothing else in a log or an answer can hold it."""
    return secrets.token_urlsafe(30)


def config(dep_port: int, **top) -> dict:
    """The daemon itself (passes) and a TCP check of a closed port (fails with an output that
    names the host and port: a detail)."""
    doc = {
        "service": "access-test",
        "checks": [
            {"name": "self-mem", "type": "process", "groups": ["liveness", "readiness"],
             "interval": "100ms", "process": {"self": True}},
            {"name": "dep", "type": "tcp", "groups": ["readiness"], "interval": "100ms",
             "tcp": {"host": "127.0.0.1", "port": dep_port}},
        ],
    }
    doc.update(top)
    return doc


def drain_config(delay: str, **top) -> dict:
    doc = harness.self_config(service="drain-endpoint")
    doc["shutdown_delay"] = delay
    doc.update(top)
    return doc


def env_with(**names: str) -> dict:
    return dict(os.environ, **names)


def bearer(token: str, scheme: str = "Bearer") -> dict:
    return {"Authorization": f"{scheme} {token}"}


def settled(d, headers=None) -> bool:
    """The first runs are in: self-mem passes and dep fails (statuses show to everyone)."""
    doc = d.request("/health", headers=headers).json()
    return (doc["checks"]["self-mem"]["status"], doc["checks"]["dep"]["status"]) == (
        "pass", "fail")


def statuses_only(doc: dict) -> dict:
    """What a client without details must get for a detailed probe answer."""
    if "name" in doc:
        return {"name": doc["name"], "status": doc["status"]}
    return {"status": doc["status"],
            "checks": {name: {"status": c["status"]} for name, c in doc["checks"].items()}}


def text_statuses_only(text: str) -> str:
    """"[-]dep failed: connection refused ... (failing for ...)" becomes "[-]dep failed", and
    lines that are not about a check (the config generation) go."""
    lines = text.splitlines()
    found = [re.match(r"^(\[[+-]\]\S+ (?:ok|failed))", line) for line in lines[:-1]]
    return "\n".join([m.group(1) for m in found if m] + lines[-1:]) + "\n"


def assert_no_secret(resp: harness.Response, *tokens: str) -> None:
    where = resp.body.decode("utf-8", "replace") + json.dumps(resp.headers)
    for token in tokens:
        assert token not in where, "the token leaked into an answer"


def assert_detailed(resp: harness.Response) -> None:
    doc = resp.json()
    assert doc["service"] == "access-test", doc
    assert "connection refused" in doc["checks"]["dep"]["error"], doc
    assert "self-mem" in resp.headers.get("server-timing", ""), resp.headers


def assert_bare(resp: harness.Response) -> None:
    doc = resp.json()
    assert doc == statuses_only(doc), doc
    assert "server-timing" not in resp.headers, resp.headers


# --- details: never and always ----------------------------------------------------------------


def test_never_shows_statuses_only_with_the_same_codes(daemon):
    port = free_port()
    bare = daemon(config(port, details="never"), name="never")
    # "always" with loopback untrusted: details for a client that has nothing.
    full = daemon(config(port, details="always", trust_loopback=False), name="always")
    for d in (bare, full):
        poll(lambda: settled(d), bound(3), what=f"{d.name}'s first check results")

    for path in PROBES:
        want, got = full.request(path), bare.request(path)
        assert got.status == want.status, path
        assert "server-timing" in want.headers, path
        assert "server-timing" not in got.headers, path
        assert got.json() == statuses_only(want.json()), path
    assert bare.request("/ready/dep").json() == {"name": "dep", "status": "unready"}
    assert bare.request("/ready").json() == {
        "status": "unready",
        "checks": {"self-mem": {"status": "ready"}, "dep": {"status": "unready"}}}

    for path in TEXT_PROBES:
        want, got = full.request(path), bare.request(path)
        assert got.status == want.status, path
        assert "server-timing" not in got.headers, path
        assert got.text == text_statuses_only(want.text), (path, got.text)
    assert bare.request("/ready?verbose").text == (
        "[+]self-mem ok\n[-]dep failed\nreadyz check failed\n")

    for path, checks in (("/ready", {"self-mem": "pass", "dep": "fail"}),
                         ("/health", {"self-mem": "pass", "dep": "fail", "sidecar": "pass"})):
        want = full.request(path, headers=HEALTH_JSON)
        got = bare.request(path, headers=HEALTH_JSON)
        assert (got.status, want.status) == (503, 503), path
        assert got.headers["content-type"] == "application/health+json"
        assert "server-timing" not in got.headers, path
        assert got.json() == {"status": "fail",
                              "checks": {n: [{"status": s}] for n, s in checks.items()}}, path

    assert full.request("/debug/history").status == 200
    for path in ("/debug/history", "/drain"):
        for headers in ({}, bearer(new_token())):
            resp = bare.request(path, headers=headers)
            assert resp.status == 403, (path, resp)
            assert "www-authenticate" not in resp.headers
            assert "never" in resp.json()["error"]
    metrics = bare.request("/metrics")
    assert metrics.status == 200
    assert 'veza_health_check_up{check="dep"} 0\n' in metrics.text
    assert bare.request("/ready").status == 503, "the refused /drain did not drain"
    assert not bare.log_events("draining")


# --- details: authorized with a token -------------------------------------------------------


def test_token_from_the_environment(daemon):
    token = new_token()
    d = daemon(config(free_port(), trust_loopback=False, token="${VH_ITEST_TOKEN}"),
               env=env_with(VH_ITEST_TOKEN=token))
    poll(lambda: settled(d), bound(3), what="the first check results")
    seen = []

    def ask(path, headers=None):
        resp = d.request(path, headers=headers)
        seen.append(resp)
        return resp

    # No header: statuses only, and a challenge without an error.
    for path in PROBES:
        assert_bare(ask(path))
    assert ask("/ready?verbose").text == "[+]self-mem ok\n[-]dep failed\nreadyz check failed\n"
    for path in ("/debug/history", "/drain"):
        resp = ask(path)
        assert resp.status == 401, (path, resp)
        assert resp.headers["www-authenticate"] == REALM, path

    # A wrong token: the same statuses, and the challenge says the token is invalid.
    last = "A" if token[-1] != "A" else "B"
    case = token.swapcase()
    for wrong in (new_token(), token[:-1] + last, token[:-1], token + "A", case):
        assert_bare(ask("/ready", bearer(wrong)))
        resp = ask("/debug/history", bearer(wrong))
        assert resp.status == 401, wrong
        assert resp.headers["www-authenticate"] == INVALID

    # The right token, with the scheme in either case: everything.
    for scheme in ("Bearer", "bearer", "BEARER"):
        resp = ask("/ready", bearer(token, scheme))
        assert resp.status == 503
        assert_detailed(resp)
        history = ask("/debug/history", bearer(token, scheme))
        assert history.status == 200, scheme
        assert history.json()["service"] == "access-test"
    assert "readyz check failed" in ask("/ready?verbose", bearer(token)).text
    assert "connection refused" in ask("/ready?verbose", bearer(token)).text
    health = ask("/ready", headers=dict(HEALTH_JSON, **bearer(token))).json()
    assert health["serviceId"] == "access-test"
    assert ask("/ready/dep", bearer(token)).json()["type"] == "tcp"
    # Not Bearer: no token was given in a form that counts.
    assert_bare(ask("/ready", bearer(token, "Basic")))
    assert ask("/debug/history", bearer(token, "Basic")).status == 401
    assert ask("/metrics").status == 200

    for resp in seen:
        assert_no_secret(resp, token)
    assert token not in d.log_text()
    assert not d.log_events("draining"), "no /drain got through"


def test_loopback_is_trusted_by_default(daemon):
    d = daemon(config(free_port()))
    poll(lambda: settled(d), bound(3), what="the first check results")
    for path in ("/ready", "/health"):
        assert_detailed(d.request(path))
    assert "connection refused" in d.request("/ready?verbose").text
    assert d.request("/debug/history").status == 200
    # A loopback client needs no token, and a wrong one does not take that away.
    assert_detailed(d.request("/ready", headers=bearer(new_token())))


def test_untrusted_loopback_without_a_token_is_forbidden(daemon):
    d = daemon(config(free_port(), trust_loopback=False))
    poll(lambda: settled(d), bound(3), what="the first check results")
    assert_bare(d.request("/ready"))
    for path in ("/debug/history", "/drain"):
        for headers in ({}, bearer(new_token())):
            resp = d.request(path, headers=headers)
            assert resp.status == 403, (path, resp)
            assert "www-authenticate" not in resp.headers


# --- token_file and reload ------------------------------------------------------------------


def reload(d, new_config) -> None:
    before = len(d.log_events("config reloaded"))
    harness.write_config(d.config_path, new_config)
    d.send_signal(signal.SIGHUP)
    poll(lambda: len(d.log_events("config reloaded")) > before, bound(3), what="the reload")


def test_token_file_is_read_again_on_reload(daemon, tmp_path):
    old, new = new_token(), new_token()
    token_file = tmp_path / "token"
    token_file.write_text(old + "\n")
    port = free_port()
    cfg = config(port, trust_loopback=False, token_file=str(token_file))
    d = daemon(cfg)
    poll(lambda: settled(d), bound(3), what="the first check results")
    assert d.request("/debug/history", headers=bearer(old)).status == 200
    assert_detailed(d.request("/ready", headers=bearer(old)))
    assert d.request("/debug/history", headers=bearer(new)).status == 401

    token_file.write_text(new + "\n")
    reload(d, cfg)
    assert d.request("/debug/history", headers=bearer(new)).status == 200
    assert_detailed(d.request("/health", headers=bearer(new)))
    refused = d.request("/debug/history", headers=bearer(old))
    assert refused.status == 401
    assert refused.headers["www-authenticate"] == INVALID
    assert_bare(d.request("/health", headers=bearer(old)))

    reload(d, config(port, details="never"))
    refused = d.request("/debug/history", headers=bearer(new))
    assert refused.status == 403
    assert_bare(d.request("/ready", headers=bearer(new)))
    assert_bare(d.request("/ready"))

    log = d.log_text()
    assert old not in log and new not in log


# --- config errors --------------------------------------------------------------------------


def check_config(tmp_path, cfg: dict, env: dict) -> tuple:
    path = harness.write_config(tmp_path / "access.json", cfg)
    r = run_cli(["check-config", str(path)], env=env)
    return r, path


@pytest.mark.parametrize("case", ["literal", "short", "bad_char", "always", "both", "missing"])
def test_bad_token_config_is_refused_without_quoting_it(tmp_path, case):
    token = new_token()
    token_file = tmp_path / "token"
    token_file.write_text(token + "\n")
    top, env, says = {"token": "${VH_ITEST_TOKEN}"}, {"VH_ITEST_TOKEN": token}, ""
    if case == "literal":
        top, says = {"token": token}, "environment"
    elif case == "short":
        token = "abcdefghij12345"  # 15 characters, one too few
        env, says = {"VH_ITEST_TOKEN": token}, "16 to 256"
    elif case == "bad_char":
        token = token[:20] + "=" + token[20:]  # = only at the end
        env, says = {"VH_ITEST_TOKEN": token}, "16 to 256"
    elif case == "always":
        top["details"], says = "always", "authorized"
    elif case == "both":
        top["token_file"], says = str(token_file), "not both"
    elif case == "missing":
        top, says = {"token_file": str(tmp_path / "absent")}, str(tmp_path / "absent")
    r, path = check_config(tmp_path, config(free_port(), **top), env_with(**env))
    assert r.returncode == USAGE_EXIT, (case, r.stdout, r.stderr)
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"veza-health: {path}: "), r.stderr
    assert says in lines[0], lines[0]
    assert "token" in lines[0], lines[0]
    assert token not in r.stderr and token not in r.stdout


def test_check_config_redacts_the_token(tmp_path):
    token = new_token()
    r, _ = check_config(tmp_path, config(1, token="${VH_ITEST_TOKEN}"),
                        env_with(VH_ITEST_TOKEN=token))
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert (doc["details"], doc["trust_loopback"], doc["token"]) == (
        "authorized", True, "<redacted>")
    assert token not in r.stdout + r.stderr

    token_file = tmp_path / "token"
    token_file.write_text(token + "\n")
    r, _ = check_config(tmp_path, config(1, trust_loopback=False, token_file=str(token_file)),
                        env_with())
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["token_file"] == str(token_file) and doc["trust_loopback"] is False
    assert "token" not in doc
    assert token not in r.stdout + r.stderr


# --- /drain ---------------------------------------------------------------------------------


class Timed(threading.Thread):
    """One request in a thread of its own, with when it was sent and when its answer came."""

    def __init__(self, d, path: str, **kwargs):
        super().__init__(daemon=True)
        self.d, self.path, self.kwargs = d, path, kwargs
        self.sent = self.answered = None
        self.resp = self.error = None

    def run(self) -> None:
        self.sent = time.monotonic()
        try:
            self.resp = self.d.request(self.path, timeout=10, **self.kwargs)
        except Exception as exc:  # noqa: BLE001 - the test looks at it
            self.error = exc
        self.answered = time.monotonic()

    def begin(self) -> "Timed":
        self.start()
        poll(lambda: self.sent is not None, 1.0, what="the request thread")
        return self

    def result(self, timeout: float) -> harness.Response:
        self.join(timeout)
        assert not self.is_alive(), f"{self.path} got no answer within {timeout:.1f} s"
        assert self.error is None, self.error
        return self.resp


def assert_drained(resp: harness.Response) -> None:
    assert resp.status == 200, resp
    assert resp.json() == {"status": "drained"}


def ready_draining(d) -> bool:
    resp = d.request("/ready")
    return resp.status == 503 and resp.json()["status"] == "draining"


def test_drain_answers_after_the_delay_and_does_not_exit(daemon):
    d = daemon(drain_config(f"{int(DRAIN_S * 1000)}ms"))
    poll(lambda: d.request("/ready").status == 200, bound(3), what="ready")
    first = Timed(d, "/drain").begin()
    poll(lambda: ready_draining(d), bound(0.5), what="readiness draining")
    assert d.request("/live").status == 200
    time.sleep(0.4)
    second = Timed(d, "/drain").begin()
    head = Timed(d, "/drain", method="HEAD").begin()
    assert ready_draining(d) and d.request("/live").status == 200

    assert_drained(first.result(bound(DRAIN_S + 2)))
    took = first.answered - first.sent
    assert DRAIN_S - 0.1 <= took <= bound(DRAIN_S + 1.0), took
    assert_drained(second.result(bound(1.0)))
    assert abs(second.answered - first.answered) < bound(0.25), "the second joined the first"
    resp = head.result(bound(1.0))
    assert (resp.status, resp.headers.get("allow"), resp.body) == (405, "GET", b""), \
        "HEAD must not drain, so it is refused at once"
    draining = d.log_events("draining")
    assert len(draining) == 1, draining
    assert draining[0]["cause"] == "/drain" and draining[0]["drain_for"] == "1.5s"

    time.sleep(1.0)
    assert d.alive(), "a /drain alone does not exit"
    assert d.request("/live").status == 200
    start = time.monotonic()
    assert_drained(d.request("/drain"))  # the drain is over: at once
    head = d.request("/drain", method="HEAD")
    assert head.status == 405 and head.body == b""
    assert time.monotonic() - start < bound(0.5)
    assert len(d.log_events("draining")) == 1, "no second drain"

    start = time.monotonic()
    d.send_signal(signal.SIGTERM)
    assert d.proc.wait(bound(2)) == 0
    assert time.monotonic() - start < bound(0.5), "a SIGTERM after the drain exits at once"
    assert d.log_events("shutting down", signal="SIGTERM")


def test_sigterm_during_a_drain_endpoint_drain_exits_at_its_end(daemon):
    d = daemon(drain_config(f"{int(DRAIN_S * 1000)}ms"))
    poll(lambda: d.request("/ready").status == 200, bound(3), what="ready")
    drain = Timed(d, "/drain").begin()
    poll(lambda: ready_draining(d), bound(0.5), what="readiness draining")
    time.sleep(0.3)
    d.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    assert d.alive(), "the SIGTERM waits for the drain /drain began"
    assert ready_draining(d) and d.request("/live").status == 200
    assert d.proc.wait(bound(DRAIN_S + 2)) == 0
    took = time.monotonic() - drain.sent
    assert DRAIN_S - 0.1 <= took <= bound(DRAIN_S + 1.0), took
    assert_drained(drain.result(bound(1.0)))
    assert len(d.log_events("draining")) == 1, "the SIGTERM joined the drain"
    last = d.log_events()[-1]
    assert last["message"] == "shutting down" and last["after"] == "shutdown_delay", last


def test_a_second_sigterm_during_a_drain_endpoint_drain_exits_at_once(daemon):
    d = daemon(drain_config("10s"))
    poll(lambda: d.request("/ready").status == 200, bound(3), what="ready")
    drain = Timed(d, "/drain").begin()
    poll(lambda: ready_draining(d), bound(0.5), what="readiness draining")
    d.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    assert d.alive()
    start = time.monotonic()
    d.send_signal(signal.SIGTERM)
    assert d.proc.wait(bound(2)) == 0
    assert time.monotonic() - start < bound(1.0)
    drain.join(bound(2))
    assert not drain.is_alive(), "the exit closed the waiting /drain connection"


def test_drain_with_zero_delay_answers_at_once_and_needs_access(daemon):
    token = new_token()
    d = daemon(drain_config("0s", trust_loopback=False, token="${VH_ITEST_TOKEN}"),
               env=env_with(VH_ITEST_TOKEN=token))
    poll(lambda: d.request("/ready").status == 200, bound(3), what="ready")
    refused = d.request("/drain")
    assert refused.status == 401 and refused.headers["www-authenticate"] == REALM
    assert d.request("/ready").status == 200, "a refused /drain does not drain"
    start = time.monotonic()
    resp = d.request("/drain", headers=bearer(token))
    assert time.monotonic() - start < bound(0.5)
    assert_drained(resp)
    assert_no_secret(resp, token)
    assert d.request("/ready").status == 503
    time.sleep(0.5)
    assert d.alive() and d.request("/live").status == 200
    assert d.log_events("draining", cause="/drain")
    assert token not in d.log_text()
