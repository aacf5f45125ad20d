"""The one atomic writer (checkpoints, graphs, plots, the CLI): what it replaces, what it refuses, what it cleans up."""

import os
import signal
import stat
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from tinygrad_lr import io, models, plots
from tinygrad_lr.atomic import atomic_write

ROOT = Path(__file__).resolve().parent.parent


def write(path, data=b"new", who="write"):
    with atomic_write(path, who) as f:
        f.write(data)


def test_a_symlink_is_written_through_and_stays_a_symlink(tmp_path):
    (tmp_path / "real.npz").write_bytes(b"old")
    (tmp_path / "link.npz").symlink_to("real.npz")
    io.save(models.LogisticRegression(2, seed=3), tmp_path / "link.npz")
    assert (tmp_path / "link.npz").is_symlink() and os.readlink(tmp_path / "link.npz") == "real.npz"
    np.testing.assert_array_equal(io.load(tmp_path / "real.npz").w.data, models.LogisticRegression(2, seed=3).w.data)
    assert sorted(os.listdir(tmp_path)) == ["link.npz", "real.npz"]


def test_a_fifo_is_refused_and_left_alone(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match=r"save: .*pipe is a FIFO, not a regular file; refusing to replace it"):
        io.save(models.LogisticRegression(2), fifo)
    assert fifo.is_fifo() and os.listdir(tmp_path) == ["pipe"]


@pytest.mark.parametrize("kind, name", [(stat.S_IFCHR, "character device"), (stat.S_IFBLK, "block device")])
def test_device_files_are_refused(tmp_path, monkeypatch, kind, name):
    """A device is simulated (a test must never risk replacing /dev/null): stat says so for one path."""
    path = tmp_path / "dev"
    path.write_bytes(b"")
    real_stat = os.stat

    def device_stat(p, *args, **kwargs):
        st = real_stat(p, *args, **kwargs)
        return os.stat_result((kind | 0o666, *st[1:])) if os.fspath(p) == str(path) else st

    monkeypatch.setattr(os, "stat", device_stat)
    with pytest.raises(ValueError, match=f"save: .*dev is a {name}, not a regular file; refusing to replace it"):
        io.save(models.LogisticRegression(2), path)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["dev"] and path.read_bytes() == b""


def test_a_read_only_file_is_refused_with_permission_error_even_for_root(tmp_path):
    path = tmp_path / "kept.npz"
    path.write_bytes(b"the user's file")
    path.chmod(0o444)
    with pytest.raises(PermissionError, match=r"save: .*kept.npz is not writable \(mode -r--r--r--\)"):
        io.save(models.LogisticRegression(2), path)
    assert path.read_bytes() == b"the user's file" and os.listdir(tmp_path) == ["kept.npz"]


@pytest.mark.parametrize("name, message", [("", "the file name is empty"), ("out/", "ends with a path separator")])
def test_no_file_name_is_a_clear_value_error(tmp_path, monkeypatch, name, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "out").mkdir()
    with pytest.raises(ValueError, match=f"save: .*{message}"):
        io.save(models.LogisticRegression(2), name)
    assert os.listdir(tmp_path / "out") == []


@pytest.mark.parametrize("length", [200, 242, 255])
def test_names_up_to_the_file_system_limit_can_be_written(tmp_path, length):
    path = tmp_path / ("m" * (length - 4) + ".npz")
    io.save(models.LogisticRegression(2), path)
    assert os.listdir(tmp_path) == [path.name] and io.load(path).n_features == 2


def test_a_rewritten_file_keeps_the_mode_the_user_gave_it(tmp_path):
    for path, rewrite in [
        (tmp_path / "metrics.json", lambda p: write(p, b"{}")),
        (tmp_path / "history.svg", lambda p: plots.plot_history({"loss": [1.0, 0.5]}, p)),
    ]:
        rewrite(path)
        path.chmod(0o600)
        rewrite(path)
        assert path.stat().st_mode & 0o7777 == 0o600


SLOW_SAVE = """
import sys, time
import numpy as np
from tinygrad_lr import io, models
real_savez = np.savez
def savez(f, **arrays):
    f.write(b"PK" + bytes(100000))
    f.flush()
    print("writing", flush=True)
    time.sleep(60)
np.savez = savez
io.save(models.LogisticRegression(2), sys.argv[1])
"""


def start_slow_save(path):
    """A process stopped in the middle of saving ``path``, with its temporary file on disk."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", SLOW_SAVE, str(path)], stdout=subprocess.PIPE, env=env, text=True)
    assert proc.stdout.readline() == "writing\n"
    return proc


def temporaries(directory):
    return sorted(name for name in os.listdir(directory) if name.endswith(".tmp"))


def test_temporaries_of_killed_saves_are_removed_by_the_next_save_not_those_of_running_ones(tmp_path):
    path, other = tmp_path / "m.npz", tmp_path / "other.npz"
    for target in [path] * 5 + [other]:
        proc = start_slow_save(target)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert len(temporaries(tmp_path)) == 2  # one per file: each save removed the orphans before it
    running = start_slow_save(path)
    try:
        io.save(models.LogisticRegression(2), path)
        after = temporaries(tmp_path)
        assert len(after) == 2 and f".{running.pid}." in after[0] and "other.npz" in after[1]  # a live save's stays
    finally:
        running.kill()
        running.wait()
    io.save(models.LogisticRegression(2), other)
    assert temporaries(tmp_path) == after[:1]  # other.npz's orphan is gone; m.npz's waits for m.npz's next save
    io.save(models.LogisticRegression(2), path)
    assert temporaries(tmp_path) == [] and sorted(os.listdir(tmp_path)) == ["m.npz", "other.npz"]


def test_concurrent_saves_of_one_file_leave_one_whole_checkpoint(tmp_path):
    path = tmp_path / "m.npz"
    errors = []

    def save(seed):
        try:
            for _ in range(10):
                io.save(models.SoftmaxRegression(3, 2, seed=seed), path)
        except Exception as e:  # collected: a thread's exception would otherwise be lost
            errors.append(e)

    threads = [threading.Thread(target=save, args=(seed,)) for seed in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and os.listdir(tmp_path) == ["m.npz"]
    loaded = io.load(path).W.data
    assert any(np.array_equal(loaded, models.SoftmaxRegression(3, 2, seed=s).W.data) for s in range(4))


def test_an_interrupt_while_writing_leaves_no_temporary_and_the_old_file(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt), atomic_write(path) as f:
        f.write(b"half")
        raise KeyboardInterrupt
    assert path.read_bytes() == b"old" and os.listdir(tmp_path) == ["a.txt"]
