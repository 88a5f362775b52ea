"""LanceDB tables of the identity stage: typed schemas, atomic per-partition replacement, indexes.

A partition (a day, say) is replaced in one commit with ``merge_insert`` keyed on the row id and a
"delete what the new data no longer has" clause limited to that partition. A re-run therefore never
duplicates rows, and a crash before the commit leaves the previous version whole: re-running repairs.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

ANN_INDEX_MIN_ROWS = 100_000  # below this, brute-force search is fast and exact (LanceDB's own advice)
# PQ trains 2^8 centroids per sub-vector: on fewer rows Lance "builds" an index that holds no rows at all,
# and since an index is made once, the table would be stuck with it. Below this, search stays exact.
PQ_TRAINING_ROWS = 256
COMMIT_ATTEMPTS = 5


@dataclass(frozen=True)
class UpkeepPolicy:
    """When a table is ``optimize()``d after a write: compaction of small fragments, the new rows folded
    into every index (so filters stay indexed), and versions older than ``version_grace_s`` removed
    (younger ones stay for readers still on them).

    Each write leaves a small fragment and rows no index covers; filtered queries then scan those rows.
    Optimizing after every write would rewrite a little every time; waiting until ``unindexed_rows``
    (or ``unindexed_share`` of the table) or ``small_fragments`` pile up keeps each optimize cheap and
    the unindexed tail short.
    """

    unindexed_rows: int = 20_000
    unindexed_share: float = 0.1
    small_fragments: int = 32
    version_grace_s: int = 3600
    enabled: bool = True

    def due(self, table: Any) -> str | None:
        """Why ``table`` should be optimized now, or None."""
        if not self.enabled:
            return None
        rows = table.count_rows()
        unindexed = max((int(i.num_unindexed_rows or 0) for i in table.list_indices()), default=0)
        if unindexed and (unindexed >= self.unindexed_rows or unindexed >= self.unindexed_share * rows):
            return f"{unindexed} of {rows} rows unindexed"
        small = int(table.stats()["fragment_stats"]["num_small_fragments"])
        if small >= self.small_fragments:
            return f"{small} small fragments"
        return None


@dataclass
class IndexReport:
    """What ``ensure_indexes`` did: the columns it indexed now, and the state of the vector index in words."""

    made: list[str] = field(default_factory=list)
    vector: str | None = None  # None when the table has no vector column to index


def sub_vectors(dims: int) -> int:
    """PQ sub-vectors for a vector width: about one per 16 dimensions, and always a divisor of the width."""
    target = max(1, dims // 16)
    return max(n for n in range(1, target + 1) if dims % n == 0)


def _is_conflict(exc: Exception) -> bool:
    """A commit that lost a race with another writer (Lance reports these as retryable conflicts)."""
    text = str(exc).lower()
    return any(word in text for word in ("conflict", "incompatible transaction", "retryable", "already exists"))


class LanceStore:
    """One LanceDB database (a local folder or an object-store URI) holding the pipeline's tables."""

    def __init__(self, uri: str) -> None:
        import lancedb

        self.uri = uri
        self.db = lancedb.connect(uri)

    def table_names(self) -> list[str]:
        return list(self.db.list_tables().tables)

    def open_or_create(self, name: str, schema: pa.Schema) -> Any:
        """The table, created empty with ``schema`` if missing; an existing one must match the schema."""
        if name not in self.table_names():
            # exist_ok: another writer (a parallel partition) may create it between the check and here.
            return self.db.create_table(name, schema=schema, exist_ok=True)
        table = self.db.open_table(name)
        existing = table.schema
        if "vector" in schema.names and existing.field("vector").type != schema.field("vector").type:
            raise ValueError(
                f"LanceDB table {name!r} at {self.uri} holds vectors of type {existing.field('vector').type}, "
                f"this run makes {schema.field('vector').type}: the embedding model changed. Re-embed every "
                f"partition with one model, or point identity.lancedb_uri at a new location."
            )
        missing = [f.name for f in schema if f.name not in existing.names]
        if missing:
            raise ValueError(f"LanceDB table {name!r} at {self.uri} lacks columns {missing}: migrate or recreate it")
        return table

    def replace_partition(self, name: str, schema: pa.Schema, key: str, partition_filter: str, rows: pa.Table) -> int:
        """Make the rows matching ``partition_filter`` exactly ``rows``, in one commit; returns the row count.

        A partition with no rows yet (the nightly case) is appended: a ``merge_insert`` joins against the
        whole table, so its cost grows with the history, an append's does not. Should a parallel writer
        have appended the same partition at the same time, the count after the append says so, and the
        partition is replaced as below; so is it when the append itself loses a commit race.

        A partition that has rows is replaced with ``merge_insert`` (rows no longer there deleted). Partitions
        written in parallel (other days, other processes) can collide on a commit; the write replaces the
        whole partition, so it is simply tried again on a fresh view of the table.
        """
        data = rows.select(schema.names).cast(schema)
        table = self.open_or_create(name, schema)
        if table.count_rows(partition_filter) == 0:
            if data.num_rows == 0:
                return 0  # empty, and to stay empty: nothing to commit
            try:
                table.add(data)
            except Exception as exc:  # lost a race (a parallel writer's commit came first): replace below
                if not _is_conflict(exc):
                    raise
            else:
                if table.count_rows(partition_filter) == data.num_rows:
                    return data.num_rows
        for attempt in range(COMMIT_ATTEMPTS):
            table = self.open_or_create(name, schema)
            try:
                (
                    table.merge_insert(key)
                    .when_matched_update_all()
                    .when_not_matched_insert_all()
                    .when_not_matched_by_source_delete(partition_filter)
                    .execute(data)
                )
                written = int(table.count_rows(partition_filter))
                if written != data.num_rows:  # two parallel appends left a key twice: settle by rewriting
                    table.delete(partition_filter)
                    table.add(data)
                    written = int(table.count_rows(partition_filter))
                return written
            except Exception as exc:
                if not _is_conflict(exc) or attempt == COMMIT_ATTEMPTS - 1:
                    raise
                time.sleep(random.uniform(0.05, 0.2) * 2**attempt)
        raise AssertionError("unreachable")

    def upsert(self, name: str, schema: pa.Schema, key: str, rows: pa.Table) -> None:
        """Insert or update ``rows`` by ``key`` in one commit, retried like ``replace_partition``."""
        data = rows.select(schema.names).cast(schema)
        for attempt in range(COMMIT_ATTEMPTS):
            table = self.open_or_create(name, schema)
            try:
                table.merge_insert(key).when_matched_update_all().when_not_matched_insert_all().execute(data)
                return
            except Exception as exc:
                if not _is_conflict(exc) or attempt == COMMIT_ATTEMPTS - 1:
                    raise
                time.sleep(random.uniform(0.05, 0.2) * 2**attempt)

    def upkeep(self, name: str, policy: UpkeepPolicy) -> str | None:
        """Optimize ``name`` when ``policy`` says it is due; what was done, in words, or None."""
        why = policy.due(self.db.open_table(name))
        return None if why is None else self.optimize(name, policy, why)

    def optimize(self, name: str, policy: UpkeepPolicy, why: str) -> str:
        """Compact ``name``, fold new rows into its indexes and drop versions older than the policy's grace;
        what was done, in words (``why`` it was done)."""
        from datetime import timedelta

        try:
            self.db.open_table(name).optimize(cleanup_older_than=timedelta(seconds=policy.version_grace_s))
        except Exception as exc:  # a parallel writer's commit: the next write tries again
            if not _is_conflict(exc):
                raise
            return f"optimize deferred ({why}): a parallel commit"
        return f"optimized ({why})"

    def ensure_indexes(
        self,
        name: str,
        scalar_columns: list[str],
        vector_column: str | None = "vector",
        ann_min_rows: int = ANN_INDEX_MIN_ROWS,
    ) -> IndexReport:
        """Scalar (BTree) indexes on ``scalar_columns``; an IVF-PQ cosine index once the table is big enough.

        The vector index is an accelerator, never a reason to fail a write: when it cannot be built (too
        few rows to train, no such column, a Lance error) search stays exact and the report says why.
        """
        from lancedb.index import BTree

        table = self.db.open_table(name)
        have = {column for index in table.list_indices() for column in index.columns}
        report = IndexReport()
        rows = table.count_rows()
        for column in scalar_columns:
            if column not in have and rows > 0 and self._create_index(name, column, BTree()):
                report.made.append(column)
        if vector_column is not None:
            report.vector = self._vector_index(name, table, vector_column, have, rows, ann_min_rows)
            if report.vector.startswith("built now"):
                report.made.append(vector_column)
        return report

    def _vector_index(self, name: str, table: Any, column: str, have: set[str], rows: int, ann_min_rows: int) -> str:
        """Build the IVF-PQ index on ``column`` when due; what the index's state is, in words."""
        from lancedb.index import IvfPq

        if column in have:
            return "built earlier"
        if column not in table.schema.names:
            return f"none: the table has no column {column!r}"
        if rows < ann_min_rows:
            return f"none yet: {rows} rows, built from identity.ann_min_rows = {ann_min_rows} (exact search)"
        if rows < PQ_TRAINING_ROWS:
            return f"none yet: {rows} rows, IVF-PQ needs {PQ_TRAINING_ROWS} to train (exact search)"
        dims = table.schema.field(column).type.list_size
        partitions, subs = max(1, int(rows**0.5)), sub_vectors(dims)
        config = IvfPq(distance_type="cosine", num_partitions=partitions, num_sub_vectors=subs)
        try:
            made = self._create_index(name, column, config)
        except Exception as exc:  # an accelerator only: exact search still answers every query
            return f"none: building IVF-PQ failed ({exc}); exact search"
        if not made:
            return "built earlier"
        return f"built now: IVF-PQ over {rows} rows, {partitions} partitions, {subs} sub-vectors"

    def _create_index(self, name: str, column: str, config: Any) -> bool:
        """Create an index; False when a parallel writer created the same one first.

        A parallel writer's commit (another day's rows landing) can make Lance refuse the index commit;
        the data is already safe, so the index is simply tried again on a fresh view of the table.
        """
        for attempt in range(COMMIT_ATTEMPTS):
            try:
                self.db.open_table(name).create_index(column, config=config)
                return True
            except Exception as exc:
                indexed = {c for index in self.db.open_table(name).list_indices() for c in index.columns}
                if column in indexed:
                    return False
                if not _is_conflict(exc) or attempt == COMMIT_ATTEMPTS - 1:
                    raise
                time.sleep(random.uniform(0.05, 0.2) * 2**attempt)
        raise AssertionError("unreachable")
