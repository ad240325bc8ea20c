"""Pure numbers, no I/O: metrics as sums of per-row parts (`metrics`) and the
paired bootstrap, intervals and tests built on them (`bootstrap`)."""
