"""A minimal GPT decoder, after karpathy/minGPT (MIT).

Radford et al., "Language Models are Unsupervised Multitask Learners" (2019);
the polymer use follows Khajeh et al., Digital Discovery 2025, section 3.2.
Shapes: B batch, T time (tokens), C embedding channels, V vocabulary.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
from torch.nn import functional as F

from polyhpc.errors import ModelError
from polyhpc.generate.config import PRESETS


@dataclass(frozen=True)
class GPTConfig:
    """Model hyperparameters."""

    vocab_size: int
    block_size: int = 64
    n_layer: int = 3
    n_head: int = 3
    n_embd: int = 48
    dropout: float = 0.1
    # Remaining-length embedding (0 = off): position t also sees how many unit tokens are
    # still to come, clamped to length_embedding - 1 (Takase & Okazaki, NAACL 2019,
    # DOI 10.18653/v1/N19-1401). Checkpoints written before it existed load with 0.
    length_embedding: int = 0

    @classmethod
    def from_preset(cls, preset: str, vocab_size: int, block_size: int = 64,
                    dropout: float = 0.1, length_embedding: int = 0) -> GPTConfig:
        """Config of a named preset (``gpt-nano``, ``gpt-mini``, ``gpt2``, ...)."""
        if preset not in PRESETS:
            raise ModelError(f"unknown model preset {preset!r}; known: {', '.join(PRESETS)}")
        n_layer, n_head, n_embd = PRESETS[preset]
        return cls(vocab_size, block_size, n_layer, n_head, n_embd, dropout, length_embedding)


class Dropout(nn.Module):
    """Inverted dropout with masks from raw random bits.

    Same semantics as ``nn.Dropout``, with the drop probability rounded to a
    multiple of 1/65536. Why: on CPU, torch's Bernoulli sampling was the
    largest single cost of a gpt-nano training step (about a quarter of it);
    16-bit thresholds on ``random_`` integers cost a tenth of that.
    """

    def __init__(self, p: float):
        super().__init__()
        self.threshold = int(round(p * 65536)) - 32768  # keep int16 values >= threshold
        self.scale = 1.0 / (1.0 - (self.threshold + 32768) / 65536) if p < 1 else 0.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Zero a random fraction ``p`` of ``x`` and rescale the rest (training only)."""
        if not self.training or self.threshold <= -32768:
            return x
        n = x.numel()
        bits = torch.empty((n + 3) // 4, dtype=torch.int64, device=x.device)
        bits.random_(-(2**63), None)
        keep = bits.view(torch.int16)[:n].view(x.shape) >= self.threshold
        return x * keep * self.scale


class CausalSelfAttention(nn.Module):
    """Multi-head masked self-attention."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        if config.n_embd % config.n_head:
            raise ModelError(f"n_embd {config.n_embd} is not divisible by n_head {config.n_head}")
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd)
        self.resid_dropout = Dropout(config.dropout)
        self.n_head = config.n_head
        self.dropout = config.dropout
        # An explicit boolean mask takes a faster CPU kernel than is_causal=True.
        causal = torch.tril(torch.ones(config.block_size, config.block_size, dtype=torch.bool))
        self.register_buffer("causal", causal, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, C) -> (B, T, C), each position attending to itself and earlier ones."""
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(C, dim=2)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, nh, T, hs)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, nh, T, hs)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, nh, T, hs)
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=self.causal[:T, :T],
            dropout_p=self.dropout if self.training else 0.0)  # (B, nh, T, hs)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # (B, T, C)
        return self.resid_dropout(self.c_proj(y))


class Block(nn.Module):
    """Transformer block: attention and MLP, each behind a LayerNorm."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd)
        self.mlp = nn.Sequential(
            nn.Linear(config.n_embd, 4 * config.n_embd),
            nn.GELU(),
            nn.Linear(4 * config.n_embd, config.n_embd),
            Dropout(config.dropout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, C) -> (B, T, C)."""
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    """GPT language model over SMILES tokens."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        layers = {
            "wte": nn.Embedding(config.vocab_size, config.n_embd),
            "wpe": nn.Embedding(config.block_size, config.n_embd),
            "drop": Dropout(config.dropout),
            "h": nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
            "ln_f": nn.LayerNorm(config.n_embd),
        }
        if config.length_embedding:
            layers["wle"] = nn.Embedding(config.length_embedding, config.n_embd)
        self.transformer = nn.ModuleDict(layers)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.apply(self._init_weights)
        for name, parameter in self.named_parameters():
            if name.endswith("c_proj.weight") or name.endswith("mlp.2.weight"):
                nn.init.normal_(parameter, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)

    def n_parameters(self) -> int:
        """Number of trainable parameters."""
        return sum(p.numel() for p in self.parameters())

    @property
    def length_conditioned(self) -> bool:
        """Whether the model takes the remaining unit length at every position."""
        return bool(self.config.length_embedding)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None,
                remaining: torch.Tensor | None = None):
        """Logits (B, T, V) and, with targets (B, T; -1 ignored), the mean loss.

        ``remaining`` (B, T) holds, for a length-conditioned model, the number
        of unit tokens still to come after each position.
        """
        B, T = idx.size()
        if T > self.config.block_size:
            raise ModelError(f"sequence of {T} tokens exceeds block size {self.config.block_size}")
        pos = torch.arange(T, dtype=torch.long, device=idx.device)  # (T,)
        x = self.transformer.wte(idx) + self.transformer.wpe(pos)  # (B, T, C)
        if self.length_conditioned:
            if remaining is None:
                raise ModelError("this model is length-conditioned: it needs the remaining "
                                 "length of every row")
            x = x + self.transformer.wle(remaining.clamp(0, self.config.length_embedding - 1))
        x = self.transformer.drop(x)  # (B, T, C)
        for block in self.transformer.h:
            x = block(x)
        logits = self.lm_head(self.transformer.ln_f(x))  # (B, T, V)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1),
                                   ignore_index=-1)
        return logits, loss

    def optimizer(self, learning_rate: float, betas: tuple[float, float],
                  weight_decay: float) -> torch.optim.AdamW:
        """AdamW with weight decay on matmul weights only (not biases, norms, embeddings)."""
        decay, no_decay = [], []
        for module in self.modules():
            for name, parameter in module.named_parameters(recurse=False):
                if name == "weight" and isinstance(module, nn.Linear):
                    decay.append(parameter)
                else:
                    no_decay.append(parameter)
        groups = [{"params": decay, "weight_decay": weight_decay},
                  {"params": no_decay, "weight_decay": 0.0}]
        return torch.optim.AdamW(groups, lr=learning_rate, betas=betas)
