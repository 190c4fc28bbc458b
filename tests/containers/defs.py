"""A small reader of Apptainer definition files, for the checks spython's parser cannot do.

spython keeps header, %post, %environment (exports only), %runscript, %labels and %files,
but folds %arguments, %help and every %app* section into comments
(spython/main/parse/parsers/singularity.py). This reader keeps every section of every
stage as raw lines, so the tests can check them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONTAINERS = ROOT / "containers"
DEFS = {"gpu": CONTAINERS / "polyhpc-gpu.def", "cpu": CONTAINERS / "polyhpc-cpu.def"}

_HEADER = re.compile(r"^(Bootstrap|From|Stage):\s*(\S+)\s*$")
_SECTION = re.compile(r"^%(\w+)(?:\s+(.*?))?\s*$")
#: Apptainer's build-argument placeholder (internal/pkg/build/args/args.go: {{\s*(\w+)\s*}})
PLACEHOLDER = re.compile(r"{{\s*(\w+)\s*}}")


@dataclass
class Stage:
    """One stage: its header keywords and its sections (``"post"``, ``"apprun lmp"``, ...)."""

    header: dict[str, str] = field(default_factory=dict)
    sections: dict[str, list[str]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.header.get("Stage", "")

    def section(self, name: str) -> list[str]:
        return self.sections.get(name, [])

    def text(self, name: str) -> str:
        return "\n".join(self.section(name))

    def arguments(self) -> dict[str, str]:
        """``%arguments`` as name -> default."""
        pairs = (line.split("=", 1) for line in self.section("arguments") if "=" in line)
        return {key.strip(): value.strip() for key, value in pairs}


def read_def(path: Path) -> list[Stage]:
    """Stages of a definition file, in order."""
    stages: list[Stage] = []
    current: list[str] | None = None
    for raw in path.read_text().splitlines():
        header = _HEADER.match(raw)
        if header and raw == raw.lstrip():
            if header.group(1) == "Bootstrap":
                stages.append(Stage())
            stages[-1].header[header.group(1)] = header.group(2)
            current = None
            continue
        section = _SECTION.match(raw)
        if section and raw == raw.lstrip():
            name = section.group(1) + (f" {section.group(2)}" if section.group(2) else "")
            current = stages[-1].sections.setdefault(name, [])
            continue
        if current is not None and raw.strip():
            current.append(raw.strip())
    return stages


def section_bodies(path: Path) -> dict[str, str]:
    """``"<stage>/<section>"`` -> body as the shell would see it (indent removed)."""
    bodies = {}
    stages = read_def(path)
    text = path.read_text().splitlines()
    index = 0
    for stage in stages:
        for name in stage.sections:
            # the raw lines, keeping relative indentation and continuation lines
            start = next(i for i in range(index, len(text))
                         if text[i].rstrip() == f"%{name}")
            end = start + 1
            while end < len(text) and not text[end].startswith(("%", "Bootstrap:")):
                end += 1
            lines = [line[4:] if line.startswith("    ") else line for line in text[start + 1:end]]
            bodies[f"{stage.name}/{name}"] = "\n".join(lines).strip() + "\n"
            index = start + 1
    return bodies


def render_arguments(body: str, defaults: dict[str, str]) -> str:
    """A section with every build-argument placeholder replaced by its default."""
    return PLACEHOLDER.sub(lambda m: defaults[m.group(1)], body)
