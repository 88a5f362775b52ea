"""The training window of site adaptation: the crop vectors and tracklet spans of the latest days."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow.compute as pc
import pyarrow.fs as pafs

from reid_pipeline.lib.adaptation.samples import TrackletSpan
from reid_pipeline.lib.embedding.run import vectors_of
from reid_pipeline.lib.storage.parquet import ParquetStore


@dataclass(frozen=True)
class WindowCrops:
    """Backbone vectors of the window's embedded crops, with where they come from."""

    days: tuple[str, ...]
    backbone: str  # "backend:model" of the vectors
    vectors: np.ndarray
    crop_ids: list[str]
    cameras: list[str]
    tracklets: list[str]
    qualities: np.ndarray
    spans: list[TrackletSpan]


def days_with(store: ParquetStore, asset: str) -> list[str]:
    """Dates that have a partition folder of ``asset``, oldest first."""
    selector = pafs.FileSelector(store.asset_dir(asset), allow_not_found=True)
    return sorted(
        info.base_name.removeprefix("date=")
        for info in store.fs.get_file_info(selector)
        if info.type == pafs.FileType.Directory and info.base_name.startswith("date=")
    )


def window_days(store: ParquetStore, window: int, until: str | None = None) -> tuple[str, ...]:
    """The latest ``window`` days with embeddings (up to ``until`` when given)."""
    days = [d for d in days_with(store, "embeddings") if until is None or d <= until]
    return tuple(days[-window:]) if window > 0 else tuple(days)


WINDOW_COLUMNS = ["embedding_id", "crop_id", "tracklet_id", "quality", "model", "vector"]


def crops_of_days(store: ParquetStore, days: tuple[str, ...]) -> WindowCrops:
    """Every embedded crop on ``days``, from every camera, in a stable order (every entity type: they share
    the vector table, so they share its width and its adapter; a car and a person seen at once are a
    negative pair like any other).

    All vectors must come from one embedding model: two backbones' vectors cannot share an adapter.
    """
    vectors, crop_ids, cameras, tracklets, qualities, spans, models = [], [], [], [], [], [], set()
    for day in days:
        for camera in store.cameras("embeddings", day):
            part = {"date": day, "camera": camera}
            # Only the crop rows and the columns used, a row group at a time; the vectors are copied once, in order.
            crops = store.read("embeddings", part, columns=WINDOW_COLUMNS, filters=[("kind", "=", "crop")])
            if crops.num_rows == 0:
                continue
            order = pc.sort_indices(crops.select(["embedding_id"]), [("embedding_id", "ascending")])
            models.update(pc.unique(crops.column("model")).to_pylist())
            vectors.append(vectors_of(crops)[order.to_numpy()])
            crops = crops.drop_columns(["vector"]).take(order)
            crop_ids.extend(crops.column("crop_id").to_pylist())
            cameras.extend([camera] * crops.num_rows)
            tracklets.extend(crops.column("tracklet_id").to_pylist())
            qualities.extend(crops.column("quality").to_pylist())
            if store.exists("tracklets", part):
                for row in store.read("tracklets", part, columns=["tracklet_id", "start_time", "end_time"]).to_pylist():
                    spans.append(TrackletSpan(row["tracklet_id"], camera, row["start_time"], row["end_time"]))
    if len(models) > 1:
        raise ValueError(
            f"the adaptation window {', '.join(days)} mixes embedding models {sorted(models)}: re-run the "
            "embeddings asset of the older days with the current model, or shorten identity.adaptation_window_days"
        )
    return WindowCrops(
        days,
        models.pop() if models else "",
        np.concatenate(vectors) if vectors else np.zeros((0, 0), np.float32),
        crop_ids,
        cameras,
        tracklets,
        np.asarray(qualities, dtype=np.float32),
        spans,
    )
