"""The UI in a real browser: Playwright drives Debian's Chromium (never a downloaded browser build) through the
Dagster webserver of the deployment.

Runs after ``test_deployment.py`` (file order), on the tables its backfill made.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from reid_pipeline_tests.browser import chromium_page
from reid_pipeline_tests.deployment.conftest import Site
from reid_pipeline_tests.deployment.event_log import partition_of

pytestmark = pytest.mark.deployment


@pytest.fixture
def browser(site: Site, tmp_path: Path) -> Iterator[Any]:
    with chromium_page(tmp_path / "failure.png") as page:
        yield page


def _dismiss_welcome(page: Any) -> None:
    """A fresh instance greets the first visitor with a newsletter dialog; skip it when it is there."""
    page.wait_for_timeout(2000)
    skip = page.get_by_role("button", name="Skip")
    if skip.is_visible():
        skip.click()


def test_ui_shows_detections_and_launches_one_partition(site: Site, browser: Any) -> None:
    """The detections asset: its partitions, the thumbnail in its metadata, and a one-partition run by clicking."""
    from reid_pipeline.defs.partitions import camera_day_key
    from reid_pipeline_tests.deployment.footage import BACKFILL_DAYS

    page, url = browser, site.deployment.url  # type: ignore[attr-defined]
    instance = site.deployment.instance()  # type: ignore[attr-defined]
    page.goto(f"{url}/assets/detections?view=partitions")
    page.get_by_role("button", name="Materialize…").wait_for()
    _dismiss_welcome(page)
    for camera in ("gate", "plaza"):  # the camera dimension, filled by the backfill and the nightly tick
        page.get_by_text(camera, exact=True).first.wait_for()
    page.get_by_text("Materialized (", exact=False).first.wait_for()

    page.goto(f"{url}/assets/detections")
    page.get_by_role("button", name="Materialize…").wait_for()
    # The metadata table renders only the rows in view: filter it down to the thumbnail.
    page.get_by_placeholder("Filter metadata keys").fill("thumbnail")
    page.locator("tr", has_text="thumbnail").get_by_text("[Show Markdown]").click()
    thumbnail = page.get_by_role("img", name="busiest frame, every box drawn")
    thumbnail.wait_for()
    complete, width = thumbnail.evaluate("i => [i.complete, i.naturalWidth]")
    assert complete and width == 480  # the JPEG decoded, at the thumbnail's size
    page.get_by_role("button", name="Close").click()

    before = {r.run_id for r in instance.get_runs()}
    page.get_by_role("button", name="Materialize…").click()
    page.get_by_role("button", name="Confirm").click()  # detections is a multi-asset: footage_outcomes comes along
    dialog = page.get_by_role("dialog")
    dialog.get_by_text("Select a partition or create one").first.click()
    page.get_by_text("gate", exact=True).filter(visible=True).click()
    page.get_by_text("Launch runs to materialize").click()  # closes the camera list
    day = dialog.get_by_placeholder("ex: 2024-01-01", exact=False)
    day.fill(BACKFILL_DAYS[0])
    day.press("Enter")
    page.get_by_role("button", name="Launch 1 run").click()

    from reid_pipeline_tests.deployment.services import wait_until

    wait_until(lambda: {r.run_id for r in instance.get_runs()} - before, 120, "the clicked run", interval_s=1)
    (run_id,) = {r.run_id for r in instance.get_runs()} - before
    (run,) = site.deployment.wait_for_runs([run_id], 600)  # type: ignore[attr-defined]
    assert run.status == dg.DagsterRunStatus.SUCCESS
    assert partition_of(run) == str(camera_day_key(BACKFILL_DAYS[0], "gate"))
    assert {k.to_user_string() for k in run.asset_selection or set()} == {"detections", "footage_outcomes"}
