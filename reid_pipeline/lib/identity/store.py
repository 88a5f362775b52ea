"""The identity tables in one LanceDB database, with the reads and writes the stage needs."""

from __future__ import annotations

import hashlib
import json
import warnings
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from reid_pipeline.lib.identity.tables import (
    CORRECTIONS,
    DAY_FINGERPRINTS,
    ENTITY_TIMELINES,
    REVIEW_QUEUE,
    WATCH_SIGHTINGS,
    appearances_schema,
    daily_entities_schema,
)
from reid_pipeline.lib.storage.lance import LanceStore, UpkeepPolicy
from reid_pipeline.lib.storage.parquet import join
from reid_pipeline.lib.storage.schemas import Row

if TYPE_CHECKING:
    from reid_pipeline.settings import IdentitySettings

SCALAR_INDEXES = {
    "appearances": ["date", "camera_id", "entity_type", "tracklet_id"],
    "daily_entities": ["date", "entity_type"],
    "entity_members": ["date", "entity_id", "tracklet_id"],
    "entities": ["entity_id", "entity_type"],
    "entity_timelines": ["date", "entity_id"],
}


def day_fingerprint(date: str, daily: pa.Table) -> Row:
    """A hash of everything linking reads from a day's daily entities (ids, members, times, vectors, ...)."""
    ordered = daily.sort_by("daily_entity_id") if daily.num_rows else daily
    digest = hashlib.sha256(date.encode())
    for name in ordered.schema.names:
        column = ordered.column(name)
        if name == "vector":
            digest.update(column.combine_chunks().flatten().to_numpy(zero_copy_only=False).tobytes())
        else:
            digest.update(json.dumps(column.to_pylist(), default=str).encode())
    return {"date": date, "fingerprint": digest.hexdigest()}


def as_rows(table: pa.Table | None) -> list[Row]:
    """Rows of an Arrow table; a vector column becomes float32 numpy rows (a list of Python floats per row
    costs more than everything else done with it)."""
    if table is None or table.num_rows == 0:
        return []
    if "vector" not in table.schema.names:
        rows: list[Row] = table.to_pylist()
        return rows
    column = table.column("vector").combine_chunks()
    vectors = column.flatten().to_numpy(zero_copy_only=False).reshape(table.num_rows, column.type.list_size)
    rows = table.drop_columns(["vector"]).to_pylist()
    for row, vector in zip(rows, vectors, strict=True):
        row["vector"] = vector
    return rows


# Columns added after a table was first written, with the value older rows get (SQL). Rows written before
# site adaptation existed hold backbone vectors: "none".
ADDED_COLUMNS = {"adapter_id": "'none'"}


def _with_adapter(rows: list[Row]) -> list[Row]:
    """Rows that do not say which adapter made their vectors hold backbone vectors."""
    return [row if row.get("adapter_id") else {**row, "adapter_id": "none"} for row in rows]


def quoted(value: str) -> str:
    """A SQL string literal (ids come from file and camera names, which may hold quotes)."""
    return "'" + value.replace("'", "''") + "'"


class IdentityStore:
    """The identity tables of one LanceDB database, with the vector and scalar indexes they need."""

    def __init__(self, uri: str, ann_min_rows: int, upkeep: UpkeepPolicy | None = None) -> None:
        self.lance = LanceStore(uri)
        self.uri = uri
        self.ann_min_rows = ann_min_rows
        self.upkeep = upkeep or UpkeepPolicy()
        self.upkept: dict[str, str] = {}  # what the upkeep policy did to each table, for asset metadata
        self._known: set[str] = set()  # tables seen to exist (listing tables is a round trip each time)
        # The vector index state of each table written through this store, in words, for asset metadata.
        self.vector_index: dict[str, str] = {}

    @classmethod
    def from_settings(cls, identity: IdentitySettings, data_root: str) -> IdentityStore:
        """The store the pipeline writes for these settings: ``identity.lancedb_uri``, or ``<data_root>/lancedb``."""
        return cls(identity.lancedb_uri or join(data_root, "lancedb"), identity.ann_min_rows)

    def has(self, name: str) -> bool:
        if name not in self._known:
            self._known.update(self.lance.table_names())
        return name in self._known

    def forget_table(self, name: str) -> None:
        """Drop a table (an outdated layout about to be rewritten whole)."""
        self.lance.db.drop_table(name)
        self._known.discard(name)

    def table(self, name: str) -> Any:
        return self.lance.db.open_table(name)

    def rows(self, name: str, where: str | None = None, columns: list[str] | None = None) -> list[Row]:
        """Rows of a table (those matching ``where``), or none when the table does not exist yet."""
        found = self.arrow(name, where, columns)
        rows: list[Row] = found.to_pylist() if found is not None else []
        return rows

    def arrow(self, name: str, where: str | None = None, columns: list[str] | None = None) -> pa.Table | None:
        """The rows of ``rows`` as one Arrow table (large days stay columnar); None when there are none."""
        if not self.has(name):
            return None
        table = self.table(name)
        count = table.count_rows(where) if where else table.count_rows()
        if count == 0:
            return None
        query = table.search()
        if where:
            query = query.where(where)
        if columns:
            query = query.select(columns)
        found: pa.Table = query.limit(count).to_arrow()
        return found

    def embedding_backend(self, date: str | None = None) -> str | None:
        """The embedding backend of the stored appearance vectors (of ``date``); None when there are none.

        Matching thresholds depend on it, so whatever re-matches stored vectors (the pipeline, the
        threshold sweep) takes it from the vectors themselves, never from the profile of the moment.
        """
        if not self.has("appearances"):
            return None
        query = self.table("appearances").search()
        if date:
            query = query.where(f"date = {quoted(date)}")
        backends = query.select(["backend"]).limit(1).to_arrow().column("backend").to_pylist()
        return str(backends[0]) if backends else None

    def vector_width(self, name: str) -> int | None:
        """Width of the table's vectors, or None when the table does not exist."""
        if not self.has(name):
            return None
        return int(self.table(name).schema.field("vector").type.list_size)

    def adapter_ids(self, name: str) -> dict[str, set[str]]:
        """Per date, the adapter ids of the table's vectors (empty when the table does not exist)."""
        found: dict[str, set[str]] = {}
        for row in self.rows(name, columns=["date", "adapter_id"]):
            found.setdefault(row["date"], set()).add(row["adapter_id"])
        return found

    def drop(self, name: str) -> None:
        """Remove a table whole (its every row is about to be rewritten, at another vector width)."""
        if self.has(name):
            self.lance.db.drop_table(name)
            self._known.discard(name)

    def _add_missing_columns(self, name: str, schema: pa.Schema) -> None:
        """Give a table written by an older version the columns added since (``ADDED_COLUMNS``)."""
        if not self.has(name):
            return
        table = self.table(name)
        missing = {c: ADDED_COLUMNS[c] for c in schema.names if c not in table.schema.names and c in ADDED_COLUMNS}
        if missing:
            table.add_columns(missing)

    def write_day(self, name: str, schema: pa.Schema, key: str, date: str, rows: list[Row] | pa.Table) -> int:
        self._add_missing_columns(name, schema)
        if isinstance(rows, pa.Table):
            data = rows
        else:
            data = pa.Table.from_pylist(rows, schema=schema) if rows else schema.empty_table()
        written = self.lance.replace_partition(name, schema, key, f"date = {quoted(date)}", data)
        self._index(name, schema)
        return written

    def write_all(self, name: str, schema: pa.Schema, key: str, rows: list[Row]) -> int:
        data = pa.Table.from_pylist(rows, schema=schema) if rows else schema.empty_table()
        if "vector" in schema.names and self.vector_width(name) not in (None, schema.field("vector").type.list_size):
            self.drop(name)  # every row is replaced anyway; the vectors changed width (another adapter)
        written = self.lance.replace_partition(name, schema, key, f"{key} IS NOT NULL", data)
        self._index(name, schema)
        return written

    def compact(self, name: str, version_grace_s: int) -> None:
        """Make deleted and overwritten rows of a table leave the disk: compact it, and drop versions older
        than ``version_grace_s`` (younger ones stay for readers still on them).

        LanceDB's compaction only rewrites a fragment once a tenth of it is deleted; below that the rows
        stay in the data file, hidden by a deletion file. Then the table is rewritten from its live rows
        (indexes rebuilt), so no data file holds them.
        """
        self._optimize(name, version_grace_s)
        table = self.table(name)
        if table.list_versions()[-1]["metadata"].get("total_deletion_file_rows", "0") == "0":
            return
        schema = table.schema
        self.lance.db.create_table(name, data=table.to_arrow(), schema=schema, mode="overwrite")
        self._index(name, schema)
        self._optimize(name, version_grace_s)

    def _optimize(self, name: str, version_grace_s: int) -> None:
        with warnings.catch_warnings():  # LanceDB warns about a zero grace; that is the caller's choice
            warnings.simplefilter("ignore", UserWarning)
            self.table(name).optimize(
                cleanup_older_than=timedelta(seconds=version_grace_s), delete_unverified=version_grace_s == 0
            )

    def prune_versions(self, name: str) -> None:
        """Optimize a table now, whatever the upkeep policy's thresholds say, so its versions older than
        the policy's grace leave the disk (for tables rewritten in place, which the thresholds never catch)."""
        if self.upkeep.enabled and self.has(name):
            done = self.lance.optimize(name, self.upkeep, "versions pruned")
            self.upkept[name] = done

    def _index(self, name: str, schema: pa.Schema) -> None:
        """Scalar indexes of the table, and a vector index when its schema has vectors and it is big enough."""
        vector = "vector" if "vector" in schema.names else None
        report = self.lance.ensure_indexes(name, SCALAR_INDEXES.get(name, []), vector, self.ann_min_rows)
        if report.vector is not None:
            self.vector_index[name] = report.vector
        self.keep_up(name)

    def keep_up(self, name: str) -> None:
        """Optimize the table when the upkeep policy says so. Small state tables need it too: each update
        of a row adds a fragment, and a table of one row in 700 fragments is slow to read."""
        done = self.lance.upkeep(name, self.upkeep)
        if done:
            self.upkept[name] = done

    # Table-specific helpers -------------------------------------------------------------------

    def write_appearances(self, date: str, rows: list[Row] | pa.Table, dims: int) -> int:
        data = rows if isinstance(rows, pa.Table) else _with_adapter(rows)  # a table names its adapter
        return self.write_day("appearances", appearances_schema(dims), "tracklet_id", date, data)

    def write_daily_entities(self, date: str, rows: list[Row] | pa.Table, dims: int) -> int:
        """Replace the day's daily entities, and record their fingerprint (what the global step links by)."""
        schema = daily_entities_schema(dims)
        if isinstance(rows, pa.Table):
            data = rows
        else:
            data = pa.Table.from_pylist(_with_adapter(rows), schema=schema) if rows else schema.empty_table()
        written = self.write_day("daily_entities", schema, "daily_entity_id", date, data)
        self.write_day("daily_fingerprints", DAY_FINGERPRINTS, "date", date, [day_fingerprint(date, data)])
        return written

    def upsert(self, name: str, schema: pa.Schema, key: str, rows: list[Row]) -> int:
        """Insert or update ``rows`` by ``key`` in one commit; other rows stay as they are."""
        if not rows:
            return 0
        data = pa.Table.from_pylist(rows, schema=schema)
        self.lance.upsert(name, schema, key, data)
        self._index(name, schema)
        return data.num_rows

    def write_review(self, level: str, date: str | None, rows: list[Row]) -> int:
        """Replace the review pairs of one level (and one day, for tracklet-level pairs)."""
        scope = f"level = {quoted(level)}" + (f" AND date = {quoted(date)}" if date else "")
        data = pa.Table.from_pylist(rows, schema=REVIEW_QUEUE) if rows else REVIEW_QUEUE.empty_table()
        return self.lance.replace_partition("review_queue", REVIEW_QUEUE, "review_id", scope, data)

    def write_timelines(self, date: str, rows: list[Row]) -> int:
        return self.write_day("entity_timelines", ENTITY_TIMELINES, "timeline_id", date, rows)

    def write_sightings(self, date: str, rows: list[Row]) -> int:
        return self.write_day("watch_sightings", WATCH_SIGHTINGS, "sighting_id", date, rows)

    def corrections(self) -> list[Row]:
        return self.rows("corrections")

    def add_correction(self, row: Row) -> None:
        data = pa.Table.from_pylist([row], schema=CORRECTIONS)
        if self.has("corrections"):
            self.table("corrections").add(data)
        else:
            self.lance.db.create_table("corrections", data=data, schema=CORRECTIONS)
