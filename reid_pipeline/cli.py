"""``reid-pipeline``: the command-line face of the pipeline.

reid-pipeline demo                      lay out the sample footage and run everything on it
reid-pipeline run --date 2024-05-01     process one day of your own footage through Dagster
reid-pipeline bench detect [--json]     naive vs pipelined detection speed
reid-pipeline bench embed [--json]      naive vs batched, overlapped crop embedding speed
reid-pipeline bench separation [--json] how well each offline backbone tells tracked people apart
reid-pipeline entities list|show|history|merge|not-same|split|name|watch ...   query and correct identities
reid-pipeline search --image PATH | --text "red jacket"                        appearances most like it
reid-pipeline review export --date D --out DIR   contact sheets and a label CSV per camera
reid-pipeline eval retrieval --query DIR --gallery DIR | --vectors FILE [--rerank] [--json]  mAP, CMC
reid-pipeline eval tracking --gt FILE --pred FILE [--json]                        MOTA, IDF1 (MOTChallenge)
reid-pipeline eval clustering --labels FILE [--sweep] [--write-config F] [--json]   identities vs true labels
reid-pipeline eval pipeline --labels GT.txt [--json]   the demo per profile: identity F1 and IDF1 vs ground truth
reid-pipeline eval detection --labels GT.txt [--backend ssd|hog|yolo] [--json]   precision, recall, AP50, ms/frame
reid-pipeline eval tracker --labels GT.txt [--fps 2,5,10] ... [--json]   tracker-only IDF1 over a grid of settings
reid-pipeline review truth propose|draw|zoom|strips|merge|check ...   make and check hand-labelled ground truth
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from reid_pipeline.settings import Settings, load_settings

if TYPE_CHECKING:
    from reid_pipeline.lib.sample_crops import SampleCrop


def _model_config_dir(settings: Settings) -> Path:
    from reid_pipeline.lib.storage import local_folder

    return local_folder(settings.storage.data_root, settings.storage.local_dir) / ".model_config"


def _configure_models(settings: Settings, detection: bool, embedding: bool) -> None:
    """Set the model libraries' environment before they load: off the network when a section that is about
    to load a model says ``offline = true`` or runs the offline profile (as the Dagster resources do).
    """
    from reid_pipeline.lib.offline import configure_model_env

    sections = [s for s, used in ((settings.detection, detection), (settings.embedding, embedding)) if used]
    offline = any(s.offline or s.profile == "offline" for s in sections)
    configure_model_env(_model_config_dir(settings), offline)


def _settings_from(args: argparse.Namespace, quiet: bool = False) -> Settings:
    """Settings file + environment, with command-line flags on top; ``auto`` profiles resolved once, here."""
    from reid_pipeline.lib.detection.factory import choose_profile
    from reid_pipeline.lib.embedding.factory import choose_embedding_profile

    base = load_settings()
    storage = base.storage.model_copy(update={"data_root": args.data_root}) if args.data_root else base.storage
    detection, embedding = base.detection, base.embedding
    if getattr(args, "profile", None):
        detection = detection.model_copy(update={"profile": args.profile})
        embedding = embedding.model_copy(update={"profile": args.profile})
    # Each choice may probe the network (seconds when it is down): made once, then written into the settings.
    detection_choice, embedding_choice = choose_profile(detection), choose_embedding_profile(embedding)
    for choice in (detection_choice, embedding_choice):
        if choice.note and not quiet:
            print(choice.note)
    detection = detection.model_copy(update={"profile": detection_choice.profile})
    embedding = embedding.model_copy(update={"profile": embedding_choice.profile})
    return base.model_copy(update={"storage": storage, "detection": detection, "embedding": embedding})


def _valid_date(text: str) -> str:
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date: use YYYY-MM-DD") from None


def cmd_run(args: argparse.Namespace) -> int:
    from reid_pipeline.definitions import build_definitions
    from reid_pipeline.defs.launch import run_camera_days, run_identity_day
    from reid_pipeline.summary import print_summary

    settings = _settings_from(args)
    defs = build_definitions(settings)
    runs = run_camera_days(defs, settings, args.date, args.camera or None)
    if any(run.success for run in runs):
        runs.append(run_identity_day(defs, settings, args.date))
    print_summary(settings, runs)
    return 0 if all(run.success for run in runs) else 1


def cmd_demo(args: argparse.Namespace) -> int:
    from reid_pipeline.defs.launch import run_demo_days
    from reid_pipeline.summary import print_summary

    settings = _settings_from(args)
    runs = run_demo_days(settings, Path(args.source))
    print_summary(settings, runs)
    return 0 if all(run.success for run in runs) else 1


def cmd_bench_detect(args: argparse.Namespace) -> int:
    from reid_pipeline.lib.bench_detect import bench_detect
    from reid_pipeline.lib.detection.factory import build_detector
    from reid_pipeline.lib.detection.tracking import TrackingSpec

    settings = _settings_from(args)
    _configure_models(settings, detection=True, embedding=False)
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
    from reid_pipeline.lib.detection.factory import build_detector
    from reid_pipeline.lib.detection.tracking import TrackingSpec
    from reid_pipeline.lib.sample_crops import tracked_crops

    _configure_models(settings, detection=True, embedding=True)  # both models load: crops, then vectors
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
    from reid_pipeline.lib.bench_embed import bench_embed
    from reid_pipeline.lib.embedding.factory import build_embedder
    from reid_pipeline.lib.embedding.types import resolve_batch_size

    settings = _embedding_override(args, _settings_from(args))
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
    from reid_pipeline.lib.embedding.factory import build_embedder
    from reid_pipeline.lib.embedding.imagenet_backend import BACKBONES
    from reid_pipeline.lib.embedding.run import embed_jpegs
    from reid_pipeline.lib.embedding.types import resolve_batch_size
    from reid_pipeline.lib.separability import separation

    settings = _embedding_override(args, _settings_from(args))
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


def cmd_eval_retrieval(args: argparse.Namespace) -> int:
    from reid_pipeline.lib.evaluation.run_retrieval import retrieval_from_folders, retrieval_from_vectors

    if args.vectors:
        scores = retrieval_from_vectors(Path(args.vectors), args.rerank)
        model = f"vectors from {args.vectors}"
    elif args.query and args.gallery:
        from reid_pipeline.lib.embedding.factory import build_embedder
        from reid_pipeline.lib.embedding.types import resolve_batch_size

        settings = _settings_from(args)
        spec = settings.embedding
        _configure_models(settings, detection=False, embedding=True)
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


SWEEP_THRESHOLDS = tuple(round(0.5 + 0.02 * i, 2) for i in range(25))  # 0.50 ... 0.98
SWEEP_WEIGHTS = (0.0, 0.2, 0.4)


def cmd_eval_clustering(args: argparse.Namespace) -> int:
    from reid_pipeline.defs.resources import IdentityResource
    from reid_pipeline.lib.evaluation.clustering_metrics import score_clustering
    from reid_pipeline.lib.evaluation.sweep import config_snippet, read_labels, stored_membership, sweep

    settings = _settings_from(args, quiet=True)
    resource = IdentityResource(**settings.identity.model_dump())
    store = resource.store(settings.storage.data_root)
    truth = read_labels(Path(args.labels))
    report: dict[str, object] = {"stored": score_clustering(stored_membership(store), truth).as_dict()}
    if args.sweep:
        # The thresholds the pipeline used follow the stored vectors' backend; the profile only guesses it.
        backend = store.embedding_backend() or (
            "imagenet-cnn" if settings.embedding.profile == "offline" else "open_clip"
        )
        params = resource.params(backend)
        in_force = {
            "embedding_backend": backend,
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
        print(f"in force: match_threshold {in_force['match_threshold']} for {in_force['embedding_backend']} vectors")
        print(f"best setting:\n{report['config']}")
    return 0


def cmd_bench_identities(args: argparse.Namespace) -> int:
    from reid_pipeline.lib.bench_identities import bench_identities

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


def _with_settings(handler: Callable[[argparse.Namespace, Settings], int]) -> Callable[[argparse.Namespace], int]:
    """A command handler that receives the settings (file, environment, flags) as well as its arguments."""
    return lambda args: handler(args, _settings_from(args, quiet=True))


def build_parser() -> argparse.ArgumentParser:
    from reid_pipeline.lib.demo_footage import VTEST_PATH

    parser = argparse.ArgumentParser(prog="reid-pipeline", description=__doc__.split("\n\n")[0])
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-root", help="data folder or URI (default: settings, i.e. data/)")
    common.add_argument(
        "--profile", choices=["auto", "standard", "offline"], help="model profile (default: settings, i.e. auto)"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", parents=[common], help="lay out the sample footage and run the pipeline on it")
    demo.add_argument("--source", default=str(VTEST_PATH), help="video to cut into demo cameras and days")
    demo.set_defaults(func=cmd_demo)

    run = sub.add_parser("run", parents=[common], help="process one day of footage through Dagster")
    run.add_argument("--date", required=True, type=_valid_date, help="day to process (YYYY-MM-DD)")
    run.add_argument("--camera", action="append", help="camera id (repeatable; default: every camera of the day)")
    run.set_defaults(func=cmd_run)

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

    evaluation = sub.add_parser("eval", help="measure re-identification quality")
    eval_sub = evaluation.add_subparsers(dest="evaluation", required=True)
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
    from reid_pipeline import cli_eval

    cli_eval.add_parser(eval_sub, common, _with_settings)

    from reid_pipeline import cli_entities, cli_review

    cli_entities.add_parsers(sub, common, _with_settings)
    cli_review.add_parsers(sub, common, _with_settings)
    from reid_pipeline import cli_deploy

    cli_deploy.add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
