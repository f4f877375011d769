"""Helpers of the portal's browser tests: the world (a running stack and what the story created),
logging in, following an operation on the page, screenshots.

Chromium is Debian's (`/usr/bin/chromium`, or `SCF_PORTAL_CHROMIUM`), launched through Playwright's
`executable_path` (nothing is downloaded: no `playwright install`). Missing: the browser tests
skip with the reason, or fail under CI=true."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from scf.demo import AuditorClient, GatewayClient, Node, Stack

CHROMIUM = os.environ.get("SCF_PORTAL_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "portal"


def unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: the portal's browser tests must run)")
    pytest.skip(reason)


@dataclass
class World:
    """The running stack, clients of its APIs, and what the scenario created (members, ids)."""

    stack: Stack
    gw: GatewayClient
    node: Node
    auditor: AuditorClient
    members: dict[str, dict[str, str]] = field(default_factory=dict)  # name -> {account, key, role}
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def portal(self) -> str:
        return str(self.stack.portal_url)

    def key(self, name: str) -> str:
        return self.stack.operator_key if name == "operator" else self.members[name]["key"]

    def account(self, name: str) -> str:
        return self.members[name]["account"]




def login(browser: Any, world: World, who: str, locale: str = "en-US") -> Any:
    """A fresh browser context (own cookies) logged in as `who`; returns its page."""
    ctx = browser.new_context(locale=locale, viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(30_000)
    page = ctx.new_page()
    page.goto(f"{world.portal}/login")
    page.fill("input[name=api_key]", world.stack.auditor_key if who == "auditor" else world.key(who))
    page.click("form[action='/login'] button")
    page.wait_for_load_state()
    return page


def confirmed(page: Any) -> dict[str, str]:
    """Waits until the operation flashed on the page is confirmed (live, by the page's poller);
    returns its result as shown (k=v pairs)."""
    box = page.locator("main [data-op]").first
    box.wait_for()
    page.wait_for_selector("main [data-op][data-op-state=confirmed], main [data-op][data-op-state=failed]")
    assert box.get_attribute("data-op-state") == "confirmed", box.inner_text()
    text = box.locator(".op-result").inner_text()
    return dict(part.split("=", 1) for part in text.split() if "=" in part)


def shot(page: Any, name: str) -> None:
    """With SCF_PORTAL_SCREENSHOTS=1: a screenshot for docs/portal/ (PNG of the visible page)."""
    if os.environ.get("SCF_PORTAL_SCREENSHOTS") != "1":
        return
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=False)
