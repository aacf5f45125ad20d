"""``python -m benchmarks``: run the workloads and print Markdown tables."""

from __future__ import annotations

import argparse

from . import machine, systems
from .workloads import WORKLOADS, Config, run


def _workload_numbers(text: str) -> list[int]:
    names = {name: number for number, (name, _) in WORKLOADS.items()}
    numbers = []
    for item in text.split(","):
        item = item.strip()
        number = int(item) if item.isdigit() else names.get(item)
        if number not in WORKLOADS:
            choices = ", ".join(f"{n} ({name})" for n, (name, _) in WORKLOADS.items())
            raise argparse.ArgumentTypeError(f"unknown workload {item!r}; choose from {choices}")
        numbers.append(number)
    return numbers


def main(argv: list[str] | None = None) -> None:
    workload_list = "; ".join(f"{n}={name}" for n, (name, _) in WORKLOADS.items())
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="tinygrad_lr against hand-written NumPy, PyTorch, JAX, HIPS autograd and MyGrad, side by side.",
    )
    parser.add_argument(
        "-w",
        "--workloads",
        type=_workload_numbers,
        default=list(WORKLOADS),
        help=f"comma-separated numbers or names (default: all): {workload_list}",
    )
    parser.add_argument(
        "-s",
        "--systems",
        type=lambda s: [x.strip() for x in s.split(",")],
        default=None,
        help=f"comma-separated subset of {', '.join(systems.MODULES)} (hand NumPy is always included)",
    )
    parser.add_argument(
        "-r", "--repeats", type=int, default=None, help="samples per measurement (default: per workload)"
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes and few repeats: checks the harness runs")
    parser.add_argument("--mnist-dir", default=None, help="tile the real MNIST test set (IDX .gz) instead of synthetic")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="threads for NumPy's BLAS, OpenMP and PyTorch alike (default: leave BLAS as it is, match PyTorch to it)",
    )
    args = parser.parse_args(argv)
    for option in ("repeats", "threads"):
        value = getattr(args, option)
        if value is not None and value < 1:
            parser.error(f"--{option.replace('_', '-')} must be >= 1, got {value}")

    if args.threads is not None:
        machine.limit_threads(args.threads)  # before loading: PyTorch matches NumPy's BLAS threads on import
    try:
        loaded, skipped = systems.load(args.systems)
    except ValueError as e:
        parser.error(str(e))
    print("## tinygrad_lr benchmarks" + (" (quick mode: tiny sizes, not representative)" if args.quick else ""))
    print()
    for line in machine.describe({s.name: s.version for s in loaded}):
        print(f"- {line}")
    for s in loaded:
        if s.note:
            print(f"- {s.name}: {s.note}")
    for name, reason in skipped.items():
        print(f"- {name}: skipped, {reason}")
    print()
    config = Config(quick=args.quick, repeats=args.repeats, mnist_dir=args.mnist_dir)
    run(args.workloads, loaded, config, emit=print)


if __name__ == "__main__":
    main()
