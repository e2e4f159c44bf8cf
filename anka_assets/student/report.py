"""Loss curves and tables for the Dagster UI: a PNG inlined in markdown, and a step/loss table."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

from anka_assets.metadata import md_table


def loss_curve_png(curve: Sequence[dict[str, float]], title: str, validation_loss: float | None = None) -> bytes:
    """A small line chart of training loss per step (matplotlib, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3), dpi=80)
    ax.plot([p["step"] for p in curve], [p["loss"] for p in curve], marker=".", label="train loss")
    if validation_loss is not None and curve:
        ax.axhline(validation_loss, color="tab:orange", linestyle="--", label=f"validation {validation_loss:.3f}")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def loss_curve_markdown(curve: Sequence[dict[str, float]], title: str, validation_loss: float | None = None) -> str:
    if not curve:
        return "_(no loss logged)_"
    data = base64.b64encode(loss_curve_png(curve, title, validation_loss)).decode("ascii")
    first, last = curve[0]["loss"], curve[-1]["loss"]
    return (f"![loss curve](data:image/png;base64,{data})\n\n"
            f"Train loss {first:.4f} → {last:.4f} over {len(curve)} logged steps.")


def loss_table_markdown(curve: Sequence[dict[str, float]], max_rows: int = 40) -> str:
    """Step/loss rows (evenly thinned to max_rows, first and last kept)."""
    if not curve:
        return "_(no loss logged)_"
    stride = max(1, -(-len(curve) // max_rows))
    rows = list(curve[::stride])
    if rows[-1] is not curve[-1]:
        rows.append(curve[-1])
    return md_table([(int(p["step"]), f"{p['loss']:.4f}") for p in rows], ["step", "loss"])
