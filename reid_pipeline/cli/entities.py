"""``reid-pipeline entities ...`` and ``reid-pipeline search ...``: query and correct identities."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from reid_pipeline.cli.common import Wrap, emit, identity_store, json_default, rerun_identity_days, with_settings

if TYPE_CHECKING:
    from reid_pipeline.settings import Settings


LIST_COLUMNS = ("entity_id", "entity_type", "first_seen", "last_seen", "cameras", "n_appearances", "summary", "name")


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    from reid_pipeline.lib.identity.query import list_entities

    rows = list_entities(identity_store(settings), args.date, args.camera, args.type)
    emit(rows, args.json, (*LIST_COLUMNS, "needs_review", "watch"))
    return 0


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    from reid_pipeline.lib.identity.query import show_entity

    emit(show_entity(identity_store(settings), args.id), args.json, (*LIST_COLUMNS, "days", "tracklets"))
    return 0


def cmd_history(args: argparse.Namespace, settings: Settings) -> int:
    from reid_pipeline.lib.identity.query import entity_history

    rows = entity_history(identity_store(settings), args.id)
    emit(rows, args.json, ("date", "first_seen", "last_seen", "cameras", "n_appearances", "summary", "needs_review"))
    return 0


def cmd_correct(args: argparse.Namespace, settings: Settings) -> int:
    """merge / not-same / split / name / watch / unwatch: recorded in ``corrections``, applied on every run."""
    from reid_pipeline.lib.identity.corrections import correction
    from reid_pipeline.lib.identity.query import entity_days, resolve_entity
    from reid_pipeline.lib.privacy.audit import add_correction

    store = identity_store(settings)
    first = resolve_entity(store, args.id)
    kind = args.kind
    other = resolve_entity(store, args.other) if kind in ("merge", "not_same") else None
    row = correction(
        kind,
        first["anchor_tracklet_id"],
        tracklet_b=other["anchor_tracklet_id"] if other else None,
        tracklets=list(args.tracklets) if kind == "split" else None,
        value=args.name if kind == "name" else None,
        author=args.author,
        note=args.note,
    )
    add_correction(store, row)
    days = sorted(
        set(entity_days(store, first["entity_id"])) | set(entity_days(store, other["entity_id"]) if other else [])
    )
    result = {"correction_id": row["correction_id"], "kind": kind, "entity": first["entity_id"], "days": days}
    if args.apply:
        result["applied"] = rerun_identity_days(settings, days)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        applied = "applied" if result.get("applied") else "applied on the next run of those days (or use --apply)"
        print(f"recorded {kind} {first['entity_id']}{' ' + other['entity_id'] if other else ''}: {applied}")
    return 0


def cmd_forget(args: argparse.Namespace, settings: Settings) -> int:
    """Erase one entity everywhere through ``forget_job`` (a Dagster run on the data root's instance, so the
    erasure shows in the UI); without ``--apply``, only say what would go."""
    from reid_pipeline.definitions import build_definitions
    from reid_pipeline.defs.launch import dagster_instance

    config = {
        "entity": args.id,
        "reason": args.reason or "",
        "author": args.author or "",
        "apply": args.apply,
        "delete_footage": args.delete_footage,
    }
    result = (
        build_definitions(settings)
        .resolve_job_def("forget_job")
        .execute_in_process(
            run_config={"ops": {"forget_entity": {"config": config}}},
            instance=dagster_instance(settings.storage.data_root, settings.storage.local_dir),
            tags={"reid/trigger": "cli"},
        )
    )
    summary = result.output_for_node("forget_entity")
    if args.json:
        print(json.dumps(summary, indent=2, default=json_default))
        return 0
    verb = "erased" if args.apply else "would erase (use --apply)"
    print(f"{verb} {summary['entity_id']}: {summary['tracklets']} tracklets on {', '.join(summary['days'])}")
    for table, rows in sorted(summary["rows"].items()):
        print(f"  {table}: {rows} rows")
    footage = summary["footage"]
    state = "deleted" if summary["footage_deleted"] else "not touched (--delete-footage removes them)"
    print(f"raw footage showing it ({len(footage)} files, {state}):")
    for hit in footage:
        print(f"  {hit['path']} ({hit['camera_id']}): {hit['first_seen']} - {hit['last_seen']}")
    return 0


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    from reid_pipeline.lib.adaptation.site import adapt_query
    from reid_pipeline.lib.embedding.factory import build_embedder
    from reid_pipeline.lib.embedding.images import decode_jpeg
    from reid_pipeline.lib.identity.query import nearest_appearances
    from reid_pipeline.lib.runtime.offline import configure_model_env
    from reid_pipeline.lib.storage.parquet import local_folder

    spec = settings.embedding
    configure_model_env(
        local_folder(settings.storage.data_root, settings.storage.local_dir) / ".model_config",
        spec.offline or spec.profile == "offline",
    )
    embedder = build_embedder(spec, spec.profile)
    if args.text is not None:
        if embedder.text_encoder is None:
            raise ValueError(
                f"text search needs CLIP weights: the {embedder.backend} embedder ({embedder.model_name}) has no text "
                "side. Run the pipeline with the standard embedding profile on open_clip (weights present or "
                "downloadable), then search again."
            )
        vector = embedder.text_encoder.encode_text([args.text])[0]
        source = f"open_clip text ({embedder.model_name})"
    else:
        path = Path(args.image)
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist: pass an image file with --image")
        import torch

        image = decode_jpeg(path.read_bytes(), str(path))
        vector = embedder.forward(torch.stack([embedder.preprocess(image)]))[0]
        source = f"{embedder.backend}:{embedder.model_name}"
    store = identity_store(settings)
    # Stored vectors may be site-adapted: the query goes through the adapter that made them.
    folder = local_folder(settings.storage.data_root, settings.storage.local_dir) / "adaptation"
    stored = {a for ids in store.adapter_ids("appearances").values() for a in ids}
    vector = adapt_query(folder, stored, vector, text=args.text is not None)
    rows = nearest_appearances(store, vector, args.top, source)
    emit(rows, args.json, ("entity_id", "similarity", "tracklet_id", "date", "camera_id", "start_time", "summary"))
    return 0


def add_parsers(
    sub: argparse._SubParsersAction,
    common: argparse.ArgumentParser,
    run: Wrap = with_settings,
) -> None:
    """Register ``entities`` and ``search``; ``run(handler)`` wraps a handler with settings loading."""
    out = argparse.ArgumentParser(add_help=False)
    out.add_argument("--json", action="store_true", help="print JSON instead of a table")
    entities = sub.add_parser("entities", help="list, inspect and correct identities")
    verbs = entities.add_subparsers(dest="verb", required=True)

    listing = verbs.add_parser("list", parents=[common, out], help="entities (of a day, a camera, a type)")
    listing.add_argument("--date", help="only this day (YYYY-MM-DD): its timelines")
    listing.add_argument("--camera", help="only entities seen on this camera")
    listing.add_argument("--type", choices=["person", "vehicle", "animal"], help="only this entity type")
    listing.set_defaults(func=run(cmd_list))
    for verb, handler, text in (
        ("show", cmd_show, "one entity: summary, days, cameras, tracklets"),
        ("history", cmd_history, "one entity's timeline, day by day"),
    ):
        parser = verbs.add_parser(verb, parents=[common, out], help=text)
        parser.add_argument("id", help="entity id (E...) or one of its tracklet ids")
        parser.set_defaults(func=run(handler))

    _add_correction_parsers(verbs, [common, out], run)

    forget = verbs.add_parser(
        "forget", parents=[common, out], help="erase an entity everywhere (right to erasure); keeps a tombstone"
    )
    forget.add_argument("id", help="entity id (E...) or one of its tracklet ids")
    forget.add_argument("--apply", action="store_true", help="carry it out (without: only say what would go)")
    forget.add_argument("--reason", help="why (kept in the privacy_audit table)")
    forget.add_argument("--author", help="who asked or decided (kept in the privacy_audit table)")
    forget.add_argument("--delete-footage", action="store_true", help="also delete the raw files that show it")
    forget.set_defaults(func=run(cmd_forget))

    search = sub.add_parser("search", parents=[common, out], help="appearances most like an image or a text")
    what = search.add_mutually_exclusive_group(required=True)
    what.add_argument("--image", help="an image file (a crop of the person, vehicle or animal)")
    what.add_argument("--text", help='a description, e.g. "red jacket" (needs open_clip weights)')
    search.add_argument("--top", type=int, default=10, help="how many appearances (default 10)")
    search.set_defaults(func=run(cmd_search))


def _add_correction_parsers(
    verbs: argparse._SubParsersAction, parents: list[argparse.ArgumentParser], run: Wrap
) -> None:
    """merge, not-same, split, name, watch, unwatch: corrections recorded and applied on every run."""
    correcting = argparse.ArgumentParser(add_help=False)
    correcting.add_argument("--author", help="who made the correction (kept with it)")
    correcting.add_argument("--note", help="why (kept with it)")
    correcting.add_argument("--apply", action="store_true", help="re-run the affected days' identity job now")
    for verb, kind, text in (
        ("merge", "merge", "the two are one entity"),
        ("not-same", "not_same", "the two are different entities, whatever the scores say"),
    ):
        parser = verbs.add_parser(verb, parents=[*parents, correcting], help=text)
        parser.add_argument("id")
        parser.add_argument("other")
        parser.set_defaults(func=run(cmd_correct), kind=kind)
    split = verbs.add_parser("split", parents=[*parents, correcting], help="move tracklets out of an entity")
    split.add_argument("id")
    split.add_argument("tracklets", nargs="+", help="tracklet ids that are someone else")
    split.set_defaults(func=run(cmd_correct), kind="split")
    name = verbs.add_parser("name", parents=[*parents, correcting], help="give an entity a name")
    name.add_argument("id")
    name.add_argument("name")
    name.set_defaults(func=run(cmd_correct), kind="name")
    for verb in ("watch", "unwatch"):
        parser = verbs.add_parser(verb, parents=[*parents, correcting], help=f"{verb} an entity (watch list)")
        parser.add_argument("id")
        parser.set_defaults(func=run(cmd_correct), kind=verb)
