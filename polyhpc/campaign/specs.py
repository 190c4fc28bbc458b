"""What crosses the Parsl boundary: typed task specs and outcomes, serialized in one place.

Every campaign task is one kind (``train``, ``sample``, ``build``, ``md``,
``analyze``, ``surrogate_train``, ``surrogate_predict``, ``noop``) with a
frozen spec the driver builds and a frozen outcome the worker returns. Both
travel as plain JSON data (:func:`encode`) and are rebuilt, with every field
checked, by :func:`decode_spec` and :func:`decode_outcome`; nothing else is
handed to a worker or read back from one.

A replica's spec carries its MD protocol inline (every setting, not a
profile name that a file behind it could change) and the sha256 of the
force-field file it must be built with; the worker refuses a ``.frc`` whose
hash differs. Paths in specs are absolute: the driver resolves them against
the campaign folder when it submits a task, so a moved or copied campaign
folder runs in its new place.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from polyhpc.config import load_config, to_dict
from polyhpc.generate.config import GeneratorConfig, SampleConfig
from polyhpc.md.settings import Protocol
from polyhpc.surrogate.config import SurrogateConfig

# ---------------------------------------------------------------------------- generator


@dataclass(frozen=True)
class TrainSpec:
    """Train (or continue training) the generator of one iteration."""

    dataset: str
    config: GeneratorConfig
    out: str
    #: fine-tuning: the previous iteration's checkpoint and the sha256 the ledger recorded
    init: str | None = None
    init_sha256: str | None = None


@dataclass(frozen=True)
class TrainOutcome:
    """The trained checkpoint and its summary."""

    checkpoint: str
    sha256: str
    iterations: int
    final_train_loss: float | None
    final_validation_loss: float | None
    wall_s: float
    n_parameters: int
    data_summary: dict = field(default_factory=dict)


@dataclass(frozen=True)
class SampleSpec:
    """Draw one iteration's candidates from a recorded checkpoint."""

    checkpoint: str
    checkpoint_sha256: str
    known: str  # a text file: one unit the candidates must be novel against per line
    sampling: SampleConfig


@dataclass(frozen=True)
class SampledUnit:
    """One accepted candidate of the sampler."""

    smiles: str
    canonical: str
    n_tokens: int
    draw: int


@dataclass(frozen=True)
class SampleOutcome:
    """Accepted candidates and why the other draws were rejected."""

    candidates: tuple[SampledUnit, ...]
    draws: int
    rejected: dict
    reached: bool
    sampling: dict


# ---------------------------------------------------------------------------- MD


@dataclass(frozen=True)
class ReplicaSpec:
    """One MD replica attempt: the build task and the LAMMPS task of a replica share it.

    ``protocol`` is the whole MD protocol (its ``replicas`` set to the campaign's);
    ``frc_sha256`` is the force-field file's hash the campaign's identity holds.
    ``gpus`` fills ``{gpus}`` in the protocol's ``lmp_args`` (0: a CPU run).
    ``time_budget_s`` is an explicit wall-clock budget for this call (None: none, or
    inside a SLURM block the time left before its walltime minus ``walltime_margin_s``).
    """

    smiles: str
    workdir: str
    protocol: Protocol
    seed: int = field(metadata={"min": 0})
    replica: int = field(metadata={"min": 0})
    frc: str = ""
    frc_sha256: str = ""
    threads: int = field(default=1, metadata={"min": 1})
    mpi_ranks: int = field(default=1, metadata={"min": 1})
    lmp_args: tuple[str, ...] = ()
    gpus: int = field(default=0, metadata={"min": 0})
    walltime_margin_s: int = field(default=300, metadata={"min": 0})
    lmp_prefix: tuple[str, ...] = ()
    time_budget_s: float | None = field(default=None, metadata={"min": 0.0})
    #: adaptive MD: a production checkpoint every so many steps, analyzed from this step on
    checkpoint_every_steps: int | None = field(default=None, metadata={"min": 1})
    partial_from_steps: int = field(default=0, metadata={"min": 0})


@dataclass(frozen=True)
class BuildOutcome:
    """Whether the build task built the system (False: it was built already)."""

    built: bool


@dataclass(frozen=True)
class ReplicaOutcome:
    """How one LAMMPS call of a replica ended.

    ``status`` is ``finished``, ``failed`` (``stage`` and ``error`` say where and why),
    ``timed out`` (stopped cleanly by its time budget; submitting it again continues) or
    ``stopped early`` (adaptive MD decided its candidate: the production ended at a
    checkpoint, ``production_ps`` into it). ``records`` lists what each LAMMPS run of
    the call did.
    """

    status: str
    stage: str | None = None
    error: str | None = None
    records: tuple[dict, ...] = ()
    ns_per_day: dict = field(default_factory=dict)
    seeds: dict = field(default_factory=dict)
    production_ps: float | None = field(default=None, metadata={"min": 0.0})

    @property
    def ok(self) -> bool:
        """True when the replica finished its production."""
        return self.status == "finished"


@dataclass(frozen=True)
class AnalyzeSpec:
    """Analyze a replica's production trajectory."""

    workdir: str


@dataclass(frozen=True)
class AnalysisOutcome:
    """A replica's transport properties (S/cm, cm²/s; ``units`` says) and their provenance.

    ``provenance`` is what the run folder's ``meta.json`` says the numbers were computed
    with: protocol name, settings hash and deviations, force field and its file hash,
    the system's hash and the run's own provenance record.
    """

    properties: dict
    provenance: dict


# ---------------------------------------------------------------------------- surrogate


@dataclass(frozen=True)
class SurrogateTrainSpec:
    """Train the surrogate on HTP-MD plus a campaign's MD means (``extra_csv``)."""

    config: SurrogateConfig
    out: str
    extra_csv: str | None = None


@dataclass(frozen=True)
class SurrogateTrainOutcome:
    """The trained model file and its size of training set."""

    model: str
    sha256: str
    n_training: int
    describe: dict = field(default_factory=dict)


@dataclass(frozen=True)
class PredictSpec:
    """Predict units with a recorded surrogate model file."""

    model: str
    model_sha256: str
    smiles: tuple[str, ...]


@dataclass(frozen=True)
class PredictOutcome:
    """One prediction row per unit (log10 S/cm; None and a ``reason`` where none)."""

    rows: tuple[dict, ...]


@dataclass(frozen=True)
class NoopSpec:
    """A task that does nothing but wait ``sleep_s`` (``campaign bench`` measures with it)."""

    value: int | None = field(default=None, metadata={"min": -(2**63), "max": 2**63 - 1})
    sleep_s: float = field(default=0.0, metadata={"min": 0.0})


@dataclass(frozen=True)
class NoopOutcome:
    """The value the no-op task was given."""

    value: int | None = None


#: Task kind -> (spec class, outcome class).
KINDS: dict[str, tuple[type, type]] = {
    "train": (TrainSpec, TrainOutcome),
    "sample": (SampleSpec, SampleOutcome),
    "build": (ReplicaSpec, BuildOutcome),
    "md": (ReplicaSpec, ReplicaOutcome),
    "analyze": (AnalyzeSpec, AnalysisOutcome),
    "surrogate_train": (SurrogateTrainSpec, SurrogateTrainOutcome),
    "surrogate_predict": (PredictSpec, PredictOutcome),
    "noop": (NoopSpec, NoopOutcome),
}


def encode(value) -> dict:
    """Plain JSON data of a spec or outcome (NaN and infinities become null)."""
    from polyhpc.fileio import finite_json

    if not dataclasses.is_dataclass(value):
        raise TypeError(f"not a task spec or outcome: {value!r}")
    return finite_json(to_dict(value))


def _decode(cls, data: dict, what: str):
    from polyhpc.errors import PolyhpcError

    try:
        return load_config(data, cls)
    except PolyhpcError as exc:
        raise PolyhpcError(f"{what}: {exc}") from None


def decode_spec(kind: str, data: dict):
    """The spec of task ``kind`` from :func:`encode`'s data (fields checked)."""
    return _decode(KINDS[kind][0], data, f"{kind} task spec")


def decode_outcome(kind: str, data: dict):
    """The outcome of task ``kind`` from :func:`encode`'s data (fields checked)."""
    return _decode(KINDS[kind][1], data, f"{kind} task outcome")
