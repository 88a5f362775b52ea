"""Small helpers that turn tables into metadata the Dagster UI shows."""

from __future__ import annotations

import base64

import dagster as dg
import pyarrow as pa

BINARY_TYPES = (pa.binary(), pa.large_binary())


def table_preview(table: pa.Table, rows: int = 10) -> dg.MetadataValue:
    """The first rows as a markdown table, binary columns left out."""
    columns = [f.name for f in table.schema if f.type not in BINARY_TYPES]
    head = table.select(columns).slice(0, rows).to_pylist()
    if not head:
        return dg.MetadataValue.md("_no rows_")
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in head:
        lines.append("| " + " | ".join(_cell(row[c]) for c in columns) + " |")
    return dg.MetadataValue.md("\n".join(lines))


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, list):
        return "[" + ", ".join(_cell(v) for v in value[:4]) + (", ..." if len(value) > 4 else "") + "]"
    return str(value).replace("|", "\\|")


def jpeg_preview(jpeg: bytes | None, caption: str) -> dg.MetadataValue:
    """A JPEG shown inline by the UI's markdown (it allows data: images), with a caption under it."""
    if not jpeg:
        return dg.MetadataValue.md("_no picture_")
    return dg.MetadataValue.md(f"![{caption}](data:image/jpeg;base64,{base64.b64encode(jpeg).decode()})\n\n{caption}")
