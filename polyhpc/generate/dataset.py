"""The generator's training set: class labels, oversampling and extra units.

Khajeh et al. 2025, section 3.3: class 1 is the top 5 % by conductivity; the
high class is randomly oversampled (with replacement) to the size of the low
class; PEO (``*CCO*``) is added 4,000 times. Everything is configurable, and
the feedback step of a campaign builds its next set with the same function.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import torch

from polyhpc.chem.smiles import normalize_end_markers
from polyhpc.data.htpmd import high_class_threshold
from polyhpc.generate.config import TrainingSetConfig
from polyhpc.generate.tokenizer import SmilesTokenizer


@dataclass(frozen=True)
class TrainingSet:
    """Labelled training sequences plus a held-out validation split."""

    smiles: tuple[str, ...]
    labels: tuple[int, ...]
    validation_smiles: tuple[str, ...]
    validation_labels: tuple[int, ...]
    threshold_mS_per_cm: float
    summary: dict


def build_training_set(frame: pd.DataFrame, config: TrainingSetConfig) -> TrainingSet:
    """Assemble the training set from a frame with ``smiles`` and conductivity.

    Parameters
    ----------
    frame : pandas.DataFrame
        Columns ``smiles`` and ``conductivity_mS_per_cm`` (HTP-MD loader output,
        or HTP-MD plus a campaign's MD results).
    config : TrainingSetConfig

    Returns
    -------
    TrainingSet
        The validation split is drawn from distinct units before oversampling,
        so no validation unit is ever seen in training.
    """
    rng = np.random.default_rng(config.seed)
    smiles = frame["smiles"].map(normalize_end_markers).to_numpy()
    conductivity = frame["conductivity_mS_per_cm"].to_numpy(dtype=np.float64)
    threshold = config.threshold_mS_per_cm if config.threshold_mS_per_cm is not None \
        else high_class_threshold(conductivity, config.high_fraction)
    labels = (conductivity >= threshold).astype(np.int64)
    order = rng.permutation(len(smiles))
    n_validation = int(round(config.validation_fraction * len(smiles)))
    validation, training = order[:n_validation], order[n_validation:]
    train_smiles, train_labels = smiles[training], labels[training]
    high = np.flatnonzero(train_labels == 1)
    low = np.flatnonzero(train_labels == 0)
    oversampled = 0
    if config.oversample and 0 < len(high) < len(low):
        extra = rng.choice(high, size=len(low) - len(high), replace=True)
        oversampled = len(extra)
        train_smiles = np.concatenate([train_smiles, train_smiles[extra]])
        train_labels = np.concatenate([train_labels, train_labels[extra]])
    added = {}
    for item in config.extra:
        unit = normalize_end_markers(item.smiles)
        train_smiles = np.concatenate([train_smiles, np.full(item.copies, unit, dtype=object)])
        train_labels = np.concatenate([train_labels, np.full(item.copies, item.label)])
        added[unit] = added.get(unit, 0) + item.copies
    shuffle = rng.permutation(len(train_smiles))
    train_smiles, train_labels = train_smiles[shuffle], train_labels[shuffle]
    summary = {
        "source_units": int(len(smiles)),
        "threshold_mS_per_cm": threshold,
        "validation_units": int(n_validation),
        "training_sequences": int(len(train_smiles)),
        "class_counts": {str(c): int(np.sum(train_labels == c)) for c in (0, 1)},
        "distinct_units": int(len(set(train_smiles.tolist()))),
        "oversampled_high_copies": int(oversampled),
        "extra_copies": added,
        # unit lengths (tokens without end markers) per class, after oversampling:
        # a length-conditioned model draws from these to sample like an unconditioned one
        "length_counts": _length_counts(train_smiles, train_labels),
        "config": asdict(config),
    }
    return TrainingSet(tuple(train_smiles.tolist()), tuple(int(v) for v in train_labels),
                       tuple(smiles[validation].tolist()),
                       tuple(int(v) for v in labels[validation]), threshold, summary)


def _length_counts(smiles, labels) -> dict[str, dict[str, int]]:
    from collections import Counter

    from polyhpc.generate.tokenizer import split_smiles, unit_length

    lengths = {unit: unit_length(split_smiles(unit)) for unit in set(smiles)}
    counts: dict[str, Counter] = {}
    for unit, label in zip(smiles, labels, strict=True):
        counts.setdefault(str(int(label)), Counter())[lengths[unit]] += 1
    return {c: {str(n): k for n, k in sorted(v.items())} for c, v in sorted(counts.items())}


class SequenceBatches:
    """Random batches of encoded sequences, padded to the longest in the batch.

    Inputs are the sequence without its last token, targets the sequence
    shifted by one; padding targets and the prompt targets except the last
    are -1 (ignored by the loss), so the model learns the SMILES given the
    prompt, not the prompt itself. Sequences are stored once as padded
    tensors, so a batch is two index operations (no per-row Python work; the
    reference trainer pads every batch to 64 positions instead).

    With ``countdown=True`` each batch also carries ``remaining`` (B, T): the
    unit tokens (end markers not counted) still to come after each input
    position, which a length-conditioned model adds to its embeddings.
    """

    def __init__(self, tokenizer: SmilesTokenizer, smiles, labels, prefix_length: int,
                 block_size: int, countdown: bool = False):
        from polyhpc.errors import ModelError

        sequences = [tokenizer.encode_training(s, y, prefix_length)
                     for s, y in zip(smiles, labels, strict=True)]
        if not sequences:
            raise ModelError("no training sequences")
        longest = max(len(s) for s in sequences)
        if longest - 1 > block_size:
            raise ModelError(f"a training sequence has {longest} tokens; block size "
                             f"{block_size} is too small")
        self.inputs = torch.full((len(sequences), longest - 1), tokenizer.pad_id,
                                 dtype=torch.long)
        self.targets = torch.full((len(sequences), longest - 1), -1, dtype=torch.long)
        for row, sequence in enumerate(sequences):
            tokens = torch.tensor(sequence, dtype=torch.long)
            self.inputs[row, : len(sequence) - 1] = tokens[:-1]
            self.targets[row, : len(sequence) - 1] = tokens[1:]
        prompt_length = prefix_length + (1 if tokenizer.n_lengths else 0)
        self.targets[:, : prompt_length - 1] = -1
        self.widths = torch.tensor([len(s) - 1 for s in sequences], dtype=torch.long)
        self.remaining = None
        if countdown:
            mask = counted_token_mask(tokenizer)
            counted = mask[self.inputs]  # (N, T)
            # the first input token is a class token, so the targets hold every unit token
            total = mask[self.targets.clamp(min=0)].masked_fill(self.targets < 0, False) \
                .sum(1, keepdim=True)  # (N, 1)
            self.remaining = total - counted.cumsum(1)  # (N, T)

    def __len__(self) -> int:
        return self.inputs.shape[0]

    def collate(self, indices) -> tuple[torch.Tensor, torch.Tensor, dict]:
        """Inputs and targets (B, T) for the given sequence indices, and model extras."""
        indices = torch.as_tensor(indices, dtype=torch.long)
        width = int(self.widths[indices].max())
        extras = {} if self.remaining is None else \
            {"remaining": self.remaining[indices, :width]}
        return self.inputs[indices, :width], self.targets[indices, :width], extras

    def sample(self, batch_size: int, generator: torch.Generator):
        """A random batch, drawn uniformly with replacement."""
        indices = torch.randint(len(self), (batch_size,), generator=generator)
        return self.collate(indices)


def counted_token_mask(tokenizer: SmilesTokenizer) -> torch.Tensor:
    """(V,) bool: tokens that count towards a unit's length (SMILES tokens but ``*``)."""
    return torch.tensor([not token.startswith("<") and token != "*"
                         for token in tokenizer.itos], dtype=torch.bool)
