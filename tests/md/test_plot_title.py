"""`md plot` titles show the repeat unit as a person reads it: ``*CCO*``, not ``[Cu]CCO[Au]``."""

import json

import matplotlib
from click.testing import CliRunner

from polyhpc.cli import main

# LAMMPS' thermo block of a short production run (header line, rows, "Loop time")
PRODUCTION_LOG = """LAMMPS (29 Aug 2024)
Step Temp Press v_sysdensity
0 353.0 1.0 1.10
100 352.0 -20.0 1.11
200 354.0 15.0 1.12
Loop time of 1.0 on 1 procs for 200 steps with 7075 atoms
"""


def test_md_plot_titles_the_unit_with_star_ends(tmp_path, monkeypatch):
    (tmp_path / "production.log").write_text(PRODUCTION_LOG)
    # md build records the unit with HTP-MD's [Cu]/[Au] ends
    (tmp_path / "meta.json").write_text(json.dumps({"mol_smiles": "[Cu]CCO[Au]",
                                                    "force_field": "PCFF (pcff.frc)"}))
    monkeypatch.setitem(matplotlib.rcParams, "svg.fonttype", "none")  # text stays text
    result = CliRunner().invoke(main, ["md", "plot", str(tmp_path), "--profile", "smoke",
                                       "--out", str(tmp_path / "eq.svg")])
    assert result.exit_code == 0, result.output
    svg = (tmp_path / "eq.svg").read_text()
    assert "*CCO*, PCFF (pcff.frc)" in svg
    assert "[Cu]" not in svg and "[Au]" not in svg
