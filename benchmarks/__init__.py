"""Speed and memory of tinygrad_lr beside hand-written NumPy and other autograd libraries.

Run ``python -m benchmarks --help`` from the repository root. Every workload
measures all available systems side by side in one process (interleaved, so a
noisy neighbour slows them all alike) and reports medians and the ratio to
hand-written NumPy. See docs/benchmarks.md.
"""
