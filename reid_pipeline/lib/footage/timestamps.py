"""Where a file's start time comes from: container metadata, EXIF, the file name, or its mtime.

Accepted file-name patterns (anywhere in the name; the first match wins):

- date and time: ``2024-05-01T08-30-00``, ``2024-05-01_08:30:00``, ``20240501_083000``,
  ``20240501-083000``, ``cam3_20240501T083000Z.mp4``, ``2024-05-01 08.30.00.mov``
- time only, as the whole name, dated by the day folder it sits in: ``083000.mp4``,
  ``08-30-00.avi``, ``08_30_00.mkv``

Times without a zone are read in the configured camera time zone; everything stored is UTC.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, tzinfo
from enum import StrEnum
from pathlib import Path
from zoneinfo import ZoneInfo

_DATE_TIME = re.compile(
    r"(?<!\d)(?P<y>(?:19|20)\d{2})-?(?P<mo>[01]\d)-?(?P<d>[0-3]\d)[T_ -]?"
    r"(?P<h>[0-2]\d)[-:._]?(?P<mi>[0-5]\d)[-:._]?(?P<s>[0-5]\d)(?P<z>Z)?(?!\d)"
)
_TIME_ONLY = re.compile(r"^(?P<h>[0-2]\d)[-:._]?(?P<mi>[0-5]\d)[-:._]?(?P<s>[0-5]\d)$")

EXIF_IFD = 0x8769
EXIF_DATETIME_ORIGINAL = 0x9003
EXIF_DATETIME = 0x0132


class TimeSource(StrEnum):
    """Where a recorded start time came from, strongest evidence first."""

    CONTAINER = "container"
    EXIF = "exif"
    FILENAME = "filename"
    MTIME = "mtime"


def camera_zone(name: str) -> tzinfo:
    """The time zone named in settings, with an error that says how to fix a bad name."""
    if name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}: use an IANA name such as 'Europe/Berlin' or 'UTC'") from exc


def _aware(moment: datetime, zone: tzinfo) -> datetime:
    local = moment if moment.tzinfo else moment.replace(tzinfo=zone)
    return local.astimezone(UTC)


def time_from_filename(path: Path, day: date, zone: tzinfo) -> datetime | None:
    """Start time encoded in the file name (see the module docstring), in UTC, or None."""
    stem = path.stem
    match = _DATE_TIME.search(stem)
    if match:
        parts = {k: int(v) for k, v in match.groupdict().items() if k != "z" and v is not None}
        try:
            moment = datetime(parts["y"], parts["mo"], parts["d"], parts["h"], parts["mi"], parts["s"])
        except ValueError:
            return None
        return _aware(moment.replace(tzinfo=UTC) if match.group("z") else moment, zone)
    match = _TIME_ONLY.match(stem)
    if match:
        try:
            clock = time(int(match["h"]), int(match["mi"]), int(match["s"]))
        except ValueError:
            return None
        return _aware(datetime.combine(day, clock), zone)
    return None


def parse_exif_datetime(raw: str | bytes | None, zone: tzinfo) -> datetime | None:
    """Parse EXIF's ``YYYY:MM:DD HH:MM:SS`` (camera local time) into UTC, or None."""
    if not raw:
        return None
    text = raw.decode(errors="ignore") if isinstance(raw, bytes) else raw
    try:
        return _aware(datetime.strptime(text.strip("\x00 ").strip(), "%Y:%m:%d %H:%M:%S"), zone)
    except ValueError:
        return None


def parse_container_time(raw: str | None) -> datetime | None:
    """Parse a container ``creation_time`` tag (ISO 8601, UTC when unmarked), or None."""
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    # Cameras without a clock write the epoch or 1904 (the QuickTime zero); that is no evidence.
    if moment.year < 1990:
        return None
    return _aware(moment, UTC)


def mtime_of(path: Path) -> datetime:
    """The file's modification time in UTC: the weakest evidence, used only when nothing else exists."""
    return datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
