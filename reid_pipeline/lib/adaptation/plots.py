"""The adapter's training loss as markdown for the Dagster UI: a small PNG plot and the numbers beside it."""

from __future__ import annotations

import base64
import io


def loss_markdown(losses: list[float]) -> str:
    """The training loss per epoch as a small PNG inside markdown (epoch 0: before training)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(4.5, 2.8), dpi=100)
    axes.plot(range(len(losses)), losses, marker=".")
    axes.set(xlabel="epoch", ylabel="contrastive loss", title="site adapter training")
    axes.grid(alpha=0.3)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    encoded = base64.b64encode(buffer.getvalue()).decode()
    rows = "\n".join(f"| {i} | {loss:.4f} |" for i, loss in enumerate(losses))
    return f"![loss](data:image/png;base64,{encoded})\n\n| epoch | loss |\n|---|---|\n{rows}\n"
