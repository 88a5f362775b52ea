"""Data checks of an embeddings table; the asset reports them as Dagster asset checks."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

NORM_TOLERANCE = 1e-3


@dataclass(frozen=True)
class CheckOutcome:
    name: str
    passed: bool
    description: str
    metadata: dict[str, float | int | str] = field(default_factory=dict)


def check_embeddings(embeddings: pa.Table, selected_crop_ids: list[str], expected_dims: int) -> list[CheckOutcome]:
    """unit_norm, no_nan, one_vector_per_selected_crop and dims_match_model over ``embeddings``."""
    checks = EmbeddingChecks(expected_dims, embeddings.schema.field("vector").type.list_size)
    checks.expect(selected_crop_ids)
    checks.add(embeddings)
    return checks.outcomes()


class EmbeddingChecks:
    """The checks of :func:`check_embeddings`, counted a batch of rows at a time as they are written.

    Holds counts and crop ids (strings), never vectors: a streamed camera-day is checked without being held.
    """

    def __init__(self, expected_dims: int, width: int) -> None:
        self.expected_dims = expected_dims
        self.width = width  # the vector column's list size
        self.vectors = 0
        self.nan_rows = 0
        self.off_norm = 0
        self.selected: set[str] = set()
        self.selected_count = 0
        self.embedded: set[str] = set()
        self.duplicates = 0
        self.dims_seen: set[int] = set()

    def expect(self, crop_ids: list[str]) -> None:
        """Best crops that should each get one vector."""
        self.selected.update(crop_ids)
        self.selected_count += len(crop_ids)

    def add(self, rows: pa.Table) -> None:
        """Count a batch of written embeddings rows."""
        from reid_pipeline.lib.embedding.run import vectors_of

        if not rows.num_rows:
            return
        vectors = vectors_of(rows)
        self.vectors += len(vectors)
        self.nan_rows += int(np.isnan(vectors).any(axis=1).sum())
        norms = np.linalg.norm(np.nan_to_num(vectors), axis=1)
        self.off_norm += int((np.abs(norms - 1.0) > NORM_TOLERANCE).sum())
        crop_ids = rows.filter(pc.equal(rows.column("kind"), "crop")).column("crop_id").to_pylist()
        before = len(self.embedded)
        self.embedded.update(crop_ids)
        self.duplicates += len(crop_ids) - (len(self.embedded) - before)
        self.dims_seen.update(rows.column("dims").to_pylist())

    def outcomes(self) -> list[CheckOutcome]:
        missing = self.selected - self.embedded
        extra = self.embedded - self.selected
        dims_seen = sorted(self.dims_seen)
        return [
            CheckOutcome(
                "unit_norm",
                self.off_norm == 0,
                f"every vector has length 1 (within {NORM_TOLERANCE})",
                {"vectors": self.vectors, "off_unit_norm": self.off_norm},
            ),
            CheckOutcome("no_nan", self.nan_rows == 0, "no vector holds NaN", {"rows_with_nan": self.nan_rows}),
            CheckOutcome(
                "one_vector_per_selected_crop",
                not missing and not extra and self.duplicates == 0,
                "each best crop of the partition has exactly one vector",
                {
                    "selected_crops": self.selected_count,
                    "missing": len(missing),
                    "unexpected": len(extra),
                    "duplicates": self.duplicates,
                    "first_missing": min(missing) if missing else "",
                },
            ),
            CheckOutcome(
                "dims_match_model",
                self.width == self.expected_dims and dims_seen in ([], [self.expected_dims]),
                "vector width equals the model's output size",
                {
                    "model_dims": self.expected_dims,
                    "vector_width": self.width,
                    "dims_column": ", ".join(map(str, dims_seen)),
                },
            ),
        ]
