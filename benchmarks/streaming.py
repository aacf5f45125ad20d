"""One epoch of softmax regression on a float32 memmap of more than 4 GB: peak resident memory and rows/s.

``python -m benchmarks.streaming [--rows 1400000] [--features 784] [--in-memory-rows 350000] [--dir /tmp]``

Writes seeded data to a raw float32 file in ``--dir`` (Gaussian rows, labels from a
linear teacher with Gumbel noise, written block by block), then measures each run in
a fresh process, so each peak is its own:

- ``memmap, warm``: ``np.memmap`` of the whole file, its pages in the page cache (just written);
- ``memmap, cold``: the same after dropping the file's cached pages (``posix_fadvise``), read from disk;
- ``in memory``: the first ``--in-memory-rows`` rows copied into RAM first, the rate without the file.

Each run is ``train.fit`` for one epoch (SGD with momentum, float32 model, batches of 200,
one BLAS thread), timed from the call to its return (so including fit's NaN/inf pass over
the data), in wall-clock and in CPU seconds (the fairer figure on a busy machine).
Memory is the peak resident set (VmHWM, reset after imports) above the resident set
after imports: the interpreter with NumPy, scikit-learn and tinygrad_lr loaded. The
files are deleted at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .memory import current_kib, peak_kib, reset_peak

GOAL_MIB = 300  # peak above the interpreter, for the memmap runs
BATCH = 200


def write_data(directory: Path, rows: int, features: int, classes: int = 10, seed: int = 0) -> tuple[Path, Path]:
    """X as raw float32 rows and y as .npy, written in blocks of 50 000 rows (flat memory)."""
    rng = np.random.default_rng(seed)
    teacher = rng.standard_normal((features, classes)).astype(np.float32) / np.sqrt(features)
    x_path, y_path = directory / "X.f32", directory / "y.npy"
    y = np.empty(rows, dtype=np.int64)
    with open(x_path, "wb") as f:
        for start in range(0, rows, 50_000):
            block = rng.standard_normal((min(50_000, rows - start), features), dtype=np.float32)
            scores = block @ teacher * 4 + rng.gumbel(size=(len(block), classes))
            y[start : start + len(block)] = scores.argmax(axis=1)
            block.tofile(f)
        f.flush()
        os.fsync(f.fileno())
    np.save(y_path, y)
    return x_path, y_path


def drop_from_page_cache(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def child(mode: str, x_path: str, y_path: str, rows: int, features: int, in_memory_rows: int) -> dict:
    """One measured run, in this fresh process."""
    from tinygrad_lr import models, optim, streaming, train
    from tinygrad_lr.estimators import SoftmaxRegressionClassifier  # noqa: F401  (scikit-learn loaded, as for users)

    baseline = current_kib()
    reset_peak()
    X = np.memmap(x_path, dtype=np.float32, mode="r", shape=(rows, features))
    y = np.load(y_path)
    if mode == "in memory":
        X, y = streaming.read(X, 0, in_memory_rows), y[:in_memory_rows]  # read() leaves no file pages mapped
    model = models.SoftmaxRegression(features, 10, seed=0, dtype=np.float32)
    optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    start, cpu = time.perf_counter(), time.process_time()
    history = train.fit(model, X, y, optimizer=optimizer, epochs=1, batch_size=BATCH, seed=0, progress=False)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {
        "mode": mode,
        "rows": len(y),
        "data_mib": round(X.nbytes / 2**20),
        "seconds": round(seconds, 2),
        "rows_per_s": round(len(y) / seconds),
        "rows_per_cpu_s": round(len(y) / cpu),
        "baseline_mib": round(baseline / 1024),
        "peak_above_mib": round((peak_kib() - baseline) / 1024),
        "train_accuracy": round(history.accuracy[0], 4),
    }


def run(mode: str, args: argparse.Namespace, x_path: Path, y_path: Path) -> dict:
    command = [sys.executable, "-m", "benchmarks.streaming", "--child", mode, "--x", str(x_path), "--y", str(y_path)]
    for option in ("rows", "features", "in_memory_rows"):
        command += ["--" + option.replace("_", "-"), str(getattr(args, option))]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    out = subprocess.run(command, check=True, capture_output=True, text=True, cwd=Path(__file__).parent.parent, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.streaming", description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_400_000, help="rows of the memmap (default: 4.4 GB of data)")
    parser.add_argument("--features", type=int, default=784)
    parser.add_argument("--in-memory-rows", type=int, default=350_000, help="rows of the in-memory run")
    parser.add_argument("--dir", default=tempfile.gettempdir(), help="where the data files go (deleted after)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--x", help=argparse.SUPPRESS)
    parser.add_argument("--y", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.x, args.y, args.rows, args.features, args.in_memory_rows)))
        return

    with tempfile.TemporaryDirectory(prefix="tglr-streaming-", dir=args.dir) as directory:
        started = time.perf_counter()
        x_path, y_path = write_data(Path(directory), args.rows, args.features)
        size, seconds = x_path.stat().st_size, time.perf_counter() - started
        print(f"wrote {size / 1e9:.2f} GB ({args.rows} x {args.features} float32) in {seconds:.0f} s")
        results = [run("memmap, warm", args, x_path, y_path)]
        drop_from_page_cache(x_path)
        results.append(run("memmap, cold", args, x_path, y_path))
        results.append(run("in memory", args, x_path, y_path))
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; files deleted")
    print("| run | rows | data | s | rows/s | rows per CPU-s | peak RSS above the interpreter | train accuracy |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['mode']} | {r['rows']} | {r['data_mib']} MiB | {r['seconds']} | {r['rows_per_s']} "
            f"| {r['rows_per_cpu_s']} | {r['peak_above_mib']} MiB (interpreter {r['baseline_mib']} MiB) "
            f"| {r['train_accuracy']} |"
        )
    worst = max(r["peak_above_mib"] for r in results if r["mode"].startswith("memmap"))
    print(f"goal: memmap peak under {GOAL_MIB} MiB above the interpreter: {'met' if worst < GOAL_MIB else 'missed'}")


if __name__ == "__main__":
    main()
