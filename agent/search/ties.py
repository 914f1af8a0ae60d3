"""Equally good matches, newest first: the tie-break both of the search's rankings use.

Incidents recur with the same cause and nearly the same words (a failover every few weeks, the same WAF
rule shipped again); their scores differ by noise (document length, a service name in the title). Among such
equals the newest ranks first, since the last time something happened is the one people remember and ask
about ("what did we do about the waf rule blocking gift messages?").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

Match = TypeVar("Match")


def newest_among_equals(
    ranked: Sequence[Match], *, incident_id: Callable[[Match], int], equal: Callable[[Match, Match], bool]
) -> list[Match]:
    """Returns the ranking with each run of matches `equal` to the run's first ordered newest first
    (incident ids grow with declaration); the runs keep their order."""
    ordered: list[Match] = []
    run: list[Match] = []
    for match in ranked:
        if run and not equal(run[0], match):
            ordered += sorted(run, key=lambda item: -incident_id(item))
            run = []
        run.append(match)
    return ordered + sorted(run, key=lambda item: -incident_id(item))
