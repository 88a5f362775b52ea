"""The privacy audit log: corrections are recorded with who, when, what and why; it holds no picture or vector."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from reid_pipeline.lib.identity.corrections import correction
from reid_pipeline.lib.identity.store import IdentityStore
from reid_pipeline.lib.privacy.audit import SCHEMA, add_correction, record


def test_a_correction_is_stored_and_audited(tmp_path: Path) -> None:
    store = IdentityStore(str(tmp_path / "lancedb"), ann_min_rows=100_000)
    merge = correction(
        "merge", "2024-05-01/gate/000001", tracklet_b="2024-05-02/gate/000004", author="ana", note="same coat"
    )
    split = correction("split", "2024-05-01/gate/000002", tracklets=["2024-05-01/gate/000009"], author="ben")

    add_correction(store, merge)
    add_correction(store, split)

    assert {r["correction_id"] for r in store.corrections()} == {merge["correction_id"], split["correction_id"]}
    audit = sorted(store.rows("privacy_audit"), key=lambda r: (r["at"], r["author"]))
    assert [(a["action"], a["author"], a["reason"], a["subject"]) for a in audit] == [
        ("correction", "ana", "same coat", "2024-05-01/gate/000001 2024-05-02/gate/000004"),
        ("correction", "ben", None, "2024-05-01/gate/000002 2024-05-01/gate/000009"),
    ]
    assert audit[0]["detail"] == f"merge (correction {merge['correction_id']})"
    assert json.loads(audit[1]["counts"]) == {"lancedb.corrections": 1}


def test_the_log_has_no_room_for_pictures_or_vectors() -> None:
    assert not [f.name for f in SCHEMA if pa.types.is_binary(f.type) or pa.types.is_list(f.type)]
    assert {f.name for f in SCHEMA} == {"audit_id", "at", "action", "author", "subject", "reason", "counts", "detail"}


def test_an_unknown_action_is_refused(tmp_path: Path) -> None:
    store = IdentityStore(str(tmp_path / "lancedb"), ann_min_rows=100_000)
    with pytest.raises(ValueError, match="correction, erasure, retention"):
        record(store, "export", "E1", {})
    assert not store.has("privacy_audit")
