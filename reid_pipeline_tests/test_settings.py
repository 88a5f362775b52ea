from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from reid_pipeline.settings import load_settings


def test_defaults() -> None:
    settings = load_settings()
    assert settings.storage.data_root == "data"
    assert settings.footage.sample_fps == 2.0
    assert settings.detection.profile == "auto"
    assert settings.crops.best_k == 5


def test_env_overrides_settings_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    file = tmp_path / "custom.toml"
    file.write_text('[footage]\nsample_fps = 4.0\n[detection]\nprofile = "standard"\n')
    monkeypatch.setenv("REID_SETTINGS", str(file))
    monkeypatch.setenv("REID_DETECTION__PROFILE", "offline")
    settings = load_settings()
    assert settings.footage.sample_fps == 4.0
    assert settings.detection.profile == "offline"


def test_settings_file_in_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "reid_pipeline.toml").write_text('[storage]\ndata_root = "/srv/footage"\n')
    monkeypatch.chdir(tmp_path)
    assert load_settings().storage.data_root == "/srv/footage"


def test_named_settings_file_must_exist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REID_SETTINGS", str(tmp_path / "nope.toml"))
    with pytest.raises(FileNotFoundError, match=r"nope\.toml"):
        load_settings()


@pytest.mark.parametrize(
    ("toml", "field"),
    [
        ("[footage]\nsample_fps = -1\n", "sample_fps"),
        ('[detection]\nprofile = "fastest"\n', "profile"),
        ("[crops]\nbest_kk = 3\n", "best_kk"),
    ],
)
def test_wrong_config_names_the_field(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, toml: str, field: str) -> None:
    file = tmp_path / "bad.toml"
    file.write_text(toml)
    monkeypatch.setenv("REID_SETTINGS", str(file))
    with pytest.raises(ValidationError, match=field):
        load_settings()
