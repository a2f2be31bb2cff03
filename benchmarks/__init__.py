"""Reproducible speed and accuracy measurements; results in docs/. Run `python -m benchmarks`."""
