"""Dagster IO manager that stores asset outputs (Arrow tables) as partitioned Parquet files."""

from __future__ import annotations

import dagster as dg
import pyarrow as pa
from pydantic import Field

from reid_pipeline.defs.partitions import split_camera_day
from reid_pipeline.lib.storage.parquet import ParquetStore


def _partition_dims(key: str | None, multi: bool) -> dict[str, str]:
    if key is None:
        return {}
    if multi:
        day, camera = split_camera_day(key)
        return {"date": day, "camera": camera}
    return {"date": key}


BEST_CROPS = {"filters": [("is_best", "=", True)]}  # what every stage after crops reads of them


class ParquetIOManager(dg.ConfigurableIOManager):
    """Writes each partition of an asset to ``<data_root>/parquet/<asset>/date=.../camera=.../part-0.parquet``.

    A re-materialization replaces the partition's file, so re-runs never duplicate rows.
    """

    data_root: str = Field(description="Root under which Parquet tables live (path or URI).")

    def _store(self) -> ParquetStore:
        return ParquetStore(self.data_root)

    @staticmethod
    def _asset_name(key: dg.AssetKey) -> str:
        return "/".join(key.path)

    def handle_output(self, context: dg.OutputContext, obj: pa.Table) -> None:
        if not isinstance(obj, pa.Table):
            raise TypeError(f"{context.asset_key} returned {type(obj).__name__}; this IO manager stores pyarrow Tables")
        multi = _is_multi(context.asset_partitions_def if context.has_asset_partitions else None)
        key = context.asset_partition_key if context.has_asset_partitions else None
        path = self._store().write(self._asset_name(context.asset_key), _partition_dims(key, multi), obj)
        context.add_output_metadata({"path": dg.MetadataValue.path(path), "rows": obj.num_rows})

    def load_input(self, context: dg.InputContext) -> pa.Table:
        """The upstream partitions' tables; an input declared with ``dg.AssetIn(metadata=...)`` may ask for
        only some ``columns`` and only the rows passing ``filters`` (pyarrow's form), read as such from disk.
        """
        store = self._store()
        name = self._asset_name(context.asset_key)
        wanted = context.definition_metadata or {}
        columns, filters = wanted.get("columns"), wanted.get("filters")
        if not context.has_asset_partitions:
            return store.read(name, {}, columns=columns, filters=filters)
        multi = _is_multi(context.asset_partitions_def)
        tables = [
            store.read(name, _partition_dims(key, multi), columns=columns, filters=filters)
            for key in context.asset_partition_keys
        ]
        return pa.concat_tables(tables) if len(tables) != 1 else tables[0]


def _is_multi(partitions_def: dg.PartitionsDefinition | None) -> bool:
    return isinstance(partitions_def, dg.MultiPartitionsDefinition)
