"""What every ``reid-pipeline`` command shares: settings from file, environment and flags; the model
environment, set once before a model loads; the identity store; re-running days after a correction; tables.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from reid_pipeline.settings import Settings, load_settings

if TYPE_CHECKING:
    from reid_pipeline.lib.identity.store import IdentityStore
    from reid_pipeline.lib.storage.schemas import Row

Handler = Callable[[argparse.Namespace, Settings], int]
"""A command that receives its settings (file, environment, flags) as well as its arguments."""
Wrap = Callable[[Handler], Callable[[argparse.Namespace], int]]
"""Turns a :data:`Handler` into an argparse ``func``; see :func:`with_settings`."""


def model_config_dir(settings: Settings) -> Path:
    from reid_pipeline.lib.storage.parquet import local_folder

    return local_folder(settings.storage.data_root, settings.storage.local_dir) / ".model_config"


def configure_models(settings: Settings, detection: bool, embedding: bool) -> None:
    """Set the model libraries' environment before they load: off the network when a section that is about
    to load a model says ``offline = true`` or runs the offline profile (as the Dagster resources do).
    """
    from reid_pipeline.lib.runtime.offline import configure_model_env

    sections = [s for s, used in ((settings.detection, detection), (settings.embedding, embedding)) if used]
    offline = any(s.offline or s.profile == "offline" for s in sections)
    configure_model_env(model_config_dir(settings), offline)


def settings_from(args: argparse.Namespace, quiet: bool = False) -> Settings:
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


def with_settings(handler: Handler) -> Callable[[argparse.Namespace], int]:
    """A command handler that receives the settings (file, environment, flags) as well as its arguments."""
    return lambda args: handler(args, settings_from(args, quiet=True))


def valid_date(text: str) -> str:
    """An argparse type: a calendar day as ``YYYY-MM-DD``."""
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date: use YYYY-MM-DD") from None


def identity_store(settings: Settings) -> IdentityStore:
    """The identity tables these settings point at, opened outside Dagster."""
    from reid_pipeline.lib.identity.store import IdentityStore

    return IdentityStore.from_settings(settings.identity, settings.storage.data_root)


def rerun_identity_days(settings: Settings, days: Sequence[str]) -> bool:
    """Re-run the identity job of each day (``--apply`` after a correction); True when every run succeeded."""
    from reid_pipeline.definitions import build_definitions
    from reid_pipeline.defs.launch import run_identity_day

    defs = build_definitions(settings)
    runs = [run_identity_day(defs, settings, day, log=lambda _m: None) for day in days]
    return all(run.success for run in runs)


def json_default(value: object) -> object:
    """``json.dumps`` fallback for the values identity rows hold."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def emit(rows: Sequence[Row] | Row, as_json: bool, columns: Sequence[str]) -> None:
    """Print rows as JSON, or as an aligned table of ``columns``."""
    if as_json:
        print(json.dumps(rows, default=json_default, indent=2))
        return
    items = [rows] if isinstance(rows, dict) else list(rows)
    if not items:
        print("(none)")
        return
    cells = [[_cell(row.get(c)) for c in columns] for row in items]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    for r in cells:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)))


def _cell(value: object) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, list):
        return ",".join(map(str, value))
    return "" if value is None else str(value)
