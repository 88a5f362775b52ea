"""``eval tracking``: MOTA, MOTP, IDF1 and friends for MOTChallenge text files, computed by py-motmetrics.

The metric maths is py-motmetrics'; the only thing added here is the numpy 2 shim it needs
(``np.asfarray`` was removed in numpy 2.0 and motmetrics 1.4 still calls it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

METRICS = {
    "mota": "MOTA",
    "motp": "MOTP (1 - IoU)",
    "idf1": "IDF1",
    "idp": "IDP",
    "idr": "IDR",
    "recall": "recall",
    "precision": "precision",
    "num_switches": "ID switches",
    "num_false_positives": "false positives",
    "num_misses": "misses",
    "mostly_tracked": "mostly tracked",
    "mostly_lost": "mostly lost",
    "num_unique_objects": "ground-truth tracks",
}
COUNTS = {"num_switches", "num_false_positives", "num_misses", "mostly_tracked", "mostly_lost", "num_unique_objects"}


def _motmetrics() -> Any:
    if not hasattr(np, "asfarray"):
        np.asfarray = lambda a, dtype=np.float64: np.asarray(a, dtype=dtype)  # type: ignore[attr-defined]
    import motmetrics

    return motmetrics


def _load(path: Path, role: str) -> Any:
    if not path.is_file():
        raise FileNotFoundError(f"{role} file {path} does not exist (MOTChallenge text: frame,id,x,y,w,h,conf,...)")
    mm = _motmetrics()
    try:
        return mm.io.loadtxt(str(path), fmt="mot15-2D", min_confidence=1 if role == "ground truth" else -1)
    except Exception as exc:
        raise ValueError(f"{path} is not a MOTChallenge text file ({exc}): expected frame,id,x,y,w,h,conf,...") from exc


def evaluate_tracking(gt: Path, pred: Path, iou_threshold: float = 0.5) -> dict[str, float | int]:
    """Metrics of ``pred`` against ``gt``; boxes match when their IoU is at least ``iou_threshold``."""
    mm = _motmetrics()
    truth, hypotheses = _load(gt, "ground truth"), _load(pred, "prediction")
    accumulator = mm.utils.compare_to_groundtruth(truth, hypotheses, "iou", distth=1.0 - iou_threshold)
    summary = mm.metrics.create().compute(accumulator, metrics=list(METRICS), name="sequence")
    row = summary.loc["sequence"]
    return {name: (int(row[name]) if name in COUNTS else round(float(row[name]), 4)) for name in METRICS}
