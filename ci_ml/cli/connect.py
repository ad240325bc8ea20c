"""What the registry commands connect to, built from the environment: the
registry the config names, who acts (for the registry's log) and the signature
check of fetched releases. It imports no command module."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ci_ml.cli.network import client_for
from ci_ml.config import Config
from ci_ml.errors import UsageError
from ci_ml.github.api import authenticated_login
from ci_ml.github.context import GitHubContext
from ci_ml.github.registry import GitHubRegistry
from ci_ml.registry.base import Check, Registry
from ci_ml.registry.folder import FolderRegistry
from ci_ml.services.releases import Actor
from ci_ml.services.signatures import policy_for
from ci_ml.signing import check_policy, verify

if TYPE_CHECKING:
    from ci_ml.cli import Runtime


def registry_folder(cfg: Config | None) -> Path | None:
    """The folder of a folder registry (None: the registry is GitHub's)."""
    r = cfg.release.registry if cfg is not None else None
    return cfg.resolve(r.path) if cfg is not None and r and r.kind == "folder" and r.path else None


def registry_for(cfg: Config | None, rt: Runtime, what: str, option: float | None) -> Registry:
    """The registry `release.registry` names: a folder, or the repository's GitHub
    releases (GITHUB_REPOSITORY and a token needed)."""
    folder = registry_folder(cfg)
    if folder is not None:
        return FolderRegistry(folder)
    ctx = GitHubContext.from_env(rt.env)
    repo = ctx.require_repo(what)
    return GitHubRegistry(client_for(ctx, rt, what, option), repo)


def registry_of_tag(cfg: Config | None, rt: Runtime, tag: str, option: float | None) -> Registry:
    """The registry to fetch release `tag` from (reproduce, diff, verify)."""
    if registry_folder(cfg) is None and not GitHubContext.from_env(rt.env).repository:
        raise UsageError(
            f"{tag} is not a folder, and without GITHUB_REPOSITORY it cannot be a release tag",
            hint="pass an artifact folder, or set GITHUB_REPOSITORY and GITHUB_TOKEN "
            "(or release.registry in the config)",
        )
    return registry_for(cfg, rt, f"fetching release {tag}", option)


def actor(rt: Runtime, registry: Registry, ask_github: bool = True) -> Actor:
    """Who acts, for the registry's log: the workflow's actor, else (`ask_github`)
    the token's user on GitHub, or the local user for a folder."""
    ctx = GitHubContext.from_env(rt.env)

    def who() -> str | None:
        if ctx.actor:
            return ctx.actor
        if isinstance(registry, GitHubRegistry):
            return authenticated_login(registry.client) if ask_github else None
        return rt.env.get("USER") or rt.env.get("LOGNAME") or None

    return Actor(who, ctx.run_url)


def signature_check(cfg: Config, rt: Runtime) -> Check:
    """The check every model ci-ml takes in goes through (a baseline folder, a fetched
    release, what reproduce and diff read): its signature, by the config's policy.
    The policy's key is checked now, before anything is built or fetched."""
    policy = policy_for(cfg)
    check_policy(policy)

    def check(directory: Path) -> None:
        how = verify(directory, policy)
        if how:
            rt.actions.notice(f"signature of {directory.name} verified ({how})")

    return check
