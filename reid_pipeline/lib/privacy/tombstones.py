"""Tombstones: what the pipeline keeps of an erased entity so that re-runs do not bring it back.

A tombstone holds the erased tracklets' ids (re-runs of the same footage reproduce them) and a salted
SHA-256 of each erased vector, rounded to float16 so that the same crops embedded again still match; never
the vectors or pictures themselves. The detections stage drops tombstoned tracklets before anything is
cropped or embedded; the appearances stage drops tombstoned tracklets and vectors.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa

from reid_pipeline.lib.identity.store import IdentityStore
from reid_pipeline.lib.identity.tables import TIMESTAMP
from reid_pipeline.lib.storage.schemas import Row

TABLE = "tombstones"
SCHEMA = pa.schema(
    [
        pa.field("tombstone_id", pa.string(), nullable=False),
        pa.field("entity_id", pa.string(), nullable=False),
        pa.field("created_at", TIMESTAMP, nullable=False),
        pa.field("tracklet_ids", pa.list_(pa.string()), nullable=False),
        pa.field("salt", pa.string(), nullable=False),  # random per tombstone: the hashes match nothing elsewhere
        pa.field("vector_hashes", pa.list_(pa.string()), nullable=False),
    ]
)


def vector_hash(vector: Sequence[float] | np.ndarray, salt: str) -> str:
    """Salted SHA-256 of a vector rounded to float16 (tiny numeric noise of a re-run still matches)."""
    rounded = np.asarray(vector, dtype=np.float32).astype(np.float16).tobytes()
    return hashlib.sha256(salt.encode() + rounded).hexdigest()


def tombstone(entity_id: str, tracklet_ids: Iterable[str], vectors: Iterable[Sequence[float]]) -> Row:
    salt = secrets.token_hex(16)
    return {
        "tombstone_id": uuid.uuid4().hex,
        "entity_id": entity_id,
        "created_at": datetime.now(UTC),
        "tracklet_ids": sorted(set(tracklet_ids)),
        "salt": salt,
        "vector_hashes": sorted({vector_hash(v, salt) for v in vectors}),
    }


@dataclass
class Tombstones:
    """Every tombstone in force, in the form the stages ask about."""

    tracklets: set[str] = field(default_factory=set)
    hashes: dict[str, set[str]] = field(default_factory=dict)  # salt -> hashes

    @classmethod
    def load(cls, store: IdentityStore) -> Tombstones:
        out = cls()
        for row in store.rows(TABLE):
            out.tracklets.update(row["tracklet_ids"])
            out.hashes.setdefault(row["salt"], set()).update(row["vector_hashes"])
        return out

    def erased(self, tracklet_id: str, vector: Sequence[float] | np.ndarray | None = None) -> bool:
        """True for a tombstoned tracklet, or a vector equal (to float16) to an erased one."""
        if tracklet_id in self.tracklets:
            return True
        if vector is None:
            return False
        return any(vector_hash(vector, salt) in hashes for salt, hashes in self.hashes.items())

    def keep(self, rows: Sequence[Row]) -> list[Row]:
        """The rows (with ``tracklet_id``, and ``vector`` when they have one) that are not erased."""
        return [r for r in rows if not self.erased(str(r["tracklet_id"]), r.get("vector"))]


def add(store: IdentityStore, row: Row) -> None:
    data = pa.Table.from_pylist([row], schema=SCHEMA)
    if store.has(TABLE):
        store.table(TABLE).add(data)
    else:
        store.lance.db.create_table(TABLE, data=data, schema=SCHEMA)
