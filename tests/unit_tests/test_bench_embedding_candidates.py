"""The retrieval-agreement measure that judges embedding candidates (evals/benchmarks/bench_embedding_candidates)."""

from __future__ import annotations

import numpy as np

from evals.benchmarks.bench_embedding_candidates import TOP_K, agreement, rank


def _unit(rows: list[list[float]]) -> np.ndarray:
    matrix = np.asarray(rows, dtype=np.float32)
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def test_rank_leaves_out_the_incident_compared_with() -> None:
    documents = _unit([[1, 0], [0.9, 0.1], [0.8, 0.2], [0.7, 0.3], [0.6, 0.4], [0.5, 0.5], [0, 1]])
    queries = documents[:1]
    assert rank(queries, documents, [-1]).top.tolist() == [[0, 1, 2, 3, 4]]
    assert rank(queries, documents, [0]).top.tolist() == [[1, 2, 3, 4, 5]]


def test_rank_flags_a_near_tie_at_the_cut() -> None:
    documents = _unit([[1, 0]] * 6 + [[0, 1]])
    spread = _unit([[1, 0], [0.9, 0.1], [0.8, 0.2], [0.7, 0.3], [0.6, 0.4], [0.1, 0.9], [0, 1]])
    query = _unit([[1, 0]])
    assert rank(query, documents, [-1]).near_tie.tolist() == [True]
    assert rank(query, spread, [-1]).near_tie.tolist() == [False]


def test_agreement_is_the_share_of_the_reference_top_k_kept() -> None:
    documents = _unit([[1, 0], [0.9, 0.1], [0.8, 0.2], [0.7, 0.3], [0.6, 0.4], [0.5, 0.5], [0, 1]])
    reference = rank(documents[:2], documents, [-1, -1])
    assert agreement(reference, reference) == 1.0
    # The second query turned around: its five are now 6, 5, 4, 3, 2, of which 2, 3 and 4 were in the five.
    moved = rank(_unit([[1, 0], [0, 1]]), documents, [-1, -1])
    assert moved.top[1].tolist() == [6, 5, 4, 3, 2]
    assert agreement(reference, moved) == (1.0 + 3 / TOP_K) / 2
