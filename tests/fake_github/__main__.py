"""Run the fake GitHub API as a process: ``python -m tests.fake_github --help``."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path

from .server import FakeGitHub, seed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fake_github", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--port-file", type=Path, help="write the chosen port here when ready")
    parser.add_argument("--seed", type=Path, help="JSON seed document (see tests.fake_github.seed)")
    parser.add_argument("--state-file", type=Path, help="rewritten as JSON after every change")
    parser.add_argument("--blob-host", default="localhost", help="host name of asset redirects")
    args = parser.parse_args(argv)

    fake = FakeGitHub(args.host, args.port, blob_host=args.blob_host, state_file=args.state_file)
    if args.seed:
        seed(fake.state, json.loads(args.seed.read_text()))
    fake._save_state()
    if args.port_file:
        tmp = args.port_file.with_suffix(".tmp")
        tmp.write_text(str(fake.port))
        tmp.replace(args.port_file)
    print(
        f"fake GitHub API on {fake.url} (uploads {fake.uploads_url})", file=sys.stderr, flush=True
    )
    with contextlib.suppress(KeyboardInterrupt):
        fake.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
