"""Erasure as a Dagster job: launched from the UI (or by ``reid-pipeline entities forget``), so every
erasure is a run with its config, logs and counts on record."""

import dagster as dg

from reid_pipeline.defs.resources import IdentityResource, StorageResource
from reid_pipeline.lib.privacy.audit import record
from reid_pipeline.lib.privacy.erasure import erase, find_erasure


class ForgetConfig(dg.Config):
    entity: str  # entity id (E...) or one of its tracklet ids
    reason: str = ""  # why (kept in privacy_audit)
    author: str = ""  # who asked or decided (kept in privacy_audit)
    apply: bool = False  # False: only say what would go
    delete_footage: bool = False  # also delete the raw files that show the entity


def footage_lines(summary: dict[str, object]) -> list[str]:
    hits = summary["footage"]
    assert isinstance(hits, list)
    return [f"{h['path']} ({h['camera_id']}): {h['first_seen']} - {h['last_seen']}" for h in hits]


@dg.op(
    description="Erases one entity everywhere (or, without apply, says what would go), keeps a tombstone.",
    out=dg.Out(io_manager_key="run_memory"),  # a summary, not a table: it stays in the run
)
def forget_entity(
    context: dg.OpExecutionContext, config: ForgetConfig, storage: StorageResource, identity: IdentityResource
) -> dg.Output[dict[str, object]]:
    store, parquet = identity.store(storage.data_root), storage.parquet()
    erasure = find_erasure(store, parquet, config.entity)
    removed: dict[str, int] = {}
    footage = [
        {"path": h.path, "camera_id": h.camera_id, "first_seen": str(h.first_seen), "last_seen": str(h.last_seen)}
        for h in erasure.footage
    ]
    if config.apply:
        removed = erase(erasure, store, parquet, storage.raw_folder if config.delete_footage else None)
        left = "deleted" if config.delete_footage else "left in place (the operator's; --delete-footage removes them)"
        record(
            store,
            "erasure",
            erasure.entity_id,
            removed,
            author=config.author or None,
            reason=config.reason or None,
            detail=f"{len(footage)} raw files {left}; days {', '.join(erasure.days)}",
        )
    summary: dict[str, object] = {
        "entity_id": erasure.entity_id,
        "applied": config.apply,
        "days": erasure.days,
        "tracklets": len(erasure.tracklets),
        "rows": removed if config.apply else erasure.counts,
        "reports_rewritten": erasure.report_days if config.apply else [],
        "footage": footage,
        "footage_deleted": config.apply and config.delete_footage,
    }
    for line in footage_lines(summary):
        context.log.info(f"raw footage showing {erasure.entity_id}: {line}")
    counts = summary["rows"]
    assert isinstance(counts, dict)
    return dg.Output(
        summary,
        metadata={
            "entity_id": erasure.entity_id,
            "applied": config.apply,
            "rows": dg.MetadataValue.json(counts),
            "days": ", ".join(erasure.days),
            "footage": dg.MetadataValue.md("\n".join(f"- {line}" for line in footage_lines(summary)) or "_none_"),
        },
    )


@dg.job(
    description="Right to erasure: removes one entity's crops, vectors, attributes, appearances, memberships, "
    "entity rows, timelines, sightings, review pairs and corrections, from every LanceDB version too; "
    "rewrites its reports; keeps a tombstone so re-runs do not bring it back; lists the raw footage showing it. "
    "Set apply: true to carry it out."
)
def forget_job() -> None:
    forget_entity()
