"""The generator's settings: training set, model preset, training loop, sampling.

Plain frozen dataclasses with their valid ranges in ``metadata``, read by
:func:`polyhpc.config.load_config`. They live apart from the modules that
use them (which import torch) so that a campaign's light commands
(``campaign plan``, ``campaign status``) read a campaign config without
importing torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Architecture presets: (n_layer, n_head, n_embd).
PRESETS = {
    "gpt-nano": (3, 3, 48),
    "gpt-micro": (4, 4, 128),
    "gpt-mini": (6, 6, 192),
    "gpt2": (12, 12, 768),
}



@dataclass(frozen=True)
class ExtraUnits:
    """Units appended to the training set ``copies`` times with class ``label``."""

    smiles: str = "*CCO*"
    copies: int = field(default=4000, metadata={"min": 0, "max": 1_000_000})
    label: int = field(default=1, metadata={"min": 0, "max": 1})


@dataclass(frozen=True)
class TrainingSetConfig:
    """How the generator's training set is assembled.

    Deviation from PolyGen, kept on purpose: the ``validation_fraction`` of *distinct*
    units is held out before the high class is oversampled, so no validation unit is
    ever trained on (at 5 %, about 15 high-class units; PolyGen splits after
    oversampling, so copies of a unit sit on both sides and its validation loss flatters).
    """

    high_fraction: float = field(default=0.05, metadata={"min": 0.001, "max": 0.5})
    # A fixed class threshold (mS/cm) instead of the high_fraction quantile: a campaign
    # fixes it at iteration 1 so that it never moves when results are added (paper 3.1).
    threshold_mS_per_cm: float | None = field(default=None, metadata={"min": 0.0})
    oversample: bool = True
    extra: tuple[ExtraUnits, ...] = (ExtraUnits(),)
    validation_fraction: float = field(default=0.05, metadata={"min": 0.0, "max": 0.5})
    prefix_length: int = field(default=5, metadata={"min": 1, "max": 16})
    seed: int = field(default=0, metadata={"min": 0})


@dataclass(frozen=True)
class TrainConfig:
    """Optimizer and loop settings (defaults: the seed paper's minGPT setup).

    Deviation from PolyGen, kept on purpose: the loss ignores the targets of the class
    prompt and of the padding (PolyGen trains on both, so its model also learns to
    predict the prompt it is always given and the padding after the end token).
    """

    preset: str = field(default="gpt-nano", metadata={"choices": tuple(PRESETS)})
    block_size: int = field(default=64, metadata={"min": 8, "max": 1024})
    dropout: float = field(default=0.1, metadata={"min": 0.0, "max": 0.9})
    # Length conditioning (not in the paper): "prompt" adds a length token after the class
    # tokens; "countdown" adds the remaining unit length to every position's embedding.
    length_conditioning: str = field(default="none",
                                     metadata={"choices": ("none", "prompt", "countdown")})
    # Length tokens / embeddings: lengths 0 .. max_length - 2, and one for all longer units.
    max_length: int = field(default=48, metadata={"min": 2, "max": 1024})
    max_iters: int = field(default=6000, metadata={"min": 1})
    batch_size: int = field(default=64, metadata={"min": 1})
    learning_rate: float = field(default=5e-4, metadata={"min": 0.0})
    betas: tuple[float, float] = field(default=(0.9, 0.95),
                                       metadata={"min": 0.0, "max": 1.0, "max_open": True})
    weight_decay: float = field(default=0.1, metadata={"min": 0.0})
    grad_norm_clip: float = field(default=1.0, metadata={"min": 0.0})
    eval_interval: int = field(default=500, metadata={"min": 1})
    checkpoint_interval: int = field(default=1000, metadata={"min": 1})
    device: str = field(default="auto", metadata={"choices": ("auto", "cpu", "cuda")})
    threads: int | None = field(default=None, metadata={"min": 1})
    seed: int = field(default=0, metadata={"min": 0})


@dataclass(frozen=True)
class GeneratorConfig:
    """Everything ``polyhpc generate train`` reads from its YAML config."""

    data: TrainingSetConfig = TrainingSetConfig()
    train: TrainConfig = TrainConfig()


@dataclass(frozen=True)
class SampleConfig:
    """How candidates are drawn and filtered."""

    n: int = field(default=50, metadata={"min": 1})
    prompt: str = "11111"
    temperature: float = field(default=1.0, metadata={"min": 1e-3})
    top_k: int | None = field(default=40, metadata={"min": 1})
    # PolyGen samples in training mode: dropout stays on (its pipeline never calls eval()).
    dropout: bool = True
    # The length limit of a candidate, counted as ``token_count`` says: "body" counts the
    # unit's tokens between its two end markers (polyhpc's count); "with-ends" counts the
    # two end markers too, as the paper's authors did (their "10 or fewer tokens" keeps
    # bodies of at most 8: their generated table has none of 9 or 10, and no training unit
    # is shorter than 9 with its ends).
    max_tokens: int | None = field(default=10, metadata={"min": 1})
    token_count: str = field(default="body", metadata={"choices": ("body", "with-ends")})
    # "reject": sample freely, reject rows over max_tokens (the paper);
    # "budget": mask tokens so that every row ends within max_tokens (see decode.py).
    decoding: str = field(default="reject", metadata={"choices": ("reject", "budget")})
    # Unit lengths asked of a length-conditioned model, drawn uniformly per row;
    # empty: 1 .. max_tokens. Ignored by other models.
    lengths: tuple[int, ...] = field(default=(), metadata={"min": 1, "max": 1024})
    batch_size: int = field(default=500, metadata={"min": 1})
    max_draws: int = field(default=200_000, metadata={"min": 1})
    # Stability and synthesizability screen (polyhpc.chem.stability): off reproduces the paper.
    stability: bool = False
    stability_rules: tuple[str, ...] = ()  # empty: every rule
    sa_threshold: float = field(default=5.0, metadata={"min": 1.0, "max": 10.0})
    seed: int = field(default=0, metadata={"min": 0})

    def __post_init__(self):
        if self.token_count == "with-ends" and self.max_tokens is not None \
                and self.max_tokens < 3:
            raise ValueError(f"max_tokens: {self.max_tokens} counted with the two end markers "
                             "leaves no body token")

    @property
    def body_tokens(self) -> int | None:
        """The most tokens a unit's body may have (None: no limit)."""
        if self.max_tokens is None:
            return None
        return self.max_tokens - 2 if self.token_count == "with-ends" else self.max_tokens
