"""Settings of the surrogate models (frozen dataclasses, YAML-loadable).

Kept free of numerical imports so that the command line and the campaign
config can declare options from them without loading RDKit or scikit-learn.
Load from YAML with :func:`polyhpc.config.load_config`, e.g.::

    kind: gp                 # or gbt: the first surrogate's tree ensembles
    targets: [log10_conductivity]
    gp: {kernel: tanimoto, hyper_rows: 1500}   # or tanimoto+linear, linear
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from polyhpc.errors import ModelError

#: Target name -> (source column, transform). Transport values span decades: log10.
TARGETS = {
    "log10_conductivity": ("conductivity_S_per_cm", "log10"),
    "log10_li_diffusivity": ("li_diffusivity_cm2_per_s", "log10"),
    "log10_tfsi_diffusivity": ("tfsi_diffusivity_cm2_per_s", "log10"),
    "log10_poly_diffusivity": ("poly_diffusivity_cm2_per_s", "log10"),
    "transference_number": ("transference_number", "identity"),
}
#: Unit of each target as predicted (for labels).
TARGET_UNITS = {"log10_conductivity": "log10 S/cm", "log10_li_diffusivity": "log10 cm²/s",
                "log10_tfsi_diffusivity": "log10 cm²/s", "log10_poly_diffusivity": "log10 cm²/s",
                "transference_number": "1"}
KINDS = ("gp", "gbt")
STYLES = ("periodic", "unit")
GP_KERNELS = ("tanimoto", "tanimoto+linear", "linear")


@dataclass(frozen=True)
class FeatureSettings:
    """How features are built (saved with every model); see :mod:`polyhpc.surrogate.features`."""

    style: str = field(default="periodic", metadata={"choices": STYLES})
    radius: int = field(default=2, metadata={"min": 1, "max": 4})
    n_bits: int = field(default=2048, metadata={"min": 64, "max": 16384})
    descriptors: bool = True

    def to_dict(self) -> dict:
        """Plain-data form."""
        return asdict(self)


#: The first surrogate's features (use with ``kind="gbt"`` to reproduce it).
UNIT_FEATURES = FeatureSettings(style="unit", n_bits=1024)


@dataclass(frozen=True)
class GPSettings:
    """Kernel and fitting settings of the Gaussian process (:mod:`polyhpc.surrogate.gp`)."""

    #: tanimoto won the out-of-distribution benchmark (analysis/surrogate_ood.py);
    #: tanimoto+linear adds a linear trend in the chain-physics descriptors.
    kernel: str = field(default="tanimoto", metadata={"choices": GP_KERNELS})
    #: Rows used to fit the kernel hyperparameters (the GP is conditioned on all rows).
    hyper_rows: int = field(default=1500, metadata={"min": 50, "max": 20000})
    #: Standardized descriptors are clipped to +- this many training standard deviations.
    descriptor_clip: float = field(default=6.0, metadata={"min": 1.0, "max": 100.0})

    def to_dict(self) -> dict:
        """Plain-data form."""
        return asdict(self)


@dataclass(frozen=True)
class SurrogateConfig:
    """Model settings.

    ``features`` left empty means the kind's own features: periodic ones for
    ``gp``, the first surrogate's unit features for ``gbt`` (so ``kind: gbt``
    alone reproduces the first model). ``members`` .. ``l2_regularization``
    apply to ``gbt`` only, ``gp`` to ``gp`` only.
    """

    kind: str = field(default="gp", metadata={"choices": KINDS})
    targets: tuple[str, ...] = ("log10_conductivity",)
    features: FeatureSettings | None = None
    gp: GPSettings = GPSettings()
    members: int = field(default=5, metadata={"min": 1, "max": 100})
    max_iter: int = field(default=300, metadata={"min": 10, "max": 10000})
    learning_rate: float = field(default=0.08, metadata={"min": 1e-4, "max": 1.0})
    max_leaf_nodes: int = field(default=31, metadata={"min": 2, "max": 4096})
    l2_regularization: float = field(default=1.0, metadata={"min": 0.0, "max": 1e6})
    #: Training values above this are refused as implausible for S/cm (mS/cm by mistake).
    max_conductivity_S_per_cm: float = field(default=1e-2, metadata={"min": 1e-5, "max": 10.0})
    seed: int = field(default=0, metadata={"min": 0})

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ModelError(f"unknown surrogate kind {self.kind!r}; use {', '.join(KINDS)}")
        if self.gp.kernel not in GP_KERNELS:
            raise ModelError(f"unknown GP kernel {self.gp.kernel!r}; use "
                             f"{', '.join(GP_KERNELS)}")
        unknown = [t for t in self.targets if t not in TARGETS]
        if unknown or not self.targets:
            raise ModelError(f"unknown target(s) {', '.join(unknown) or '(none given)'}; "
                             f"known: {', '.join(TARGETS)}")

    @property
    def feature_settings(self) -> FeatureSettings:
        """The features this model uses."""
        if self.features is not None:
            return self.features
        return FeatureSettings() if self.kind == "gp" else UNIT_FEATURES
