"""Site adaptation as one versioned artefact: per-camera centering, optionally followed by the trained head.

Both are learned from the same window of days of the site's own footage. Every appearance vector
records the ``adapter_id`` that made it ("none" without adaptation), and vectors of two adapters are
never compared: a new adapter re-adapts every stored day (cheap: it starts from the stored backbone
vectors of the crops, no model runs again).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from reid_pipeline.lib.adaptation.head import HeadSpec, SiteAdapter, train_head
from reid_pipeline.lib.adaptation.samples import TrackletSpan, training_crops
from reid_pipeline.lib.embedding.types import l2_normalise

AdaptationKind = Literal["none", "centering", "head"]
NO_ADAPTER = "none"
ANY_CAMERA = ""  # key of the mean over every camera: used for a camera the window did not see
APPLY_BLOCK_ROWS = 4096


@dataclass(frozen=True)
class SiteAdaptation:
    kind: AdaptationKind
    backbone: str
    camera_means: dict[str, np.ndarray]
    head: SiteAdapter | None
    trained_on: tuple[str, ...]

    @property
    def adapter_id(self) -> str:
        digest = hashlib.sha1(f"{self.kind}|{self.backbone}|{self.head.adapter_id if self.head else ''}".encode())
        for camera in sorted(self.camera_means):
            digest.update(camera.encode())
            digest.update(np.round(self.camera_means[camera].astype(np.float64), 5).tobytes())
        return f"{self.kind}-" + digest.hexdigest()[:12]

    def apply(self, vectors: np.ndarray, cameras: Sequence[str]) -> np.ndarray:
        """Adapted unit vectors of backbone vectors seen on ``cameras`` (one camera per row)."""
        vectors = np.asarray(vectors, dtype=np.float32)
        cameras = list(cameras)
        # A block of rows at a time, each block's result kept as float32: adapting a 4-hour day's 24 000 crop
        # vectors at once held a float64 mean per row and two float64 copies of them (over 700 MB).
        blocks = [
            self._adapted_block(vectors[start : start + APPLY_BLOCK_ROWS], cameras[start : start + APPLY_BLOCK_ROWS])
            for start in range(0, len(vectors), APPLY_BLOCK_ROWS)
        ]
        return np.concatenate(blocks) if blocks else self._adapted_block(vectors, cameras)

    def _adapted_block(self, vectors: np.ndarray, cameras: Sequence[str]) -> np.ndarray:
        width = len(self.camera_means[ANY_CAMERA])
        means = np.stack(
            [self.camera_means.get(c, self.camera_means[ANY_CAMERA]) for c in cameras] or [np.zeros(width)]
        )
        centred = l2_normalise(vectors - means[: len(vectors)])
        adapted = self.head.apply(centred) if self.head is not None else centred
        return np.asarray(adapted, dtype=np.float32)

    def save(self, folder: Path) -> Path:
        """``<folder>/<adapter_id>.npz`` (arrays) and ``.json`` (what made it); returns the .npz path."""
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.adapter_id}.npz"
        arrays = {f"mean:{camera}": mean for camera, mean in self.camera_means.items()}
        if self.head is not None:
            arrays |= {"head_mean": self.head.mean, "head_weights": self.head.weights}
        np.savez(path, **arrays)  # type: ignore[arg-type]
        path.with_suffix(".json").write_text(json.dumps(self.describe(), indent=2))
        return path

    def describe(self) -> dict[str, object]:
        head = self.head
        return {
            "adapter_id": self.adapter_id,
            "kind": self.kind,
            "backbone": self.backbone,
            "trained_on": list(self.trained_on),
            "cameras": sorted(c for c in self.camera_means if c != ANY_CAMERA),
            "head": None
            if head is None
            else {
                "spec": head.spec.__dict__,
                "head_id": head.adapter_id,
                "crops": head.crops,
                "tracklets": head.tracklets,
                "negative_pairs": head.negative_pairs,
                "losses": list(head.losses),
            },
        }


def load_adaptation(path: Path) -> SiteAdaptation:
    """An adaptation saved by ``SiteAdaptation.save``; its id is checked against the file name."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: materialize the site_adapter asset first")
    about = json.loads(path.with_suffix(".json").read_text())
    arrays = np.load(path)
    means = {name.split(":", 1)[1]: arrays[name] for name in arrays.files if name.startswith("mean:")}
    head = None
    if about["head"] is not None:
        info = about["head"]
        head = SiteAdapter(
            backbone=about["backbone"],
            mean=arrays["head_mean"],
            weights=arrays["head_weights"],
            spec=HeadSpec(**info["spec"]),
            losses=tuple(info["losses"]),
            trained_on=tuple(about["trained_on"]),
            crops=info["crops"],
            tracklets=info["tracklets"],
            negative_pairs=info["negative_pairs"],
        )
    adaptation = SiteAdaptation(about["kind"], about["backbone"], means, head, tuple(about["trained_on"]))
    if adaptation.adapter_id != path.stem:
        raise ValueError(f"{path} holds adapter {adaptation.adapter_id}, not {path.stem}: the file was changed")
    return adaptation


CURRENT = "current.txt"  # in the adapter folder: names the adapter in force


def load_current(folder: Path) -> SiteAdaptation | None:
    """The adapter named in ``<folder>/current.txt``, or None when there is none."""
    pointer = folder / CURRENT
    if not pointer.is_file():
        return None
    return load_adaptation(folder / f"{pointer.read_text().strip()}.npz")


def set_current(folder: Path, adaptation: SiteAdaptation | None) -> None:
    """Make ``adaptation`` the one in force (None: no adaptation), and remove every other adapter's files.

    Older adapters go: they were learned from crops that may since have been erased or aged out, and
    no stored vector needs them (a new adapter re-adapts every day).
    """
    pointer = folder / CURRENT
    keep = set()
    if adaptation is not None:
        path = adaptation.save(folder)
        keep = {path.name, path.with_suffix(".json").name}
        pointer.write_text(adaptation.adapter_id)
    else:
        pointer.unlink(missing_ok=True)
    for old in [*folder.glob("*.npz"), *folder.glob("*.json")] if folder.is_dir() else []:
        if old.name not in keep:
            old.unlink()


def adapt_query(folder: Path, adapter_ids: set[str], vector: np.ndarray, text: bool) -> np.ndarray:
    """A search vector brought into the space of stored vectors that ``adapter_ids`` made.

    An image's backbone vector goes through the same adapter (its camera unknown: the mean over all
    cameras is removed). A text vector cannot pass an image-trained head; with centering alone it is used
    as it is (removing a constant vector from the images does not change how they rank against it much).
    """
    adapters = adapter_ids - {NO_ADAPTER}
    if not adapters:
        return vector
    if len(adapters) > 1 or adapter_ids & {NO_ADAPTER}:
        raise ValueError(
            f"the stored appearances were made by several adapters ({', '.join(sorted(adapter_ids))}): run "
            "identity_job so every day is adapted by the current site_adapter, then search again"
        )
    adaptation = load_adaptation(folder / f"{adapters.pop()}.npz")
    if text:
        if adaptation.head is not None:
            raise ValueError(
                "text search cannot use vectors adapted by a trained head (identity.adaptation = 'head'): set "
                "identity.adaptation to centering or none and run identity_job again"
            )
        return vector
    return adaptation.apply(np.asarray(vector, dtype=np.float32)[None], [ANY_CAMERA])[0]


def camera_means(vectors: np.ndarray, cameras: Sequence[str]) -> dict[str, np.ndarray]:
    """Mean backbone vector per camera, and over all (``ANY_CAMERA``)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    labels = np.asarray(cameras)
    sums, counts = {}, {}
    for camera in sorted(set(cameras)):
        mine = labels == camera
        sums[str(camera)] = vectors[mine].sum(axis=0, dtype=np.float64)
        counts[str(camera)] = int(mine.sum())
    return means_of_sums(sums, counts)


def means_of_sums(sums: Mapping[str, np.ndarray], counts: Mapping[str, int]) -> dict[str, np.ndarray]:
    """:func:`camera_means` from per-camera float64 sums and counts (as a stream of batches adds them up)."""
    means = {camera: (sums[camera] / counts[camera]).astype(np.float32) for camera in sorted(sums)}
    if sums:
        total = np.sum(np.stack(list(sums.values())), axis=0)
        means[ANY_CAMERA] = (total / sum(counts.values())).astype(np.float32)
    return means


def centering_of(
    backbone: str, sums: Mapping[str, np.ndarray], counts: Mapping[str, int], trained_on: tuple[str, ...]
) -> SiteAdaptation:
    """Centering from per-camera sums of the window's crop vectors (``window_means``): no crop is held."""
    if not sums:
        raise ValueError(f"no crop vectors in the adaptation window {', '.join(trained_on) or '(empty)'}")
    return SiteAdaptation("centering", backbone, means_of_sums(sums, counts), None, trained_on)


def fit_site_adaptation(
    kind: AdaptationKind,
    backbone: str,
    crop_vectors: np.ndarray,
    crop_cameras: Sequence[str],
    crop_tracklets: Sequence[str],
    spans: Sequence[TrackletSpan],
    trained_on: tuple[str, ...],
    spec: HeadSpec | None = None,
) -> SiteAdaptation:
    """Per-camera means of the window's crop vectors and, for ``head``, the head trained on centred crops."""
    if kind == "none":
        raise ValueError("adaptation 'none' has nothing to fit")
    if len(crop_vectors) == 0:
        raise ValueError(f"no crop vectors in the adaptation window {', '.join(trained_on) or '(empty)'}")
    means = camera_means(crop_vectors, crop_cameras)
    head = None
    if kind == "head":
        centred = SiteAdaptation("centering", backbone, means, None, trained_on).apply(crop_vectors, crop_cameras)
        ordered = sorted(spans, key=lambda s: (s.camera_id, s.start, s.tracklet_id))
        head = train_head(training_crops(centred, crop_tracklets, ordered), backbone, spec or HeadSpec(), trained_on)
    return SiteAdaptation(kind, backbone, means, head, trained_on)
