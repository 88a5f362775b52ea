"""``reid-pipeline bench ...``: benchmarks that print figures (speed, separability, identity scale)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from reid_pipeline.cli.common import configure_models, settings_from
from reid_pipeline.settings import Settings

if TYPE_CHECKING:
    from reid_pipeline.lib.bench.sample_crops import SampleCrop


def cmd_bench_detect(args: argparse.Namespace) -> int:
    from reid_pipeline.lib.bench.detect import bench_detect
    from reid_pipeline.lib.detection.factory import build_detector
    from reid_pipeline.lib.detection.tracking import TrackingSpec

    settings = settings_from(args)
    configure_models(settings, detection=True, embedding=False)
    detector = build_detector(settings.detection, settings.detection.profile)
    report = bench_detect(
        Path(args.source), detector, TrackingSpec.from_settings(settings.detection), settings.footage, args.seconds
    )
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"detection benchmark on {report['video']} ({report['backend']})")
    print(f"{'arm':<60} {'src frames':>10} {'detected':>9} {'boxes':>6} {'seconds':>8} {'src fps':>8}")
    for key in ("naive", "pipeline"):
        arm = report[key]
        assert isinstance(arm, dict)
        print(
            f"{arm['name']:<60} {arm['source_frames']:>10} {arm['detected_frames']:>9} {arm['boxes']:>6}"
            f" {arm['seconds']:>8.2f} {arm['source_fps']:>8.2f}"
        )
    print(f"speed-up (pipeline / naive source frames per second): {report['speedup']}x")
    return 0


def _bench_crops(args: argparse.Namespace, settings: Settings) -> list[SampleCrop]:
    """Tracked crops of the first ``--seconds`` of ``--source``, cut with the configured detector."""
    from reid_pipeline.lib.bench.sample_crops import tracked_crops
    from reid_pipeline.lib.detection.factory import build_detector
    from reid_pipeline.lib.detection.tracking import TrackingSpec

    configure_models(settings, detection=True, embedding=True)  # both models load: crops, then vectors
    detector = build_detector(settings.detection, settings.detection.profile)
    crops = tracked_crops(
        Path(args.source),
        detector,
        TrackingSpec.from_settings(settings.detection),
        settings.footage,
        args.seconds,
        settings.crops.min_size,
    )
    if not crops:
        raise ValueError(f"no usable crops in the first {args.seconds:g} s of {args.source}: try more --seconds")
    print(f"{len(crops)} crops of {len({c.track_id for c in crops})} tracks from {args.source}", file=sys.stderr)
    return crops


def _embedding_override(args: argparse.Namespace, settings: Settings) -> Settings:
    updates: dict[str, object] = {}
    if args.model:
        updates["model"] = args.model
    if args.pretrained:
        updates.update(pretrained=args.pretrained, profile="standard")
    if not updates:
        return settings
    return settings.model_copy(update={"embedding": settings.embedding.model_copy(update=updates)})


def cmd_bench_embed(args: argparse.Namespace) -> int:
    from reid_pipeline.lib.bench.embed import bench_embed
    from reid_pipeline.lib.embedding.factory import build_embedder
    from reid_pipeline.lib.embedding.types import resolve_batch_size

    settings = _embedding_override(args, settings_from(args))
    spec = settings.embedding
    crops = _bench_crops(args, settings)
    embedder = build_embedder(spec, spec.profile)
    gpu = None
    if embedder.device.startswith("cuda"):
        gpu = build_embedder(spec.model_copy(update={"precision": "fp16"}), spec.profile)
        embedder = build_embedder(spec.model_copy(update={"precision": "fp32"}), spec.profile)
    batch = resolve_batch_size(spec.batch_size, embedder)
    report = bench_embed(embedder, [c.jpeg for c in crops], batch, spec.workers, gpu)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"embedding benchmark: {report['model']} ({report['dims']}-d) on {report['device']}")
    print(f"{'arm':<52} {'crops':>6} {'batch':>6} {'seconds':>8} {'crops/s':>8}")
    for arm in report["arms"]:  # type: ignore[attr-defined]
        print(
            f"{arm['name']:<52} {arm['crops']:>6} {arm['batch_size']:>6} {arm['seconds']:>8.2f} {arm['crops_per_s']:>8.2f}"
        )
    print(f"speed-up (pipeline / naive crops per second): {report['speedup']}x")
    print(f"largest difference between the two arms' vectors: {report['max_abs_difference_naive_vs_pipeline']}")
    return 0


def cmd_bench_separation(args: argparse.Namespace) -> int:
    from reid_pipeline.lib.bench.separability import separation
    from reid_pipeline.lib.embedding.factory import build_embedder
    from reid_pipeline.lib.embedding.imagenet_backend import BACKBONES
    from reid_pipeline.lib.embedding.pipelined import embed_jpegs
    from reid_pipeline.lib.embedding.types import resolve_batch_size

    settings = _embedding_override(args, settings_from(args))
    crops = _bench_crops(args, settings)
    jpegs, names = [c.jpeg for c in crops], [c.name for c in crops]
    candidates = [("offline", settings.embedding.model_copy(update={"offline_backbone": b})) for b in BACKBONES]
    if settings.embedding.profile == "standard":
        candidates.append(("standard", settings.embedding))
    results = []
    for profile, spec in candidates:
        embedder = build_embedder(spec, profile)
        batch = resolve_batch_size(spec.batch_size, embedder)
        vectors = embed_jpegs(embedder, jpegs, names, batch, spec.workers).vectors
        results.append({"model": f"{embedder.backend}:{embedder.model_name}", **separation(vectors, crops)})
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print("same track vs tracks on screen together (AUC: chance 0.5, perfect 1.0)")
    print(f"{'model':<36} {'tracks':>6} {'crops':>6} {'pos':>6} {'neg':>7} {'AUC':>6} {'cos same':>9} {'cos diff':>9}")
    for r in results:
        print(
            f"{r['model']:<36} {r['tracks']:>6} {r['crops']:>6} {r['positive_pairs']:>6} {r['negative_pairs']:>7}"
            f" {r['auc']:>6.3f} {r['mean_cos_same']:>9.3f} {r['mean_cos_different']:>9.3f}"
        )
    return 0


def cmd_bench_identities(args: argparse.Namespace) -> int:
    from reid_pipeline.lib.bench.identities import bench_identities

    sizes = [int(size) for size in args.sizes.split(",") if size.strip()]
    report = bench_identities(sizes, args.dims, args.all_pairs_max, args.search_rows, args.ann_min_rows, args.full_max)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"identity clustering on synthetic {report['dims']}-d appearances (about 5 per identity, 4 cameras)")
    print(
        f"{'appearances':>11} {'kNN ingest+index s':>18} {'kNN cluster s':>13} {'kNN F1':>7} {'all-pairs s':>11} {'all-pairs F1':>12}"
    )
    for arm in report["clustering"]:
        knn, pairs = arm["knn"], arm["all_pairs"]
        exact = (
            (f"{pairs['cluster_s']:>11} {pairs['pairwise_f1']:>12}")
            if isinstance(pairs, dict)
            else f"{'skipped':>11} {'':>12}"
        )
        if "cluster_s" in knn:
            clustered = f"{knn['cluster_s']:>13} {knn['pairwise_f1']:>7}"
        else:
            clustered = f"{'~' + str(knn['cluster_s_extrapolated']):>13} {'n/a':>7}"
        print(f"{arm['appearances']:>11} {knn['ingest_and_index_s']:>18} {clustered} {exact}")
        if "knn_ms_per_query" in knn:
            print(
                f"{'':>11} (~: candidate search extrapolated from {knn['sampled_queries']} kNN queries"
                f" at {knn['knn_ms_per_query']} ms each)"
            )
    search = report["search"]
    if search:
        print(
            f"LanceDB search over {search['rows']} rows, {search['index']}: build {search['index_build_s']} s, "
            f"p50 {search['p50_ms']} ms, recall@10 vs exact {search['recall_at_10']}"
        )
    return 0


def cmd_bench_pipeline(args: argparse.Namespace) -> int:
    from reid_pipeline.defs.bench_run import run_bench_pipeline
    from reid_pipeline.lib.bench.pipeline import format_report

    settings = settings_from(args, quiet=args.json)
    sources = [Path(source) for source in args.source] if args.source else None
    log = (lambda _msg: None) if args.json else print
    report = run_bench_pipeline(settings, args.hours, sources, args.seed, log)
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0 if report["end_to_end"]["success"] else 1  # type: ignore[index]


def add_parsers(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Register ``bench detect | embed | separation | identities | pipeline``."""
    from reid_pipeline.lib.footage.demo import VTEST_PATH

    bench = sub.add_parser("bench", help="benchmarks that print figures")
    bench_sub = bench.add_subparsers(dest="bench", required=True)
    detect = bench_sub.add_parser("detect", parents=[common], help="naive vs sampled+gated+batched detection")
    detect.add_argument("--source", default=str(VTEST_PATH), help="video to benchmark on")
    detect.add_argument("--seconds", type=float, default=30.0, help="seconds of video per arm (default 30)")
    detect.add_argument("--json", action="store_true", help="print JSON instead of a table")
    detect.set_defaults(func=cmd_bench_detect)

    crops_from = argparse.ArgumentParser(add_help=False)
    crops_from.add_argument("--source", default=str(VTEST_PATH), help="video whose tracked people are the crops")
    crops_from.add_argument("--seconds", type=float, default=40.0, help="seconds of video to cut crops from")
    crops_from.add_argument("--model", help="open_clip architecture (default: settings)")
    crops_from.add_argument(
        "--pretrained", help="open_clip tag or checkpoint; 'random' = the architecture with random weights"
    )
    crops_from.add_argument("--json", action="store_true", help="print JSON instead of a table")
    embed = bench_sub.add_parser(
        "embed", parents=[common, crops_from], help="naive per-crop loop vs batched, overlapped embedding"
    )
    embed.set_defaults(func=cmd_bench_embed)
    separation = bench_sub.add_parser(
        "separation", parents=[common, crops_from], help="AUC of same-track vs co-occurring-track similarity"
    )
    separation.set_defaults(func=cmd_bench_separation)
    _add_identities_parser(bench_sub)
    _add_pipeline_parser(bench_sub, common, str(VTEST_PATH))


def _add_pipeline_parser(bench_sub: argparse._SubParsersAction, common: argparse.ArgumentParser, vtest: str) -> None:
    pipeline = bench_sub.add_parser(
        "pipeline", parents=[common], help="an H-hour camera-day through camera_day_job and identity_job, per stage"
    )
    pipeline.add_argument("--hours", type=float, default=1.0, help="hours of footage to build and run (default 1)")
    pipeline.add_argument(
        "--source", action="append", help=f"clip to loop (repeatable; default {vtest}); resized to the first one's size"
    )
    pipeline.add_argument("--seed", type=int, default=0, help="seed of the passes' start frames (default 0)")
    pipeline.add_argument("--json", action="store_true", help="print JSON instead of a table")
    pipeline.set_defaults(func=cmd_bench_pipeline)


def _add_identities_parser(bench_sub: argparse._SubParsersAction) -> None:
    identities = bench_sub.add_parser(
        "identities", help="clustering time vs appearances (kNN graph vs all pairs); LanceDB search latency/recall"
    )
    identities.add_argument("--sizes", default="10000,100000,1000000", help="appearance counts (comma-separated)")
    identities.add_argument("--dims", type=int, default=512, help="vector width (default 512)")
    identities.add_argument("--all-pairs-max", type=int, default=20_000, help="largest size the all-pairs arm runs at")
    identities.add_argument("--search-rows", type=int, default=1_000_000, help="rows for the search test (0: skip)")
    identities.add_argument("--ann-min-rows", type=int, default=100_000, help="rows from which the index is built")
    identities.add_argument(
        "--full-max", type=int, default=200_000, help="above this, time a sample of kNN queries and extrapolate"
    )
    identities.add_argument("--json", action="store_true", help="print JSON instead of a table")
    identities.set_defaults(func=cmd_bench_identities)
