"""The use-cases the CLI calls with typed requests: each takes plain values and a
registry (or a client) and returns a result, so a test calls it directly.

    publishing    check a build, decide its tag and "latest", publish it with its log line
    releases      promote, roll back, list the model's releases
    baselines     a build's baseline from the registry, verified, and the release history
    provenance    the pull request a build's commit came from (audit trail)
    sources       an artifact folder or a release tag, for reproduce, diff and verify
    signatures    the verification policy, signing a build, verifying strictly
    reproducing   rebuilding a record at its commit and comparing
    clock         the time a registry event happened
    monitoring    a drift check's outcome as the model's sticky issue, with the candidate

Nothing here reads the environment, builds an HTTP client or exits: the CLI does.
"""
