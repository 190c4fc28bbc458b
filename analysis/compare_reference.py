"""Compare polyhpc's analysis of the shared HTP-MD trajectory with the reference results.

Run: ``python analysis/compare_reference.py [TRAJECTORY_DIR]``; prints each
property, the reference value (expected.json / expected-excerpt.json), polyhpc's
value and the relative difference.
"""

import json
import os
import sys
from pathlib import Path

import numpy as np

from polyhpc.analysis.pipeline import analyze_path


def main() -> None:
    default = Path(os.environ.get("POLYHPC_DATA", "../shared/data")) / "trajectories" / \
        "htpmd-9-0-246295613-0"
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else default
    expected = json.loads((folder / "expected.json").read_text())
    excerpt = json.loads((folder / "expected-excerpt.json").read_text())
    result = analyze_path(folder)
    rows = [(key, expected[key]) for key in ("li_diffusivity", "tfsi_diffusivity",
                                             "poly_diffusivity", "molality", "conductivity_ne",
                                             "transference_number_ne")]
    rows += [(f"{key} (excerpt)", excerpt[key]) for key in ("conductivity",
                                                            "transference_number")]
    print(f"{'property':<32}{'reference':>16}{'polyhpc':>16}{'rel. diff':>12}")
    for name, reference in rows:
        ours = getattr(result, name.split()[0])
        print(f"{name:<32}{reference:>16.9g}{ours:>16.9g}{ours / reference - 1:>12.2e}")
    population = np.loadtxt(folder / "population.txt")
    print(f"population matrix max |diff| vs population.txt: "
          f"{np.abs(result.population[:50, :50] - population).max():.3g}")


if __name__ == "__main__":
    main()
