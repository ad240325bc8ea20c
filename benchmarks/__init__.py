"""The benchmark command: `python -m benchmarks` (or `make bench`).

Every contender runs in a fresh subprocess, interleaved round-robin within
one run, on the same cached data; the run writes benchmarks/results.json (raw)
and benchmarks/RESULTS.md (rendered from it). See benchmarks/README.md.
"""
