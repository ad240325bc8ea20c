"""The report's sections as `ci-ml report` renders them, for tests that render
report.md from a context they build by hand."""

from ci_ml.report import sections
from ci_ml.stages import STAGES

SECTIONS, _ = sections(STAGES)
# What every hand-made context needs beside the records it is about.
BASE = {"sections": SECTIONS, "results": {}}
