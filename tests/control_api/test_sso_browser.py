"""Single sign-on in a real browser: "Sign in with your company" on the sign-in view goes to the
organisation's OpenID Connect provider (on loopback) and back, and the organiser is in the venue."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
import requests
from aiohttp import web
from playwright.sync_api import Browser

from loadtest.provision import provision, run_sync
from tests.control_api.oidc_provider import Provider
from tests.support.browser import screenshot_path
from tests.support.processes import Role

pytestmark = [pytest.mark.browser, pytest.mark.slow]


class ProviderThread:
    """The test provider served by an event loop of its own (the browser test is synchronous)."""

    def __init__(self) -> None:
        self.provider = Provider()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="oidc-provider")
        self._runner = web.AppRunner(self.provider.app(), access_log=None)

    def __enter__(self) -> Provider:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self.provider

    async def _start(self) -> None:
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.provider.issuer = f"http://127.0.0.1:{self._runner.addresses[0][1]}/idp"

    def __exit__(self, *_exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


def test_sign_in_with_your_company_reaches_the_venue(browser: Browser, dev: Role) -> None:
    venue = run_sync(
        lambda: provision(dev.base_url, ["Olivia"], [{"name": "Main stage", "kind": "stage", "capacity": 50}])
    )
    with ProviderThread() as idp, requests.Session() as owner:
        login = owner.post(
            venue.api + "/sessions", json={"email": venue.owner_email, "password": venue.password}, timeout=10
        )
        assert login.status_code == 201, login.text
        config: dict[str, Any] = {
            "issuer": idp.issuer,
            "client_id": idp.client_id,
            "client_secret": idp.client_secret,
            "allowed_domains": ["acme.test"],
            "role_claim": "groups",
            "role_map": {"engineering": "organiser"},
        }
        put = owner.put(
            f"{venue.api}/orgs/{venue.org_id}/sso",
            json=config,
            headers={"X-CSRF-Token": login.json()["csrf_token"]},
            timeout=10,
        )
        assert put.status_code == 200, put.text

        page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{dev.base_url}/#org={venue.org_id}&event={venue.event_id}")
        page.wait_for_selector("#signin-sso")
        page.click("#signin-sso")  # -> our API -> the provider -> our callback -> back here
        page.wait_for_selector("#space-list button", timeout=20_000)
        assert idp.token_requests == 1
        assert page.evaluate("window.venuekit.session.me") is not None
        titles = page.locator("#space-list .space-title").all_inner_texts()
        assert "Main stage" in titles, titles
        page.screenshot(path=screenshot_path("sso-signed-in"))
        assert errors == []
        page.context.close()
