"""Figure of draws per accepted candidate from ``analysis/generator_yield.py`` JSON.

Usage::

    .venv/bin/python analysis/generator_yield_plot.py runs/gen15/yield-all.json yield.png
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

CONDITIONING = {"none": "no length input\n(paper)", "prompt": "length token\nin prompt",
                "countdown": "remaining-length\nembedding"}
LABELS = {"eval": "eval", "eval-top40": "eval, top-k 40", "dropout-top40": "dropout, top-k 40",
          "budget": "budget, dropout", "budget-eval": "budget, eval",
          "dropout-stable": "dropout + screen", "budget-stable": "budget + screen"}


def main(source: Path, out: Path) -> None:
    rows = json.loads(source.read_text())
    settings = [s for s in LABELS if any(y["setting"] == s for r in rows for y in r["yield"])]
    fig, ax = plt.subplots(figsize=(11.5, 4.5))
    width = 0.8 / len(settings)
    names = []
    for i, row in enumerate(rows):
        names.append(f"{CONDITIONING[row['length_conditioning']]}\n"
                     f"PEO x{sum(row['extra_copies'].values())}")
        by = {y["setting"]: y for y in row["yield"]}
        for j, setting in enumerate(settings):
            y = by[setting]
            # no candidate at all: plot the cap, hatched
            value = y["draws_per_candidate"] or y["draws"]
            bar = ax.bar(i + (j - (len(settings) - 1) / 2) * width, value, width,
                         color=plt.cm.tab10(j), label=LABELS[setting] if i == 0 else None)
            if not y["reached"]:
                bar[0].set_hatch("//")
    ax.axhline(400, color="k", ls="--", lw=1)
    ax.text(-0.45, 430, "goal: 50 in 20,000 draws", ha="left", fontsize=8, zorder=5,
            bbox={"facecolor": "white", "edgecolor": "none", "pad": 1})
    ax.set_yscale("log")
    ax.set_xticks(np.arange(len(rows)), names)
    ax.set_ylabel("draws per accepted candidate")
    ax.set_title("Yield at T = 1.0, prompt 11111, <= 10 tokens (hatched: 50 not reached in "
                 "20,000 draws)", fontsize=10)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1), title="sampling")
    fig.tight_layout()
    fig.savefig(out, dpi=120)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
