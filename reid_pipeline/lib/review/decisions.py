"""Decisions saved from the daily report become corrections: same -> merge, not the same, name.

Applying the same file twice records nothing new: a decision identical to a stored correction (same
kind, tracklets and value) is skipped, so re-applying after a crash is safe.
"""

from __future__ import annotations

import json
from pathlib import Path

from reid_pipeline.lib.identity.corrections import correction
from reid_pipeline.lib.storage.schemas import Row

PAIR_KINDS = ("merge", "not_same")


def read_decisions(path: Path) -> list[dict[str, str]]:
    """The JSON list the report's "Save decisions" button writes."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: save decisions from the daily report first")
    try:
        items = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not JSON ({exc}): it should be the file the report's Save button wrote") from exc
    if not isinstance(items, list):
        raise ValueError(f"{path} should hold a JSON list of decisions")
    for number, item in enumerate(items, start=1):
        kind = item.get("kind") if isinstance(item, dict) else None
        if kind in PAIR_KINDS and item.get("a") and item.get("b"):
            continue
        if kind == "name" and item.get("tracklet") and item.get("value"):
            continue
        raise ValueError(f"{path}: decision {number} ({item!r}) is neither a same/not-same pair nor a name")
    return items


def _signature(kind: str, a: str, b: str | None, value: str | None) -> tuple[str, ...]:
    pair = tuple(sorted([a, b])) if b else (a,)
    return (kind, *pair, value or "")


def to_corrections(decisions: list[dict[str, str]], existing: list[Row], author: str | None) -> list[Row]:
    """Correction rows for the decisions not already recorded."""
    recorded = {_signature(r["kind"], r["tracklet_a"], r["tracklet_b"], r["value"]) for r in existing}
    rows = []
    for item in decisions:
        if item["kind"] in PAIR_KINDS:
            a, b, value = item["a"], item["b"], None
        else:
            a, b, value = item["tracklet"], None, item["value"]
        signature = _signature(item["kind"], a, b, value)
        if signature in recorded:
            continue
        recorded.add(signature)
        note = f"review {item['review_id']}" if item.get("review_id") else "daily report"
        rows.append(correction(item["kind"], a, tracklet_b=b, value=value, author=author, note=note))
    return rows
