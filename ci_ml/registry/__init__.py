"""The model registry: where published builds live, which one is latest, and
the log of what happened to each.

    base       what a release is, and the `Registry` protocol every registry meets
    audit      the decisions (tags, baseline, latest, rollback) and the log in the
               notes, as pure functions: every registry makes the same ones
    fetching   landing a fetched release in a folder, verified, or not at all
    folder     a registry in a folder (air-gapped teams, tests)

GitHub Releases is the other registry (`ci_ml.github.registry`); the CLI picks
one from `release.registry` in ci-ml.yaml, and the use-cases in
`ci_ml.services` work with either.
"""

from ci_ml.registry.base import (
    Check,
    Fetched,
    Listing,
    Published,
    Registry,
    Release,
    ReleaseFile,
    Upload,
)

__all__ = [
    "Check",
    "Fetched",
    "Listing",
    "Published",
    "Registry",
    "Release",
    "ReleaseFile",
    "Upload",
]
