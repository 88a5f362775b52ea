"""site_adapter: what the site's own footage teaches the appearance vectors (camera centering, a head)."""

import time
from pathlib import Path

import dagster as dg
from dagster import AssetExecutionContext

from reid_pipeline.defs.resources import IdentityResource, StorageResource
from reid_pipeline.lib.adaptation.head import HeadSpec
from reid_pipeline.lib.adaptation.plots import loss_markdown
from reid_pipeline.lib.adaptation.site import (
    SiteAdaptation,
    centering_of,
    fit_site_adaptation,
    load_current,
    set_current,
)
from reid_pipeline.lib.adaptation.window import (
    WindowCrops,
    WindowMeans,
    WindowSummary,
    crops_of_days,
    window_days,
    window_means,
)
from reid_pipeline.lib.storage.parquet import local_folder


def adapter_folder(storage: StorageResource) -> Path:
    return local_folder(storage.data_root, storage.local_dir) / "adaptation"


def current_adaptation(storage: StorageResource, identity: IdentityResource) -> SiteAdaptation | None:
    """The adaptation in force, or None when ``identity.adaptation`` is none."""
    if identity.adaptation == "none":
        return None
    adaptation = load_current(adapter_folder(storage))
    if adaptation is None:
        return None  # the window held no crops (site_adapter says so in its metadata): backbone vectors
    if adaptation.kind != identity.adaptation:
        raise ValueError(
            f"the site adapter in {adapter_folder(storage)} is {adaptation.kind!r}, identity.adaptation asks for "
            f"{identity.adaptation!r}: materialize site_adapter again"
        )
    return adaptation


@dg.asset(
    group_name="identity",
    kinds={"pytorch", "numpy"},
    deps=["embeddings", "tracklets"],
    code_version="1",
    pool="identity_link",  # one writer of the adapter files at a time, like the global relink
)
def site_adapter(
    context: AssetExecutionContext, storage: StorageResource, identity: IdentityResource
) -> dg.MaterializeResult:
    """Site adaptation learned from the latest ``identity.adaptation_window_days`` of footage, on the CPU:
    each camera's mean crop vector (removed before matching) and, for ``adaptation = "head"``, a projection
    head trained on the site's own tracklets (crops of one tracklet alike, tracklets seen at once on one
    camera apart). Versioned by content (``adapter_id``, recorded on every appearance vector it makes);
    the same footage and seed give the same adapter. A new adapter makes ``appearances`` re-adapt every
    stored day. Files: ``<local folder>/adaptation/<adapter_id>.npz`` and ``.json``.
    """
    if identity.adaptation == "none":
        set_current(adapter_folder(storage), None)
        return dg.MaterializeResult(metadata={"adaptation": "none", "adapter_id": "none"})
    parquet = storage.parquet()
    days = window_days(parquet, identity.adaptation_window_days)
    started = time.perf_counter()
    if identity.adaptation == "centering":
        # Per-camera sums a row group at a time: a window of long days' crop vectors is never held.
        means = window_means(parquet, days)
        window: WindowCrops | WindowMeans = means
        adaptation = centering_of(means.backbone, means.sums, means.counts, days) if means.crops else None
    else:
        # The head trains on every crop vector of the window, so they are held (memory grows with the window).
        crops = crops_of_days(parquet, days)
        window = crops
        adaptation = (
            fit_site_adaptation(
                identity.adaptation,  # type: ignore[arg-type]
                crops.backbone,
                crops.vectors,
                crops.cameras,
                crops.tracklets,
                crops.spans,
                days,
                HeadSpec(seed=identity.adaptation_seed),
            )
            if crops.crop_ids
            else None
        )
    if adaptation is None:
        set_current(adapter_folder(storage), None)
        return dg.MaterializeResult(
            metadata={
                "adaptation": identity.adaptation,
                "adapter_id": "none",
                "training_window": ", ".join(days) or "none",
                "note": "no embedded crops in the window: nothing to learn, vectors stay as the backbone made them",
            }
        )
    seconds = time.perf_counter() - started
    set_current(adapter_folder(storage), adaptation)
    path = adapter_folder(storage) / f"{adaptation.adapter_id}.npz"
    described = window.describe()
    context.log.info(f"site adapter {adaptation.adapter_id} from {described.crops} crops of {', '.join(days)}")
    return dg.MaterializeResult(metadata=_adapter_metadata(adaptation, described, days, seconds, path))  # type: ignore[arg-type]


def _adapter_metadata(
    adaptation: SiteAdaptation, window: WindowSummary, days: tuple[str, ...], seconds: float, path: Path
) -> dict[str, object]:
    """What the UI shows of an adapter: its window, the vectors it learned from and, for a head, the loss curve."""
    metadata: dict[str, object] = {
        "adapter_id": adaptation.adapter_id,
        "adaptation": adaptation.kind,
        "backbone": window.backbone,
        "training_window": ", ".join(days),
        "cameras": window.cameras,
        "crops": window.crops,
        "tracklets": window.tracklets,
        "training_vectors": dg.MetadataValue.json(window.sample_crop_ids),
        "seconds": round(seconds, 2),
        "file": dg.MetadataValue.path(str(path)),
    }
    if adaptation.head is not None:
        head = adaptation.head
        metadata |= {
            "head": head.spec.describe(),
            "negative_pairs": head.negative_pairs,
            "loss_first": head.losses[0],
            "loss_last": head.losses[-1],
            "loss_curve": dg.MetadataValue.md(loss_markdown(list(head.losses))),
        }
    return metadata
