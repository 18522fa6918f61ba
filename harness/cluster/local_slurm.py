"""A real one-node Slurm cluster on this machine, for the cluster tests: ``make slurm-up`` / ``make slurm-down``.

Everything is the distribution's own Slurm and MUNGE (Debian's ``slurmctld``, ``slurmd``, ``slurmdbd``, ``munge``)
plus MariaDB, which ``slurmdbd`` needs for accounting: submitit reads a job's state with ``sacct``, so a cluster
without accounting would leave a sweep waiting forever on a job that died. Nothing goes into /etc or the system's
services: the daemons run as root from one state folder (``RAGSWEEP_SLURM_DIR``, default /tmp/ragsweep-slurm) with
their own MUNGE key, sockets, spool, logs and database, and the clients find the cluster through ``SLURM_CONF``.
The controller, the node daemon and the database listen on 127.0.0.1; ``slurmdbd`` has no such setting and listens
on every interface, where it answers only requests signed with this cluster's private MUNGE key.

``up`` records the pid of every daemon it starts; ``down`` cancels the cluster's jobs and stops exactly those pids
(each checked to still be the program it started), never a daemon of the machine's own.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("ragsweep.cluster.local_slurm")

CLUSTER = "ragsweep"
PORTS = {"slurmctld": 6817, "slurmd": 6818, "slurmdbd": 6819, "mariadbd": 3307}
PACKAGES = ("munge", "slurmctld", "slurmd", "slurm-client", "slurmdbd", "mariadb-server")
PROGRAMS = ("munged", "mariadb", "slurmctld", "slurmd", "slurmdbd", "sacctmgr", "sinfo", "sbatch", "mariadbd", "mariadb-install-db")
DB_USER, DB_PASSWORD = "slurm", "ragsweep-local"  # a database reachable only on 127.0.0.1, for this test cluster
CPUS = 2
CRED_EXPIRE_S = 10  # also how long a requeued job waits before it may start again (Slurm's default: 120 s)


class ClusterError(RuntimeError):
    """The cluster could not be brought up or down; the message is one line that says what and where to look."""


@dataclass(frozen=True)
class Layout:
    """Where a local cluster keeps everything: one folder, so that ``down`` and a rerun find all of it."""

    root: Path

    @classmethod
    def from_environment(cls) -> "Layout":
        return cls(Path(os.environ.get("RAGSWEEP_SLURM_DIR", "/tmp/ragsweep-slurm")).resolve())

    @property
    def conf(self) -> Path:
        return self.root / "slurm.conf"

    @property
    def dbd_conf(self) -> Path:  # slurmdbd reads slurmdbd.conf from SLURM_CONF's folder
        return self.root / "slurmdbd.conf"

    @property
    def munge_key(self) -> Path:
        return self.root / "munge" / "munge.key"

    @property
    def munge_socket(self) -> Path:
        return self.root / "munge" / "munge.socket"

    @property
    def db_data(self) -> Path:
        return self.root / "mariadb" / "data"

    @property
    def db_socket(self) -> Path:
        return self.root / "mariadb" / "mariadbd.sock"

    @property
    def started(self) -> Path:
        return self.root / "started.json"

    def environment(self) -> dict[str, str]:
        return {**os.environ, "SLURM_CONF": str(self.conf)}


def slurm_conf(layout: Layout, host: str, cpus: int, memory_mb: int) -> str:
    """slurm.conf of a one-node cluster on 127.0.0.1: two partitions, ``long`` (the default, no time limit) whose jobs
    are requeued when a ``short`` job (higher priority tier, at most an hour) needs their CPUs. No cgroups: processes
    are tracked by their parent (proctrack/linuxproc), which runs in a container as well as on a host."""
    root = layout.root
    return "\n".join([
        f"ClusterName={CLUSTER}",
        f"SlurmctldHost={host}(127.0.0.1)",
        f"SlurmctldPort={PORTS['slurmctld']}",
        f"SlurmdPort={PORTS['slurmd']}",
        "CommunicationParameters=NoCtldInAddrAny,NoInAddrAny",
        "SlurmUser=root",
        "SlurmdUser=root",
        "AuthType=auth/munge",
        "CredType=cred/munge",
        f"AuthInfo=socket={layout.munge_socket},cred_expire={CRED_EXPIRE_S}",
        "AccountingStorageType=accounting_storage/slurmdbd",
        "AccountingStorageHost=127.0.0.1",
        f"AccountingStoragePort={PORTS['slurmdbd']}",
        f"AccountingStoragePass={layout.munge_socket}",  # the MUNGE socket that signs requests to slurmdbd
        "JobAcctGatherType=jobacct_gather/none",
        "JobCompType=jobcomp/none",
        f"StateSaveLocation={root / 'slurmctld'}",
        f"SlurmdSpoolDir={root / 'slurmd'}",
        f"SlurmctldPidFile={root / 'slurmctld.pid'}",
        f"SlurmdPidFile={root / 'slurmd.pid'}",
        f"SlurmctldLogFile={root / 'slurmctld.log'}",
        f"SlurmdLogFile={root / 'slurmd.log'}",
        "ProctrackType=proctrack/linuxproc",
        "TaskPlugin=task/none",
        "SwitchType=switch/none",
        "MpiDefault=none",
        "SchedulerType=sched/backfill",
        "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_CPU",
        "ReturnToService=2",
        "JobRequeue=1",
        "PreemptType=preempt/partition_prio",
        "PreemptMode=REQUEUE",
        "KillWait=5",
        "MinJobAge=3600",
        f"NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory_mb} State=UNKNOWN",
        "PartitionName=long Nodes=ALL Default=YES MaxTime=INFINITE PriorityTier=1 PreemptMode=REQUEUE State=UP",
        "PartitionName=short Nodes=ALL MaxTime=60 PriorityTier=2 PreemptMode=OFF State=UP",
        "",
    ])


def slurmdbd_conf(layout: Layout) -> str:
    return "\n".join([
        "AuthType=auth/munge",
        f"AuthInfo=socket={layout.munge_socket}",
        "DbdHost=localhost",
        "DbdAddr=127.0.0.1",
        f"DbdPort={PORTS['slurmdbd']}",
        "SlurmUser=root",
        f"LogFile={layout.root / 'slurmdbd.log'}",
        f"PidFile={layout.root / 'slurmdbd.pid'}",
        "StorageType=accounting_storage/mysql",
        "StorageHost=127.0.0.1",
        f"StoragePort={PORTS['mariadbd']}",
        f"StorageUser={DB_USER}",
        f"StoragePass={DB_PASSWORD}",
        "StorageLoc=slurm_acct_db",
        "",
    ])


def install_packages() -> None:
    """Slurm, MUNGE and MariaDB from the distribution (as root); nothing to do where they are installed."""
    if all(shutil.which(p) for p in PROGRAMS):
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise ClusterError(f"Slurm is not installed and this is not root on a Debian-like system: install {' '.join(PACKAGES)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *PACKAGES]
    log.info("installing %s with apt-get", " ".join(PACKAGES))
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, check=False)
        done = subprocess.run(install, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise ClusterError(f"apt-get could not install {' '.join(PACKAGES)}: {done.stderr.strip().splitlines()[-1:]}")


def memory_mb() -> int:
    with open("/proc/meminfo") as fh:
        total_kb = next(int(line.split()[1]) for line in fh if line.startswith("MemTotal:"))
    return max(1024, total_kb // 1024 - 1024)  # leave the daemons a GiB


def read_pid(path: Path) -> int:
    return int(path.read_text().strip())


def program_of(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return None


def alive(started: dict[str, int]) -> dict[str, bool]:
    return {name: program_of(pid) == name for name, pid in started.items()}


def wait_for(what: str, ready, timeout_s: float, log_file: Path | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.5)
    where = f"; see {log_file}" if log_file else ""
    raise ClusterError(f"{what} did not come up within {timeout_s:.0f} s{where}")


def port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def run(cmd: list[str], layout: Layout, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(cmd, env=layout.environment(), capture_output=True, text=True, timeout=120)
    if check and done.returncode != 0:
        raise ClusterError(f"{' '.join(cmd)} failed: {(done.stderr or done.stdout).strip().splitlines()[-1:]}")
    return done


class Starter:
    """Starts the daemons one after another and records each pid as soon as it runs, so that a failure half way
    leaves a record ``down`` can stop."""

    def __init__(self, layout: Layout):
        self.layout = layout
        self.pids: dict[str, int] = {}

    def record(self, name: str, pid: int) -> None:
        self.pids[name] = pid
        self.layout.started.write_text(json.dumps(self.pids, indent=1) + "\n")

    def daemon(self, name: str, cmd: list[str], pid_file: Path, log_file: Path, ready=None) -> None:
        """A program that forks into the background and writes its pid file."""
        pid_file.unlink(missing_ok=True)
        done = subprocess.run(cmd, env=self.layout.environment(), capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise ClusterError(f"{name} would not start ({(done.stderr or done.stdout).strip()[-200:]}); see {log_file}")
        wait_for(f"{name}'s pid file", pid_file.exists, 30, log_file)
        wait_for(f"{name}'s pid file", lambda: pid_file.read_text().strip().isdigit(), 10, log_file)
        self.record(name, read_pid(pid_file))
        if ready:
            wait_for(name, ready, 60, log_file)

    def foreground(self, name: str, cmd: list[str], log_file: Path, ready) -> None:
        """A program that stays in the foreground: started in its own session, its output to its log."""
        with open(log_file, "ab") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=out, stdin=subprocess.DEVNULL, start_new_session=True,
                                    env=self.layout.environment())
        self.record(name, proc.pid)
        wait_for(name, ready, 60, log_file)


def up(layout: Layout) -> None:
    """Install what is missing, write the configuration, start MUNGE, MariaDB, slurmdbd, slurmctld and slurmd, and wait
    until the node is idle. A cluster already up is left as it is."""
    if layout.started.exists():
        started = json.loads(layout.started.read_text())
        if started and all(alive(started).values()):
            log.info("the local Slurm cluster is already up (%s)", layout.root)
            return
        down(layout)  # half up: stop what is left, then start afresh
    install_packages()
    busy = [f"{name} {port}" for name, port in PORTS.items() if not port_free(port)]
    if busy:
        raise ClusterError(f"ports in use on 127.0.0.1: {', '.join(busy)} (another Slurm or database?); stop it first")
    root = layout.root
    for sub in ("munge", "mariadb", "slurmctld", "slurmd"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    root.chmod(0o755)
    (root / "munge").chmod(0o755)  # munged refuses a key or socket folder others may write to
    if not layout.munge_key.exists():
        layout.munge_key.write_bytes(os.urandom(128))
    layout.munge_key.chmod(0o600)
    host = socket.gethostname().split(".")[0]
    layout.conf.write_text(slurm_conf(layout, host, min(CPUS, os.cpu_count() or 1), memory_mb()))
    layout.dbd_conf.write_text(slurmdbd_conf(layout))
    layout.dbd_conf.chmod(0o600)  # it holds the database password; slurmdbd insists

    start = Starter(layout)
    munge = root / "munge"
    start.daemon("munged", ["munged", "--force", f"--socket={layout.munge_socket}", f"--key-file={layout.munge_key}",
                            f"--log-file={munge / 'munged.log'}", f"--pid-file={munge / 'munged.pid'}",
                            f"--seed-file={munge / 'munged.seed'}"], munge / "munged.pid", munge / "munged.log",
                 ready=layout.munge_socket.exists)
    if not layout.db_data.exists():
        run(["mariadb-install-db", "--user=root", f"--datadir={layout.db_data}", "--skip-test-db"], layout)
    start.foreground("mariadbd", ["mariadbd", "--user=root", f"--datadir={layout.db_data}", f"--socket={layout.db_socket}",
                                  "--bind-address=127.0.0.1", f"--port={PORTS['mariadbd']}",
                                  f"--pid-file={root / 'mariadb' / 'mariadbd.pid'}"],
                     root / "mariadb" / "mariadbd.log", ready=lambda: not port_free(PORTS["mariadbd"]))
    run(["mariadb", f"--socket={layout.db_socket}", "-e",
         f"CREATE USER IF NOT EXISTS '{DB_USER}'@'127.0.0.1' IDENTIFIED BY '{DB_PASSWORD}'; "
         f"GRANT ALL ON slurm_acct_db.* TO '{DB_USER}'@'127.0.0.1';"], layout)
    start.daemon("slurmdbd", ["slurmdbd"], root / "slurmdbd.pid", root / "slurmdbd.log",
                 ready=lambda: run(["sacctmgr", "-n", "list", "cluster"], layout, check=False).returncode == 0)
    if CLUSTER not in run(["sacctmgr", "-n", "-P", "list", "cluster", "format=cluster"], layout).stdout.split():
        run(["sacctmgr", "-i", "add", "cluster", CLUSTER], layout)
    start.daemon("slurmctld", ["slurmctld"], root / "slurmctld.pid", root / "slurmctld.log")
    start.daemon("slurmd", ["slurmd", "-N", host], root / "slurmd.pid", root / "slurmd.log")
    wait_for("the node", lambda: set(run(["sinfo", "-h", "-N", "-o", "%T"], layout, check=False).stdout.split()) == {"idle"},
             90, root / "slurmctld.log")
    log.info("local Slurm cluster up: node %s idle, partitions long (default) and short; export SLURM_CONF=%s", host, layout.conf)


def cancel_jobs(layout: Layout, timeout_s: float = 60) -> None:
    """Cancel every job of the cluster and wait until none is left running (their processes are slurmstepd's, not
    the daemons', and would outlive them)."""
    queued = run(["squeue", "-h", "-o", "%i"], layout, check=False)
    if queued.returncode != 0 or not queued.stdout.strip():
        return
    run(["scancel", "--full", *queued.stdout.split()], layout, check=False)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not run(["squeue", "-h", "-o", "%i"], layout, check=False).stdout.strip():
            return
        time.sleep(1)
    log.warning("some jobs were still ending after %.0f s", timeout_s)


def stop(name: str, pid: int, timeout_s: float = 30) -> None:
    if program_of(pid) != name:  # gone, or the pid is now another program's: not ours to stop
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and program_of(pid) == name:
        time.sleep(0.2)
    if program_of(pid) == name:
        log.warning("%s (pid %d) ignored SIGTERM for %.0f s: killed", name, pid, timeout_s)
        os.kill(pid, signal.SIGKILL)


def down(layout: Layout) -> None:
    """Cancel the cluster's jobs, then stop the daemons ``up`` started, last started first."""
    if not layout.started.exists():
        log.info("no local Slurm cluster was started from %s", layout.root)
        return
    started: dict[str, int] = json.loads(layout.started.read_text())
    if started.get("slurmctld") and alive(started).get("slurmctld"):
        cancel_jobs(layout)
    for name, pid in reversed(list(started.items())):
        stop(name, pid)
    layout.started.unlink()
    log.info("local Slurm cluster down: stopped %s", ", ".join(f"{n} ({p})" for n, p in started.items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ragsweep.cluster.local_slurm", description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["up", "down"], help="up: install what is missing, start the cluster and wait "
                        "for its node; down: cancel its jobs and stop the daemons up started")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    layout = Layout.from_environment()
    try:
        up(layout) if args.action == "up" else down(layout)
    except ClusterError as err:
        log.error("slurm-%s: %s", args.action, err)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
