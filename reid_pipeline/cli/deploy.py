"""``reid-pipeline deploy ...``: files a production deployment needs (the logic is in ``lib/deployment``)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def cmd_instance(args: argparse.Namespace) -> int:
    """Write the production ``dagster.yaml`` into the Dagster home."""
    from reid_pipeline.lib.deployment import InstanceProfile, write_instance
    from reid_pipeline.settings import load_settings

    home = args.dagster_home or os.environ.get("DAGSTER_HOME")
    if not home:
        raise ValueError("no Dagster home: pass --dagster-home DIR or set DAGSTER_HOME")
    retries = args.max_retries if args.max_retries is not None else load_settings().operations.max_retries
    profile = InstanceProfile(args.postgres_url, args.max_concurrent_runs, retries)
    try:
        path = write_instance(Path(home), profile, overwrite=args.overwrite)
    except FileExistsError as exc:
        raise ValueError(str(exc)) from None
    print(f"wrote {path}: Postgres storage, queued runs (at most {profile.max_concurrent_runs} at once), ")
    print(f"pools gpu and identity_link limited to 1, run retries on ({profile.max_retries} per run)")
    return 0


def add_parsers(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Register ``deploy``."""
    deploy = sub.add_parser("deploy", help="files for a production deployment (Postgres, daemon, Celery workers)")
    verbs = deploy.add_subparsers(dest="verb", required=True)
    instance = verbs.add_parser("instance", help="write the production dagster.yaml for a Postgres database")
    instance.add_argument(
        "--postgres-url",
        required=True,
        help="postgresql://user:password@host:port/database, or env:NAME to read it from $NAME at start",
    )
    instance.add_argument("--dagster-home", help="folder to write dagster.yaml into (default: $DAGSTER_HOME)")
    instance.add_argument("--max-concurrent-runs", type=int, default=4, help="runs in progress at once (default 4)")
    instance.add_argument("--max-retries", type=int, help="retries of a failed run (default: operations.max_retries)")
    instance.add_argument("--overwrite", action="store_true", help="replace an existing dagster.yaml")
    instance.set_defaults(func=cmd_instance)
