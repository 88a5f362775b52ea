"""Right to erasure on a real two-day run: ``entities forget`` leaves no picture or vector of the entity in any
file under the data root (LanceDB data and version files included), a re-run of its days from the raw
footage does not bring it back, and every other entity stays as it was."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from reid_pipeline.cli import main
from reid_pipeline.lib.identity.query import entity_days
from reid_pipeline.lib.identity.store import IdentityStore, quoted
from reid_pipeline.lib.storage.parquet import ParquetStore
from reid_pipeline_tests.privacy_run import CAMERA, missing, needles, places, run_days, scan, settings_for

OTHER_TABLES = ("entities", "entity_timelines", "entity_members", "appearances", "daily_entities")


def _vector_bytes(vectors: list[list[float]]) -> list[bytes]:
    return [np.asarray(v, dtype=np.float32).tobytes() for v in vectors]


def _traces(root: Path, store: IdentityStore, entity_id: str) -> tuple[list[bytes], list[bytes]]:
    """The entity's pictures (crop JPEGs, thumbnails) and the raw bytes of its vectors, wherever stored."""
    parquet = ParquetStore(str(root))
    members = store.rows("entity_members", f"entity_id = {quoted(entity_id)}")
    tracklets = {m["tracklet_id"] for m in members}
    pictures, vectors = [], []
    for day in sorted({m["date"] for m in members}):
        part = {"date": day, "camera": CAMERA}
        crops = [r for r in parquet.read("crops", part).to_pylist() if r["tracklet_id"] in tracklets]
        pictures += [r["jpeg"] for r in crops]
        embedded = [r for r in parquet.read("embeddings", part).to_pylist() if r["tracklet_id"] in tracklets]
        vectors += _vector_bytes([r["vector"] for r in embedded])
    listed = ", ".join(quoted(t) for t in tracklets)
    appearances = store.rows("appearances", f"tracklet_id IN ({listed})")
    pictures += [r["thumbnail"] for r in appearances]
    pictures += [r["thumbnail"] for r in store.rows("entity_timelines", f"entity_id = {quoted(entity_id)}")]
    vectors += _vector_bytes([r["vector"] for r in appearances])
    vectors += _vector_bytes([r["vector"] for r in store.rows("entities", f"entity_id = {quoted(entity_id)}")])
    daily = ", ".join(quoted(m["daily_entity_id"]) for m in members)
    vectors += _vector_bytes([r["vector"] for r in store.rows("daily_entities", f"daily_entity_id IN ({daily})")])
    return [p for p in pictures if p], vectors


def _others(store: IdentityStore, entity_id: str, tracklets: set[str]) -> dict[str, list[str]]:
    """Every other entity's rows, as comparable text (pictures and vectors included)."""
    out = {}
    for name in OTHER_TABLES:
        rows = [
            r
            for r in store.rows(name)
            if r.get("entity_id") != entity_id
            and r.get("tracklet_id") not in tracklets
            and not set(r.get("tracklet_ids") or []) & tracklets
        ]
        out[name] = sorted(repr(sorted(r.items())) for r in rows)
    return out


@pytest.mark.slow
def test_forget_leaves_nothing_on_disk_and_a_rerun_does_not_bring_it_back(
    two_day_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "data"
    shutil.copytree(two_day_root, root)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)  # the CLI's instance goes under the data root: scanned too
    store = IdentityStore(str(root / "lancedb"), 100_000)
    entity = max(store.rows("entities"), key=lambda e: (e["n_days"], e["n_appearances"], e["entity_id"]))
    entity_id = entity["entity_id"]
    days = entity_days(store, entity_id)
    assert entity["n_days"] == len(days) == 2, "the run links someone across both days"
    tracklets = {m["tracklet_id"] for m in store.rows("entity_members", f"entity_id = {quoted(entity_id)}")}
    pictures, vectors = _traces(root, store, entity_id)
    wanted = needles(pictures) | set(vectors)
    found = scan(root, wanted)
    assert pictures and vectors
    assert not missing(pictures, found) and not [v for v in vectors if v not in found], "the scan works"
    others = _others(store, entity_id, tracklets)

    dry = _forget(root, [entity_id], capsys)
    assert dry["applied"] is False and dry["rows"]["lancedb.entities"] == 1
    assert scan(root, wanted).keys() == found.keys(), "without --apply nothing goes"
    done = _forget(root, [entity_id, "--apply", "--reason", "erasure request 17", "--author", "dpo"], capsys)

    assert done["applied"] and done["rows"]["lancedb.appearances"] == len(tracklets)
    assert done["rows"]["parquet.crops"] > 0 and done["rows"]["lancedb.entity_timelines"] == 2
    assert {h["path"] for h in done["footage"]} == {f"{d}/{CAMERA}/08-00-00.mp4" for d in days}
    assert all((root / "raw" / h["path"]).is_file() for h in done["footage"]), "footage is the operator's"
    assert (root / "dagster_home").is_dir(), "the erasure ran as a Dagster run on the data root's instance"
    assert places(scan(root, wanted)) == [], "no picture or vector of the entity in any file under the data root"
    assert _others(store, entity_id, tracklets) == others, "every other entity is unchanged"
    audit = store.rows("privacy_audit")
    assert [(a["action"], a["subject"], a["author"], a["reason"]) for a in audit] == [
        ("erasure", entity_id, "dpo", "erasure request 17")
    ]
    assert json.loads(audit[0]["counts"])["lancedb.appearances"] == len(tracklets)
    assert set(audit[0]) == {"audit_id", "at", "action", "author", "subject", "reason", "counts", "detail"}

    run_days(settings_for(root), days)  # both days again, from the raw footage

    assert not {m["tracklet_id"] for m in store.rows("entity_members")} & tracklets
    assert not {a["tracklet_id"] for a in store.rows("appearances")} & tracklets
    assert places(scan(root, wanted)) == [], "the re-run does not bring it back"
    again = _others(store, entity_id, tracklets)
    for name in ("entity_members", "appearances"):  # review flags may change: the erased one left the queue
        assert again[name] == others[name], f"the re-run gives everyone else the same {name}"


def _forget(root: Path, args: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    capsys.readouterr()
    assert main(["entities", "forget", *args, "--data-root", str(root), "--json"]) == 0
    out = capsys.readouterr().out
    return dict(json.loads(out[out.index("{") :]))


@pytest.mark.slow
def test_forget_deletes_the_footage_only_when_told(
    two_day_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "data"
    shutil.copytree(two_day_root, root)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    store = IdentityStore(str(root / "lancedb"), 100_000)
    entity_id = min(store.rows("entities"), key=lambda e: (e["n_days"], e["entity_id"]))["entity_id"]

    done = _forget(root, [entity_id, "--apply", "--delete-footage"], capsys)

    listed = [root / "raw" / h["path"] for h in done["footage"]]
    assert listed and done["footage_deleted"] and not any(p.exists() for p in listed)
    before = {root / p.relative_to(two_day_root) for p in (two_day_root / "raw").rglob("*.mp4")}
    assert set((root / "raw").rglob("*.mp4")) == before - set(listed), "only the files showing it go"
    (audit,) = store.rows("privacy_audit")
    assert audit["author"] is None and "deleted" in audit["detail"]
    assert json.loads(audit["counts"])["footage_files"] == len(listed)
