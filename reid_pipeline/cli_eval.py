"""``reid-pipeline eval pipeline``: run the demo per profile and score its identities against ground truth."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reid_pipeline.settings import Settings

PROFILES = ("offline", "standard")


def _standard_missing(settings: Settings) -> str | None:
    """Why the standard profile cannot run here, or None when its weights are present or downloadable."""
    from reid_pipeline.lib.detection.factory import choose_profile
    from reid_pipeline.lib.embedding.factory import choose_embedding_profile

    detection = settings.detection.model_copy(update={"profile": "auto"})
    embedding = settings.embedding.model_copy(update={"profile": "auto"})
    notes = [c.note for c in (choose_profile(detection), choose_embedding_profile(embedding)) if c.note]
    return " ".join(notes) if notes else None


def evaluate_profile(settings: Settings, profile: str, work: Path, gt: Path, source: Path, iou: float) -> dict:
    """Run the demo with ``profile`` under ``work`` and score it."""
    from reid_pipeline.defs.launch import run_demo_days
    from reid_pipeline.defs.resources import IdentityResource
    from reid_pipeline.lib.evaluation.ground_truth import clip_index, demo_detections, source_detections
    from reid_pipeline.lib.evaluation.pipeline_eval import (
        identity_scores,
        match_detections,
        read_mot_truth,
        tracking_scores,
        tracklet_truth,
    )

    truth = read_mot_truth(gt)
    scoped = settings.model_copy(
        update={
            # A scratch run: its footage goes into its own folder, never among the cameras' raw footage.
            "storage": settings.storage.model_copy(update={"data_root": str(work), "raw_root": str(work / "raw")}),
            "detection": settings.detection.model_copy(update={"profile": profile}),
            "embedding": settings.embedding.model_copy(update={"profile": profile}),
        }
    )
    runs = run_demo_days(scoped, source, log=lambda line: None)
    failed = [f"{r.day} {r.camera_id}: {r.error}" for r in runs if not r.success]
    if failed:
        raise ValueError(f"the {profile} demo run failed, so there is nothing to score: {failed[0]}")
    detections = source_detections(demo_detections(str(work)), clip_index(Path(scoped.storage.raw_root)))
    store = IdentityResource(**scoped.identity.model_dump()).store(str(work))
    predicted = {r["tracklet_id"]: r["entity_id"] for r in store.rows("entity_members")}
    matched = match_detections(detections, truth, iou)
    labels = tracklet_truth(detections, matched)
    return {
        "profile": profile,
        "data_root": str(work),
        "detections": len(detections),
        "matched_to_ground_truth": sum(1 for v in matched.values() if v),
        "identity": identity_scores(detections, labels, predicted),
        "tracking": tracking_scores(detections, matched, truth, predicted, gt, iou),
    }


def cmd_eval_pipeline(args: argparse.Namespace, settings: Settings) -> int:
    from reid_pipeline.lib.storage import local_folder

    requested = [args.profile] if args.profile in PROFILES else list(PROFILES)
    # The runs need local footage and state, so their default home is local even for an object-store data root.
    work_root = (
        Path(args.work_dir)
        if args.work_dir
        else local_folder(settings.storage.data_root, settings.storage.local_dir) / "eval"
    )
    reports = []
    for profile in requested:
        missing = _standard_missing(settings) if profile == "standard" else None
        if missing:
            reports.append({"profile": profile, "skipped": missing})
            continue
        reports.append(
            evaluate_profile(
                settings, profile, work_root / f"pipeline-{profile}", Path(args.labels), Path(args.source), args.iou
            )
        )
    if args.json:
        print(json.dumps(reports, indent=2))
        return 0
    for report in reports:
        _print_report(report)
    return 0


def _print_report(report: dict) -> None:
    if "skipped" in report:
        print(f"{report['profile']}: skipped. {report['skipped']}")
        return
    identity, tracking = report["identity"], report["tracking"]
    print(
        f"{report['profile']}: {identity['labelled_tracklets']} labelled tracklets of {identity['people']} people "
        f"({report['matched_to_ground_truth']}/{report['detections']} boxes on ground truth)"
    )
    print(f"  {'pairs':<14} {'precision':>9} {'recall':>7} {'F1':>7} {'true pairs':>10} {'pairs':>6}")
    for name in ("all_pairs", "cross_camera", "cross_day"):
        s = identity[name]
        print(f"  {name:<14} {s['precision']:>9} {s['recall']:>7} {s['f1']:>7} {s['true_pairs']:>10} {s['pairs']:>6}")
    c = identity["clustering"]
    print(f"  B-cubed F1 {c['bcubed_f1']}, ARI {c['ari']}")
    for name, s in tracking.items():
        print(
            f"  {name:<16} IDF1 {s['idf1']}  IDP {s['idp']}  IDR {s['idr']}  MOTA {s['mota']}  switches {s['num_switches']}"
        )


def add_parser(
    eval_sub: argparse._SubParsersAction,
    common: argparse.ArgumentParser,
    run: Callable[[Callable[[argparse.Namespace, Settings], int]], Callable[[argparse.Namespace], int]],
) -> None:
    """Register ``eval pipeline``; ``run(handler)`` wraps a handler with settings loading."""
    from reid_pipeline.lib.demo_footage import VTEST_PATH

    parser = eval_sub.add_parser(
        "pipeline", parents=[common], help="run the demo per profile; identity F1 and IDF1 against ground truth"
    )
    parser.add_argument("--labels", required=True, help="MOTChallenge ground truth of vtest.avi (review mot)")
    parser.add_argument("--source", default=str(VTEST_PATH), help="the video the ground truth describes")
    parser.add_argument(
        "--work-dir",
        help="where each profile's run goes (default: <local folder>/eval, i.e. <data root>/eval when local)",
    )
    parser.add_argument("--iou", type=float, default=0.5, help="IoU for a box to match ground truth (default 0.5)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(func=run(cmd_eval_pipeline))
