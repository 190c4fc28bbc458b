"""A real single-node SLURM for the tests: munged, slurmctld and slurmd as root, no systemd.

Debian 12's slurm-wlm 22.05 and munge (installed by .ci/run). The config keeps everything
under one folder: no accounting, proctrack/linuxproc, task/none, select/cons_tres.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def slurm_available() -> str | None:
    """Why a local SLURM cannot start here (None when it can)."""
    for program in ("munged", "slurmctld", "slurmd", "sinfo", "sbatch"):
        if shutil.which(program) is None:
            return f"{program} not found: apt-get install slurm-wlm munge (see .ci/run)"
    if os.geteuid() != 0:
        return "the test SLURM runs its daemons as root"
    return None


class SlurmCluster:
    """Start with :meth:`start`, stop with :meth:`stop`; ``env`` has SLURM_CONF for clients."""

    def __init__(self, folder: Path, cpus: int | None = None, memory_mb: int = 8000):
        self.folder = Path(folder)
        self.host = socket.gethostname()
        self.cpus = cpus or os.cpu_count() or 1
        self.memory_mb = memory_mb
        self.conf = self.folder / "slurm.conf"
        self.processes: list[subprocess.Popen] = []
        self.env = {**os.environ, "SLURM_CONF": str(self.conf)}

    def write_conf(self) -> None:
        f = self.folder
        for sub in ("state", "spool", "munge"):
            (f / sub).mkdir(parents=True, exist_ok=True)
        self.conf.write_text(f"""ClusterName=polyhpc-test
SlurmctldHost={self.host}
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={f}/munge/munge.socket
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
StateSaveLocation={f}/state
SlurmdSpoolDir={f}/spool
SlurmctldPidFile={f}/slurmctld.pid
SlurmdPidFile={f}/slurmd.pid
SlurmctldLogFile={f}/slurmctld.log
SlurmdLogFile={f}/slurmd.log
KillWait=5
NodeName={self.host} CPUs={self.cpus} RealMemory={self.memory_mb} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
""")

    def start(self, timeout_s: float = 60.0) -> SlurmCluster:
        self.write_conf()
        f = self.folder
        self.processes.append(subprocess.Popen(
            ["munged", "--foreground", "--force", f"--socket={f}/munge/munge.socket",
             f"--pid-file={f}/munge/munged.pid", f"--log-file={f}/munge/munged.log",
             f"--seed-file={f}/munge/munged.seed"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        time.sleep(0.5)
        for daemon in (["slurmctld", "-D", "-i", "-f", str(self.conf)],
                       ["slurmd", "-D", "-f", str(self.conf)]):
            self.processes.append(subprocess.Popen(daemon, env=self.env,
                                                   stdout=subprocess.DEVNULL,
                                                   stderr=subprocess.DEVNULL))
            time.sleep(0.5)
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            state = self.run("sinfo", "-h", "-o", "%t").stdout.strip()
            if state == "idle":
                return self
            time.sleep(0.5)
        log = (f / "slurmctld.log").read_text()[-2000:] if (f / "slurmctld.log").exists() else ""
        self.stop()
        raise RuntimeError(f"the test SLURM node never became idle (sinfo: {state!r})\n{log}")

    def run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(list(args), env=self.env, capture_output=True, text=True,
                              timeout=60)

    def jobs(self) -> list[str]:
        """Ids of queued or running jobs."""
        return self.run("squeue", "-h", "-o", "%i").stdout.split()

    def stop(self) -> None:
        if self.conf.exists():
            for job in self.jobs():
                self.run("scancel", job)
        for process in reversed(self.processes):
            process.terminate()
        for process in reversed(self.processes):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        self.processes.clear()
