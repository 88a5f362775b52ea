"""The daily HTML report on a real demo run: rendered by headless Chromium, and its decisions round-trip."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from reid_pipeline.cli import main
from reid_pipeline.defs.launch import run_demo_days
from reid_pipeline.lib.identity.store import IdentityStore
from reid_pipeline.settings import load_settings
from reid_pipeline_tests.browser import chromium_page

DAY = "2024-05-02"


@pytest.fixture(scope="module")
def demo_root(vtest: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("report_demo")
    settings = load_settings(
        storage={"data_root": str(root)}, detection={"profile": "offline"}, embedding={"profile": "offline"}
    )
    runs = run_demo_days(settings, vtest, log=lambda _line: None)
    assert all(run.success for run in runs), [run.error for run in runs if not run.success]
    return root


def chromium_dom(page: Path, profile: Path) -> str:
    binary = shutil.which("chromium")
    if binary is None:
        pytest.fail("chromium missing: install Debian's chromium (apt-get install -y chromium)")
    command = [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=5000",
        "--dump-dom",
        page.as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    return done.stdout


@pytest.mark.slow
def test_report_renders_every_entity_with_its_images(demo_root: Path, tmp_path: Path) -> None:
    page = demo_root / "reports" / f"{DAY}.html"
    assert page.is_file()
    dom = chromium_dom(page, tmp_path / "profile")
    store = IdentityStore(str(demo_root / "lancedb"), ann_min_rows=100_000)
    timelines = store.rows("entity_timelines", f"date = '{DAY}'", ["entity_id"])
    body = re.search(r"<body ([^>]*)>", dom)
    assert body is not None
    attributes = dict(re.findall(r'data-([a-z-]+)="([^"]*)"', body.group(1)))
    assert int(attributes["images-total"]) >= len(timelines) > 0
    assert attributes["images-rendered"] == attributes["images-total"]  # every thumbnail decoded and drawn
    rows = re.findall(r'<tr class="entity" id="([^"]+)"', dom)
    assert sorted(rows) == sorted(r["entity_id"] for r in timelines)
    assert f'<span id="entity-count">{len(timelines)}</span>' in dom
    assert dom.count('class="sighting"') >= len(timelines)  # the per-camera timeline chart


@pytest.mark.slow
def test_review_decisions_clicked_in_the_report_become_corrections(
    demo_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """In Chromium: "same", then "not the same" on an uncertain pair, a name typed on an entity, "Save decisions";
    `review apply` records both and re-runs the day, whose report then shows the name."""
    (demo_root / "dagster_home").mkdir(exist_ok=True)  # absent when an earlier test had set DAGSTER_HOME
    monkeypatch.setenv("DAGSTER_HOME", str(demo_root / "dagster_home"))
    report = demo_root / "reports" / f"{DAY}.html"
    with chromium_page(tmp_path / "failure.png") as page:
        page.goto(report.as_uri())
        pair = page.locator(".review-pair").first
        assert pair.count(), "the demo day has uncertain matches to review"
        tracklets = pair.locator("img").evaluate_all("images => images.map(i => i.title)")
        pair.get_by_label("same", exact=True).check()
        assert [d["kind"] for d in json.loads(page.locator("#decisions").input_value())] == ["merge"]
        pair.get_by_label("not the same").check()  # a second thought replaces the first
        entity = page.locator("tr.entity").first
        entity_id = entity.get_attribute("id")
        entity.get_by_placeholder("name").fill("Visitor 7")
        entity.get_by_placeholder("name").press("Tab")  # the name is decided when the field is left
        with page.expect_download() as download:
            page.get_by_role("button", name="Save decisions").click()
        saved = tmp_path / download.value.suggested_filename
        download.value.save_as(saved)
    assert saved.name == f"decisions-{DAY}.json"
    decisions = json.loads(saved.read_text())
    assert sorted(d["kind"] for d in decisions) == ["name", "not_same"]
    (not_same,) = [d for d in decisions if d["kind"] == "not_same"]
    assert {not_same["a"], not_same["b"]} == set(tracklets)
    (name,) = [d for d in decisions if d["kind"] == "name"]
    assert (name["entity_id"], name["value"]) == (entity_id, "Visitor 7")

    args = ["review", "apply", str(saved), "--data-root", str(demo_root), "--author", "tester"]
    assert main([*args, "--apply"]) == 0
    assert "recorded 2 corrections" in capsys.readouterr().out
    assert main(args) == 0
    assert "recorded 0 corrections" in capsys.readouterr().out  # the same file twice records nothing new

    store = IdentityStore(str(demo_root / "lancedb"), ann_min_rows=100_000)
    kinds = sorted((c["kind"], c["author"]) for c in store.corrections())
    assert kinds == [("name", "tester"), ("not_same", "tester")]
    members = {r["tracklet_id"]: r["entity_id"] for r in store.rows("entity_members")}
    assert members[tracklets[0]] != members[tracklets[1]]
    named = [r for r in store.rows("entity_timelines", f"date = '{DAY}'") if r["name"] == "Visitor 7"]
    assert named and name["tracklet"] in named[0]["tracklet_ids"]
    assert "Visitor 7" in report.read_text()  # the re-run rewrote the report
