"""A real stack (dev chain, gateway, indexer, auditor API, portal: started as processes by the
demo's `start_stack`) and a headless Chromium driven by Playwright (see portal_stack.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from portal_stack import ARGS, CHROMIUM, World, unavailable

from scf.demo import AuditorClient, GatewayClient, Node, Processes, start_stack


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    procs = Processes()
    try:
        stack = start_stack(tmp_path_factory.mktemp("portal-stack"), procs)
        yield World(stack, GatewayClient(stack.gateway_url), Node(stack.chain_url),
                    AuditorClient(str(stack.auditor_url), stack.auditor_key))
    finally:
        procs.stop_all()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium, or set SCF_PORTAL_CHROMIUM)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright (the Python package) is not installed")
    with sync_playwright() as p:
        # Playwright gives every launch a fresh temporary profile (user-data-dir)
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()

