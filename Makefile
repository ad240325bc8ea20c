# The benchmark command (benchmarks/README.md). Install its extra first:
#   pip install -e '.[test,bench]'
.PHONY: bench bench-quick

bench:
	python -m benchmarks

bench-quick:
	python -m benchmarks --quick
