"""People's corrections, kept as data and re-applied on every run.

Corrections name tracklets, which re-runs reproduce, rather than entity ids, which clustering may
renumber: "merge E1 E2" is stored as "merge <a tracklet of E1> <a tracklet of E2>". For every pair of
tracklets the latest word wins (a later "not the same" undoes an earlier "merge" and vice versa).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from reid_pipeline.lib.storage.schemas import Row

KINDS = ("merge", "not_same", "split", "name", "watch", "unwatch")


@dataclass
class CorrectionSet:
    must_link: set[tuple[str, str]] = field(default_factory=set)
    cannot_link: set[tuple[str, str]] = field(default_factory=set)
    names: dict[str, str] = field(default_factory=dict)  # tracklet -> name
    watched: set[str] = field(default_factory=set)  # tracklets whose entity is watched

    def forbids(self, tracklets_a: Iterable[str], tracklets_b: Iterable[str]) -> bool:
        b = set(tracklets_b)
        return any((min(x, y), max(x, y)) in self.cannot_link for x in tracklets_a for y in b)


def _pair(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a <= b else (b, a)


def interpret(rows: Iterable[Row]) -> CorrectionSet:
    """The corrections in force, applying rows in the order they were made."""
    out = CorrectionSet()
    watch_state: dict[str, bool] = {}
    for row in sorted(rows, key=lambda r: (r["created_at"], r["correction_id"])):
        kind, a = row["kind"], row["tracklet_a"]
        if kind in ("merge", "not_same") and row.get("tracklet_b"):
            pair = _pair(a, row["tracklet_b"])
            (out.must_link if kind == "merge" else out.cannot_link).add(pair)
            (out.cannot_link if kind == "merge" else out.must_link).discard(pair)
        elif kind == "split":
            for other in row.get("tracklets") or []:
                pair = _pair(a, other)
                out.cannot_link.add(pair)
                out.must_link.discard(pair)
        elif kind == "name":
            out.names[a] = row.get("value") or ""
        elif kind in ("watch", "unwatch"):
            watch_state[a] = kind == "watch"
        else:
            raise ValueError(f"unknown correction kind {kind!r} in correction {row['correction_id']}: use {KINDS}")
    out.watched = {t for t, on in watch_state.items() if on}
    out.names = {t: n for t, n in out.names.items() if n}
    return out


def correction(
    kind: str,
    tracklet_a: str,
    tracklet_b: str | None = None,
    tracklets: list[str] | None = None,
    value: str | None = None,
    author: str | None = None,
    note: str | None = None,
) -> Row:
    """A new correction row (the CLI and the review queue write these)."""
    if kind not in KINDS:
        raise ValueError(f"unknown correction kind {kind!r}: use one of {', '.join(KINDS)}")
    return {
        "correction_id": uuid.uuid4().hex,
        "kind": kind,
        "tracklet_a": tracklet_a,
        "tracklet_b": tracklet_b,
        "tracklets": tracklets,
        "value": value,
        "created_at": datetime.now(UTC),
        "author": author,
        "note": note,
    }
