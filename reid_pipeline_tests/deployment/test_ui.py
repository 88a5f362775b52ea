"""The UI in a real browser: Playwright drives Debian's Chromium (never a downloaded browser build) through the
Dagster webserver of the deployment and through a daily HTML report.

Runs after ``test_deployment.py`` (file order), on the tables its backfill made.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from reid_pipeline_tests.deployment.conftest import Site
from reid_pipeline_tests.deployment.event_log import partition_of
from reid_pipeline_tests.deployment.services import CHROMIUM

pytestmark = pytest.mark.deployment
REPORT_DAY = "2024-05-02"  # the backfill's second day: its report has uncertain matches to review


@pytest.fixture
def browser(site: Site, tmp_path: Path) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        context = chromium.new_context(accept_downloads=True, viewport={"width": 1400, "height": 1000})
        context.set_default_timeout(60_000)
        page = context.new_page()
        try:
            yield page
        except BaseException:
            page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
            raise
        finally:
            chromium.close()


def _wait_runs(site: Site, tags: dict[str, str], timeout_s: float) -> list[dg.DagsterRun]:
    from reid_pipeline_tests.deployment.services import wait_until

    instance = site.deployment.instance()  # type: ignore[attr-defined]
    done = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}

    def finished() -> bool:
        runs = instance.get_runs(dg.RunsFilter(tags=tags))
        return bool(runs) and all(r.status in done for r in runs)

    wait_until(finished, timeout_s, f"runs tagged {tags}", interval_s=2)
    return list(instance.get_runs(dg.RunsFilter(tags=tags)))


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


def test_report_decisions_clicked_in_the_browser_become_corrections(
    site: Site, browser: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Click "same" on one uncertain pair and "not the same" on another, save, `review apply`, re-run the day."""
    from reid_pipeline.cli import main
    from reid_pipeline.lib.identity.store import IdentityStore
    from reid_pipeline_tests.deployment.ui_api import job_assets, launch_backfill

    page = browser
    page.goto((site.data_root / "reports" / f"{REPORT_DAY}.html").as_uri())
    pairs = page.locator(".review-pair")
    tracklets = [
        pairs.nth(i).locator("img").evaluate_all("images => images.map(i => i.title)") for i in range(pairs.count())
    ]
    assert len(tracklets) >= 2, "the day has uncertain matches to review"
    # Two pairs with no tracklet in common, so the two decisions cannot contradict each other.
    other = next(i for i in range(1, len(tracklets)) if not set(tracklets[i]) & set(tracklets[0]))
    pairs.nth(0).get_by_label("same", exact=True).check()
    pairs.nth(other).get_by_label("not the same").check()
    with page.expect_download() as download:
        page.get_by_role("button", name="Save decisions").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    decisions = json.loads(saved.read_text())
    assert saved.name == f"decisions-{REPORT_DAY}.json"
    assert [(d["kind"], {d["a"], d["b"]}) for d in decisions] == [
        ("merge", set(tracklets[0])),
        ("not_same", set(tracklets[other])),
    ]

    monkeypatch.setenv("DAGSTER_HOME", str(site.deployment.home))  # type: ignore[attr-defined]
    args = ["review", "apply", str(saved), "--data-root", str(site.data_root), "--profile", "offline"]
    assert main([*args, "--author", "reviewer"]) == 0
    # The deployment re-runs the day's identities (its own run, launched as the UI launches one).
    backfill = launch_backfill(site.deployment, job_assets(site.deployment, "identity_job"), [REPORT_DAY])  # type: ignore[arg-type]
    runs = _wait_runs(site, {"dagster/backfill": backfill}, 600)
    assert {r.status for r in runs} == {dg.DagsterRunStatus.SUCCESS}

    store = IdentityStore(str(site.data_root / "lancedb"), ann_min_rows=100_000)
    assert sorted((c["kind"], c["author"]) for c in store.corrections()) == [
        ("merge", "reviewer"),
        ("not_same", "reviewer"),
    ]
    members = {r["tracklet_id"]: r["entity_id"] for r in store.rows("entity_members")}
    same, different = tracklets[0], tracklets[other]
    assert members[same[0]] == members[same[1]]
    assert members[different[0]] != members[different[1]]
