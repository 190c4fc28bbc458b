"""Autoregressive decoding of the generator, with an optional token budget.

One loop serves every sampling mode. Each step masks the tokens a row may
not write next and samples the rest at temperature ``T`` (optionally among
the ``top_k`` likeliest):

- special tokens (padding, class and length tokens) are never written: the
  model never sees them as targets, and decoding used to drop them silently;
- with ``budget`` (``SampleConfig.decoding = "budget"``) a row must be able to
  end within its token budget: a token is allowed only if, after it, the
  tokens left still suffice to close every open branch and ring and to fill
  a pending bond, and a third end marker is never allowed. The end token is
  always allowed. Masked probabilities are renormalized at each step, so
  the rows follow ``q(x) = prod_t p(x_t | x_<t) m_t(x_t) / Z_t`` with
  ``Z_t`` the model's mass on the allowed tokens; rejection sampling (the
  paper's filter) follows ``p(x | len(x) <= L) = p(x) / P(len <= L)``.
  ``q`` favours rows whose prefixes the model would rather have continued
  past the budget (each ``1/Z_t`` > 1): it writes short endings of longer
  units instead of only the units that are short by themselves.

For a length-conditioned model the decoder also feeds the remaining length
of every row (countdown models) or puts the length token in the prompt.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from polyhpc.generate.dataset import counted_token_mask
from polyhpc.generate.model import GPT
from polyhpc.generate.tokenizer import SmilesTokenizer

_BONDS = {"=", "#", "-", "/", "\\", ":", "~", "$"}


class TokenTable:
    """Per-token grammar facts of a vocabulary, as (V,) tensors."""

    def __init__(self, tokenizer: SmilesTokenizer, device: torch.device):
        itos = tokenizer.itos
        special = [t.startswith("<") for t in itos]
        self.special = torch.tensor(special, device=device)
        self.special[tokenizer.eos_id] = False
        self.counted = counted_token_mask(tokenizer).to(device)
        self.star = torch.tensor([t == "*" for t in itos], device=device)
        self.open = torch.tensor([t == "(" for t in itos], device=device)
        self.close = torch.tensor([t == ")" for t in itos], device=device)
        # '(' and bonds leave the row waiting for an atom
        self.wants_atom = torch.tensor([t == "(" or t in _BONDS for t in itos], device=device)
        rings = sorted({t for t in itos if t.isdigit() or t.startswith("%")})
        self.ring = torch.tensor([rings.index(t) if t in rings else -1 for t in itos],
                                 device=device)
        self.n_rings = len(rings)


class BudgetState:
    """Per-row grammar state: unit tokens used, end markers, open branches and rings."""

    def __init__(self, n: int, table: TokenTable, device: torch.device):
        self.table = table
        self.used = torch.zeros(n, dtype=torch.long, device=device)
        self.stars = torch.zeros(n, dtype=torch.long, device=device)
        self.depth = torch.zeros(n, dtype=torch.long, device=device)
        self.rings = torch.zeros(n, max(table.n_rings, 1), dtype=torch.bool, device=device)
        self.pending = torch.zeros(n, dtype=torch.long, device=device)

    def update(self, token: torch.Tensor) -> None:
        """Advance every row by its new token (B,)."""
        t = self.table
        self.used += t.counted[token].long()
        self.stars += t.star[token].long()
        self.depth += t.open[token].long() - t.close[token].long()
        ring = t.ring[token]
        rows = torch.nonzero(ring >= 0).squeeze(1)
        self.rings[rows, ring[rows]] ^= True
        self.pending = t.wants_atom[token].long()

    def allowed(self, limit: torch.Tensor) -> torch.Tensor:
        """(B, V) bool: tokens after which each row can still end within ``limit`` (B,)."""
        t = self.table
        left = (limit - self.used)[:, None] - t.counted.long()[None, :]  # (B, V)
        depth = self.depth[:, None] + t.open.long()[None, :] - t.close.long()[None, :]
        open_rings = self.rings.sum(1, keepdim=True).long()  # (B, 1)
        if t.n_rings:
            ring = t.ring.clamp(min=0)
            is_open = self.rings[:, ring]  # (B, V): that ring label is open now
            toggle = torch.where(is_open, -1, 1) * (t.ring >= 0).long()[None, :]
            open_rings = open_rings + toggle
        need = depth + open_rings + t.wants_atom.long()[None, :]
        ok = (left >= need) & (depth >= 0) & ~t.special[None, :]
        ok &= ~(t.star[None, :] & (self.stars[:, None] >= 2))
        return ok


@torch.no_grad()
def decode(model: GPT, tokenizer: SmilesTokenizer, prompt_ids: torch.Tensor,
           max_new_tokens: int, temperature: float = 1.0, top_k: int | None = None,
           lengths: torch.Tensor | None = None, budget: torch.Tensor | None = None,
           generator: torch.Generator | None = None) -> torch.Tensor:
    """Continue each prompt row (B, P) by up to ``max_new_tokens`` sampled tokens.

    Parameters
    ----------
    model, tokenizer
        The generator; its train/eval mode is left as the caller set it
        (dropout on while sampling is the reference pipeline's behaviour).
    prompt_ids : (B, P) int64
    max_new_tokens : int
    temperature : float
        Softmax temperature, > 0.
    top_k : int, optional
        Sample among the ``top_k`` likeliest allowed tokens only.
    lengths : (B,) int64, optional
        Requested unit lengths, for a countdown model.
    budget : (B,) int64, optional
        Unit tokens each row may write; enables budget masking.
    generator : torch.Generator, optional

    Returns
    -------
    (B, P + steps) int64
        Rows that wrote the end token are padded with it afterwards.
    """
    device = prompt_ids.device
    table = TokenTable(tokenizer, device)
    state = BudgetState(prompt_ids.size(0), table, device)
    eos = tokenizer.eos_id
    idx = prompt_ids
    remaining = None
    if model.length_conditioned:
        remaining = lengths[:, None].expand(-1, idx.size(1)).clone()  # (B, P)
    finished = torch.zeros(idx.size(0), dtype=torch.bool, device=device)
    for _ in range(max_new_tokens):
        block = model.config.block_size
        logits, _ = model(idx[:, -block:],
                          remaining=None if remaining is None else remaining[:, -block:])
        logits = logits[:, -1, :] / temperature  # (B, V)
        logits[:, table.special] = -float("inf")
        if budget is not None:
            logits[~state.allowed(budget)] = -float("inf")
        if top_k is not None and top_k < logits.size(-1):
            values, _ = torch.topk(logits, top_k)
            logits[logits < values[:, [-1]]] = -float("inf")
        probs = F.softmax(logits, dim=-1)
        next_id = torch.multinomial(probs, num_samples=1, generator=generator)  # (B, 1)
        next_id[finished] = eos
        finished |= next_id.squeeze(1) == eos
        state.update(next_id.squeeze(1))
        idx = torch.cat((idx, next_id), dim=1)
        if remaining is not None:
            remaining = torch.cat((remaining, (lengths - state.used)[:, None]), dim=1)
        if bool(finished.all()):
            break
    return idx
