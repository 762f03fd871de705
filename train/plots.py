"""PNG figures the training commands write: loss curves and confusion matrices.

Follows the McCormick CoLA tutorial's "training loss per batch" plot and the usual
confusion-matrix heatmap, drawn with matplotlib's headless Agg backend so they work on a server
without a display. Each figure is written atomically (`tokenizer/atomic.py`), so a crash mid-save
never leaves a truncated PNG. Left out on purpose: interactive display, styling options,
seaborn; the figures are for a quick look, not for papers.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on servers and in CI; must come before pyplot's import
import matplotlib.pyplot as plt

from tokenizer.atomic import atomic_write


def save_figure(fig, path: str | os.PathLike, dpi: int = 100, **savefig_args) -> Path:
    """`fig.savefig(path)` as a PNG written atomically; the figure is closed after."""
    def write(tmp: Path) -> None:
        fig.savefig(tmp, format="png", dpi=dpi, **savefig_args)

    try:
        return atomic_write(path, write)
    finally:
        plt.close(fig)


def save_loss_curve(path: str | os.PathLike,
                    curves: dict[str, tuple[Sequence[float], Sequence[float]]],
                    xlabel: str = "step", ylabel: str = "loss", title: str = "") -> Path:
    """One line per entry of `curves`: name -> (x values, y values). Curves may have different
    x grids (per-batch loss beside per-epoch validation loss, say), so each keeps its own x."""
    if not curves:
        raise ValueError("save_loss_curve: `curves` is empty; nothing to plot")
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for name, (xs, ys) in curves.items():
        xs, ys = list(xs), list(ys)
        if len(xs) != len(ys):
            plt.close(fig)
            raise ValueError(f"save_loss_curve: curve {name!r} has {len(xs)} x values "
                             f"but {len(ys)} y values")
        # a single point (one epoch) is invisible as a line; give it a marker
        ax.plot(xs, ys, label=name, marker="o" if len(xs) < 30 else None, linewidth=1.2)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    return save_figure(fig, path, bbox_inches="tight")


def save_confusion_matrix(path: str | os.PathLike, matrix, labels: Sequence[str],
                          title: str = "") -> Path:
    """Heatmap of `matrix[true][predicted]` with the count written in every cell."""
    rows = [[int(v) for v in row] for row in (matrix.tolist() if hasattr(matrix, "tolist")
                                                else matrix)]
    n = len(labels)
    if len(rows) != n or any(len(r) != n for r in rows):
        raise ValueError(
            f"save_confusion_matrix: matrix must be {n}x{n} for labels {list(labels)}, "
            f"got {len(rows)} rows of lengths {[len(r) for r in rows]}"
        )
    fig, ax = plt.subplots(figsize=(1.2 * n + 2.5, 1.2 * n + 2))
    image = ax.imshow(rows, cmap="Blues")
    fig.colorbar(image, ax=ax, shrink=0.8)  # shorter than the axes: its top tick clears the title
    top = max((v for r in rows for v in r), default=0)
    for i in range(n):
        for j in range(n):
            # dark text on light cells, light text on dark ones
            color = "white" if top and rows[i][j] > top / 2 else "black"
            ax.text(j, i, str(rows[i][j]), ha="center", va="center", color=color)
    ax.set_xticks(range(n), [str(x) for x in labels])
    ax.set_yticks(range(n), [str(x) for x in labels])
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if title:
        ax.set_title(title)
    return save_figure(fig, path, bbox_inches="tight")
