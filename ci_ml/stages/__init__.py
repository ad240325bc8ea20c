"""The build's stages, one module each, in the order they run:

    validate ──► train ──► export ──► evaluate ──► compare ──► report

Each has `run(build, ...)` returning a typed result (a dataclass written as
JSON into the artifact). `baseline` and `gates` are parts of compare. No stage
imports `ci_ml.github` or `ci_ml.cli`: the CLI resolves what comes from GitHub
(a release baseline) into a directory before a stage sees it.
"""
