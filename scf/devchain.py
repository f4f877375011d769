"""A local development chain: anvil from npm, started and stopped as a child process.

``python -m scf.devchain --port 8545 -- CMD ...`` runs CMD with a fresh chain listening on the
port and stops the chain afterwards (the exit code is CMD's).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

from scf_core.devchain import DEV_CHAIN_ID
from scf_core.paths import ANVIL


@dataclass
class DevChain:
    process: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def start(
    port: int | None = None,
    *,
    accounts: int = 20,
    block_time: float | None = None,
    gas_limit: int | None = None,
    state: str | None = None,
    quiet: bool = True,
) -> DevChain:
    """Start anvil on loopback (base fee 0, so brownie's legacy transactions are accepted)."""
    port = port or free_port()
    if port_open(port):
        raise RuntimeError(f"port {port} is already in use")
    cmd = [
        str(ANVIL),
        "--host", "127.0.0.1",
        "--port", str(port),
        "--accounts", str(accounts),
        "--balance", "1000000",
        "--chain-id", str(DEV_CHAIN_ID),
        "--block-base-fee-per-gas", "0",
        "--gas-price", "0",
        "--hardfork", "paris",
    ]
    if block_time:
        cmd += ["--block-time", str(block_time)]
    if gas_limit:
        cmd += ["--gas-limit", str(gas_limit)]
    if state:
        cmd += ["--state", state]
    out = subprocess.DEVNULL if quiet else None
    process = subprocess.Popen(cmd, stdout=out, stderr=out, start_new_session=True)
    deadline = time.monotonic() + 30
    while not port_open(port):
        if process.poll() is not None:
            raise RuntimeError(f"anvil exited with code {process.returncode}")
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("anvil did not start within 30 s")
        time.sleep(0.05)
    return DevChain(process, port)


@contextlib.contextmanager
def running(port: int | None = None, **kwargs: object) -> Iterator[DevChain]:
    chain = start(port, **kwargs)  # type: ignore[arg-type]
    try:
        yield chain
    finally:
        chain.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8545)
    parser.add_argument("cmd", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    with running(args.port) as chain:
        if not cmd:
            print(f"anvil listening on {chain.url}; Ctrl-C stops it")
            with contextlib.suppress(KeyboardInterrupt):
                chain.process.wait()
            return 0
        env = dict(os.environ, SCF_RPC_URL=chain.url)
        return subprocess.call(cmd, env=env)


if __name__ == "__main__":
    sys.exit(main())
