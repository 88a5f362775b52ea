"""The identity tables in one LanceDB database, with the reads and writes the stage needs."""

from __future__ import annotations

import warnings
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from reid_pipeline.lib.identity.tables import (
    CORRECTIONS,
    ENTITY_MEMBERS,
    ENTITY_TIMELINES,
    REVIEW_QUEUE,
    WATCH_SIGHTINGS,
    appearances_schema,
    daily_entities_schema,
    entities_schema,
)
from reid_pipeline.lib.storage.lance import LanceStore
from reid_pipeline.lib.storage.parquet import join
from reid_pipeline.lib.storage.schemas import Row

if TYPE_CHECKING:
    from reid_pipeline.settings import IdentitySettings

SCALAR_INDEXES = {
    "appearances": ["date", "camera_id", "entity_type", "tracklet_id"],
    "daily_entities": ["date", "entity_type"],
    "entity_members": ["date", "entity_id", "tracklet_id"],
    "entity_timelines": ["date", "entity_id"],
}


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

    def __init__(self, uri: str, ann_min_rows: int) -> None:
        self.lance = LanceStore(uri)
        self.uri = uri
        self.ann_min_rows = ann_min_rows
        # The vector index state of each table written through this store, in words, for asset metadata.
        self.vector_index: dict[str, str] = {}

    @classmethod
    def from_settings(cls, identity: IdentitySettings, data_root: str) -> IdentityStore:
        """The store the pipeline writes for these settings: ``identity.lancedb_uri``, or ``<data_root>/lancedb``."""
        return cls(identity.lancedb_uri or join(data_root, "lancedb"), identity.ann_min_rows)

    def has(self, name: str) -> bool:
        return name in self.lance.table_names()

    def table(self, name: str) -> Any:
        return self.lance.db.open_table(name)

    def rows(self, name: str, where: str | None = None, columns: list[str] | None = None) -> list[Row]:
        """Rows of a table (those matching ``where``), or none when the table does not exist yet."""
        if not self.has(name):
            return []
        table = self.table(name)
        count = table.count_rows(where) if where else table.count_rows()
        if count == 0:
            return []
        query = table.search()
        if where:
            query = query.where(where)
        if columns:
            query = query.select(columns)
        result: list[Row] = query.limit(count).to_arrow().to_pylist()
        return result

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

    def _add_missing_columns(self, name: str, schema: pa.Schema) -> None:
        """Give a table written by an older version the columns added since (``ADDED_COLUMNS``)."""
        if not self.has(name):
            return
        table = self.table(name)
        missing = {c: ADDED_COLUMNS[c] for c in schema.names if c not in table.schema.names and c in ADDED_COLUMNS}
        if missing:
            table.add_columns(missing)

    def write_day(self, name: str, schema: pa.Schema, key: str, date: str, rows: list[Row]) -> int:
        self._add_missing_columns(name, schema)
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

    def _index(self, name: str, schema: pa.Schema) -> None:
        """Scalar indexes of the table, and a vector index when its schema has vectors and it is big enough."""
        vector = "vector" if "vector" in schema.names else None
        report = self.lance.ensure_indexes(name, SCALAR_INDEXES.get(name, []), vector, self.ann_min_rows)
        if report.vector is not None:
            self.vector_index[name] = report.vector

    # Table-specific helpers -------------------------------------------------------------------

    def write_appearances(self, date: str, rows: list[Row], dims: int) -> int:
        return self.write_day("appearances", appearances_schema(dims), "tracklet_id", date, _with_adapter(rows))

    def write_daily_entities(self, date: str, rows: list[Row], dims: int) -> int:
        schema = daily_entities_schema(dims)
        return self.write_day("daily_entities", schema, "daily_entity_id", date, _with_adapter(rows))

    def write_review(self, level: str, date: str | None, rows: list[Row]) -> int:
        """Replace the review pairs of one level (and one day, for tracklet-level pairs)."""
        scope = f"level = {quoted(level)}" + (f" AND date = {quoted(date)}" if date else "")
        data = pa.Table.from_pylist(rows, schema=REVIEW_QUEUE) if rows else REVIEW_QUEUE.empty_table()
        return self.lance.replace_partition("review_queue", REVIEW_QUEUE, "review_id", scope, data)

    def write_entities(self, rows: list[Row], members: list[Row], dims: int) -> None:
        self.write_all("entities", entities_schema(dims), "entity_id", rows)
        self.write_all("entity_members", ENTITY_MEMBERS, "tracklet_id", members)

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
