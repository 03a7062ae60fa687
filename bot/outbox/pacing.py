"""Pacing a platform's posts to a rate it allows, so the outbox approaches its limit without meeting its 429s.

Slack answers chat.postMessage with 429 above about one post a second per conversation (claims pace
that) and above a workspace-wide rate. A 429's Retry-After comes in whole seconds and pauses the
method for every worker (claims.record_rate_limited), so reacting to them alone wastes most of each
second they cost; posting evenly at the workspace's rate loses nothing to them.

The limiter is pyrate-limiter's GCRA (a leaky bucket kept as one time) with a burst of one post:
posts go out evenly spaced, each sender thread waiting its turn. It is per process: several
processes delivering one workspace share its rate between them (see README, SLACK_WORKSPACE_RATE).
"""

from __future__ import annotations

from collections.abc import Mapping

from pyrate_limiter import Duration, Limiter, Rate, StateBucket

PACED = ("post",)  # operations whose Web API method carries the workspace-wide limit (chat.postMessage)


class PostRate:
    """At most `per_second` posts a second from this process, spaced evenly, shared by its sender threads."""

    def __init__(self, per_second: float) -> None:
        if per_second <= 0:
            raise ValueError("a rate is a positive number of posts a second")
        self.per_second = per_second
        # GCRA's emission interval is interval / limit in whole microseconds: per_second x 1000 posts in
        # 1000 s keeps a fractional rate (0.5 a second, 2.5 a second) exact to a thousandth.
        self._bucket = StateBucket([Rate(max(1, round(per_second * 1000)), Duration.SECOND * 1000, burst=1)])
        # buffer_ms=0: a waiting sender wakes at its turn, not 50 ms after it (the library's default margin).
        self._limiter = Limiter(self._bucket, buffer_ms=0)

    def wait(self) -> None:
        """Block this thread until the next post may go."""
        self._limiter.try_acquire("post", blocking=True)

    def close(self) -> None:
        """Stop tracking the bucket (the library's background leaker holds a reference to it)."""
        self._limiter.dispose(self._bucket)


def post_rates(rates: Mapping[str, float | None] | None) -> dict[str, PostRate]:
    """A limiter for each platform given a rate (platform -> posts a second; None or absent: not limited)."""
    return {platform: PostRate(rate) for platform, rate in (rates or {}).items() if rate}
