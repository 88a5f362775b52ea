"""Shared fixtures: real footage (OpenCV's vtest.avi), synthetic clips, stills, and a tmp data root.

Model libraries are kept offline for the whole test session: nothing may be fetched.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

os.environ["YOLO_OFFLINE"] = "1"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["DAGSTER_DISABLE_TELEMETRY"] = "1"

from reid_pipeline.lib.footage.demo import VTEST_PATH, DemoClip, write_clip
from reid_pipeline.lib.runtime.offline import configure_model_env
from reid_pipeline.settings import Settings, load_settings


@pytest.fixture(scope="session", autouse=True)
def _offline_models(tmp_path_factory: pytest.TempPathFactory) -> None:
    configure_model_env(tmp_path_factory.mktemp("model_config"), offline=True)


@pytest.fixture(scope="session")
def vtest() -> Path:
    if not VTEST_PATH.is_file():
        pytest.fail(f"{VTEST_PATH} missing: install Debian's opencv-doc (apt-get install -y opencv-doc)")
    return VTEST_PATH


@pytest.fixture(scope="session")
def vtest_clip(vtest: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six seconds of vtest.avi (several walkers) re-encoded as MP4."""
    path = tmp_path_factory.mktemp("clips") / "vtest_6s.mp4"
    write_clip(vtest, DemoClip("2024-05-01", "cam", 0.0, 6.0, datetime(2024, 5, 1, tzinfo=UTC), path), False, False)
    return path


def write_synthetic_clip(path: Path, seconds: float = 2.0, fps: int = 10, moving: bool = True) -> Path:
    """A clip with a bright block sliding across a textured background (or standing still)."""
    import av

    rng = np.random.default_rng(0)
    background = rng.integers(40, 80, size=(240, 320, 3), dtype=np.uint8)
    with av.open(str(path), "w") as writer:
        stream = writer.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for i in range(int(seconds * fps)):
            image = background.copy()
            x = 20 + (i * 8 if moving else 0)
            image[60:200, x : x + 60] = (200, 180, 160)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                writer.mux(packet)
        for packet in stream.encode():
            writer.mux(packet)
    return path


@pytest.fixture
def synthetic_clip(tmp_path: Path) -> Path:
    return write_synthetic_clip(tmp_path / "synthetic.mp4")


def write_still(path: Path, exif_time: str | None = None) -> Path:
    from PIL import Image

    image = Image.fromarray(np.full((120, 160, 3), 128, dtype=np.uint8))
    exif = Image.Exif()
    if exif_time:
        exif.get_ifd(0x8769)[0x9003] = exif_time
    image.save(path, exif=exif)
    return path


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Settings rooted in a tmp data folder; keyword sections override (e.g. detection={...}).

    Embedding defaults to the offline profile (packaged MobileNetV2 weights): tests never probe the network.
    """

    def build(**sections: dict[str, object]) -> Settings:
        base = load_settings()
        updates: dict[str, object] = {"storage": base.storage.model_copy(update={"data_root": str(tmp_path / "data")})}
        sections = {"embedding": {"profile": "offline", "offline": True}, **sections}
        for name, values in sections.items():
            updates[name] = getattr(base, name).model_copy(update=values)
        return base.model_copy(update=updates)

    return build


def place(raw_root: Path, day: str, camera: str, *files: Path, names: list[str] | None = None) -> Path:
    """Copy footage files into ``raw_root/day/camera/`` (optionally renamed)."""
    import shutil

    folder = raw_root / day / camera
    folder.mkdir(parents=True, exist_ok=True)
    for i, file in enumerate(files):
        shutil.copy(file, folder / (names[i] if names else file.name))
    return folder


@pytest.fixture(autouse=True)
def _restore_dagster_home() -> Iterator[None]:
    """The CLI points ``DAGSTER_HOME`` at a data root's instance for the rest of its process; tests are one
    process, so each test gets back the value it started with."""
    before = os.environ.get("DAGSTER_HOME")
    yield
    if before is None:
        os.environ.pop("DAGSTER_HOME", None)
    else:
        os.environ["DAGSTER_HOME"] = before


@pytest.fixture(scope="session")
def two_day_root(vtest: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished two-day run (see ``privacy_run``); tests that change it work on a copy."""
    from reid_pipeline_tests.privacy_run import make_footage, run_days, settings_for

    root = tmp_path_factory.mktemp("two_days") / "data"
    make_footage(root, vtest)
    run_days(settings_for(root))
    return root
