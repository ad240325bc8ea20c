"""The sealed stage chain: each stage, when it succeeds, seals what it consumed
(the config sections it reads, the data files' sha256) and what it produced
(the sha256 of its files). A later stage, and `ci-ml publish`, refuse a chain
with a stage missing, failed, interrupted, or stale (its config or data changed
since, or its files were changed by hand), so no stale model is ever
evaluated, exported, reported or published.

`Chain` is the ordered stages (ci_ml.stages.STAGES, handed in by whoever makes
the build); everything here is a pure function of the seals, the config and
file digests.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ci_ml.records import StageState


class Stage(Protocol):
    """What the chain reads of a stage's declaration (ci_ml.stage.Stage)."""

    @property
    def name(self) -> str: ...
    @property
    def command(self) -> str: ...
    @property
    def reads(self) -> tuple[str, ...]: ...
    @property
    def outputs(self) -> tuple[str, ...]: ...
    @property
    def always(self) -> bool: ...


CHAIN = "chain.json"  # in _build/: the state of every stage (ci_ml.records.ChainRecord)


def config_digest(config: Mapping[str, Any], sections: tuple[str, ...]) -> str:
    part = {k: config.get(k) for k in sections}
    return hashlib.sha256(json.dumps(part, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class Chain:
    """The stages in the order they run."""

    stages: tuple[Any, ...]  # ci_ml.stage.Stage declarations (the chain reads `Stage` of them)

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.stages]

    def get(self, name: str) -> Any:
        for s in self.stages:
            if s.name == name:
                return s
        raise KeyError(name)

    def command(self, name: str) -> str:
        return f"`ci-ml {self.get(name).command}`"

    def ancestors(self, name: str) -> list[str]:
        """The stages whose sealed output `name` reads (every earlier one; a stage
        that runs whatever happened before, the report, reads whatever exists)."""
        if self.get(name).always:
            return []
        return self.names[: self.names.index(name)]

    def descendants(self, name: str) -> list[str]:
        """The stage and everything whose output it makes stale."""
        return self.names[self.names.index(name) :]

    def outputs(self, names: list[str] | None = None) -> list[str]:
        """The files of these stages (all by default), relative to the artifact folder."""
        return [f for s in self.stages if names is None or s.name in names for f in s.outputs]

    def problems(
        self,
        names: list[str],
        states: Mapping[str, StageState],
        config: Mapping[str, Any],
        data: dict[str, str],
        digest: Callable[[str], str | None],
    ) -> list[str]:
        """Why the sealed output of `names` cannot be trusted now (empty: it can).
        `digest(name)` is a file's sha256 now (None: it is gone)."""
        found = []
        for name in names:
            stage, state = self.get(name), states.get(name)
            if state is None or state.status != "sealed":
                found.append(
                    f"{self.command(name)} has not completed (it never ran, failed or was interrupted)"
                )
                continue
            if state.config != config_digest(config, stage.reads):
                found.append(
                    f"the config ({', '.join(stage.reads)}) changed since {self.command(name)} ran"
                )
            if not stage.always and state.data != data:
                found.append(f"the data files changed since {self.command(name)} ran")
            changed = sorted(n for n, sha in state.files.items() if digest(n) != sha)
            if changed:
                found.append(f"{', '.join(changed)} changed since {self.command(name)} wrote it")
        return found
