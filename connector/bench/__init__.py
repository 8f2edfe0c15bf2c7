"""Benchmarks: python -m connector.bench.<name>."""
