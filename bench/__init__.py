"""Benchmarks for Notifier; run with `make bench` (python -m bench)."""
