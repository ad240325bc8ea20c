"""Continuous monitoring: the reference profile a build writes (profile.json),
and `ci-ml drift`, which streams new data through the same bins and compares.

- `profiles`: a column's (or the predictions') profile from the training rows;
- `counting`: the same bins filled incrementally from chunks of new rows;
- `reading`: new data files read in chunks (Parquet row groups, CSV chunks);
- `detect`: the comparison, column by column, into a `DriftReport`;
- `markdown`: drift.md.
"""
