"""Datasets: the registry, file resolution, and HTP-MD loaders."""

from polyhpc.data.htpmd import (
    ConductivitySummary,
    load_htpmd_properties,
    load_htpmd_train,
    summarize_conductivity,
)
from polyhpc.data.registry import DATASETS, Dataset, resolve

__all__ = [
    "DATASETS",
    "ConductivitySummary",
    "Dataset",
    "load_htpmd_properties",
    "load_htpmd_train",
    "resolve",
    "summarize_conductivity",
]
