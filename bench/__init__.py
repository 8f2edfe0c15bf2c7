"""Benchmarks, a development tool kept out of the wheel: `make bench` runs `python -m bench`;
each stage also runs alone as `python -m bench.<name>` from the repository root."""
