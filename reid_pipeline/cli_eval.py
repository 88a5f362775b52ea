"""``reid-pipeline eval pipeline | detection | tracker``: quality against hand-labelled ground truth.

- ``pipeline``: run the demo per profile and score its identities;
- ``detection``: precision, recall, AP and speed of each detector backend on the labelled frames;
- ``tracker``: tracker-only IDF1 over sample rates, trackers, buffers and stitching, to choose defaults.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reid_pipeline.lib.detection.types import Detector
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
    # The ground truth boxes people only: the parked car and van are not errors of the run.
    everything = source_detections(demo_detections(str(work)), clip_index(Path(scoped.storage.raw_root)))
    detections = [d for d in everything if d["entity_type"] == "person"]
    store = IdentityResource(**scoped.identity.model_dump()).store(str(work))
    predicted = {r["tracklet_id"]: r["entity_id"] for r in store.rows("entity_members")}
    people = sum(1 for r in store.rows("entities", columns=["entity_type"]) if r["entity_type"] == "person")
    matched = match_detections(detections, truth, iou)
    labels = tracklet_truth(detections, matched, set(truth))
    return {
        "profile": profile,
        "data_root": str(work),
        "detections": len(detections),
        "matched_to_ground_truth": sum(1 for v in matched.values() if v),
        "person_entities": people,  # to hold against the ground truth's number of people
        "tracklet_labels": labels,  # tracklet -> true person, for `eval clustering --labels`
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
    reports: list[dict] = []
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
    for report in reports:
        labels = report.pop("tracklet_labels", None)
        if args.write_labels and labels is not None:
            path = Path(args.write_labels) / f"{report['profile']}-tracklet-labels.csv"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("tracklet_id,identity\n" + "".join(f"{t},{p}\n" for t, p in sorted(labels.items())))
            report["tracklet_labels_csv"] = str(path)
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
        f"({report['matched_to_ground_truth']}/{report['detections']} boxes on ground truth); "
        f"{report['person_entities']} person entities"
    )
    print(f"  {'pairs':<14} {'precision':>9} {'recall':>7} {'F1':>7} {'true pairs':>10} {'pairs':>6}")
    for name in ("all_pairs", "cross_camera", "cross_day"):
        s = identity[name]
        print(f"  {name:<14} {s['precision']:>9} {s['recall']:>7} {s['f1']:>7} {s['true_pairs']:>10} {s['pairs']:>6}")
    c = identity["clustering"]
    print(f"  B-cubed F1 {c['bcubed_f1']}, ARI {c['ari']}" if c else "  no tracklet matches a labelled person")
    for name, s in tracking.items():
        print(
            f"  {name:<16} IDF1 {s['idf1']}  IDP {s['idp']}  IDR {s['idr']}  MOTA {s['mota']}  switches {s['num_switches']}"
        )


DETECTION_BACKENDS = ("ssd", "hog", "yolo")
AP_FLOOR = 0.05  # detectors report down to this score so the precision-recall curve is whole


def build_eval_detector(settings: Settings, backend: str) -> tuple[Detector | None, float, str]:
    """``(detector reporting down to AP_FLOOR, its operating threshold, why it was skipped)``."""
    from reid_pipeline.lib.detection.hog import HogPersonDetector
    from reid_pipeline.lib.detection.ssd import SsdDetector
    from reid_pipeline.lib.detection.yolo import YoloDetector, weights_available_locally

    spec = settings.detection
    if backend == "ssd":
        ssd = SsdDetector({"person": AP_FLOOR}, graph=spec.ssd_graph, config=spec.ssd_config)
        return ssd, spec.ssd_min_scores.get("person", spec.confidence), ""
    if backend == "hog":
        return HogPersonDetector(confidence=AP_FLOOR, win_stride=spec.hog_win_stride), spec.confidence, ""
    if backend == "yolo":
        if spec.offline and not weights_available_locally(spec.yolo_weights):
            return None, spec.confidence, f"YOLO weights {spec.yolo_weights!r} are not on disk and downloads are off"
        if _standard_missing(settings) and not weights_available_locally(spec.yolo_weights):
            return None, spec.confidence, f"YOLO weights {spec.yolo_weights!r} are neither present nor downloadable"
        detector = YoloDetector(spec.yolo_weights, [0], confidence=AP_FLOOR, imgsz=spec.imgsz, device=spec.device)
        return detector, spec.confidence, ""
    raise ValueError(f"unknown backend {backend!r}: choose from {', '.join(DETECTION_BACKENDS)}")


def cmd_eval_detection(args: argparse.Namespace, settings: Settings) -> int:
    from reid_pipeline.lib.evaluation.detection_eval import score_detector
    from reid_pipeline.lib.evaluation.labelling import read_frames
    from reid_pipeline.lib.evaluation.pipeline_eval import read_mot_truth

    truth = read_mot_truth(Path(args.labels))
    images = read_frames(Path(args.source), sorted(truth))
    reports: list[dict[str, object]] = []
    for backend in args.backend or DETECTION_BACKENDS:
        detector, threshold, skipped = build_eval_detector(settings, backend)
        if detector is None:
            reports.append({"backend": backend, "skipped": skipped})
            continue
        scores = score_detector(detector, images, truth, threshold, args.iou, settings.footage.batch_size)
        reports.append({**scores.as_dict(), "backend": backend})
    if args.json:
        print(json.dumps(reports, indent=2))
        return 0
    people = sum(1 for boxes in truth.values() for t in boxes if t.person > 0)
    print(f"{len(images)} labelled frames, {people} people boxes; IoU {args.iou}")
    print(
        f"{'backend':<8} {'threshold':>9} {'precision':>9} {'recall':>7} {'AP50':>6} {'TP':>5} {'FP':>5} {'ms/frame':>8}"
    )
    for r in reports:
        if "skipped" in r:
            print(f"{r['backend']:<8} skipped: {r['skipped']}")
            continue
        print(
            f"{r['backend']:<8} {r['operating_threshold']:>9} {r['precision']:>9} {r['recall']:>7} {r['ap50']:>6} "
            f"{r['true_positives']:>5} {r['false_positives']:>5} {r['ms_per_frame']:>8}"
        )
    return 0


def _floats(text: str) -> list[float]:
    return [float(v) for v in text.split(",") if v.strip()]


def cmd_eval_tracker(args: argparse.Namespace, settings: Settings) -> int:
    from itertools import product

    from reid_pipeline.lib.detection.factory import build_offline_detector
    from reid_pipeline.lib.evaluation.pipeline_eval import read_mot_truth
    from reid_pipeline.lib.evaluation.tracker_eval import (
        TrackerConfig,
        detect_sampled,
        sample_step,
        score_tracking,
        video_info,
    )

    truth = read_mot_truth(Path(args.labels))
    detector = build_offline_detector(settings.detection, args.detector)
    source = Path(args.source)
    info = video_info(source)
    rates = _floats(args.fps)
    for fps in rates:  # refuse a rate that misses labelled frames before spending minutes on the others
        sample_step(info.fps, fps, sorted(truth))
    similarity = settings.detection.stitch_min_similarity
    reports = []
    for fps in rates:
        sampled = detect_sampled(source, detector, fps, sorted(truth), batch_size=settings.footage.batch_size)
        grid = product(
            args.tracker.split(","), _floats(args.buffer_s), _floats(args.stitch_gap_s), _floats(args.match_buffer)
        )
        for tracker, buffer_s, gap, match_buffer in grid:
            config = TrackerConfig(fps, tracker, buffer_s, gap, match_buffer, similarity)
            scores = score_tracking(sampled, config, truth, detector.min_score, info.seconds, args.iou)
            reports.append(scores.as_dict())
            if not args.json:
                _print_tracker_row(scores.as_dict(), header=len(reports) == 1)
    if args.json:
        print(json.dumps(reports, indent=2))
    return 0


def _print_tracker_row(r: dict[str, object], header: bool) -> None:
    if header:
        print(
            f"{'fps':>4} {'tracker':<9} {'buffer s':>8} {'stitch s':>8} {'match buf':>9} {'IDF1':>6} {'IDP':>6} {'IDR':>6} "
            f"{'switches':>8} {'tracks':>6} {'per person':>10} {'detect ms/s':>11} {'track ms/s':>10}"
        )
    print(
        f"{r['fps']:>4} {r['tracker']:<9} {r['buffer_s']:>8} {r['stitch_gap_s']:>8} {r['match_buffer']:>9} {r['idf1']:>6} {r['idp']:>6} "
        f"{r['idr']:>6} {r['id_switches']:>8} {r['tracks']:>6} {r['fragments_per_person']:>10} "
        f"{r['detect_ms_per_video_s']:>11} {r['track_ms_per_video_s']:>10}"
    )


def _truth_arguments(parser: argparse.ArgumentParser) -> None:
    """What every command scored against ground truth takes: labels, video, IoU, output format."""
    from reid_pipeline.lib.demo_footage import VTEST_PATH

    parser.add_argument("--labels", required=True, help="MOTChallenge ground truth of the video (people)")
    parser.add_argument("--source", default=str(VTEST_PATH), help="the video the ground truth describes")
    parser.add_argument("--iou", type=float, default=0.5, help="IoU for a box to match ground truth (default 0.5)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def add_parser(
    eval_sub: argparse._SubParsersAction,
    common: argparse.ArgumentParser,
    run: Callable[[Callable[[argparse.Namespace, Settings], int]], Callable[[argparse.Namespace], int]],
) -> None:
    """Register ``eval pipeline | detection | tracker``; ``run(handler)`` wraps a handler with settings loading."""

    parser = eval_sub.add_parser(
        "pipeline", parents=[common], help="run the demo per profile; identity F1 and IDF1 against ground truth"
    )
    _truth_arguments(parser)
    parser.add_argument(
        "--work-dir",
        help="where each profile's run goes (default: <local folder>/eval, i.e. <data root>/eval when local)",
    )
    parser.add_argument(
        "--write-labels",
        metavar="DIR",
        help="also write <DIR>/<profile>-tracklet-labels.csv (the run's tracklets labelled from the ground truth), "
        "to re-tune matching on the run with `eval clustering --sweep --labels CSV --data-root WORK/pipeline-<profile>`",
    )
    parser.set_defaults(func=run(cmd_eval_pipeline))
    detection = eval_sub.add_parser(
        "detection", parents=[common], help="precision, recall, AP50 and ms/frame per detector on labelled frames"
    )
    _truth_arguments(detection)
    detection.add_argument(
        "--backend",
        action="append",
        choices=DETECTION_BACKENDS,
        help="repeatable; default: all (yolo when its weights are there)",
    )
    detection.set_defaults(func=run(cmd_eval_detection))
    tracker = eval_sub.add_parser(
        "tracker", parents=[common], help="tracker-only IDF1 over sample rates, trackers, buffers and stitching"
    )
    _truth_arguments(tracker)
    tracker.add_argument("--detector", default="ssd", choices=("ssd", "hog"), help="offline detector to track")
    tracker.add_argument("--fps", default="2,5,10", help="sample rates, comma-separated")
    tracker.add_argument("--tracker", default="bytetrack,botsort", help="trackers, comma-separated")
    tracker.add_argument("--buffer-s", default="1,3,6", help="track buffers in seconds, comma-separated")
    tracker.add_argument("--stitch-gap-s", default="0,4", help="stitching gaps in seconds (0 = off), comma-separated")
    tracker.add_argument("--match-buffer", default="0,0.5,1", help="buffered-IoU scales, comma-separated")
    tracker.set_defaults(func=run(cmd_eval_tracker))
