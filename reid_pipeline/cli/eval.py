"""``reid-pipeline eval ...``: re-identification quality, measured.

- ``retrieval``: mAP and CMC on a Market-1501 style query/gallery split;
- ``tracking``: MOTA, MOTP, IDF1 of MOTChallenge files;
- ``clustering``: stored identities against true labels, with a threshold sweep;
- ``pipeline``: run the demo per profile and score its identities;
- ``detection``: precision, recall, AP and speed of each detector backend on the labelled frames;
- ``tracker``: tracker-only IDF1 over sample rates, trackers, buffers and stitching, to choose defaults.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from reid_pipeline.cli.common import configure_models, identity_store, settings_from, with_settings

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
    store = identity_store(scoped)
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
    from reid_pipeline.lib.storage.parquet import local_folder

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
    if "tracklet_labels_csv" in report:
        print(f"  tracklet labels: {report['tracklet_labels_csv']} (for eval clustering --labels)")


DETECTION_BACKENDS = ("ssd", "hog", "yolo")
AP_FLOOR = 0.05  # detectors report down to this score so the precision-recall curve is whole


def build_eval_detector(settings: Settings, backend: str) -> tuple[Detector | None, float, str]:
    """``(detector reporting down to AP_FLOOR, its operating threshold, why it was skipped)``."""
    from reid_pipeline.lib.detection.hog import HogPersonDetector
    from reid_pipeline.lib.detection.ssd import SsdDetector
    from reid_pipeline.lib.detection.yolo import YoloDetector, weights_available_locally

    spec = settings.detection
    if backend == "ssd":
        ssd = SsdDetector({"person": AP_FLOOR}, graph=spec.ssd_graph, config=spec.ssd_config, runtime=spec.ssd_runtime)
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


def cmd_eval_retrieval(args: argparse.Namespace) -> int:
    from reid_pipeline.lib.evaluation.run_retrieval import retrieval_from_folders, retrieval_from_vectors

    if args.vectors:
        scores = retrieval_from_vectors(Path(args.vectors), args.rerank)
        model = f"vectors from {args.vectors}"
    elif args.query and args.gallery:
        from reid_pipeline.lib.embedding.factory import build_embedder
        from reid_pipeline.lib.embedding.types import resolve_batch_size

        settings = settings_from(args)
        spec = settings.embedding
        configure_models(settings, detection=False, embedding=True)
        embedder = build_embedder(spec, spec.profile)
        batch = resolve_batch_size(spec.batch_size, embedder)
        scores = retrieval_from_folders(
            embedder, Path(args.query), Path(args.gallery), batch, spec.workers, args.rerank
        )
        model = f"{embedder.backend}:{embedder.model_name}"
    else:
        raise ValueError("pass --query and --gallery folders, or --vectors")
    report = {"model": model, "rerank": args.rerank, **scores.as_dict()}
    if args.plot:
        from reid_pipeline.lib.evaluation.plots import plot_cmc

        report["plot"] = str(plot_cmc(scores.cmc, Path(args.plot), f"CMC, {model}"))
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"retrieval ({model}): " + ", ".join(f"{k} {v}" for k, v in report.items() if k != "model"))
    return 0


def cmd_eval_tracking(args: argparse.Namespace) -> int:
    from reid_pipeline.lib.evaluation.tracking import METRICS, evaluate_tracking

    scores = evaluate_tracking(Path(args.gt), Path(args.pred), args.iou)
    if args.json:
        print(json.dumps(scores, indent=2))
        return 0
    for name, label in METRICS.items():
        print(f"{label:<20} {scores[name]}")
    return 0


# 0.10 ... 0.98: centred (site-adapted) vectors match around 0.3, raw ImageNet CNN vectors around 0.9.
SWEEP_THRESHOLDS = tuple(round(0.1 + 0.02 * i, 2) for i in range(45))
SWEEP_WEIGHTS = (0.0, 0.2, 0.4)


def cmd_eval_clustering(args: argparse.Namespace) -> int:
    from reid_pipeline.lib.evaluation.clustering_metrics import score_clustering
    from reid_pipeline.lib.evaluation.sweep import config_snippet, read_labels, stored_membership, sweep
    from reid_pipeline.lib.identity.params import MatchParams
    from reid_pipeline.lib.identity.thresholds import adaptation_kind

    settings = settings_from(args, quiet=True)
    store = identity_store(settings)
    truth = read_labels(Path(args.labels))
    report: dict[str, object] = {"stored": score_clustering(stored_membership(store), truth).as_dict()}
    if args.sweep:
        # The thresholds the pipeline used follow the stored vectors' backend; the profile only guesses it.
        backend = store.embedding_backend() or (
            "imagenet-cnn" if settings.embedding.profile == "offline" else "open_clip"
        )
        adapters = {a for ids in store.adapter_ids("appearances").values() for a in ids}
        adaptation = adaptation_kind(min(adapters)) if adapters else "none"
        params = MatchParams.from_settings(settings.identity, backend, adaptation)
        in_force = {
            "embedding_backend": backend,
            "adaptation": adaptation,
            "match_threshold": params.match_threshold,
            "link_threshold": params.link_threshold,
        }
        report["in_force"] = in_force
        results = sweep(store, truth, params, SWEEP_THRESHOLDS, SWEEP_WEIGHTS)
        best = max(results, key=lambda r: (r["pairwise_f1"], -abs(float(r["attribute_weight"]) - 0.2)))
        report.update(sweep=results, best=best, config=config_snippet(best))
        if args.write_config:
            Path(args.write_config).write_text(config_snippet(best))
        if args.plot:
            from reid_pipeline.lib.evaluation.plots import plot_precision_recall

            report["plot"] = str(plot_precision_recall(results, Path(args.plot), "identities vs labels"))
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print("stored identities vs labels: " + ", ".join(f"{k} {v}" for k, v in report["stored"].items()))  # type: ignore[attr-defined]
    if args.sweep:
        print(f"{'threshold':>9} {'weight':>6} {'pair P':>7} {'pair R':>7} {'pair F1':>7} {'B3 F1':>6} {'ARI':>6}")
        for r in report["sweep"]:  # type: ignore[attr-defined]
            print(
                f"{r['match_threshold']:>9} {r['attribute_weight']:>6} {r['pairwise_precision']:>7}"
                f" {r['pairwise_recall']:>7} {r['pairwise_f1']:>7} {r['bcubed_f1']:>6} {r['ari']:>6}"
            )
        print(
            f"in force: match_threshold {in_force['match_threshold']} for {in_force['embedding_backend']} vectors, "
            f"site adaptation {in_force['adaptation']}"
        )
        print(f"best setting:\n{report['config']}")
    return 0


def _truth_arguments(parser: argparse.ArgumentParser) -> None:
    """What every command scored against ground truth takes: labels, video, IoU, output format."""
    from reid_pipeline.lib.footage.demo import VTEST_PATH

    parser.add_argument("--labels", required=True, help="MOTChallenge ground truth of the video (people)")
    parser.add_argument("--source", default=str(VTEST_PATH), help="the video the ground truth describes")
    parser.add_argument("--iou", type=float, default=0.5, help="IoU for a box to match ground truth (default 0.5)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def add_parsers(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Register ``eval retrieval | tracking | clustering | pipeline | detection | tracker``."""
    evaluation = sub.add_parser("eval", help="measure re-identification quality")
    eval_sub = evaluation.add_subparsers(dest="evaluation", required=True)
    _add_stored_parsers(eval_sub, common)
    _add_truth_parsers(eval_sub, common)


def _add_truth_parsers(eval_sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """The commands scored against hand-labelled ground truth of a video."""
    run = with_settings

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


def _add_stored_parsers(eval_sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """The commands that score vectors, tracker files or stored identities."""
    retrieval = eval_sub.add_parser(
        "retrieval", parents=[common], help="mAP and CMC on a Market-1501 style query/gallery split"
    )
    retrieval.add_argument("--query", help="folder of query images named <pid>_c<cam>s<seq>_<frame>_<idx>.jpg")
    retrieval.add_argument("--gallery", help="folder of gallery images, same naming")
    retrieval.add_argument("--vectors", help="instead of images: Parquet of name, split (query|gallery), vector")
    retrieval.add_argument(
        "--rerank", action="store_true", help="k-reciprocal re-ranking (k1=20, k2=6, lambda=0.3) before scoring"
    )
    retrieval.add_argument("--plot", help="write the CMC curve (ranks 1-20) to this PNG file")
    retrieval.add_argument("--json", action="store_true", help="print JSON instead of a table")
    retrieval.set_defaults(func=cmd_eval_retrieval)
    tracking = eval_sub.add_parser("tracking", help="MOTA, MOTP, IDF1 of MOTChallenge files (py-motmetrics)")
    tracking.add_argument("--gt", required=True, help="ground truth, MOTChallenge text (frame,id,x,y,w,h,conf,...)")
    tracking.add_argument("--pred", required=True, help="tracker output, same format")
    tracking.add_argument("--iou", type=float, default=0.5, help="least IoU for a match (default 0.5)")
    tracking.add_argument("--json", action="store_true", help="print JSON instead of a table")
    tracking.set_defaults(func=cmd_eval_tracking)
    clustering = eval_sub.add_parser(
        "clustering", parents=[common], help="stored identities vs true labels; threshold sweep with the best setting"
    )
    clustering.add_argument("--labels", required=True, help="CSV or Parquet of tracklet_id, identity")
    clustering.add_argument("--sweep", action="store_true", help="re-run matching over thresholds and weights")
    clustering.add_argument("--write-config", help="write the best setting as a TOML snippet to this file")
    clustering.add_argument("--plot", help="with --sweep: write the precision-recall plot to this PNG file")
    clustering.add_argument("--json", action="store_true", help="print JSON instead of a table")
    clustering.set_defaults(func=cmd_eval_clustering)
