"""Sweeps on Dask: a real LocalCluster with worker processes runs the sweep, number for number as locally."""

import json
import logging
import os
import subprocess
import sys

import joblib
import pytest

from tinygrad_lr import cli, cluster
from tinygrad_lr.cluster import on_cluster
from tinygrad_lr.sweep import sweep_results

distributed = pytest.importorskip("distributed")  # the `distributed` extra, installed by .ci/install

LRS, RATIOS = [0.01, 0.9], [0.2, 0.4]


@pytest.fixture(scope="module")
def local_cluster():
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, memory_limit="1GiB",
        silence_logs=logging.ERROR,
    ) as running:  # fmt: skip
        yield running


@pytest.fixture(scope="module")
def local_run():
    return sweep_results(LRS, RATIOS, n_jobs=1)


def test_the_sweep_on_a_cluster_equals_the_local_run(local_cluster, local_run):
    with on_cluster(local_cluster.scheduler_address) as client, distributed.get_task_stream(client) as tasks:
        on_workers = sweep_results(LRS, RATIOS)
        worker_pids = client.run(os.getpid)
    assert on_workers == local_run  # every cell, exactly
    assert len(set(worker_pids.values())) == 2 and os.getpid() not in worker_pids.values()
    assert {t["worker"] for t in tasks.data} <= set(worker_pids)  # the fits ran in the worker processes
    assert tasks.data


# Threads share the process: this holds only while grad mode is per thread (a fit's
# backward in one thread must not see another thread's no_grad prediction).
def test_the_sweep_on_joblib_threads_equals_the_local_run(local_run):
    with joblib.parallel_config(backend="threading", n_jobs=2):
        threaded = sweep_results(LRS, RATIOS)
    assert threaded == local_run


def test_the_cli_sweep_takes_a_scheduler_address(local_cluster, local_run, tmp_path, capsys):
    args = ["sweep", "--lrs", *map(str, LRS), "--ratios", *map(str, RATIOS), "--out", str(tmp_path)]
    assert cli.main([*args, "--scheduler", local_cluster.scheduler_address]) == 0
    assert json.loads((tmp_path / "sweep.json").read_text()) == local_run
    assert "wrote" in capsys.readouterr().out


def test_an_unreachable_scheduler_is_a_clear_cli_error(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT", 1)
    assert cli.main(["sweep", "--lrs", "0.1", "--scheduler", "tcp://127.0.0.1:9", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("tinygrad-lr: error: Timed out trying to connect to tcp://127.0.0.1:9 after 1 s"), err


def test_without_an_address_nothing_changes():
    before = joblib.parallel.get_active_backend()
    with on_cluster(None) as client:
        assert client is None
        assert type(joblib.parallel.get_active_backend()[0]) is type(before[0])


def test_without_dask_a_clear_import_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if the extra were not installed
    with pytest.raises(ImportError, match=r"pip install 'tinygrad-lr\[distributed\]'"), on_cluster("tcp://x:1"):
        pass


def test_the_core_package_never_imports_dask():
    code = (
        "import sys, tinygrad_lr, tinygrad_lr.cli, tinygrad_lr.cluster, tinygrad_lr.estimators, "
        "tinygrad_lr.streaming, tinygrad_lr.sweep, tinygrad_lr.train\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'dask', 'distributed'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=os.getcwd())
    assert out.stdout.strip() == "[]"
