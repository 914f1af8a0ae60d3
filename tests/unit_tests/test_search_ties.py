"""Equally good matches rank newest first; better ones stay ahead."""

from __future__ import annotations

from agent.search.ties import newest_among_equals


def test_each_run_of_equals_is_ordered_newest_first_and_the_runs_keep_their_order() -> None:
    ranked = [(3, 0.70), (9, 0.69), (5, 0.685), (8, 0.60), (12, 0.59), (1, 0.45)]
    assert newest_among_equals(
        ranked, incident_id=lambda pair: pair[0], equal=lambda best, other: best[1] - other[1] <= 0.02
    ) == [(9, 0.69), (5, 0.685), (3, 0.70), (12, 0.59), (8, 0.60), (1, 0.45)]


def test_a_run_is_measured_from_its_best_so_small_steps_do_not_chain() -> None:
    ranked = [(1, 0.70), (2, 0.685), (3, 0.67), (4, 0.655)]
    assert newest_among_equals(
        ranked, incident_id=lambda pair: pair[0], equal=lambda best, other: best[1] - other[1] <= 0.02
    ) == [(2, 0.685), (1, 0.70), (4, 0.655), (3, 0.67)]
