"""deploy_report.py - the "ok   ..." / "FAIL ..." line per check that the deploy checkers print,
and the count of failures their exit status comes from."""

failures = 0


def report(ok, what):
    """Prints one line for a check and returns ok, so a caller can stop on a failed one."""
    global failures
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures += 1
    return ok
