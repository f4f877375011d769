"""`make demo` end to end: exit 0, the auditor's report printed, no process left behind; twice in a
row; and an interrupted run stops everything it started too."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from scf_core.paths import ROOT

TIMEOUT = 240


def _tagged_processes(tag: str) -> list[str]:
    """Processes whose environment carries the run's tag (every descendant of the demo inherits it)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            environ = (proc / "environ").read_bytes()
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if f"SCF_DEMO_TEST_TAG={tag}".encode() in environ.split(b"\0"):
            found.append(f"{proc.name}: {cmdline}")
    return found


def as_in_a_terminal() -> None:
    """A child's Ctrl-C as in a terminal's foreground: a shell starts background commands (`make
    test &`, a CI runner's script) with SIGINT ignored, and their children inherit that."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _wait_gone(tag: str, timeout: float = 10.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        left = _tagged_processes(tag)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)


def _env(tag: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCF_")}
    env.update(SCF_DEMO_TEST_TAG=tag, COLUMNS="120", PYTHONUNBUFFERED="1")
    return env


def _demo(tag: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scf.cli", "demo"], cwd=ROOT, env=_env(tag), capture_output=True, text=True,
        timeout=TIMEOUT,
    )


def test_demo_twice_end_to_end_and_nothing_left_running() -> None:
    for attempt in (1, 2):
        tag = uuid.uuid4().hex
        out = _demo(tag)
        assert out.returncode == 0, f"run {attempt}:\n{out.stdout[-6000:]}\n{out.stderr[-4000:]}"
        text = out.stdout
        for expected in (
            "onboarded core enterprise",
            "onboarded clearing agent Shanghai Clearing Bank",
            "Shanghai Clearing Bank minted",  # the bank mints the currency, never the operator
            "issued CERT-A",
            "operator requires invoices",
            "REFUSED (HTTP 409 INVOICE_ALREADY_USED",  # an invoice used twice (invoice_scenario)
            "Fuxing Steel Strip",  # a tier-3 supplier in the lineage tree
            "tier 3",
            "Exposure per core enterprise",
            "Suppliers reached per tier",
            "Financing per factor",
            "Market: quote requests and open offers",  # the market: a tier-3 RFQ, early payment
            "Rates achieved per tier",
            "Early payments by the debtor",
            "reconcile",
            "demo complete",
            "portal: http://127.0.0.1:",  # the demo started the portal and ends by printing its address
        ):
            assert expected in text, f"run {attempt}: {expected!r} missing from:\n{text[-6000:]}"
        assert _wait_gone(tag) == [], f"run {attempt} left processes behind"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_demo_stops_every_process(sig: int) -> None:
    tag = uuid.uuid4().hex
    proc = subprocess.Popen(
        [sys.executable, "-m", "scf.cli", "demo"], cwd=ROOT, env=_env(tag), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, preexec_fn=as_in_a_terminal,
    )
    assert proc.stdout is not None
    lines = []
    try:
        deadline = time.monotonic() + 120
        for line in proc.stdout:  # interrupt in the middle of the scenario, with every service up
            lines.append(line)
            if "issued CERT-A" in line or time.monotonic() > deadline:
                break
        assert any("issued CERT-A" in line for line in lines), "".join(lines)[-4000:]
        proc.send_signal(sig)
        rest, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode != 0, "".join(lines) + rest
    assert "interrupted" in rest
    assert _wait_gone(tag) == [], "an interrupted demo left processes behind"


def _doc_blocks(path: Path) -> str:
    text = path.read_text()
    blocks = []
    for chunk in text.split("```bash\n")[1:]:
        blocks.append(chunk.split("```", 1)[0])
    return "\n".join(blocks)


@pytest.mark.skipif(shutil.which("jq") is None or shutil.which("curl") is None, reason="the page uses curl and jq")
def test_lifecycle_doc_runs_as_written(tmp_path: Path) -> None:
    """docs/lifecycle.md, every bash block in order, against a fresh local stack."""
    from scf.devchain import free_port

    tag = uuid.uuid4().hex
    script = tmp_path / "lifecycle.sh"
    script.write_text("set -eo pipefail\n" + _doc_blocks(ROOT / "docs" / "lifecycle.md"))
    env = _env(tag)
    env.update(
        CHAIN_PORT=str(free_port()), GW_PORT=str(free_port()), AUD_PORT=str(free_port()),
        SCF_VAR_DIR=str(tmp_path / "var"), PATH=f"{ROOT / '.venv' / 'bin'}:{env.get('PATH', '')}",
    )
    proc = subprocess.Popen(["bash", str(script)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        for line in _tagged_processes(tag):  # only what this test started
            os.kill(int(line.split(":", 1)[0]), signal.SIGKILL)
    assert proc.returncode == 0, out[-8000:]
    for expected in (
        '"state":"confirmed"',
        "CertificateInsufficientValue",
        '"code":"INVOICE_ALREADY_USED"',
        "HTTP 403",
        '"status":"settled"',
        '"status":"overdue"',
        "0 difference(s)",
        "stopped",
    ):
        assert expected in out, f"{expected!r} missing:\n{out[-8000:]}"
    assert _wait_gone(tag) == [], "the walk-through's processes outlived its last block"
