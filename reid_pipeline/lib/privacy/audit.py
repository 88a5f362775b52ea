"""The privacy audit log: one row per correction, erasure or retention run, appended, never rewritten.

Who (the author given), when, what (action and subject), why (the reason given) and how much (counts per
table, as JSON). It holds no picture and no vector; the subject is an entity id, a correction's kind and
tracklet, or a retention rule.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime

import pyarrow as pa

from reid_pipeline.lib.identity.store import IdentityStore
from reid_pipeline.lib.identity.tables import TIMESTAMP
from reid_pipeline.lib.storage.schemas import Row

TABLE = "privacy_audit"
ACTIONS = ("correction", "erasure", "retention")
SCHEMA = pa.schema(
    [
        pa.field("audit_id", pa.string(), nullable=False),
        pa.field("at", TIMESTAMP, nullable=False),
        pa.field("action", pa.string(), nullable=False),  # correction | erasure | retention
        pa.field("author", pa.string()),
        pa.field("subject", pa.string(), nullable=False),
        pa.field("reason", pa.string()),
        pa.field("counts", pa.string(), nullable=False),  # JSON: {table: rows}
        pa.field("detail", pa.string()),  # short text, e.g. the correction's kind or the footage left in place
    ]
)


def record(
    store: IdentityStore,
    action: str,
    subject: str,
    counts: Mapping[str, int],
    author: str | None = None,
    reason: str | None = None,
    detail: str | None = None,
) -> Row:
    """Append one audit row and return it."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}: use one of {', '.join(ACTIONS)}")
    row = {
        "audit_id": uuid.uuid4().hex,
        "at": datetime.now(UTC),
        "action": action,
        "author": author,
        "subject": subject,
        "reason": reason,
        "counts": json.dumps(dict(sorted(counts.items()))),
        "detail": detail,
    }
    data = pa.Table.from_pylist([row], schema=SCHEMA)
    if store.has(TABLE):
        store.table(TABLE).add(data)
    else:
        store.lance.db.create_table(TABLE, data=data, schema=SCHEMA)
    return row


def add_correction(store: IdentityStore, row: Row) -> Row:
    """Record a person's correction, and its audit row (who, when, which tracklets, why)."""
    store.add_correction(row)
    named = [row["tracklet_a"], *([row["tracklet_b"]] if row.get("tracklet_b") else []), *(row.get("tracklets") or [])]
    return record(
        store,
        "correction",
        " ".join(named),
        {"lancedb.corrections": 1},
        author=row.get("author"),
        reason=row.get("note"),
        detail=f"{row['kind']} (correction {row['correction_id']})",
    )


def record_retention(store: IdentityStore, deletions: list[dict[str, object]], author: str, today: str) -> Row | None:
    """One audit row for a retention run that deleted anything: counts per table and action, the rules."""
    if not deletions:
        return None
    counts: dict[str, int] = {}
    for d in deletions:
        key = f"{d['store']}.{d['table']}.{d['action']}"
        counts[key] = counts.get(key, 0) + int(str(d["rows"]))
    rules = sorted({str(d["rule"]) for d in deletions})
    days = sorted({str(d["date"]) for d in deletions})
    return record(
        store,
        "retention",
        f"data older than its limit on {today}",
        counts,
        author=author,
        reason="retention policy: " + ", ".join(rules),
        detail=f"days {', '.join(days)}",
    )
