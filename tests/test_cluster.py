"""The Slurm pieces that run without a cluster: what a run records of its Slurm job, what the sweep says of a job
Slurm ended (from sacct), the time-limit signal left to Slurm, the GPU launcher's requests, and a local cluster's
``down`` stopping only what ``up`` started. The cluster itself is tested in tests/slurm (make test-slurm)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ragsweep.cluster import local_slurm
from ragsweep.cluster.scheduler import let_slurm_end_a_timed_out_job, scheduler_identity
from ragsweep.commands.sweep_status import STATUS_FILE, read_statuses, record_ended_job, summarize

CONFIGS = str(Path(__file__).resolve().parent.parent / "configs")


def test_a_run_records_its_slurm_job_task_node_and_restarts():
    array = {"SLURM_JOB_ID": "41", "SLURM_ARRAY_JOB_ID": "37", "SLURM_ARRAY_TASK_ID": "4", "SLURMD_NODENAME": "gpu7",
             "SLURM_JOB_PARTITION": "long", "SLURM_RESTART_COUNT": "2"}
    assert scheduler_identity(array) == {"name": "slurm", "job_id": "37_4", "node": "gpu7", "partition": "long", "restarts": 2}
    assert scheduler_identity({"SLURM_JOB_ID": "9", "SLURMD_NODENAME": "n1"}) == \
        {"name": "slurm", "job_id": "9", "node": "n1", "partition": None, "restarts": 0}
    assert scheduler_identity({"HOME": "/root"}) is None


@pytest.fixture
def fake_sacct(tmp_path, monkeypatch):
    """A ``sacct`` on PATH that prints what the test puts in sacct.out (and exits with sacct.rc)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sacct").write_text(f"#!/bin/sh\necho \"$@\" > {tmp_path}/sacct.args\ncat {tmp_path}/sacct.out\nexit $(cat {tmp_path}/sacct.rc)\n")
    (bin_dir / "sacct").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    (tmp_path / "sacct.rc").write_text("0")
    return tmp_path


@pytest.mark.process
def test_a_job_slurm_ended_is_a_failed_run_in_the_summary_with_slurms_state(fake_sacct, caplog):
    sweep = fake_sacct / "sweep"
    (sweep / "0").mkdir(parents=True)
    (sweep / "0" / STATUS_FILE).write_text(json.dumps({"ok": True, "detail": "/runs/a"}))
    (fake_sacct / "sacct.out").write_text("TIMEOUT|node3|00:01:07|00:01:00|0:0\n")
    record_ended_job(sweep / "1", "12_1", "Job 12_1 (task: 0) with path x\nhas not produced any output (state: TIMEOUT)\n"
                                          "Error stream produced:\n---\n[..] job 1: retrieve 3 of 9\nslurmstepd-node3: error: *** "
                                          "JOB 13 ON node3 CANCELLED AT 2026-12-07T15:21:22 DUE TO TIME LIMIT ***\nsrun: done")
    assert (fake_sacct / "sacct.args").read_text().split()[:2] == ["-j", "12_1"]
    statuses = read_statuses(sweep)
    assert statuses == [("0", True, "/runs/a"),
                        ("1", False, "Slurm job 12_1 on node3: TIMEOUT after 00:01:07 (time limit 00:01:00, exit code 0:0); "
                                     "Slurm's log: CANCELLED AT 2026-12-07T15:21:22 DUE TO TIME LIMIT")]
    with caplog.at_level("ERROR"):
        assert summarize(statuses) == 1
    assert "1 of 2 runs failed:\n  job 1: Slurm job 12_1 on node3: TIMEOUT after 00:01:07" in caplog.text


@pytest.mark.process
def test_a_job_that_reported_itself_keeps_its_status_and_an_unknown_job_says_sacct_has_no_record(fake_sacct):
    sweep = fake_sacct / "sweep"
    (sweep / "0").mkdir(parents=True)
    (sweep / "0" / STATUS_FILE).write_text(json.dumps({"ok": False, "detail": "its own reason"}))
    (fake_sacct / "sacct.out").write_text("CANCELLED by 0|n1|00:00:03|00:10:00|0:15\n")
    record_ended_job(sweep / "0", "5", "ended")
    assert read_statuses(sweep) == [("0", False, "its own reason")]
    (fake_sacct / "sacct.out").write_text("")
    (fake_sacct / "sacct.rc").write_text("1")
    record_ended_job(sweep / "1", "6", "FailedJobError: the job raised\nValueError: boom")
    assert read_statuses(sweep)[1] == ("1", False, "Slurm job 6: sacct has no record of it (no output); submitit: ValueError: boom")
    record_ended_job(sweep / "2", "7", "Job 7 (task: 0) with path x\nhas not produced any output (state: NODE_FAIL)\nsome log line")
    assert read_statuses(sweep)[2] == ("2", False, "Slurm job 7: sacct has no record of it (no output)")  # no guess from the log


class RecordingHandler:
    """submitit's SignalHandler as far as the wrapper reads it, recording whether it was called."""

    def __init__(self, timed_out: bool, countdown: int):
        self.timed_out, self.calls = timed_out, 0
        self._delayed = type("Delayed", (), {"_timeout_countdown": countdown})()

    def has_timed_out(self) -> bool:
        return self.timed_out

    def checkpoint_and_try_requeue(self, signum, frame) -> None:
        self.calls += 1


@pytest.mark.parametrize("timed_out, countdown, handled_by_submitit", [(True, 0, False), (True, 1, True), (False, 0, True)])
def test_slurms_time_limit_warning_is_left_to_slurm_only_when_no_requeue_is_left(timed_out, countdown, handled_by_submitit):
    previous = signal.getsignal(signal.SIGUSR2)
    submitit_side = RecordingHandler(timed_out, countdown)
    try:
        signal.signal(signal.SIGUSR2, submitit_side.checkpoint_and_try_requeue)
        let_slurm_end_a_timed_out_job()
        signal.getsignal(signal.SIGUSR2)(signal.SIGUSR2, None)
    finally:
        signal.signal(signal.SIGUSR2, previous)
    assert submitit_side.calls == int(handled_by_submitit)


def test_a_handler_it_does_not_know_is_left_as_it_is():
    previous = signal.getsignal(signal.SIGUSR2)
    try:
        signal.signal(signal.SIGUSR2, signal.SIG_IGN)
        let_slurm_end_a_timed_out_job()
        assert signal.getsignal(signal.SIGUSR2) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGUSR2, previous)


def test_the_gpu_launcher_asks_slurm_for_gpus_a_constraint_and_a_cap_on_parallel_jobs(tmp_path):
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from hydra_plugins.ragsweep_launcher.slurm_launcher import RagsweepSlurmLauncher

    with initialize_config_dir(config_dir=CONFIGS, version_base="1.3"):
        cfg = compose("config", overrides=["hydra/launcher=slurm_gpu", "hydra.launcher.constraint=h100",
                                           f"hydra.launcher.submitit_folder={tmp_path}/submitit"], return_hydra_config=True)
    params = OmegaConf.to_container(cfg.hydra.launcher, resolve=True)
    assert params.pop("_target_") == "hydra_plugins.ragsweep_launcher.slurm_launcher.RagsweepSlurmLauncher"
    asked = RagsweepSlurmLauncher(**params).job_parameters()
    assert (asked["gpus_per_node"], asked["slurm_constraint"], asked["slurm_array_parallelism"], asked["cpus_per_task"]) == (1, "h100", 8, 8)
    # Every one is a parameter submitit's Slurm executor takes (checked without a cluster: it needs srun to be built).
    from submitit import SlurmExecutor

    valid = set(SlurmExecutor._valid_parameters()) | {"timeout_min", "mem_gb", "nodes", "cpus_per_task", "gpus_per_node", "tasks_per_node", "name", "stderr_to_stdout"}
    assert {k.removeprefix("slurm_") for k in asked} <= valid


def test_the_clusters_configuration_stays_on_this_machine(tmp_path):
    layout = local_slurm.Layout(tmp_path)
    conf = dict(line.split("=", 1) for line in local_slurm.slurm_conf(layout, "box", 2, 4096).splitlines() if "=" in line and not line.startswith(("NodeName", "PartitionName")))
    assert conf["SlurmctldHost"] == "box(127.0.0.1)" and conf["AccountingStorageHost"] == "127.0.0.1"
    assert set(conf["CommunicationParameters"].split(",")) == {"NoCtldInAddrAny", "NoInAddrAny"}  # bind 127.0.0.1, not every address
    assert conf["PreemptType"] == "preempt/partition_prio" and conf["PreemptMode"] == "REQUEUE"
    assert all(str(tmp_path) in conf[k] for k in ("StateSaveLocation", "SlurmdSpoolDir", "AuthInfo", "AccountingStoragePass"))
    dbd = dict(line.split("=", 1) for line in local_slurm.slurmdbd_conf(layout).splitlines() if "=" in line)
    assert dbd["StorageHost"] == "127.0.0.1" and dbd["DbdAddr"] == "127.0.0.1"


@pytest.mark.process
def test_down_stops_the_daemons_up_started_and_nothing_else(tmp_path):
    ours = subprocess.Popen(["sleep", "60"])
    other = subprocess.Popen(["sleep", "60"])  # recorded under another program's name: a reused pid, not ours
    layout = local_slurm.Layout(tmp_path)
    layout.started.write_text(json.dumps({"sleep": ours.pid, "munged": other.pid, "slurmd": 2 ** 22 + 11}))
    try:
        local_slurm.down(layout)
        assert ours.wait(timeout=10) == -signal.SIGTERM
        time.sleep(0.2)
        assert other.poll() is None and not layout.started.exists()
    finally:
        other.kill()
        ours.kill()


def test_up_refuses_ports_another_program_holds(tmp_path, monkeypatch):
    import socket

    monkeypatch.setattr(local_slurm, "install_packages", lambda: None)
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        monkeypatch.setitem(local_slurm.PORTS, "slurmctld", held.getsockname()[1])
        with pytest.raises(local_slurm.ClusterError, match=f"ports in use on 127.0.0.1: slurmctld {held.getsockname()[1]}"):
            local_slurm.up(local_slurm.Layout(tmp_path))
    assert not (tmp_path / "started.json").exists()


@pytest.mark.process
def test_down_with_nothing_started_says_so():
    done = subprocess.run([sys.executable, "-m", "ragsweep.cluster.local_slurm", "down"], capture_output=True, text=True,
                          env={**os.environ, "RAGSWEEP_SLURM_DIR": "/nonexistent/ragsweep-slurm"}, timeout=60)
    assert done.returncode == 0 and done.stderr.strip() == "no local Slurm cluster was started from /nonexistent/ragsweep-slurm"


def test_a_cluster_that_cannot_come_up_is_one_line_and_exit_1(tmp_path, monkeypatch, caplog):
    def no_apt():
        raise local_slurm.ClusterError("Slurm is not installed and this is not root on a Debian-like system: install munge ...")

    monkeypatch.setattr(local_slurm, "install_packages", no_apt)
    monkeypatch.setenv("RAGSWEEP_SLURM_DIR", str(tmp_path))
    with caplog.at_level("INFO"):
        assert local_slurm.main(["up"]) == 1
    assert [r.getMessage() for r in caplog.records] == \
        ["slurm-up: Slurm is not installed and this is not root on a Debian-like system: install munge ..."]


@pytest.mark.process
def test_a_sweep_slurm_refuses_is_one_line_and_exit_2(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sbatch").write_text("#!/bin/sh\necho 'sbatch: error: Batch job submission failed: Requested node configuration is not available' >&2\nexit 1\n")
    (bin_dir / "srun").write_text("#!/bin/sh\nexit 1\n")  # submitit looks for it before it submits
    for tool in ("sbatch", "srun"):
        (bin_dir / tool).chmod(0o755)
    done = subprocess.run([sys.executable, "-m", "ragsweep", "--results", str(tmp_path / "results"), "sweep", "ci", "--no-plan",
                           "hydra/launcher=slurm", "hydra.launcher.partition=gpu"], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"})
    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stderr.strip().splitlines()[-1].endswith(
        "Slurm did not take the sweep's jobs: sbatch: error: Batch job submission failed: Requested node configuration is not "
        "available (is SLURM_CONF right, and do the partition and the resources asked for exist?)")
    assert "Traceback" not in done.stderr
