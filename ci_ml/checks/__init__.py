"""The checks the stages run: the schema (pandera), the data safeguards and the
personal-data scan, the gates, slices and the model checks (golden rows,
invariance, directional, calibration, budgets)."""
