"""Conditional sampling and the candidate filter of the discovery loop.

Khajeh et al. 2025, section 3.1: each iteration keeps sampling until it has
N candidates that are valid, novel (not in the training set, neither as the
exact string nor as the same polymer), unique within the batch, and short
(at most 10 SMILES tokens besides the two end markers). The length limit is
enforced while sampling: a row that has not ended within the limit is cut
and counted as too long, which gives the same candidates as sampling to the
end and filtering afterwards, for a fraction of the cost.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import torch

from polyhpc.chem.canonical import canonical_repeat_unit
from polyhpc.chem.smiles import check_repeat_unit
from polyhpc.errors import PolyhpcError
from polyhpc.generate.model import GPT
from polyhpc.generate.tokenizer import SmilesTokenizer, split_smiles


@dataclass(frozen=True)
class SampleConfig:
    """How candidates are drawn and filtered."""

    n: int = field(default=50, metadata={"min": 1})
    prompt: str = "11111"
    temperature: float = field(default=1.0, metadata={"min": 1e-3})
    top_k: int | None = field(default=None, metadata={"min": 1})
    max_tokens: int | None = field(default=10, metadata={"min": 1})
    batch_size: int = field(default=500, metadata={"min": 1})
    max_draws: int = field(default=200_000, metadata={"min": 1})
    seed: int = 0


@dataclass(frozen=True)
class Candidate:
    """One accepted candidate."""

    smiles: str
    canonical: str
    n_tokens: int
    draw: int


@dataclass(frozen=True)
class SamplingReport:
    """Accepted candidates and why the other draws were rejected."""

    candidates: tuple[Candidate, ...]
    draws: int
    rejected: dict[str, int]
    reached: bool
    config: SampleConfig

    def to_dict(self) -> dict:
        """Plain-data form."""
        return {"candidates": [asdict(c) for c in self.candidates], "draws": self.draws,
                "rejected": self.rejected, "reached": self.reached,
                "config": asdict(self.config)}


def _device(model: GPT) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def sample_smiles(model: GPT, tokenizer: SmilesTokenizer, prompt: str, n: int,
                  temperature: float = 1.0, top_k: int | None = None,
                  max_new_tokens: int | None = None,
                  generator: torch.Generator | None = None) -> list[str | None]:
    """Draw ``n`` SMILES for a class prompt, in eval mode (dropout off).

    Returns
    -------
    list
        Decoded SMILES, or ``None`` for rows that did not end within
        ``max_new_tokens`` tokens.
    """
    model.eval()
    prompt_ids = tokenizer.prompt(prompt)
    limit = max_new_tokens or model.config.block_size - len(prompt_ids)
    idx = torch.tensor([prompt_ids] * n, dtype=torch.long, device=_device(model))
    out = model.generate(idx, limit, temperature, top_k, tokenizer.eos_id, generator)
    rows = out[:, len(prompt_ids):].tolist()
    return [tokenizer.decode(row) if tokenizer.eos_id in row else None for row in rows]


def generate_candidates(model: GPT, tokenizer: SmilesTokenizer, known_exact: set[str],
                        known_canonical: set[str], config: SampleConfig,
                        progress: Callable[[int, int], None] | None = None) -> SamplingReport:
    """Sample until ``config.n`` valid, novel, unique, short candidates are found.

    Parameters
    ----------
    model, tokenizer
        The generator.
    known_exact, known_canonical : set of str
        Training units as written and as canonical identities.
    config : SampleConfig
    progress : callable, optional
        Called with (accepted, draws) after each batch.
    """
    if config.temperature <= 0:
        raise PolyhpcError("temperature must be positive")
    tokenizer.prompt(config.prompt)  # fails early with a clear message for unknown tokens
    generator = torch.Generator(device=_device(model)).manual_seed(config.seed)
    # two end markers and the end token beyond the SMILES-token limit
    max_new = None if config.max_tokens is None else config.max_tokens + 3
    accepted: list[Candidate] = []
    seen: set[str] = set()
    rejected: Counter = Counter()
    draws = 0
    while len(accepted) < config.n and draws < config.max_draws:
        batch = min(config.batch_size, config.max_draws - draws)
        for smiles in sample_smiles(model, tokenizer, config.prompt, batch, config.temperature,
                                    config.top_k, max_new, generator):
            if len(accepted) >= config.n:
                break
            draws += 1
            if smiles is None:
                rejected["too long"] += 1
                continue
            tokens = split_smiles(smiles)
            n_tokens = sum(token != "*" for token in tokens)
            if config.max_tokens is not None and n_tokens > config.max_tokens:
                rejected["too long"] += 1
                continue
            check = check_repeat_unit(smiles)
            if not check.valid:
                reason = check.reason.split(" '")[0].split(" (")[0]
                rejected[f"invalid: {reason}"] += 1
                continue
            if smiles in known_exact:
                rejected["in training set (exact string)"] += 1
                continue
            key = canonical_repeat_unit(smiles)
            if key in known_canonical:
                rejected["in training set (same polymer)"] += 1
                continue
            if key in seen:
                rejected["duplicate in this batch"] += 1
                continue
            seen.add(key)
            accepted.append(Candidate(smiles, key, n_tokens, draws))
        if progress is not None:
            progress(len(accepted), draws)
    return SamplingReport(tuple(accepted), draws, dict(rejected.most_common()),
                          len(accepted) >= config.n, config)

