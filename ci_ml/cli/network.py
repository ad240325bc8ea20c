"""The GitHub client of a command, built from the environment: the token masked,
one network deadline for the whole command, long waits announced."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ci_ml.errors import UsageError
from ci_ml.github.client import GitHubClient
from ci_ml.github.context import GitHubContext

if TYPE_CHECKING:
    from ci_ml.cli import Runtime

# The whole of one command's conversation with GitHub, retries and rate-limit waits
# included. A healthy command needs seconds (GitHub answers in well under one, a
# model's assets upload in seconds), so this is never in the way; ten minutes still
# hold a secondary rate limit (GitHub asks for about a minute) plus retries through
# a degraded GitHub, while a hung connection gives up long before the job's own
# 6-hour timeout has burnt the runner's minutes.
DEFAULT_NETWORK_TIMEOUT = 600.0
NETWORK_TIMEOUT_ENV = "CI_ML_NETWORK_TIMEOUT"


def network_timeout(option: float | None, rt: Runtime) -> float:
    """--network-timeout (`option`), else $CI_ML_NETWORK_TIMEOUT, else the default (seconds)."""
    if option is not None:
        return float(option)
    raw = rt.env.get(NETWORK_TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_NETWORK_TIMEOUT
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise UsageError(
            f"{NETWORK_TIMEOUT_ENV}={raw!r} is not a number of seconds",
            hint=f"set it to a positive number (e.g. {DEFAULT_NETWORK_TIMEOUT:g}) or unset it",
        )
    return seconds


def client_for(
    ctx: GitHubContext,
    rt: Runtime,
    what: str,
    option: float | None,
    deadline: float | None = None,
) -> GitHubClient:
    """The one place a GitHub client is built: token from the environment, masked; the
    command's network deadline (--network-timeout, `option`) starts now (at most
    `deadline`); long waits are printed as notices."""
    token = ctx.require_token(what)
    rt.actions.mask(token)
    seconds = network_timeout(option, rt)
    if deadline is not None:
        seconds = min(seconds, deadline)
    actions = rt.actions
    return GitHubClient(
        token,
        base_url=ctx.api_url,
        deadline=seconds,
        deadline_hint=(
            f"raise it with --network-timeout SECONDS or {NETWORK_TIMEOUT_ENV} (now {seconds:g} s)"
        ),
        # One knob: the deadline alone bounds how long a rate limit is waited out.
        max_rate_limit_wait=seconds,
        on_wait=lambda wait: actions.notice(str(wait)),
    )
