"""Where datasets live and how a local path is found for them.

Resolution order for a dataset file ``RELPATH`` (e.g. ``htpmd/polygen-train-set.csv``):

1. ``$POLYHPC_DATA/RELPATH`` (tests and CI point this at ``../shared/data``);
2. the user cache, ``$POLYHPC_CACHE`` or ``$XDG_CACHE_HOME/polyhpc`` or
   ``~/.cache/polyhpc``, at ``RELPATH``;
3. a download from the public source into the cache, accepted only when its
   sha256 matches.

The files are never copied into the repository.
"""

from __future__ import annotations

import logging
import os
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from polyhpc.errors import DataIntegrityError, DataNotFoundError
from polyhpc.fileio import sha256_file

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Dataset:
    """One registered dataset file.

    Attributes
    ----------
    name : str
        Registry key used on the command line.
    relpath : str
        Path below the data root or cache.
    url : str
        Public source for users with a network.
    sha256 : str
        Checksum of the expected file.
    description : str
        One line for ``polyhpc data list``.
    """

    name: str
    relpath: str
    url: str
    sha256: str
    description: str


DATASETS: dict[str, Dataset] = {
    dataset.name: dataset
    for dataset in (
        Dataset(
            name="htpmd-train",
            relpath="htpmd/polygen-train-set.csv",
            url=(
                "https://raw.githubusercontent.com/TRI-AMDD/PolyGen/"
                "ace75619494cce660aa5520bb73bff881917153a/PolyGen-train-set-from-HTP-MD.csv"
            ),
            sha256="d93e0644cb9ef627d407054ae5d2fe249a7bbcc60dfd95a7fee38c2e9d987707",
            description="6,024 HTP-MD homopolymers with MD conductivity (PolyGen set, CC0)",
        ),
        Dataset(
            name="htpmd-properties",
            relpath="htpmd/htpmd-properties.csv",
            url=(
                "https://raw.githubusercontent.com/TRI-AMDD/htp_md/"
                "bc58fe88582781388ea0055405e3231aafe9185c/htpmd/ml_models/"
                "md_wo_structure_cleaned_0_1_4.csv"
            ),
            sha256="ce3691a45c5808e9f9d32ed3acaa3716c3d6d03e2dd908cc9a01901b3f5a2546",
            description=(
                "6,025 HTP-MD polymers: conductivity, Li/TFSI/polymer diffusivity, "
                "transference number, molality (MIT)"
            ),
        ),
    )
}


def cache_dir() -> Path:
    """The user cache folder for downloaded datasets."""
    if os.environ.get("POLYHPC_CACHE"):
        return Path(os.environ["POLYHPC_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "polyhpc"


def _download(dataset: Dataset, target: Path, timeout_s: float) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(target.suffix + ".part")
    log.info("downloading %s from %s", dataset.name, dataset.url)
    with urllib.request.urlopen(dataset.url, timeout=timeout_s) as response:
        partial.write_bytes(response.read())
    got = sha256_file(partial)
    if got != dataset.sha256:
        partial.unlink()
        raise DataIntegrityError(
            f"download of {dataset.name} has sha256 {got}, expected {dataset.sha256}"
        )
    partial.replace(target)


def resolve(name: str, download: bool = True, timeout_s: float = 30.0) -> Path:
    """Return a local path to dataset ``name``.

    Raises
    ------
    DataNotFoundError
        Unknown name, or the file is nowhere locally and cannot be downloaded;
        the message says where to put it.
    """
    if name not in DATASETS:
        raise DataNotFoundError(f"unknown dataset {name!r}; known: {', '.join(sorted(DATASETS))}")
    dataset = DATASETS[name]
    searched = []
    if os.environ.get("POLYHPC_DATA"):
        candidate = Path(os.environ["POLYHPC_DATA"]) / dataset.relpath
        if candidate.is_file():
            return candidate
        searched.append(str(candidate))
    cached = cache_dir() / dataset.relpath
    if cached.is_file():
        return cached
    searched.append(str(cached))
    reason = "downloads disabled"
    if download:
        try:
            _download(dataset, cached, timeout_s)
            return cached
        except DataIntegrityError:
            raise
        except OSError as exc:
            reason = f"download from {dataset.url} failed: {exc}"
    raise DataNotFoundError(
        f"dataset {name!r} not found (looked in {', '.join(searched)}; {reason}); "
        f"set POLYHPC_DATA to a folder holding {dataset.relpath} or put the file at {cached}"
    )
