"""The portal as a web application: language switch, session cookie, CSRF, roles, login errors, and
API keys never rendered or logged. Real stack, real Chromium (see conftest.py)."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

import httpx
import pytest
from portal_stack import World, login


@pytest.fixture(scope="module")
def supplier(world: World) -> dict[str, str]:
    """A supplier onboarded through the gateway's API (this module's own member)."""
    kyc = "0x" + hashlib.sha256(secrets.token_bytes(8)).hexdigest()
    out = world.gw.post(world.stack.operator_key, "/v1/members", {"role": "supplier", "kyc_hash": kyc, "label": "web"})
    world.members["web supplier"] = {"account": out["account"], "key": out["api_key"], "role": "supplier"}
    return world.members["web supplier"]


def _page(browser: Any, world: World, locale: str, path: str = "/login") -> Any:
    page = browser.new_context(locale=locale).new_page()
    page.goto(world.portal + path)
    return page


def test_language_by_accept_language_default_zh_and_the_switch(browser: Any, world: World,
                                                                supplier: dict[str, str]) -> None:
    assert _page(browser, world, "zh-CN").inner_text("h1") == "登录"
    assert _page(browser, world, "en-US").inner_text("h1") == "Log in"
    assert _page(browser, world, "fr-FR").inner_text("h1") == "登录"  # default zh

    page = login(browser, world, "web supplier")
    # the member's own key is its admin (dual control): the approvals inbox and its users too
    assert page.inner_text("nav").split() == ["My", "holdings", "Market", "My", "offers", "My", "operations",
                                              "Approvals", "Users", "&", "policy"]
    page.click("#lang-zh")
    assert page.url.endswith("/holdings")  # back on the same screen
    assert "我的凭证" in page.inner_text("nav") and page.inner_text("h1") == "我的凭证"
    page.goto(world.portal + "/operations")  # the choice is kept
    assert page.inner_text("h1") == "我的操作"
    page.click("#lang-en")
    assert page.inner_text("h1") == "My operations"
    page.context.close()


def test_session_cookie_is_httponly_strict_and_holds_no_key(browser: Any, world: World,
                                                             supplier: dict[str, str]) -> None:
    page = login(browser, world, "web supplier")
    cookie = next(c for c in page.context.cookies() if c["name"] == "scf_portal")
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict"
    assert supplier["key"] not in cookie["value"]
    assert "scf_portal" not in page.evaluate("document.cookie")  # scripts cannot read it
    html = page.content()
    assert supplier["key"] not in html
    page.context.close()


def test_posts_need_the_csrf_token_and_the_same_origin(browser: Any, world: World, supplier: dict[str, str]) -> None:
    page = login(browser, world, "web supplier")
    sid = next(c["value"] for c in page.context.cookies() if c["name"] == "scf_portal")
    csrf = page.locator("input[name=csrf]").first.get_attribute("value")
    before = world.gw.get(supplier["key"], "/v1/operations")
    with httpx.Client(base_url=world.portal, cookies={"scf_portal": sid}) as http:
        r = http.post("/holdings/1/redeem", data={"idem": "x"})
        assert r.status_code == 403 and "CSRF" in r.text
        r = http.post("/holdings/1/redeem", data={"csrf": csrf, "idem": "x"}, headers={"Origin": "https://evil.example"})
        assert r.status_code == 403 and "CSRF" in r.text
        r = http.post("/holdings/1/redeem", data={"csrf": "0" * 64, "idem": "x"})
        assert r.status_code == 403
        # the right token passes; the gateway then refuses (not its holding) and the next page says why
        r = http.post("/holdings/1/redeem", data={"csrf": csrf, "idem": "y"})
        assert r.status_code == 303
        text = http.get("/holdings").text
        assert 'class="error"' in text and ("FORBIDDEN" in text or "NOT_FOUND" in text)
    assert world.gw.get(supplier["key"], "/v1/operations") == before  # nothing was submitted
    page.context.close()


def test_login_errors_roles_and_logout(browser: Any, world: World, supplier: dict[str, str]) -> None:
    page = _page(browser, world, "en-US")
    page.fill("input[name=api_key]", "scf_not_a_key")
    page.click("form[action='/login'] button")
    assert "UNAUTHENTICATED" in page.inner_text(".error") and page.url.endswith("/login")
    assert "scf_not_a_key" not in page.content()  # a refused key is not echoed back
    page.context.close()

    page = login(browser, world, "web supplier")
    page.goto(world.portal + "/operator")
    assert "FORBIDDEN" in page.inner_text(".error")
    page.goto(world.portal + "/audit")
    assert "FORBIDDEN" in page.inner_text(".error")
    sid = next(c["value"] for c in page.context.cookies() if c["name"] == "scf_portal")
    page.click("header form[action='/logout'] button")
    assert page.url.endswith("/login")
    page.goto(world.portal + "/holdings")
    assert page.url.endswith("/login")
    r = httpx.get(world.portal + "/holdings", cookies={"scf_portal": sid})  # the old session is gone
    assert r.status_code == 303 and r.headers["location"] == "/login"
    page.context.close()


def test_security_headers_and_no_external_assets(world: World) -> None:
    r = httpx.get(world.portal + "/login")
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["cache-control"] == "no-store"
    assert "http://" not in r.text.replace(world.portal, "") and "https://" not in r.text


def test_no_api_key_in_the_portals_log(world: World, supplier: dict[str, str]) -> None:
    """Runs last in the module: every key used by the tests so far is absent from the portal's log."""
    log = (world.stack.logs / "portal.log").read_text()
    assert "POST /login" in log  # the log is the right one and has seen logins
    keys = [world.stack.operator_key, world.stack.auditor_key] + [m["key"] for m in world.members.values()]
    assert [k for k in keys if k and k in log] == []
