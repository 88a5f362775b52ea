"""Typed rows: a dataclass per table, tied to the table's Arrow schema.

A stage that hands rows on builds instances of its table's row class, so a misspelt or missing column is a
``TypeError`` where the row is made, and a type checker sees every field; ``table_of`` turns them into the
Arrow table that is written. ``schema_mismatches`` keeps each class and its schema in step (a test runs it
over every row class).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, fields
from typing import Any, ClassVar, Self, TypeVar

import pyarrow as pa


class TableRow:
    """Base of a row dataclass; subclasses set ``SCHEMA`` and declare one field per column, by the same name."""

    SCHEMA: ClassVar[pa.Schema]

    def as_row(self) -> dict[str, Any]:
        """The row as plain values keyed by column name."""
        return asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Self:
        """A typed row from a table row (extra columns, such as Hive partition columns, are ignored)."""
        return cls(**{f.name: row[f.name] for f in fields(cls)})  # type: ignore[arg-type]


R = TypeVar("R", bound=TableRow)


def table_of(row_class: type[R], rows: Sequence[R]) -> pa.Table:
    """The Arrow table of ``rows``, validated against the class's schema (empty when there are none)."""
    if not rows:
        return row_class.SCHEMA.empty_table()
    return pa.Table.from_pylist([row.as_row() for row in rows], schema=row_class.SCHEMA)


def schema_mismatches(row_class: type[TableRow]) -> list[str]:
    """How the class's fields and its schema's columns disagree; empty when in step.

    Order is free: rows become tables by column name, and a dataclass must list defaulted fields last.
    """
    declared = [f.name for f in fields(row_class)]  # type: ignore[arg-type]
    columns = list(row_class.SCHEMA.names)
    problems = [f"{name}: a field but no column" for name in declared if name not in columns]
    problems += [f"{name}: a column but no field" for name in columns if name not in declared]
    return problems
