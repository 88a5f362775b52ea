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
    from reid_pipeline.lib.embedding.run import vectors_of

    vectors = vectors_of(embeddings) if embeddings.num_rows else np.zeros((0, expected_dims), dtype=np.float32)
    nan_rows = int(np.isnan(vectors).any(axis=1).sum())
    norms = np.linalg.norm(np.nan_to_num(vectors), axis=1)
    off_norm = int((np.abs(norms - 1.0) > NORM_TOLERANCE).sum())
    crop_rows = embeddings.filter(pc.equal(embeddings.column("kind"), "crop"))
    embedded = crop_rows.column("crop_id").to_pylist()
    duplicates = len(embedded) - len(set(embedded))
    missing = sorted(set(selected_crop_ids) - set(embedded))
    extra = sorted(set(embedded) - set(selected_crop_ids))
    dims_seen = sorted(set(embeddings.column("dims").to_pylist()))
    width = embeddings.schema.field("vector").type.list_size
    return [
        CheckOutcome(
            "unit_norm",
            off_norm == 0,
            f"every vector has length 1 (within {NORM_TOLERANCE})",
            {"vectors": len(vectors), "off_unit_norm": off_norm},
        ),
        CheckOutcome("no_nan", nan_rows == 0, "no vector holds NaN", {"rows_with_nan": nan_rows}),
        CheckOutcome(
            "one_vector_per_selected_crop",
            not missing and not extra and duplicates == 0,
            "each best crop of the partition has exactly one vector",
            {
                "selected_crops": len(selected_crop_ids),
                "missing": len(missing),
                "unexpected": len(extra),
                "duplicates": duplicates,
                "first_missing": missing[0] if missing else "",
            },
        ),
        CheckOutcome(
            "dims_match_model",
            width == expected_dims and dims_seen in ([], [expected_dims]),
            "vector width equals the model's output size",
            {"model_dims": expected_dims, "vector_width": width, "dims_column": ", ".join(map(str, dims_seen))},
        ),
    ]
