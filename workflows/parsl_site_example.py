"""An example factory for ``site: {kind: parsl, factory: parsl_site_example.py}``.

Three HighThroughputExecutors on this machine, labelled for polyhpc's pools. On
a cluster, give each its provider (``LSFProvider``, ``FluxExecutor`` ...) and
launcher instead; polyhpc only needs the labels ``ai``, ``md`` and ``cpu``.
"""

import os
import sys

from parsl.config import Config
from parsl.executors import HighThroughputExecutor
from parsl.providers import LocalProvider


def make_config(run_dir: str) -> Config:
    """One small local pool per label (``run_dir``: where Parsl logs, in the campaign)."""
    def pool(label: str, workers: int) -> HighThroughputExecutor:
        # Parsl starts its interchange and workers by name: from this Python's bin/
        bin_dir = os.path.dirname(sys.executable)
        path = f"export PATH={bin_dir}:$PATH"
        return HighThroughputExecutor(label=label, max_workers_per_node=workers,
                                      address="127.0.0.1",
                                      interchange_launch_cmd=[os.path.join(bin_dir,
                                                                           "interchange.py")],
                                      provider=LocalProvider(init_blocks=1, max_blocks=1,
                                                             worker_init=path))

    return Config(executors=[pool("ai", 1), pool("md", 2), pool("cpu", 1)], run_dir=run_dir)
