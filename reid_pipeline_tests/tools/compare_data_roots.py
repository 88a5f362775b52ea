"""Compare the tables of two data roots row for row: ``python -m reid_pipeline_tests.tools.compare_data_roots A B``.

Used to show that a refactoring changed no output: run the demo before and after into two data roots and
compare. Columns that differ between any two runs by design (run ids, write times, absolute paths) are
left out, and rows are compared in a canonical order. Exits 1 when any table differs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import lancedb
import polars as pl

VOLATILE = {"path", "described_at_run", "run_id"}


def canonical(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame without volatile columns, its rows sorted by every sortable column."""
    frame = frame.drop([c for c in frame.columns if c in VOLATILE or c.endswith("_at")])
    keys = [c for c in frame.columns if not isinstance(frame[c].dtype, pl.List | pl.Array | pl.Struct | pl.Object)]
    return frame.sort(keys) if keys else frame


def tables(root: Path) -> dict[str, pl.DataFrame]:
    """Every Parquet asset and LanceDB table under ``root``, by name."""
    found = {
        f"parquet/{folder.name}": pl.read_parquet(folder, hive_partitioning=True)
        for folder in sorted((root / "parquet").iterdir())
    }
    database = lancedb.connect(root / "lancedb")
    for name in sorted(database.list_tables().tables):
        found[f"lancedb/{name}"] = pl.from_arrow(database.open_table(name).to_arrow())  # type: ignore[assignment]
    return found


def main(first: Path, second: Path) -> int:
    left, right = tables(first), tables(second)
    differ = 0
    for name in sorted(set(left) | set(right)):
        if name not in left or name not in right:
            print(f"{name:<32} only in {first if name in left else second}")
            differ += 1
            continue
        same = canonical(left[name]).equals(canonical(right[name]))
        differ += not same
        print(
            f"{name:<32} rows {left[name].height:>7} vs {right[name].height:>7}  {'identical' if same else 'DIFFERENT'}"
        )
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
