"""Schema failures as a reader of the CSV needs them: one failure per bad cell,
the value as the file has it, the line it is on."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pandera.pandas as pa

from ci_ml.checks.schema import validate_frames
from ci_ml.stages.validate import as_in_file

SCHEMA = pa.DataFrameSchema(
    {
        "x": pa.Column(float, pa.Check.ge(0), nullable=False),
        "y": pa.Column(float, pa.Check.ge(0)),
        "target": pa.Column(str),
    },
    coerce=True,
)
CSV = "x,y,target\n1,2,a\n2,3,b\nn/a,4,a\n3,abc,b\n4,5,a\n"


def test_one_bad_text_cell_is_one_failure_and_a_missing_marker_reads_as_written(
    tmp_path: Path,
) -> None:
    """Reported: one bad text cell gave three failures, one with the example
    'TypeError("Invalid comparison between dtype=str and int")'; a cell read as
    missing ("n/a") was shown as None."""
    path = tmp_path / "test.csv"
    path.write_text(CSV)
    frame = pd.read_csv(path)
    failures = validate_frames({"test": frame}, SCHEMA, "target", "classification")
    assert sorted((f.column, f.check) for f in failures) == [
        ("x", "not_nullable"),
        ("y", "coerce_dtype('float64')"),
    ]
    assert not any("Error(" in str(v) for f in failures for v in f.examples)
    for f in failures:
        as_in_file(f, path)
    by = {f.column: f for f in failures}
    assert by["x"].examples == ["n/a"] and by["x"].lines == [4]  # the header is line 1
    assert by["y"].examples == ["abc"] and by["y"].lines == [5]
    assert "(line 4 of the file, the header is line 1)" in by["x"].line()
