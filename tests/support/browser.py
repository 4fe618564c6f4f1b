"""Real headless Chromium (Debian's package) with a fake camera and microphone, via Playwright."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

ARTIFACTS = Path(__file__).parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
]


def chromium_path() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.fail("chromium is not installed: run scripts/setup --dev (apt-get install chromium)")
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Per module: Playwright's sync API keeps an event loop running in the main thread while it
    is open, which would stop pytest-asyncio from running the async tests collected after it."""
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def screenshot_path(name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / f"{name}.png"


def enter_space(browser: Browser, url: str, space_id: str) -> Page:
    """Open the client at ``url`` (a join link) in a fresh context and enter ``space_id``."""
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.goto(url)
    page.wait_for_function("window.venuekit && window.venuekit.deviceCheck.ready", timeout=15_000)
    page.click(f"#space-list button[data-space='{space_id}']", timeout=15_000)
    page.wait_for_selector("#view-room:not([hidden])", timeout=15_000)
    return page


def open_page(browser: Browser, url: str, viewport: dict[str, int] | None = None) -> Page:
    """A page in a fresh context at ``url``; its uncaught script errors collect in ``page.errors``."""
    context = browser.new_context(viewport=viewport or {"width": 1280, "height": 900})  # type: ignore[arg-type]
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url)
    page.errors = errors  # type: ignore[attr-defined]
    return page
