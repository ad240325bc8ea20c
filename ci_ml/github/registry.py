"""GitHub Releases as the model registry: which tag a build gets, which files
it publishes, and fetching the latest model release into a directory that the
compare stage reads as a baseline. The HTTP calls are in ci_ml.github.api."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci_ml import outdir
from ci_ml.artifact import ORIGIN, REQUIRED_FOR_PUBLISH, SUMS, verify_sums, write_json
from ci_ml.errors import UsageError
from ci_ml.github.audit import version_of
from ci_ml.signing import SIGNATURE

if TYPE_CHECKING:
    from ci_ml.github.client import GitHubClient


def choose_tag(releases: list[dict[str, Any]], prefix: str, sha: str) -> tuple[str, bool]:
    """(tag, reused): the release already made for this commit (a re-run), else the
    next integer version after the highest `<prefix><N>`. Pure."""
    for r in releases:
        if version_of(r["tag_name"], prefix) is not None and r.get("target_commitish") == sha:
            return r["tag_name"], True
    taken = [v for r in releases if (v := version_of(r["tag_name"], prefix)) is not None]
    return f"{prefix}{max(taken, default=0) + 1}", False


@dataclass(frozen=True)
class FetchedRelease:
    tag: str
    url: str | None
    directory: Path


def fetch_latest(
    client: GitHubClient,
    repo: str,
    tag_prefix: str,
    into: Path,
    include_prereleases: bool = False,
    releases: list[dict[str, Any]] | None = None,
    exclude_commit: str | None = None,
    check: Callable[[Path], None] | None = None,
) -> FetchedRelease | None:
    """Download the model release a build compares with into `into` (see
    `audit.pick_baseline`), verified against its SHA256SUMS and by `check` (the
    signature); None if the model has no release yet. `releases`: the
    repository's release list, if the caller has it already (one call fewer)."""
    from ci_ml.github.api import find_latest_model_release

    outdir.check_replaceable(into, "baseline", "--into")  # before any download
    release = find_latest_model_release(
        client,
        repo,
        tag_prefix,
        include_prereleases,
        exclude_commit=exclude_commit,
        releases=releases,
    )
    if release is None:
        return None
    return fetch_release(client, repo, release, into, check)


def fetch_release(
    client: GitHubClient,
    repo: str,
    release: dict[str, Any],
    into: Path,
    check: Callable[[Path], None] | None = None,
    kind: str = "baseline",
) -> FetchedRelease:
    """Download one release into `into`, verified. It lands in a fresh folder first;
    `into` is replaced only when that is complete and verified, and only if ci-ml
    made it (never a user's folder)."""
    from ci_ml.github.api import download_release_assets

    outdir.check_replaceable(into, kind, "--into")
    tmp = outdir.fresh_sibling(into)
    try:
        download_release_assets(client, release, tmp)
        verify_sums(tmp)
        if check is not None:
            check(tmp)
        origin = {
            "tag": release["tag_name"],
            "url": release.get("html_url"),
            "published_at": release.get("published_at"),
            "repository": repo,
        }
        write_json(tmp / ORIGIN, origin)
        outdir.put_in_place(tmp, into, kind, "--into")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return FetchedRelease(release["tag_name"], release.get("html_url"), into)


def model_releases(releases: list[dict[str, Any]], prefix: str, limit: int) -> list[dict[str, Any]]:
    """The last `limit` published model releases, oldest first, chosen as the
    baseline is (the tag prefix, no drafts or prereleases, by publication), so
    the baseline is the last of them. Pure."""
    ours = [
        r
        for r in releases
        if r["tag_name"].startswith(prefix) and not r.get("draft") and not r.get("prerelease")
    ]
    ours.sort(key=lambda r: (r.get("published_at") or r["created_at"], r["id"]))
    return ours[-limit:] if limit > 0 else []


@dataclass(frozen=True)
class ReleaseFile:
    """One release's copy of an asset: its bytes, or why there are none."""

    tag: str
    published_at: str | None
    url: str | None
    data: bytes | None
    problem: str | None = None


def fetch_release_files(
    client: GitHubClient,
    releases: list[dict[str, Any]],
    name: str,
    max_bytes: int,
    have: dict[str, bytes] | None = None,
) -> list[ReleaseFile]:
    """The asset `name` of each release, each downloaded once (size and digest
    checked by the client); `have` holds copies already on disk, by tag (the
    fetched baseline's). A release without the asset, or with one over
    `max_bytes`, gets a problem instead. GitHub's errors are the caller's."""
    import tempfile

    have = have or {}
    out = []
    with tempfile.TemporaryDirectory(prefix="ci-ml-history-") as tmp:
        for i, r in enumerate(releases):
            tag = r["tag_name"]
            info = (tag, r.get("published_at"), r.get("html_url"))
            asset = next((a for a in r.get("assets", []) if a["name"] == name), None)
            if tag in have:
                out.append(ReleaseFile(*info, have[tag]))
            elif asset is None or asset["state"] != "uploaded":
                out.append(ReleaseFile(*info, None, f"{tag} has no {name}"))
            elif asset["size"] > max_bytes:
                out.append(ReleaseFile(*info, None, f"{tag}'s {name} is {asset['size']} bytes"))
            else:
                dest = client.download(
                    asset["url"], Path(tmp) / f"{i}-{name}", size=asset["size"],
                    digest=asset.get("digest"),
                )  # fmt: skip
                out.append(ReleaseFile(*info, dest.read_bytes()))
    return out


def publishable_files(out: Path) -> list[Path]:
    """The artifact files to publish: exactly those SHA256SUMS lists, plus SHA256SUMS
    and the signature over both (if signed), after checking them (a build changed after `ci-ml report` is not published)."""
    if not (out / SUMS).is_file():
        raise UsageError(
            f"{out} has no {SUMS}: nothing complete to publish",
            hint="run `ci-ml run` (or `ci-ml report`) before `ci-ml publish`",
        )
    listed = verify_sums(out, required=REQUIRED_FOR_PUBLISH)
    signature = [out / SIGNATURE] if (out / SIGNATURE).is_file() else []
    return [out / name for name in listed] + [out / SUMS] + signature
