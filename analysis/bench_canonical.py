"""Benchmark: validate and canonicalize every HTP-MD training repeat unit.

Run: ``python analysis/bench_canonical.py [--json]``. Reports the validity
count, distinct canonical identities and wall time (issue: under 30 s on 2 cores).
"""

import argparse
import json
import time

from polyhpc.chem import canonical_repeat_unit, check_repeat_unit
from polyhpc.data import load_htpmd_train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    units = load_htpmd_train()["smiles"].tolist()
    start = time.perf_counter()
    checks = [check_repeat_unit(unit) for unit in units]
    invalid = [(c.smiles, c.reason) for c in checks if not c.valid]
    keys = [canonical_repeat_unit(c.smiles) for c in checks if c.valid]
    elapsed = time.perf_counter() - start
    report = {
        "n_units": len(units),
        "n_valid": len(keys),
        "invalid": invalid,
        "n_distinct_canonical": len(set(keys)),
        "wall_s": round(elapsed, 2),
        "units_per_s": round(len(units) / elapsed, 1),
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for key, value in report.items():
            print(f"{key:>22}: {value}")


if __name__ == "__main__":
    main()
