"""Account for every file of a camera-day after detection: one outcome row per manifest row.

The manifest says which files could be read; detection may still fail a file (a crash contained
in its worker process) or find nothing it could use (every frame smaller than the detector
takes). The outcome joins both, so "where did my file go?" has one answer per file.
"""

from __future__ import annotations

import pyarrow as pa

from reid_pipeline.lib.detection.contained import FileReport
from reid_pipeline.lib.storage.schemas import Row

OK, ERROR, SKIPPED = "ok", "error", "skipped"


def file_outcomes(manifest: list[Row], detections: pa.Table, reports: dict[str, FileReport]) -> list[Row]:
    """Outcome rows (schema ``FOOTAGE_OUTCOMES``) in manifest order, ``detections`` counted per file."""
    counted = detections.group_by("file_id").aggregate([("tracklet_id", "count"), ("tracklet_id", "count_distinct")])
    ids = counted.column("file_id").to_pylist()
    boxes = dict(zip(ids, counted.column("tracklet_id_count").to_pylist(), strict=True))
    tracks = dict(zip(ids, counted.column("tracklet_id_count_distinct").to_pylist(), strict=True))
    rows = []
    for entry in manifest:
        file_id, path = str(entry["file_id"]), str(entry["path"])
        status = str(entry.get("status") or (OK if entry["error"] is None else ERROR))
        reason = entry["error"]
        report = reports.get(path) if status == OK else None
        stats = report.stats if report is not None else None
        if report is not None and report.error is not None:
            status, reason = ERROR, report.error
        elif stats is not None:
            notes = "; ".join(stats.errors) or None
            if stats.too_small and not stats.detected:
                status = SKIPPED  # nothing in the file was large enough for the detector
            reason = notes
        rows.append(
            {
                "file_id": file_id,
                "date": entry["date"],
                "camera_id": entry["camera_id"],
                "path": path,
                "kind": entry["kind"],
                "status": status,
                "reason": reason,
                "frames_decoded": stats.decoded if stats else 0,
                "frames_sampled": stats.sampled if stats else 0,
                "frames_motion_skipped": stats.motion_skipped if stats else 0,
                "frames_too_small": stats.too_small if stats else 0,
                "frames_detected": stats.detected if stats else 0,
                "detections": boxes.get(file_id, 0) if status == OK else 0,
                "tracklets": tracks.get(file_id, 0) if status == OK else 0,
            }
        )
    return rows
