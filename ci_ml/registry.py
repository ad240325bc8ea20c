"""GitHub Releases as the model registry: publish a build, fetch the latest
model as a baseline, promote an older one. The GitHub calls themselves are in
ci_ml.github; this module decides tags and ties them to the artifact."""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci_ml import actions
from ci_ml.artifact import SUMS, read_json, verify_sums, write_json
from ci_ml.errors import UsageError

if TYPE_CHECKING:
    from ci_ml.baseline import Baseline
    from ci_ml.github_client import GitHubClient
    from ci_ml.github_context import GitHubContext


def version_of(tag: str, prefix: str) -> int | None:
    """The integer version in `<prefix><N>`, or None for any other tag."""
    m = re.fullmatch(re.escape(prefix) + r"(\d+)", tag)
    return int(m.group(1)) if m else None


def choose_tag(releases: list[dict[str, Any]], prefix: str, sha: str) -> tuple[str, bool]:
    """(tag, reused): the release already made for this commit (a re-run), else the
    next integer version after the highest `<prefix><N>`. Pure."""
    for r in releases:
        if version_of(r["tag_name"], prefix) is not None and r.get("target_commitish") == sha:
            return r["tag_name"], True
    taken = [v for r in releases if (v := version_of(r["tag_name"], prefix)) is not None]
    return f"{prefix}{max(taken, default=0) + 1}", False


def client_for(ctx: GitHubContext, what: str) -> GitHubClient:
    from ci_ml.github_client import GitHubClient

    token = ctx.require_token(what)
    actions.mask(token)
    return GitHubClient(token, base_url=ctx.api_url)


@dataclass
class ReleaseSource:
    """The newest model release, downloaded and verified, as a Baseline."""

    client: GitHubClient
    repo: str
    tag_prefix: str
    into: Path
    include_prereleases: bool = False

    def fetch(self) -> Baseline | None:
        from ci_ml.baseline import ORIGIN, load_directory
        from ci_ml.github import download_release_assets, find_latest_model_release

        release = find_latest_model_release(
            self.client, self.repo, self.tag_prefix, self.include_prereleases
        )
        if release is None:
            actions.notice(
                f"no release tagged {self.tag_prefix}* in {self.repo} yet: comparing without a baseline"
            )
            return None
        # A fresh directory: stale files from an older fetch must not mix in.
        if self.into.exists():
            shutil.rmtree(self.into)
        tmp = Path(tempfile.mkdtemp(prefix=".baseline-", dir=self.into.parent))
        try:
            download_release_assets(self.client, release, tmp)
            base = load_directory(
                tmp,
                source="release",
                label=release["tag_name"],
                url=release.get("html_url"),
                extra={"tag": release["tag_name"], "published_at": release.get("published_at")},
            )
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        origin = {
            "tag": release["tag_name"],
            "url": release.get("html_url"),
            "published_at": release.get("published_at"),
            "repository": self.repo,
        }
        write_json(tmp / ORIGIN, origin)
        tmp.rename(self.into)
        base.directory = self.into
        return base


def release_source(build: Any) -> ReleaseSource:
    """The release baseline source for a build (used by `--baseline release`)."""
    from ci_ml.github_context import GitHubContext

    ctx = GitHubContext.from_env(build.env)
    repo = ctx.require_repo("--baseline release")
    return ReleaseSource(
        client_for(ctx, "--baseline release"),
        repo,
        build.cfg.release.tag_prefix,
        build.out / "baseline",
    )


def publishable_files(out: Path) -> list[Path]:
    """The artifact files to publish: exactly those SHA256SUMS lists, plus SHA256SUMS,
    after checking them (a build changed after `ci-ml report` is not published)."""
    if not (out / SUMS).is_file():
        raise UsageError(
            f"{out} has no {SUMS}: nothing complete to publish",
            hint="run `ci-ml run` (or `ci-ml report`) before `ci-ml publish`",
        )
    listed = verify_sums(
        out, required=["model.onnx", "metrics.json", "manifest.json", "model-card.md"]
    )
    return [out / name for name in listed] + [out / SUMS]


# --- CLI edge -----------------------------------------------------------------


def _context(args: Any) -> tuple[GitHubContext, Any]:
    import os

    from ci_ml.config import load_config
    from ci_ml.github_context import GitHubContext

    return GitHubContext.from_env(dict(os.environ)), load_config(args.config)


def cmd_publish(args: Any) -> int:
    from ci_ml.github import publish_release

    ctx, cfg = _context(args)
    out = Path(args.out)
    files = publishable_files(out)
    comparison = out / "comparison.json"
    if comparison.is_file() and read_json(comparison).get("verdict") == "fail" and not args.force:
        raise UsageError(
            "this build failed its gates: refusing to publish it as the latest model",
            hint="fix the regression, or pass --force to publish anyway",
        )
    repo = ctx.require_repo("ci-ml publish")
    sha = ctx.sha or ((read_json(out / "manifest.json").get("git") or {}).get("commit"))
    if not sha:
        raise UsageError(
            "ci-ml publish needs the commit to tag: set GITHUB_SHA or build inside a git checkout"
        )
    prefix = args.tag_prefix or cfg.release.tag_prefix
    client = client_for(ctx, "ci-ml publish")
    with actions.group("ci-ml publish"):
        if args.tag:
            tag, reused = args.tag, False
        else:
            releases = list(client.paginate(f"/repos/{repo}/releases"))
            tag, reused = choose_tag(releases, prefix, sha)
        body = (out / "model-card.md").read_text(encoding="utf-8")
        result = publish_release(
            client, repo, tag, sha, f"{cfg.display_name} {tag}", body, files, make_latest=True
        )
    verb = "updated" if (reused or not result.created) else "created"
    print(f"release {result.tag} {verb}: {result.html_url} ({len(result.assets)} assets)")
    actions.set_outputs({"release-url": result.html_url, "release-tag": result.tag})
    return 0


def cmd_baseline_fetch(args: Any) -> int:
    ctx, cfg = _context(args)
    repo = ctx.require_repo("ci-ml baseline fetch")
    into = Path(args.into) if args.into else Path(args.out) / "baseline"
    into.parent.mkdir(parents=True, exist_ok=True)
    source = ReleaseSource(
        client_for(ctx, "ci-ml baseline fetch"),
        repo,
        args.tag_prefix or cfg.release.tag_prefix,
        into,
        include_prereleases=args.prereleases,
    )
    with actions.group("ci-ml baseline fetch"):
        base = source.fetch()
    if base is None:
        actions.set_outputs({"baseline-found": "false", "baseline-path": ""})
        print("no baseline: the comparison will report no-baseline")
        return 0
    actions.set_outputs(
        {"baseline-found": "true", "baseline-path": str(into), "baseline-tag": base.label}
    )
    print(f"baseline {base.label} verified into {into}")
    return 0


def cmd_promote(args: Any) -> int:
    from ci_ml.github import mark_latest

    ctx, _ = _context(args)
    repo = ctx.require_repo("ci-ml promote")
    result = mark_latest(client_for(ctx, "ci-ml promote"), repo, args.tag)
    print(f"{result.tag} is now the latest release: {result.html_url}")
    actions.set_outputs({"release-url": result.html_url, "release-tag": result.tag})
    return 0
