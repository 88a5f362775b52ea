"""``reid-pipeline review ...``: material for people to check identities by eye."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from reid_pipeline.cli.common import Wrap, identity_store, rerun_identity_days, with_settings
from reid_pipeline.cli.truth import add_truth_parser

if TYPE_CHECKING:
    from reid_pipeline.lib.identity.store import IdentityStore
    from reid_pipeline.settings import Settings


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    """Contact sheet PNG and label CSV per camera of the day."""
    from reid_pipeline.lib.identity.query import entity_of
    from reid_pipeline.lib.review.contact_sheets import render_sheet, rows_from_crops, write_label_template
    from reid_pipeline.lib.storage.parquet import ParquetStore

    parquet = ParquetStore(settings.storage.data_root)
    cameras = args.camera or parquet.cameras("crops", args.date)
    if not cameras:
        raise FileNotFoundError(f"no crops for {args.date} under {settings.storage.data_root}: run that day first")
    store = identity_store(settings)
    out = Path(args.out)
    for camera in cameras:
        crops = parquet.read("crops", {"date": args.date, "camera": camera})
        tracklets = sorted(set(crops.column("tracklet_id").to_pylist()))
        entities = entity_of(store, tracklets) if store.has("entity_members") else {}
        rows = rows_from_crops(crops, entities)
        sheet = render_sheet(rows, out / f"{args.date}_{camera}.png")
        labels = write_label_template(rows, args.date, out / f"{args.date}_{camera}.csv")
        print(f"{camera}: {len(rows)} tracklets -> {sheet} and {labels}")
    return 0


def cmd_mot(args: argparse.Namespace, settings: Settings) -> int:
    """Turn filled-in tracklet labels of the demo footage into MOTChallenge ground truth for vtest.avi."""
    from reid_pipeline.lib.evaluation.ground_truth import (
        clip_index,
        demo_detections,
        mot_ground_truth,
        read_tracklet_labels,
        source_detections,
    )
    from reid_pipeline.lib.storage.parquet import raw_footage_root

    labels = read_tracklet_labels(Path(args.labels))
    raw_root = raw_footage_root(settings.storage.data_root, settings.storage.raw_root)  # where the demo laid it out
    detections = source_detections(demo_detections(settings.storage.data_root), clip_index(raw_root))
    lines = mot_ground_truth(detections, labels)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    considered = sum(1 for line in lines if line.split(",")[6] == "1")
    print(f"{out}: {len(lines)} boxes ({considered} labelled, {len(lines) - considered} ignored)")
    return 0


def cmd_apply(args: argparse.Namespace, settings: Settings) -> int:
    """Record the decisions saved from a daily report as corrections (and re-run the affected days)."""
    from reid_pipeline.lib.privacy.audit import add_correction
    from reid_pipeline.lib.review.decisions import read_decisions, to_corrections

    store = identity_store(settings)
    rows = to_corrections(read_decisions(Path(args.decisions)), store.corrections(), args.author)
    for row in rows:
        add_correction(store, row)
    touched = {t for r in rows for t in (r["tracklet_a"], r["tracklet_b"]) if t}
    days = _days_of(store, touched)
    print(f"recorded {len(rows)} corrections from {args.decisions} (days: {', '.join(days) or 'none'})")
    if args.apply and days:
        applied = rerun_identity_days(settings, days)
        print("applied" if applied else "re-run failed: see the Dagster runs")
        return 0 if applied else 1
    return 0


def _days_of(store: IdentityStore, tracklets: set[str]) -> list[str]:
    """The days those tracklets were seen on, in order."""
    from reid_pipeline.lib.identity.store import quoted

    if not tracklets:
        return []
    listed = ", ".join(quoted(t) for t in sorted(tracklets))
    return sorted({str(r["date"]) for r in store.rows("appearances", f"tracklet_id IN ({listed})", ["date"])})


def add_parsers(
    sub: argparse._SubParsersAction,
    common: argparse.ArgumentParser,
    run: Wrap = with_settings,
) -> None:
    """Register ``review``; ``run(handler)`` wraps a handler with settings loading."""
    review = sub.add_parser("review", help="check identities by eye")
    verbs = review.add_subparsers(dest="verb", required=True)
    export = verbs.add_parser(
        "export", parents=[common], help="contact sheets (one row of crops per tracklet) and a label CSV"
    )
    export.add_argument("--date", required=True, help="day to export (YYYY-MM-DD)")
    export.add_argument("--camera", action="append", help="camera id (repeatable; default: every camera)")
    export.add_argument("--out", required=True, help="folder for <date>_<camera>.png and .csv")
    export.set_defaults(func=run(cmd_export))
    mot = verbs.add_parser(
        "mot",
        parents=[common],
        help="demo footage: filled-in tracklet labels -> MOTChallenge ground truth of vtest.avi",
    )
    mot.add_argument("--labels", required=True, help="label CSV (tracklet_id, label, split_at_crop)")
    mot.add_argument("--out", required=True, help="MOTChallenge text file to write")
    mot.set_defaults(func=run(cmd_mot))
    apply = verbs.add_parser("apply", parents=[common], help="record decisions saved from a daily report")
    apply.add_argument("decisions", help="the decisions-<date>.json file the report saved")
    apply.add_argument("--author", help="who decided (kept with each correction)")
    apply.add_argument("--apply", action="store_true", help="re-run the affected days' identity job now")
    apply.set_defaults(func=run(cmd_apply))
    add_truth_parser(verbs)
