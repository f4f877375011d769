"""`scf demo --serve`: the demo starts the portal, keeps it up and prints, per demo member, the API
key to log in with; each printed key opens its role's screen; Ctrl-C stops every process."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
import uuid

import httpx

from scf_core.paths import ROOT
from tests.test_demo import _env, _wait_gone, as_in_a_terminal

ROW = re.compile(r"│\s*(?P<name>[^│]+?) \((?P<role>core enterprise|supplier|factor|auditor)\)\s*│\s*(?P<key>scf_\S+)")
PORTAL = re.compile(r"│\s*portal\s*│\s*(?P<url>http://127\.0\.0\.1:\d+)")


def test_demo_serve_prints_the_portal_and_a_working_key_per_member() -> None:
    tag = uuid.uuid4().hex
    env = {**_env(tag), "COLUMNS": "250"}
    proc = subprocess.Popen([sys.executable, "-m", "scf.cli", "demo", "--serve"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, preexec_fn=as_in_a_terminal)
    out: list[str] = []
    try:
        deadline = time.monotonic() + 240
        assert proc.stdout is not None
        for line in proc.stdout:
            out.append(line)
            if line.startswith("└") and any(PORTAL.search(x) for x in out):
                break
            assert time.monotonic() < deadline, "".join(out[-50:])
        text = "".join(out)
        portal = PORTAL.search(text)
        assert portal, text[-4000:]
        rows = [m.groupdict() for m in ROW.finditer(text)]
        assert len(rows) == 19, rows  # 2 cores, 14 suppliers, 2 factors, 1 auditor member
        home = {"core enterprise": "/core", "supplier": "/holdings", "factor": "/offers"}
        for row in [r for r in rows if r["role"] in home]:
            with httpx.Client(base_url=portal["url"]) as http:
                r = http.post("/login", data={"api_key": row["key"]})
                assert r.status_code == 303 and r.headers["location"] == home[row["role"]], (row, r.text[-800:])
                assert http.get(home[row["role"]]).status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, "".join(out[-40:])
    assert _wait_gone(tag) == [], "the demo left processes behind"
