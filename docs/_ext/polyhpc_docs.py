"""Sphinx helpers of the polyhpc docs: command help as it is, and optional API entries.

``.. polyhpc-help:: analyze`` inserts the output of ``polyhpc analyze --help``
(run through click's test runner at build time), so the pages never drift from
the command line. ``.. polyhpc-autofunction:: polyhpc.campaign.ledger_frames``
documents a function when the installed polyhpc has it, and otherwise says
that this version does not (instead of failing the strict build).
"""

from __future__ import annotations

import importlib

from docutils import nodes
from docutils.parsers.rst import Directive
from docutils.statemachine import StringList


class PolyhpcHelp(Directive):
    """The ``--help`` text of a polyhpc command as a literal block."""

    required_arguments = 0
    optional_arguments = 8
    has_content = False

    def run(self):
        """Invoke ``polyhpc ARGS --help`` and return its output."""
        from click.testing import CliRunner

        from polyhpc.cli import main

        words = list(self.arguments)
        result = CliRunner().invoke(main, [*words, "--help"], prog_name="polyhpc",
                                    terminal_width=88)
        if result.exit_code != 0:
            raise self.error(f"polyhpc {' '.join(words)} --help exited {result.exit_code}: "
                             f"{result.output.strip()[:200]}")
        text = result.output.rstrip()
        block = nodes.literal_block(text, text)
        block["language"] = "text"
        return [block]


class OptionalAutofunction(Directive):
    """``autofunction`` when the function exists in this polyhpc, else a short note."""

    required_arguments = 1
    has_content = False

    def run(self):
        """Parse an ``autofunction`` directive, or a note when the name is missing."""
        dotted = self.arguments[0]
        module_name, _, name = dotted.rpartition(".")
        try:
            present = hasattr(importlib.import_module(module_name), name)
        except ImportError:
            present = False
        if present:
            lines = [f".. autofunction:: {dotted}"]
        else:
            lines = [".. note::", "",
                     f"   ``{dotted}`` is not in this version of polyhpc yet."]
        node = nodes.section()
        node.document = self.state.document
        self.state.nested_parse(StringList(lines, source="polyhpc_docs"), self.content_offset,
                                node)
        return node.children


def setup(app):
    """Register the directives."""
    app.add_directive("polyhpc-help", PolyhpcHelp)
    app.add_directive("polyhpc-autofunction", OptionalAutofunction)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
