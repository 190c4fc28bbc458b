"""Conditional sampling and the candidate filter of the discovery loop.

Khajeh et al. 2025, section 3.1: each iteration keeps sampling until it has
N candidates that are valid, novel (not in the training set, neither as the
exact string nor as the same polymer), unique within the batch, and short
("10 or fewer tokens (excluding the end tokens)": the authors counted the two
end markers among the 10, so their units have at most 8 body tokens;
``token_count: with-ends`` is their rule, ``body`` counts the body alone,
polyhpc's default). Rejections name what they are: an exact copy of an
earlier draw is what the paper skips at once, another spelling of an earlier
draw or of a training unit is what it found in post-processing (its
"duplicates"). The length limit is
enforced while sampling: a row that has not ended within the limit is cut
and counted as too long, which gives the same candidates as sampling to the
end and filtering afterwards, for a fraction of the cost.

Settings of the reference pipeline (TRI-AMDD/PolyGen ``minGPT/pipeline.py``),
the defaults here: temperature 1.0, top-k 40, and dropout left on while
sampling (the model is never put in eval mode). ``decoding="budget"``
(see :mod:`polyhpc.generate.decode`) and length-conditioned models are this
project's additions; ``stability=True`` applies :mod:`polyhpc.chem.stability`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import torch

from polyhpc.chem.canonical import canonical_repeat_unit
from polyhpc.chem.smiles import check_repeat_unit
from polyhpc.errors import ConfigError, ModelError, PolyhpcError
from polyhpc.generate.config import SampleConfig
from polyhpc.generate.decode import decode
from polyhpc.generate.model import GPT
from polyhpc.generate.tokenizer import SmilesTokenizer, split_smiles, unit_length


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

    @property
    def draws_per_candidate(self) -> float | None:
        """Draws spent per accepted candidate (``None`` when none was accepted)."""
        return self.draws / len(self.candidates) if self.candidates else None

    def to_dict(self) -> dict:
        """Plain-data form."""
        return {"candidates": [asdict(c) for c in self.candidates], "draws": self.draws,
                "accepted": len(self.candidates),
                "draws_per_candidate": self.draws_per_candidate,
                "rejected": self.rejected, "reached": self.reached,
                "config": asdict(self.config)}


def _device(model: GPT) -> torch.device:
    return next(model.parameters()).device


def length_distribution(data_summary: dict, prompt: str) -> dict[int, int]:
    """Training unit lengths of the prompt's class (``{length: count}``) from a checkpoint."""
    counts = data_summary.get("length_counts", {}).get(str(prompt)[-1:], {})
    return {int(k): int(v) for k, v in counts.items()}


def draw_lengths(n: int, choices: Sequence[int] | dict[int, int],
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """``n`` unit lengths: uniform over a sequence, or weighted by a ``{length: count}``."""
    if isinstance(choices, dict):
        values = torch.tensor(list(choices), dtype=torch.long)
        weights = torch.tensor(list(choices.values()), dtype=torch.float)
    else:
        values = torch.tensor(list(choices), dtype=torch.long)
        weights = torch.ones(len(values))
    if not len(values):
        raise ConfigError("no unit lengths to ask a length-conditioned model for")
    pick = torch.multinomial(weights, n, replacement=True, generator=generator)
    return values[pick]


@torch.no_grad()
def sample_smiles(model: GPT, tokenizer: SmilesTokenizer, prompt: str, n: int,
                  temperature: float = 1.0, top_k: int | None = None,
                  max_new_tokens: int | None = None,
                  generator: torch.Generator | None = None, dropout: bool = False,
                  lengths: torch.Tensor | None = None,
                  budget: int | None = None) -> list[str | None]:
    """Draw ``n`` SMILES for a class prompt.

    Parameters
    ----------
    model, tokenizer
        The generator (its train/eval mode is restored afterwards).
    prompt : str
        Class prompt, e.g. ``"11111"``.
    n : int
    temperature, top_k
        Softmax temperature and optional top-k cut.
    max_new_tokens : int, optional
        Steps per row (default: up to the block size).
    generator : torch.Generator, optional
        Seeds the token draws and, with ``dropout``, the dropout masks.
    dropout : bool
        Sample in training mode, dropout on, as PolyGen's pipeline does.
    lengths : (n,) int64, optional
        Unit lengths asked of a length-conditioned model (required for one).
    budget : int, optional
        Budget masking: every row ends within this many unit tokens.

    Returns
    -------
    list
        Decoded SMILES, or ``None`` for rows that did not end in time.
    """
    device = _device(model)
    conditioned = model.length_conditioned or tokenizer.n_lengths
    if conditioned and lengths is None:
        raise ModelError("this model is conditioned on unit length: give lengths")
    if conditioned:
        rows = [tokenizer.prompt(prompt, int(k) if tokenizer.n_lengths else None)
                for k in lengths.tolist()]
    else:
        rows = [tokenizer.prompt(prompt)] * n
    idx = torch.tensor(rows, dtype=torch.long, device=device)
    limit = max_new_tokens or model.config.block_size - idx.size(1)
    budgets = None if budget is None else torch.full((n,), budget, device=device)
    was_training = model.training
    model.train(dropout)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        if dropout and generator is not None:
            # dropout masks draw from the global generator: seed it from ours, in a fork
            torch.manual_seed(int(torch.randint(2**62, (1,), generator=generator,
                                                device=generator.device)))
        out = decode(model, tokenizer, idx, limit, temperature, top_k,
                     None if lengths is None else lengths.to(device), budgets, generator)
    model.train(was_training)
    rows_out = out[:, idx.size(1):].tolist()
    return [tokenizer.decode(row) if tokenizer.eos_id in row else None for row in rows_out]


def sample_unconstrained(model: GPT, tokenizer: SmilesTokenizer, data_summary: dict,
                         prompt: str, n: int, temperature: float = 1.0,
                         top_k: int | None = None, dropout: bool = False,
                         generator: torch.Generator | None = None) -> list[str | None]:
    """``n`` samples without a length limit, as the generation metrics take them.

    A length-conditioned model is asked for lengths drawn from its training
    distribution for the prompt's class (``data_summary["length_counts"]``),
    so that it samples like an unconditioned one.
    """
    lengths = None
    if model.length_conditioned or tokenizer.n_lengths:
        lengths = draw_lengths(n, length_distribution(data_summary, prompt), generator)
    return sample_smiles(model, tokenizer, prompt, n, temperature, top_k,
                         generator=generator, dropout=dropout, lengths=lengths)


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

    Returns
    -------
    SamplingReport
        Rejections are counted by reason; the screen's by ``unstable: <rule>``.
    """
    if config.temperature <= 0:
        raise PolyhpcError("temperature must be positive")
    limit = config.body_tokens
    if config.decoding == "budget" and limit is None:
        raise ConfigError("decoding 'budget' needs max_tokens")
    if config.lengths and (min(config.lengths) < 1 or limit is not None
                           and max(config.lengths) > limit):
        raise ConfigError(f"lengths {list(config.lengths)}: each must be 1 .. max_tokens "
                          f"({limit} body tokens)")
    tokenizer.prompt(config.prompt)  # fails early with a clear message for unknown tokens
    screen = None
    if config.stability:
        from polyhpc.chem.stability import StabilityScreen

        screen = StabilityScreen(config.stability_rules or None, config.sa_threshold)
    conditioned = model.length_conditioned or tokenizer.n_lengths
    choices = config.lengths or tuple(range(1, (limit or 10) + 1))
    generator = torch.Generator(device=_device(model)).manual_seed(config.seed)
    # two end markers and the end token beyond the SMILES-token limit
    max_new = None if limit is None else limit + 3
    budget = limit if config.decoding == "budget" else None
    accepted: list[Candidate] = []
    seen: dict[str, str] = {}  # identity -> the spelling accepted
    rejected: Counter = Counter()
    draws = 0
    while len(accepted) < config.n and draws < config.max_draws:
        batch = min(config.batch_size, config.max_draws - draws)
        lengths = draw_lengths(batch, choices, generator) if conditioned else None
        for smiles in sample_smiles(model, tokenizer, config.prompt, batch, config.temperature,
                                    config.top_k, max_new, generator, config.dropout,
                                    lengths, budget):
            if len(accepted) >= config.n:
                break
            draws += 1
            reason = _rejection(smiles, config, known_exact, known_canonical, seen, screen)
            if isinstance(reason, str):
                rejected[reason] += 1
                continue
            seen[reason.canonical] = reason.smiles
            accepted.append(Candidate(reason.smiles, reason.canonical, reason.n_tokens, draws))
        if progress is not None:
            progress(len(accepted), draws)
    return SamplingReport(tuple(accepted), draws, dict(rejected.most_common()),
                          len(accepted) >= config.n, config)


def too_long(smiles: str, config: SampleConfig) -> bool:
    """Whether a unit has more tokens than ``config`` allows (as its ``token_count`` counts)."""
    limit = config.body_tokens
    return limit is not None and unit_length(split_smiles(smiles)) > limit


def _rejection(smiles: str | None, config: SampleConfig, known_exact: set[str],
               known_canonical: set[str], seen: dict[str, str], screen) -> str | Candidate:
    """Why a draw is rejected, or the candidate it gives (its ``draw`` is filled later)."""
    if smiles is None or too_long(smiles, config):
        return "too long"
    n_tokens = unit_length(split_smiles(smiles))
    check = check_repeat_unit(smiles)
    if not check.valid:
        return "invalid: " + check.reason.split(" '")[0].split(" (")[0]
    if smiles in known_exact:
        return "in training set (exact string)"
    key = canonical_repeat_unit(smiles)
    if key in known_canonical:
        return "in training set (same polymer)"
    if key in seen:
        return ("duplicate in this batch (exact string)" if seen[key] == smiles else
                "duplicate in this batch (same polymer)")
    if screen is not None:
        broken = screen.first_broken(key)
        if broken is not None:
            return f"unstable: {broken}"
    return Candidate(smiles, key, n_tokens, 0)
