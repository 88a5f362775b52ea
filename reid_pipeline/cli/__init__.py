"""``reid-pipeline``: the command-line face of the pipeline.

reid-pipeline demo                      lay out the sample footage and run everything on it
reid-pipeline run --date 2024-05-01     process one day of your own footage through Dagster
reid-pipeline bench detect [--json]     naive vs pipelined detection speed
reid-pipeline bench embed [--json]      naive vs batched, overlapped crop embedding speed
reid-pipeline bench separation [--json] how well each offline backbone tells tracked people apart
reid-pipeline bench pipeline [--hours H] [--json]   an H-hour camera-day through both jobs, timed per stage
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
reid-pipeline deploy instance --postgres-url URL [--dagster-home DIR]   the production dagster.yaml (Postgres)
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from reid_pipeline.cli import bench, deploy, entities, review, run
from reid_pipeline.cli import eval as evaluation
from reid_pipeline.lib.runtime.memory import share_one_heap


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: each command family registers its own verbs."""
    parser = argparse.ArgumentParser(prog="reid-pipeline", description=(__doc__ or "").split("\n\n")[0])
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-root", help="data folder or URI (default: settings, i.e. data/)")
    common.add_argument(
        "--profile", choices=["auto", "standard", "offline"], help="model profile (default: settings, i.e. auto)"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run.add_parsers(sub, common)
    bench.add_parsers(sub, common)
    evaluation.add_parsers(sub, common)
    entities.add_parsers(sub, common)
    review.add_parsers(sub, common)
    deploy.add_parsers(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``reid-pipeline``: parse, run the command, and turn expected failures into one line."""
    args = build_parser().parse_args(argv)
    share_one_heap()  # before the commands start threads: see its docstring
    try:
        return int(args.func(args))
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
