"""The sealed stage chain: each stage, when it succeeds, seals what it consumed
(the config sections it reads, the data files' sha256) and what it produced
(the sha256 of its files). A later stage, and `ci-ml publish`, refuse a chain
with a stage missing, failed, interrupted, or stale (its config or data changed
since, or its files were changed by hand), so no stale model is ever
evaluated, exported, reported or published.

Everything here is a pure function of the seals, the config and file digests.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from ci_ml.artifact import BUILD_DIR, SUMS, sha256_file

STAGES = (
    "validate",
    "safeguards",
    "train",
    "export",
    "evaluate",
    "compare",
    "model_tests",
    "report",
)
# What each stage writes, relative to the artifact folder.
OUTPUTS: dict[str, list[str]] = {
    "validate": ["validation.json", "schema.yaml", f"{BUILD_DIR}/validate.json"],
    "safeguards": ["safeguards.json", f"{BUILD_DIR}/safeguards.json"],
    "train": [f"{BUILD_DIR}/model.joblib", f"{BUILD_DIR}/train.json"],
    "export": ["model.onnx", f"{BUILD_DIR}/predictions.npz", f"{BUILD_DIR}/export.json"],
    "evaluate": ["metrics.json", f"{BUILD_DIR}/evaluate.json"],
    # history.json: the release history fetched with the baseline, for the report.
    "compare": ["comparison.json", f"{BUILD_DIR}/compare.json", f"{BUILD_DIR}/history.json"],
    "model_tests": ["model-tests.json", f"{BUILD_DIR}/model_tests.json"],
    "report": ["report.md", "model-card.md", SUMS, f"{BUILD_DIR}/report.json"],
}
# The config sections whose change makes a stage's output stale.
CONFIG_INPUTS: dict[str, list[str]] = {
    "validate": ["data", "schema", "task"],
    "safeguards": ["data", "schema", "task", "safeguards"],
    "train": ["data", "schema", "task", "model"],
    "export": ["export"],
    "evaluate": ["metrics", "statistics", "gates"],
    "compare": ["metrics", "statistics", "gates", "baseline"],
    "model_tests": ["metrics", "statistics", "baseline", "model_tests"],
    "report": [],
}
CHAIN = "chain.json"  # in _build/: {stage: seal}
# The command that runs a stage, where the two names differ.
COMMANDS = {"safeguards": "check-data", "model_tests": "test-model"}


def command(stage: str) -> str:
    return f"`ci-ml {COMMANDS.get(stage, stage)}`"


def ancestors(stage: str) -> list[str]:
    """The stages whose sealed output `stage` reads (every earlier one; the report
    reads whatever exists and records whether the chain was complete)."""
    return [] if stage == "report" else list(STAGES[: STAGES.index(stage)])


def descendants(stage: str) -> list[str]:
    """The stage and everything whose output it makes stale (the report always)."""
    return list(STAGES[STAGES.index(stage) :])


def config_digest(config: dict[str, Any], stage: str) -> str:
    part = {k: config.get(k) for k in CONFIG_INPUTS[stage]}
    return hashlib.sha256(json.dumps(part, sort_keys=True, default=str).encode()).hexdigest()


def file_digests(out: Path, names: list[str]) -> dict[str, str]:
    return {n: sha256_file(out / n) for n in names if (out / n).is_file()}


def seal(
    stage: str, out: Path, config: dict[str, Any], data: dict[str, str], **extra: Any
) -> dict[str, Any]:
    return {
        "config": config_digest(config, stage),
        "data": data,
        "files": file_digests(out, OUTPUTS[stage]),
        **extra,
    }


def problems(
    stages: list[str],
    chain: dict[str, Any],
    out: Path,
    config: dict[str, Any],
    data: dict[str, str],
) -> list[str]:
    """Why the sealed output of `stages` cannot be trusted now (empty: it can)."""
    found = []
    for stage in stages:
        s = chain.get(stage)
        if not isinstance(s, dict):
            found.append(
                f"{command(stage)} has not completed (it never ran, failed or was interrupted)"
            )
            continue
        if s.get("config") != config_digest(config, stage):
            sections = ", ".join(CONFIG_INPUTS[stage])
            found.append(f"the config ({sections}) changed since {command(stage)} ran")
        if stage != "report" and s.get("data") != data:
            found.append(f"the data files changed since {command(stage)} ran")
        recorded = s.get("files") if isinstance(s.get("files"), dict) else {}
        now = file_digests(out, list(recorded))
        changed = sorted(n for n in recorded if now.get(n) != recorded[n])
        if changed:
            found.append(f"{', '.join(changed)} changed since {command(stage)} wrote it")
    return found
