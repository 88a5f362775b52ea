"""``reid-pipeline demo`` and ``reid-pipeline run``: the pipeline itself, through Dagster."""

from __future__ import annotations

import argparse
from pathlib import Path

from reid_pipeline.cli.common import settings_from, valid_date


def cmd_run(args: argparse.Namespace) -> int:
    from reid_pipeline.definitions import build_definitions
    from reid_pipeline.defs.launch import run_camera_days, run_identity_day
    from reid_pipeline.summary import print_summary

    settings = settings_from(args)
    defs = build_definitions(settings)
    runs = run_camera_days(defs, settings, args.date, args.camera or None)
    if any(run.success for run in runs):
        runs.append(run_identity_day(defs, settings, args.date))
    print_summary(settings, runs)
    return 0 if all(run.success for run in runs) else 1


def cmd_demo(args: argparse.Namespace) -> int:
    from reid_pipeline.defs.launch import run_demo_days
    from reid_pipeline.summary import print_summary

    settings = settings_from(args)
    runs = run_demo_days(settings, Path(args.source))
    print_summary(settings, runs)
    return 0 if all(run.success for run in runs) else 1


def add_parsers(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Register ``demo`` and ``run``."""
    from reid_pipeline.lib.footage.demo import VTEST_PATH

    demo = sub.add_parser("demo", parents=[common], help="lay out the sample footage and run the pipeline on it")
    demo.add_argument("--source", default=str(VTEST_PATH), help="video to cut into demo cameras and days")
    demo.set_defaults(func=cmd_demo)

    run = sub.add_parser("run", parents=[common], help="process one day of footage through Dagster")
    run.add_argument("--date", required=True, type=valid_date, help="day to process (YYYY-MM-DD)")
    run.add_argument("--camera", action="append", help="camera id (repeatable; default: every camera of the day)")
    run.set_defaults(func=cmd_run)
