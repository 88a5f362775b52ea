from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from reid_pipeline.lib.footage.timestamps import (
    camera_zone,
    parse_container_time,
    parse_exif_datetime,
    time_from_filename,
)

DAY = date(2024, 5, 1)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("2024-05-01T08-30-00.mp4", datetime(2024, 5, 1, 8, 30, 0, tzinfo=UTC)),
        ("2024-05-01_08:30:15.avi", datetime(2024, 5, 1, 8, 30, 15, tzinfo=UTC)),
        ("20240501_083000.mkv", datetime(2024, 5, 1, 8, 30, tzinfo=UTC)),
        ("cam3_20240501-231500Z.mp4", datetime(2024, 5, 1, 23, 15, tzinfo=UTC)),
        ("2024-05-01 08.30.00.mov", datetime(2024, 5, 1, 8, 30, tzinfo=UTC)),
        ("083000.mp4", datetime(2024, 5, 1, 8, 30, tzinfo=UTC)),
        ("08-30-00.avi", datetime(2024, 5, 1, 8, 30, tzinfo=UTC)),
        ("IMG_0001.JPG", None),
        ("clip01.mp4", None),
        ("2024-13-45T08-30-00.mp4", None),  # not a real date
        ("99-99-99.mp4", None),
    ],
)
def test_time_from_filename(name: str, expected: datetime | None) -> None:
    assert time_from_filename(Path(name), DAY, UTC) == expected


def test_filename_time_is_read_in_camera_zone() -> None:
    berlin = camera_zone("Europe/Berlin")
    assert time_from_filename(Path("20240501_083000.mp4"), DAY, berlin) == datetime(2024, 5, 1, 6, 30, tzinfo=UTC)
    # An explicit Z means UTC whatever the camera zone.
    assert time_from_filename(Path("20240501T083000Z.mp4"), DAY, berlin) == datetime(2024, 5, 1, 8, 30, tzinfo=UTC)


def test_unknown_zone_says_how_to_fix() -> None:
    with pytest.raises(ValueError, match="IANA"):
        camera_zone("Mars/Olympus")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024:05:01 08:30:00", datetime(2024, 5, 1, 8, 30, tzinfo=UTC)),
        (b"2024:05:01 08:30:00\x00", datetime(2024, 5, 1, 8, 30, tzinfo=UTC)),
        ("0000:00:00 00:00:00", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_exif_datetime(raw: str | bytes | None, expected: datetime | None) -> None:
    assert parse_exif_datetime(raw, UTC) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-05-01T08:30:00.000000Z", datetime(2024, 5, 1, 8, 30, tzinfo=UTC)),
        ("2024-05-01T10:30:00+02:00", datetime(2024, 5, 1, 8, 30, tzinfo=UTC)),
        ("1970-01-01T00:00:00Z", None),  # camera without a clock
        ("1904-01-01T00:00:00Z", None),
        ("yesterday", None),
    ],
)
def test_parse_container_time(raw: str, expected: datetime | None) -> None:
    assert parse_container_time(raw) == expected
