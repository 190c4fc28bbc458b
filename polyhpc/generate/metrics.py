"""The six generation metrics of the seed paper and its reference code.

The paper names the six metrics (Khajeh et al. 2025, section 3.2); their
definitions, the SA cut of 5 included, are those of PolyGen's evaluation code
(TRI-AMDD/PolyGen, ``minGPT/pipeline.py``, ``minGPT.evaluate``):

- validity: valid samples / all samples (polyhpc's repeat-unit rules);
- uniqueness: 1 - (repeats of an earlier sample) / all samples;
- novelty: 1 - (samples found in the training set) / all samples;
- the "clean" set: valid, first occurrence, novel;
- synthesizability: fraction of clean samples with SA score < 5;
- similarity: mean over clean samples of their mean Tanimoto similarity to
  every training unit (Morgan r=2, 2,048 bits);
- diversity: mean pairwise 1 - Tanimoto among clean samples.

Uniqueness and novelty are computed twice: by exact string (as the reference
code does) and by canonical polymer identity (translated, mirrored or
repeated spellings count as the same polymer); the clean set uses the
canonical ones. The model-selection score is the mean of the six metrics.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from rdkit import DataStructs

from polyhpc.chem.canonical import canonical_keys, canonical_repeat_unit
from polyhpc.chem.descriptors import morgan_fingerprint, sa_score
from polyhpc.chem.smiles import check_repeat_unit, normalize_end_markers

SA_THRESHOLD = 5.0  # PolyGen minGPT/pipeline.py: SA < 5 counts as synthesizable


@dataclass(frozen=True)
class GenerationMetrics:
    """Metrics of one batch of samples."""

    n_samples: int
    n_valid: int
    n_clean: int
    validity: float
    uniqueness: float
    novelty: float
    synthesizability: float
    similarity: float
    diversity: float
    uniqueness_canonical: float
    novelty_canonical: float
    score: float

    def to_dict(self) -> dict:
        """Plain-data form."""
        return asdict(self)


class TrainingReference:
    """Training units with their canonical identities and fingerprints, computed once."""

    def __init__(self, smiles: list[str]):
        self.smiles = [normalize_end_markers(s) for s in smiles]
        self.exact = set(self.smiles)
        keys = canonical_keys(self.smiles)
        self.canonical = {k for k in keys if k is not None}
        self.fingerprints = [morgan_fingerprint(k, canonical=True) for k in keys if k is not None]


def compute_metrics(samples: list[str], reference: TrainingReference,
                    sa_end_style: str = "hydrogen") -> GenerationMetrics:
    """The six metrics (and canonical variants) of ``samples``.

    Parameters
    ----------
    samples : list of str
        Generated repeat units, as sampled (invalid ones included).
    reference : TrainingReference
        The model's training units.
    sa_end_style : {"hydrogen", "reference"}
        End handling of the SA score (see :func:`polyhpc.chem.sa_score`).
    """
    n = len(samples)
    if n == 0:
        raise ValueError("no samples")
    samples = [normalize_end_markers(s) for s in samples]
    seen_exact, seen_canonical = set(), set()
    repeats_exact = repeats_canonical = known_exact = known_canonical = 0
    clean: list[str] = []
    n_valid = 0
    for smiles in samples:
        repeats_exact += smiles in seen_exact
        known_exact += smiles in reference.exact
        seen_exact.add(smiles)
        if not check_repeat_unit(smiles).valid:
            continue
        n_valid += 1
        key = canonical_repeat_unit(smiles)
        repeat = key in seen_canonical
        novel = key not in reference.canonical and smiles not in reference.exact
        repeats_canonical += repeat
        known_canonical += not novel
        seen_canonical.add(key)
        if not repeat and novel:
            clean.append(key)
    if clean:
        synthesizability = float(np.mean([sa_score(k, sa_end_style, canonical=True)
                                          < SA_THRESHOLD for k in clean]))
        fingerprints = [morgan_fingerprint(k, canonical=True) for k in clean]
        similarity = float(np.mean([np.mean(DataStructs.BulkTanimotoSimilarity(
            fp, reference.fingerprints)) for fp in fingerprints]))
        pairs = [1.0 - s for i, fp in enumerate(fingerprints[1:], start=1)
                 for s in DataStructs.BulkTanimotoSimilarity(fp, fingerprints[:i])]
        diversity = float(np.mean(pairs)) if pairs else 0.0
    else:
        synthesizability = similarity = diversity = 0.0
    validity = n_valid / n
    uniqueness = 1.0 - repeats_exact / n
    novelty = 1.0 - known_exact / n
    values = [validity, uniqueness, novelty, synthesizability, similarity, diversity]
    return GenerationMetrics(
        n_samples=n, n_valid=n_valid, n_clean=len(clean), validity=validity,
        uniqueness=uniqueness, novelty=novelty, synthesizability=synthesizability,
        similarity=similarity, diversity=diversity,
        uniqueness_canonical=1.0 - repeats_canonical / n,
        novelty_canonical=1.0 - known_canonical / n, score=float(np.mean(values)))
