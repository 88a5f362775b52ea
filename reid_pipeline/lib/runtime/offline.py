"""Keep model libraries off the network and out of the user's home directory.

ultralytics probes DNS at import, syncs settings, fetches fonts and may pip-install missing
requirements; Hugging Face libraries retry their hub for a long time. ``configure_model_env`` is
called once before any of them is imported.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path


def configure_model_env(config_dir: Path, offline: bool) -> None:
    """Point ultralytics at our own config folder and, when ``offline``, forbid every fetch.

    Values the user already set in the environment win: they know their machine.
    """
    config_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("YOLO_CONFIG_DIR", str(config_dir))
    # Never pip-install in the middle of a run, online or not.
    os.environ.setdefault("YOLO_AUTOINSTALL", "false")
    os.environ.setdefault("ULTRALYTICS_SKIP_REQUIREMENTS_CHECKS", "1")
    os.environ.setdefault("YOLO_VERBOSE", "false")
    if offline:
        os.environ.setdefault("YOLO_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def can_reach(host: str, port: int = 443, timeout_s: float = 2.0) -> bool:
    """Whether a TCP connection to ``host`` opens within ``timeout_s`` (a closed network answers fast)."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False
