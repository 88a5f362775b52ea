"""The daily report files under ``<data_root>/reports/``: written, rewritten without pictures, or removed.

The report asset, retention and erasure all go through here, so a page is always rebuilt from the
identity tables as they are: what those tables no longer hold, no page holds either.
"""

from __future__ import annotations

import dataclasses

import pyarrow.fs as pafs

from reid_pipeline.lib.identity.store import IdentityStore
from reid_pipeline.lib.review.report_data import DayReport, gather
from reid_pipeline.lib.review.report_html import render
from reid_pipeline.lib.storage.parquet import filesystem_for

IMAGE_MARK = "data:image/jpeg;base64,"


def report_path(data_root: str, date: str) -> str:
    """Where the day's report goes: ``<data_root>/reports/<date>.html`` (a path or object-store key)."""
    _fs, base = filesystem_for(data_root)
    return f"{base}/reports/{date}.html"


def tracklet_day(tracklet_id: str) -> str:
    """The day a tracklet was seen: its id begins with it (``<date>/<camera>/<track>``)."""
    return tracklet_id.split("/", 1)[0]


def drop_old_pictures(report: DayReport, oldest: str) -> int:
    """Leave out every picture of a day before ``oldest`` (text, times and decisions stay); returns how many.

    The page of a recent day can still show an older day's picture: a review pair across days.
    """
    dropped = 0
    if report.date < oldest:
        for entity in report.entities:
            dropped += bool(entity.timeline["thumbnail"]) + sum(bool(s.thumbnail) for s in entity.sightings)
            entity.timeline = {**entity.timeline, "thumbnail": b""}
            entity.sightings = [dataclasses.replace(s, thumbnail=b"") for s in entity.sightings]
    pairs = []
    for pair in report.review:
        a_old, b_old = tracklet_day(pair.a_tracklet) < oldest, tracklet_day(pair.b_tracklet) < oldest
        dropped += (a_old and bool(pair.a_thumbnail)) + (b_old and bool(pair.b_thumbnail))
        pairs.append(
            dataclasses.replace(
                pair,
                a_thumbnail=b"" if a_old else pair.a_thumbnail,
                b_thumbnail=b"" if b_old else pair.b_thumbnail,
            )
        )
    report.review = pairs
    return dropped


def write_report(store: IdentityStore, data_root: str, date: str, oldest_with_images: str = "") -> DayReport | None:
    """Write the day's page from the identity tables, without pictures of days before ``oldest_with_images``;
    remove the page when the day has no entity left.

    Returns what the page shows, or None when it was removed (or never written).
    """
    fs, _base = filesystem_for(data_root)
    path = report_path(data_root, date)
    report = gather(store, date)
    if not report.entities:
        if fs.get_file_info(path).type == pafs.FileType.File:
            fs.delete_file(path)
        return None
    drop_old_pictures(report, oldest_with_images)
    fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
    with fs.open_output_stream(path) as out:
        out.write(render(report).encode())
    return report


def old_pictures_in_report(store: IdentityStore, data_root: str, date: str, oldest: str) -> int:
    """How many pictures of days before ``oldest`` the day's page would show if written now (0: no page)."""
    fs, _base = filesystem_for(data_root)
    if fs.get_file_info(report_path(data_root, date)).type != pafs.FileType.File:
        return 0
    if date < oldest:
        return images_in_report(data_root, date)
    return drop_old_pictures(gather(store, date), oldest)


def report_dates(data_root: str) -> list[str]:
    """Days that have a report file."""
    fs, base = filesystem_for(data_root)
    selector = pafs.FileSelector(f"{base}/reports", allow_not_found=True)
    return sorted(
        info.base_name.removesuffix(".html")
        for info in fs.get_file_info(selector)
        if info.type == pafs.FileType.File and info.base_name.endswith(".html")
    )


def images_in_report(data_root: str, date: str) -> int:
    """How many pictures the day's page embeds (0 when there is no page)."""
    fs, _base = filesystem_for(data_root)
    path = report_path(data_root, date)
    if fs.get_file_info(path).type != pafs.FileType.File:
        return 0
    with fs.open_input_stream(path) as source:
        return source.read().decode(errors="replace").count(IMAGE_MARK)
