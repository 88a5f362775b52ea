"""PNG plots for evaluation reports: CMC curve (retrieval) and precision-recall over thresholds (clustering)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only: no display, no GUI toolkit
    import matplotlib.pyplot as plt

    return plt


def plot_cmc(cmc: Mapping[int, float], path: Path, title: str) -> Path:
    plt = _pyplot()
    ranks = sorted(cmc)
    figure, axes = plt.subplots(figsize=(5, 3.5), dpi=120)
    axes.plot(ranks, [cmc[r] for r in ranks], marker="o")
    axes.set(xlabel="rank", ylabel="matching rate", ylim=(0, 1.02), title=title)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return path


def plot_precision_recall(results: Sequence[Mapping[str, float | int]], path: Path, title: str) -> Path:
    """Pairwise precision against recall, one line per attribute weight, one point per threshold."""
    plt = _pyplot()
    by_weight: dict[float, list[Mapping[str, float | int]]] = defaultdict(list)
    for row in results:
        by_weight[float(row["attribute_weight"])].append(row)
    figure, axes = plt.subplots(figsize=(5, 4), dpi=120)
    for weight, rows in sorted(by_weight.items()):
        rows = sorted(rows, key=lambda r: float(r["match_threshold"]))
        axes.plot(
            [r["pairwise_recall"] for r in rows],
            [r["pairwise_precision"] for r in rows],
            marker=".",
            label=f"attribute weight {weight:g}",
        )
    axes.set(xlabel="pairwise recall", ylabel="pairwise precision", xlim=(0, 1.02), ylim=(0, 1.02), title=title)
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return path
