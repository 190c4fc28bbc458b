"""The one error hierarchy of polyhpc.

Every failure a user can cause (bad input, missing data, a crashed external
program) is raised as a subclass of :class:`PolyhpcError`. The CLI prints such
errors as one line and exits non-zero; anything else is a bug.
"""


class PolyhpcError(Exception):
    """Base class of all errors polyhpc raises on purpose."""


class DataNotFoundError(PolyhpcError):
    """A dataset file could not be found locally nor downloaded."""


class DataIntegrityError(PolyhpcError):
    """A dataset file exists but its content is not what was expected."""


class InvalidSmilesError(PolyhpcError):
    """A repeat-unit SMILES failed validation."""


class TrajectoryError(PolyhpcError):
    """A trajectory or its metadata cannot be read or is inconsistent."""


class ReplicaMismatchError(PolyhpcError):
    """Trajectories given as replicas of one system describe different systems."""


class ConfigError(PolyhpcError):
    """A configuration file or option is invalid."""


class ModelError(PolyhpcError):
    """A generator or surrogate model cannot be built, loaded or used."""


class MissingDependencyError(PolyhpcError):
    """An optional dependency is missing; the message names how to install it."""


class RunFailedError(PolyhpcError):
    """A run ended without its result (every replica failed, no reference): exit code 3.

    Bad input is exit code 2; a run that was started and failed, or stopped with work
    left, is 3, so scripts can tell them apart.
    """

    exit_code = 3


class StoppedFromOutside(PolyhpcError):
    """A task's process was stopped by a signal from outside (a cancelled block, a kill).

    Not the task's fault: the campaign's scheduler submits it again, with the same
    seeds, like a task lost with its worker (``site.max_infra_retries``).
    """
