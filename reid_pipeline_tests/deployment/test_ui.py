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


def test_report_decisions_clicked_in_the_browser_become_corrections(
    site: Site, browser: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a day's report: "same", then "not the same" on an uncertain pair, "Save decisions"; `review apply`
    records the decision and the deployment's identity run carries it out."""
    from reid_pipeline.cli import main
    from reid_pipeline.lib.identity.store import IdentityStore
    from reid_pipeline_tests.deployment.footage import BACKFILL_DAYS
    from reid_pipeline_tests.deployment.ui_api import job_assets, launch_backfill

    deployment = site.deployment
    identity_assets = job_assets(deployment, "identity_job")  # type: ignore[arg-type]
    # Relink the backfilled days in one run (as a UI backfill of the identity assets does): their reports then
    # see every day the deployment holds, whatever order the sensor's runs came in.
    runs = _wait_runs(
        site, {"dagster/backfill": launch_backfill(deployment, identity_assets, list(BACKFILL_DAYS))}, 600
    )  # type: ignore[arg-type]
    assert {r.status for r in runs} == {dg.DagsterRunStatus.SUCCESS}
    reports = sorted((site.data_root / "reports").glob("*.html"))
    counts = {p: p.read_text().count('class="review-pair"') for p in reports}
    report = max(counts, key=lambda p: counts[p])
    assert counts[report] >= 1, "a day with an uncertain match to review"
    day = report.stem

    page = browser
    page.goto(report.as_uri())
    pair = page.locator(".review-pair").first
    tracklets = pair.locator("img").evaluate_all("images => images.map(i => i.title)")
    pair.get_by_label("same", exact=True).check()
    assert json.loads(page.locator("#decisions").input_value())[0]["kind"] == "merge"
    pair.get_by_label("not the same").check()  # a second thought replaces the first
    with page.expect_download() as download:
        page.get_by_role("button", name="Save decisions").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    decisions = json.loads(saved.read_text())
    assert saved.name == f"decisions-{day}.json"
    assert [(d["kind"], {d["a"], d["b"]}) for d in decisions] == [("not_same", set(tracklets))]

    monkeypatch.setenv("DAGSTER_HOME", str(deployment.home))  # type: ignore[attr-defined]
    args = ["review", "apply", str(saved), "--data-root", str(site.data_root), "--profile", "offline"]
    assert main([*args, "--author", "reviewer"]) == 0
    # The deployment re-runs the day's identities (its own run, launched as the UI launches one).
    runs = _wait_runs(site, {"dagster/backfill": launch_backfill(deployment, identity_assets, [day])}, 600)  # type: ignore[arg-type]
    assert {r.status for r in runs} == {dg.DagsterRunStatus.SUCCESS}

    store = IdentityStore(str(site.data_root / "lancedb"), ann_min_rows=100_000)
    assert [(c["kind"], c["author"]) for c in store.corrections()] == [("not_same", "reviewer")]
    members = {r["tracklet_id"]: r["entity_id"] for r in store.rows("entity_members")}
    assert members[tracklets[0]] != members[tracklets[1]]
