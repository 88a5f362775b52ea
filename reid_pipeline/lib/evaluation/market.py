"""Market-1501 file names: ``<pid>_c<cam>s<seq>_<frame>_<idx>.jpg``; pid -1 is junk, 0000 a distractor."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

NAME = re.compile(r"^(-?\d+)_c(\d+)s(\d+)_(\d+)_(\d+)")
JUNK_PID = -1
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


@dataclass(frozen=True)
class ReidImage:
    path: Path
    pid: int
    camera: int


def parse_name(path: Path) -> ReidImage:
    match = NAME.match(path.name)
    if not match:
        raise ValueError(
            f"{path.name} is not a Market-1501 name (<pid>_c<cam>s<seq>_<frame>_<idx>.jpg); rename it or use --vectors"
        )
    return ReidImage(path, int(match.group(1)), int(match.group(2)))


def read_split(folder: Path) -> list[ReidImage]:
    """Every image of a Market-1501 folder, sorted by name; an empty or missing folder is an error."""
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder of Market-1501 images")
    images = [parse_name(p) for p in sorted(folder.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES]
    if not images:
        raise FileNotFoundError(f"{folder} holds no .jpg/.png images")
    return images
