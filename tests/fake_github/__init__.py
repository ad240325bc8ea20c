"""A stateful fake of the GitHub REST API, served over real HTTP on 127.0.0.1.

In a test::

    with FakeGitHub() as fake:          # a thread, on a free port
        fake.state.add_pull("octo/ml", 7)
        fake.add_fault("GET /repos/.*/comments", "status", status=502)
        fake.add_fault("GET /repos/.*/releases$", "html")  # garbage, recorded in fake.deliberate
        client = GitHubClient(DEFAULT_TOKEN, base_url=fake.url)
        ...
        assert fake.failures == []      # every request matched GitHub's OpenAPI spec

As a process (for the act end-to-end test)::

    python -m tests.fake_github --port 8765 --seed seed.json --state-file state.json
"""

from .server import FakeGitHub, Fault, seed
from .state import DEFAULT_TOKEN, State, Token

__all__ = ["DEFAULT_TOKEN", "Fault", "FakeGitHub", "State", "Token", "seed"]
