"""The manifest (manifest.json): lineage assembled from the build's config,
data and stage records, and the facts model.onnx carries about itself."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from ci_ml import __version__, fingerprint
from ci_ml.artifact import plain
from ci_ml.lineage import now
from ci_ml.records import Manifest, SafeguardsSummary, load

if TYPE_CHECKING:
    from ci_ml.build import Build
    from ci_ml.records import SafeguardsResult

FILE = "manifest.json"


def model_facts(b: Build) -> dict[str, str]:
    """What model.onnx says about itself (its metadata_props): the manifest's
    facts that belong to the model, none that changes from one build to the next."""

    d = b.dataset
    first = next(iter(d.sources.values()))
    facts = {
        "ci_ml.version": __version__,
        "ci_ml.name": b.cfg.display_name,
        "ci_ml.task": b.task,
        "ci_ml.target": json.dumps({"name": d.target, "dtype": str(first[d.target].dtype)}),
        "ci_ml.features": json.dumps(
            [{"name": str(c), "dtype": str(first[c].dtype)} for c in d.features]
        ),
        "ci_ml.config_sha256": fingerprint.config_sha256(b.config_json),
        "ci_ml.commit": (b.git or {}).get("commit") or "",
    }
    for role, sha in sorted(b.data_shas.items()):
        facts[f"ci_ml.data.{role}.sha256"] = sha
    fp = b.fingerprint
    if fp is not None:
        facts["ci_ml.fingerprint"] = fp.sha256
    return facts


def assemble(b: Build) -> Manifest:
    """Lineage: what went into the build, from the config, the data and the stage records."""

    validation, train, export = b.result("validate"), b.result("train"), b.result("export")
    safeguards = b.result("safeguards")
    d = b.dataset
    first = next(iter(d.sources.values()))
    plan = b.metric_plan
    data = {
        "ci_ml_version": __version__,
        "name": b.cfg.display_name,
        "created": now(),
        "task": b.task,
        "data": {
            "files": d.files,
            "split": d.split if train else None,
            "train_rows": d.train_rows if train else None,
            "test_rows": len(d.test) if train else None,
            **({"engine": d.scale.as_json()} if d.scale is not None else {}),
        },
        "target": {"name": d.target, "dtype": str(first[d.target].dtype)},
        "features": [{"name": str(c), "dtype": str(first[c].dtype)} for c in d.features],
        "classes": train.classes if train else None,
        "schema": {
            "source": b.cfg.schema_,
            "sha256": validation.schema_sha256 if validation else None,
        },
        "config": b.cfg.model_dump(mode="json", by_alias=True, exclude_none=True),
        "model": (
            {
                "estimator": train.estimator,
                "params": train.params,
                "seed": b.cfg.model.seed,
                "seeded": train.seeded,
                "preprocess": train.preprocess,
                "search": train.search,
                "command": train.command,
                "engine": train.engine,
            }
            if train
            else None
        ),
        "metrics": {"names": plan.names, "primary": plan.primary},
        "export": export,
        "safeguards": _safeguards_summary(safeguards),
        "git": b.git,
        "provenance": {
            "run_url": b.run.run_url,
            "actor": b.run.actor,
            "pull_request": b.run.pull_request,
            "data_snapshot": b.run.data_snapshot,
        },
        "fingerprint": fp.as_json() if (fp := b.fingerprint) else None,
        "environment": b.environment,
        "timings_seconds": b.timings,
    }
    return load(Manifest, plain(data))


def _safeguards_summary(result: SafeguardsResult | None) -> SafeguardsSummary | None:
    """For audit: did the data checks pass, and which columns may hold personal
    data, with the reason the team gave."""
    if result is None:
        return None
    return SafeguardsSummary(
        passed=result.passed,
        findings=len(result.findings),
        allowed_personal_data=dict(result.allowed_personal_data),
    )


def write(b: Build) -> Manifest:
    """Assemble the manifest and write it into the artifact folder."""
    m = assemble(b)
    b.write_record(FILE, m)
    b.manifest_due = False
    return m
