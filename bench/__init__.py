"""Benchmark of Shop Portal at a large company's scale (issue 7): `python -m bench.run [--quick]`."""
