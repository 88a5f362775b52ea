"""The training window of site adaptation: the crop vectors and tracklet spans of the latest days."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs

from reid_pipeline.lib.adaptation.samples import TrackletSpan
from reid_pipeline.lib.embedding.run import vectors_of
from reid_pipeline.lib.storage.parquet import ROW_GROUP_ROWS, ParquetStore


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

    def describe(self) -> WindowSummary:
        """What the UI shows of the vectors an adapter learned from."""
        return _described(self.backbone, set(self.cameras), len(self.crop_ids), set(self.tracklets), self.crop_ids)


@dataclass
class WindowMeans:
    """Per-camera sums of the window's embedded crop vectors, counted a batch at a time (what centering needs:
    memory per camera, not per crop, however long the window's days are).
    """

    days: tuple[str, ...]
    sums: dict[str, np.ndarray] = field(default_factory=dict)  # camera -> float64 sum of its crop vectors
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    models: set[str] = field(default_factory=set)
    tracklets: set[str] = field(default_factory=set)
    sample_crop_ids: list[str] = field(default_factory=list)  # the first crops met, for the UI

    @property
    def crops(self) -> int:
        return sum(self.counts.values())

    @property
    def backbone(self) -> str:
        return next(iter(self.models), "")

    def add(self, camera: str, crops: pa.Table) -> None:
        """Fold in a batch of one camera's crop rows (``WINDOW_COLUMNS``)."""
        if crops.num_rows == 0:
            return
        vectors = vectors_of(crops).astype(np.float64)
        if camera in self.sums:
            self.sums[camera] += vectors.sum(axis=0)
        else:
            self.sums[camera] = vectors.sum(axis=0)
        self.counts[camera] += crops.num_rows
        self.models.update(pc.unique(crops.column("model")).to_pylist())
        self.tracklets.update(pc.unique(crops.column("tracklet_id")).to_pylist())
        if len(self.sample_crop_ids) < SAMPLE_CROP_IDS:
            self.sample_crop_ids += (
                crops.column("crop_id").slice(0, SAMPLE_CROP_IDS - len(self.sample_crop_ids)).to_pylist()
            )

    def describe(self) -> WindowSummary:
        """What the UI shows of the vectors an adapter learned from."""
        return _described(self.backbone, set(self.sums), self.crops, self.tracklets, self.sample_crop_ids)


SAMPLE_CROP_IDS = 200


@dataclass(frozen=True)
class WindowSummary:
    """What the UI shows of the vectors an adapter learned from."""

    backbone: str
    cameras: str
    crops: int
    tracklets: int
    sample_crop_ids: list[str]


def _described(backbone: str, cameras: set[str], crops: int, tracklets: set[str], crop_ids: list[str]) -> WindowSummary:
    return WindowSummary(backbone, ", ".join(sorted(cameras)), crops, len(tracklets), crop_ids[:SAMPLE_CROP_IDS])


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


def window_means(store: ParquetStore, days: tuple[str, ...], rows: int = ROW_GROUP_ROWS) -> WindowMeans:
    """Per-camera sums of every embedded crop vector on ``days`` (every camera, every entity type), read a
    row group at a time. Like :func:`crops_of_days`, one embedding model only.
    """
    window = WindowMeans(days)
    for day in days:
        for camera in store.cameras("embeddings", day):
            part = {"date": day, "camera": camera}
            for batch in store.batches("embeddings", part, ["kind", *WINDOW_COLUMNS], rows):
                window.add(camera, pa.Table.from_batches([batch]).filter(pc.equal(batch.column("kind"), "crop")))
    _one_model(window.models, days)
    return window


def _one_model(models: set[str], days: tuple[str, ...]) -> None:
    if len(models) > 1:
        raise ValueError(
            f"the adaptation window {', '.join(days)} mixes embedding models {sorted(models)}: re-run the "
            "embeddings asset of the older days with the current model, or shorten identity.adaptation_window_days"
        )


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
    _one_model(models, days)
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
