"""The steps of ci-ml's own release that are more than a command
(.github/workflows/release.yml; docs/development/releasing.md). Standard library
only: it runs in the release tools' venv, before ci-ml is installed anywhere.

    release.py check DIST            the sdist and wheel in DIST are this version's and
                                     whole; prints the version
    release.py notes VERSION         CHANGELOG.md's section for VERSION
    release.py github DIST VERSION   the GitHub release vVERSION with DIST's files
                                     (GITHUB_API_URL, GITHUB_REPOSITORY, GITHUB_TOKEN,
                                     GITHUB_SHA; writes url= to GITHUB_OUTPUT)
"""

from __future__ import annotations

import json
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# What a wheel of ci-ml must hold besides the code (the LICENSE under dist-info).
WHEEL_MUST_HOLD = ("ci_ml/py.typed", "ci_ml/schemas/ci-ml.schema.json", "ci_ml/workflows/")


class ReleaseError(Exception):
    pass


def version() -> str:
    """ci_ml.__version__, read from the file (ci-ml is not installed here)."""
    text = (ROOT / "ci_ml" / "__init__.py").read_text(encoding="utf-8")
    m = re.search(r'^__version__\s*=\s*"([^"]+)"', text, re.MULTILINE)
    if not m:
        raise ReleaseError("ci_ml/__init__.py has no __version__")
    return m.group(1)


def notes(ver: str, changelog: str) -> str:
    """The body of CHANGELOG.md's `## VER` section."""
    m = re.search(rf"^## {re.escape(ver)}\s*$(.*?)(?=^## |\Z)", changelog, re.M | re.S)
    if not m or not m.group(1).strip():
        raise ReleaseError(
            f"CHANGELOG.md has no section `## {ver}`: move the Unreleased entries under it"
        )
    return m.group(1).strip() + "\n"


def check(dist: Path) -> str:
    """The version, once DIST holds exactly this version's sdist and wheel, and the
    wheel holds the licence, py.typed, the schema and the templates."""
    ver = version()
    wheels = sorted(dist.glob("*.whl"))
    sdists = sorted(dist.glob("*.tar.gz"))
    want_wheel = f"ci_ml-{ver}-py3-none-any.whl"
    if [w.name for w in wheels] != [want_wheel] or [s.name for s in sdists] != [
        f"ci_ml-{ver}.tar.gz"
    ]:
        found = ", ".join(p.name for p in [*wheels, *sdists]) or "nothing"
        raise ReleaseError(f"{dist} should hold the sdist and wheel of {ver}; it holds {found}")
    names = zipfile.ZipFile(wheels[0]).namelist()
    missing = [m for m in WHEEL_MUST_HOLD if not any(n.startswith(m) for n in names)]
    if not any(
        re.fullmatch(rf"ci_ml-{re.escape(ver)}\.dist-info/licenses/LICENSE", n) for n in names
    ):
        missing.append("the LICENSE")
    if missing:
        raise ReleaseError(f"{want_wheel} lacks {', '.join(missing)}")
    notes(ver, (ROOT / "CHANGELOG.md").read_text(encoding="utf-8"))
    return ver


def _request(method: str, url: str, token: str, body: bytes | None, kind: str) -> dict:
    req = urllib.request.Request(url, data=body, method=method)
    req.add_header("Authorization", f"Bearer {token}")
    req.add_header("Accept", "application/vnd.github+json")
    req.add_header("X-GitHub-Api-Version", "2022-11-28")
    req.add_header("Content-Type", kind)
    try:
        with urllib.request.urlopen(req, timeout=60) as reply:
            return json.loads(reply.read() or b"{}")
    except urllib.error.HTTPError as e:
        detail = e.read()[:500].decode("utf-8", "replace")
        raise ReleaseError(f"{method} {url}: HTTP {e.code}: {detail}") from None


def github_release(dist: Path, ver: str, env: dict[str, str]) -> str:
    """Create the release vVER on GITHUB_SHA with the changelog's notes, upload the
    files of DIST; its URL."""
    api, repo, token = (
        env["GITHUB_API_URL"].rstrip("/"),
        env["GITHUB_REPOSITORY"],
        env["GITHUB_TOKEN"],
    )
    body = {
        "tag_name": f"v{ver}",
        "target_commitish": env["GITHUB_SHA"],
        "name": f"ci-ml {ver}",
        "body": notes(ver, (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")),
        "draft": False,
        "prerelease": "-" in ver or bool(re.search(r"[a-z]", ver)),
        "make_latest": "true",
    }
    release = _request(
        "POST", f"{api}/repos/{repo}/releases", token, json.dumps(body).encode(), "application/json"
    )
    upload = release["upload_url"].split("{", 1)[0]
    for path in sorted(dist.iterdir()):
        if path.suffix in (".whl", ".gz"):
            query = urllib.parse.urlencode({"name": path.name})
            _request(
                "POST", f"{upload}?{query}", token, path.read_bytes(), "application/octet-stream"
            )
            print(f"uploaded {path.name}")
    print(f"released {release['html_url']}")
    return str(release["html_url"])


def main(argv: list[str]) -> int:
    try:
        if len(argv) == 2 and argv[0] == "check":
            print(check(Path(argv[1])))
        elif len(argv) == 2 and argv[0] == "notes":
            print(notes(argv[1], (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")), end="")
        elif len(argv) == 3 and argv[0] == "github":
            url = github_release(Path(argv[1]), argv[2], dict(os.environ))
            if os.environ.get("GITHUB_OUTPUT"):
                with open(os.environ["GITHUB_OUTPUT"], "a", encoding="utf-8") as out:
                    out.write(f"url={url}\n")
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except ReleaseError as e:
        print(f"::error title=release::{e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
