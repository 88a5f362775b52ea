"""A Playwright page in Debian's Chromium (never a downloaded browser build), for tests that click through a UI."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"


@contextmanager
def chromium_page(failure_screenshot: Path) -> Iterator[Any]:
    """A fresh page that accepts downloads; on a failure a full-page screenshot is left at ``failure_screenshot``."""
    if not Path(CHROMIUM).is_file() and shutil.which("chromium") is None:
        pytest.fail("chromium missing: install Debian's chromium (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        executable = CHROMIUM if Path(CHROMIUM).is_file() else shutil.which("chromium")
        chromium = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox", "--disable-gpu"])
        context = chromium.new_context(accept_downloads=True, viewport={"width": 1400, "height": 1000})
        context.set_default_timeout(60_000)
        page = context.new_page()
        try:
            yield page
        except BaseException:
            page.screenshot(path=str(failure_screenshot), full_page=True)
            raise
        finally:
            chromium.close()
