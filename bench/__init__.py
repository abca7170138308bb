"""Benchmarks: `make bench` (python -m bench). Each target is measured beside its raw baseline
on the same machine in the same run; results go to bench/results/<name>.json and a table."""
