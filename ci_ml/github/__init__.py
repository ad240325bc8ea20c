"""Everything that talks to GitHub or to its Actions runner:

    client     HTTP: auth, errors, rate limits, pages; on top of, each importing only those below:
      retry      the retry policy (urllib3's Retry), what kind of failure a connection error was
      watchdog   each try's deadline: a thread that cuts tries that outlive it
      waits      the command's deadline, backoff, rate-limit waits, announcing long waits
    replies    the fields ci-ml reads from GitHub's replies, checked on arrival
    api        the domain calls: the sticky comment, releases and their assets
    registry   GitHub Releases as a model registry (ci_ml.registry's protocol)
    comment    fitting the report into a comment and delivering it (or deferring it)
    context    the run's facts (repository, event, token) read from the environment
    plan       which stages the action runs for an event (a pure decision)
    actions    workflow commands: log groups, annotations, outputs, job summary

Nothing here imports a stage; the CLI connects the two.
"""
