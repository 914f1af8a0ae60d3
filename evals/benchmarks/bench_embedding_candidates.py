"""Benchmark ways to embed incident documents faster, judged by retrieval agreement with today's vectors.

Run with ``python -m evals.benchmarks.bench_embedding_candidates [--candidates NAME ...]``. For the demo and
the public organisation (the evaluation suite's stores, built or taken from the eval cache) it

1. builds every incident's search document as the index does (`agent.search.index.incident_document`);
2. embeds the documents with each candidate (weights, token limit, batch size, threads) and prints warm
   throughput: documents/s (wall) and documents per CPU-second (what the candidate costs, whatever else
   the machine is doing);
3. embeds three query sets with the same candidate and compares, per query, the 5 nearest documents with
   those of the reference (fp32, 128 tokens: what the index holds today). Agreement is the mean share of
   the reference's top 5 the candidate also returns (1.0: same five). The query sets are the questions of
   the dev split, the questions of the held-out split (loaded at run time; only aggregate numbers are
   printed), and "related to this incident" searches (each incident's text as `related_incidents` sends
   it, the incident itself left out).

Nearest documents are found exactly (brute-force cosine), so the numbers measure the embedding alone,
not the approximate HNSW search on top of it. A candidate is acceptable when every agreement is >= 0.95.
The reference line also says what share of queries has a near tie at the cut (5th and 6th nearest within
0.01 cosine), where any change to the vectors can swap what is in the top 5.

int8 candidates run a copy of the model made here with onnxruntime's dynamic quantization (the weights of
every MatMul int8 with one scale per output channel, activations quantized per call); the product runs
fp32. Nothing touches the network.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from agent.db import make_engine, session_scope
from agent.incidents import service, timeline
from agent.search.embedding import SEARCH_MAX_LENGTH, MiniLMEmbedding
from agent.search.index import incident_document, timeline_digest
from agent.search.onnx_model import ensure_model
from agent.settings import get_settings

TOP_K = 5
ACCEPT = 0.95
NEAR_TIE = 0.01


@dataclass(frozen=True)
class Candidate:
    """One way of embedding: which weights, how many tokens, how it is batched and threaded."""

    name: str
    weights: Literal["fp32", "int8"] = "fp32"
    max_length: int = SEARCH_MAX_LENGTH
    batch_size: int = 64
    workers: int = 1
    """Sessions run side by side, each on `threads` threads, each embedding a share of the documents."""
    threads: int | None = None

    def embedders(self, int8_dir: Path) -> list[MiniLMEmbedding]:
        """Returns one embedder per worker; int8 ones run the model in `int8_dir`."""
        return [
            MiniLMEmbedding(
                model_dir=int8_dir if self.weights == "int8" else None,
                batch_size=self.batch_size,
                max_length=self.max_length,
                num_threads=self.threads,
            )
            for _ in range(self.workers)
        ]


REFERENCE = Candidate("fp32-128 (today)")
CANDIDATES = [
    REFERENCE,
    Candidate("fp32-128 batch 16", batch_size=16),
    Candidate("fp32-128 batch 256", batch_size=256),
    Candidate("fp32-128 2 sessions x 1 thread", workers=2, threads=1),
    Candidate("fp32-96", max_length=96),
    Candidate("fp32-64", max_length=64),
    Candidate("int8-128", weights="int8"),
    Candidate("int8-128 2 sessions x 1 thread", weights="int8", workers=2, threads=1),
    Candidate("int8-96", weights="int8", max_length=96),
    Candidate("int8-64", weights="int8", max_length=64),
]


def int8_model_dir(folder: Path) -> Path:
    """Returns a model folder like the product's whose model.onnx is the int8 copy of the fp32 graph."""
    from onnxruntime.quantization import QuantType, quantize_dynamic  # heavy import

    fp32 = ensure_model()
    target = folder / "int8"
    shutil.copytree(fp32, target)
    # onnxruntime.quantization advises pre-processing through the root logger; that needs sympy and
    # changes nothing for a graph whose shapes onnx.checker already inferred.
    logging.getLogger().setLevel(logging.ERROR)
    quantize_dynamic(
        str(fp32 / "model.onnx"), str(target / "model.onnx"), weight_type=QuantType.QInt8, per_channel=True
    )
    return target


@dataclass
class Organisation:
    """An organisation's documents and query sets."""

    name: str
    ids: list[int]
    documents: list[str]
    queries: dict[str, list[str]]
    related: list[tuple[int, str]]
    """(incident, text) of the "related to this incident" searches."""


def load_organisation(name: str) -> Organisation:
    """Returns the documents of an organisation's eval store and its query sets."""
    from evals.dataset import load_split  # loads pydantic models
    from evals.organisations import prepare_organisation  # loads the agent
    from tools.related_incidents import incident_document as related_text

    folder = prepare_organisation(name, cache_root=get_settings().data_dir / "eval-stores")
    engine = make_engine(f"sqlite:///{folder / 'incidents.db'}")
    with session_scope(engine) as db_session:
        ids = service.list_incident_ids(db_session=db_session)
        incidents = service.get_many(db_session=db_session, incident_ids=ids)
        timelines = timeline.get_timelines(db_session=db_session, incident_ids=[i.id for i in incidents])
        documents = [incident_document(i, timeline_digest(timelines[i.id])) for i in incidents]
        related = [(i.id, related_text(i)) for i in incidents]
    engine.dispose()
    queries = {
        split: [turn.question for case in load_split(split, name).get(name, []) for turn in case.turns]
        for split in ("dev", "heldout")
    }
    return Organisation(name, [i.id for i in incidents], documents, queries, related)


def embed(embedders: Sequence[MiniLMEmbedding], texts: list[str]) -> npt.NDArray[np.float32]:
    """Embeds `texts`, split evenly over the embedders when there are several."""
    if len(embedders) == 1:
        return embedders[0].embed(texts)
    share = -(-len(texts) // len(embedders))
    parts = [texts[start : start + share] for start in range(0, len(texts), share)]
    with ThreadPoolExecutor(len(embedders)) as pool:
        return np.concatenate(list(pool.map(MiniLMEmbedding.embed, embedders, parts)))


@dataclass
class Ranking:
    """The TOP_K nearest documents (positions) of each query, and whether the cut is a near tie."""

    top: np.ndarray
    near_tie: np.ndarray


def rank(queries: npt.NDArray[np.float32], documents: npt.NDArray[np.float32], exclude: list[int]) -> Ranking:
    """Returns each query's nearest documents, the document at position `exclude[q]` left out (-1: none)."""
    scores = queries @ documents.T
    for row, position in enumerate(exclude):
        if position >= 0:
            scores[row, position] = -np.inf
    order = np.argsort(-scores, axis=1, kind="stable")
    cut = np.take_along_axis(scores, order[:, TOP_K - 1 : TOP_K + 1], axis=1)
    return Ranking(order[:, :TOP_K], (cut[:, 0] - cut[:, 1]) < NEAR_TIE)


def agreement(reference: Ranking, candidate: Ranking) -> float:
    """Returns the mean share of each reference top-k row that the candidate's row also holds."""
    return statistics.mean(
        len(set(ref.tolist()) & set(cand.tolist())) / TOP_K
        for ref, cand in zip(reference.top, candidate.top, strict=True)
    )


def rankings(
    embedders: Sequence[MiniLMEmbedding], org: Organisation, documents: npt.NDArray[np.float32]
) -> dict[str, Ranking]:
    """Returns the rankings of every query set of `org` against its embedded documents."""
    position = {incident: n for n, incident in enumerate(org.ids)}
    out = {}
    for split, questions in org.queries.items():
        if questions:
            out[split] = rank(embed(embedders, questions), documents, [-1] * len(questions))
    related_vectors = embed(embedders, [text for _i, text in org.related])
    out["related"] = rank(related_vectors, documents, [position[i] for i, _t in org.related])
    return out


@dataclass
class Result:
    """What one candidate measured."""

    docs_per_s: float
    docs_per_cpu_s: float
    mean_tokens: float
    agreements: dict[str, float]
    """Keyed "<org>/<query set>"."""


def measure(
    candidate: Candidate, orgs: list[Organisation], reference: dict[str, dict[str, Ranking]], int8_dir: Path
) -> Result:
    """Times the candidate on every organisation's documents and compares its rankings with the reference."""
    embedders = candidate.embedders(int8_dir)
    everything = [doc for org in orgs for doc in org.documents]
    embed(embedders, everything[:64])  # warm-up: loads the sessions
    wall, cpu = time.perf_counter(), time.process_time()
    vectors = embed(embedders, everything)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    tokenizer = embedders[0]._load()[1]
    tokens = statistics.mean(len(e.ids) for e in tokenizer.encode_batch(everything))
    agreements: dict[str, float] = {}
    offset = 0
    for org in orgs:
        documents = vectors[offset : offset + len(org.documents)]
        offset += len(org.documents)
        for query_set, ranked in rankings(embedders, org, documents).items():
            agreements[f"{org.name}/{query_set}"] = agreement(reference[org.name][query_set], ranked)
    return Result(len(everything) / wall, len(everything) / cpu, tokens, agreements)


def main() -> None:
    """Measures every candidate and prints one line each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--candidates", nargs="+", default=None, help="names of the candidates to measure (default all)"
    )
    args = parser.parse_args()
    chosen = [c for c in CANDIDATES if args.candidates is None or c.name in args.candidates]

    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (cpus: {os.cpu_count()})")
    orgs = [load_organisation(name) for name in ("demo", "public")]
    for org in orgs:
        sizes = ", ".join(f"{len(v)} {k}" for k, v in org.queries.items())
        print(f"{org.name}: {len(org.documents)} documents; queries: {sizes}, {len(org.related)} related")
    with tempfile.TemporaryDirectory(prefix="bench-candidates-") as folder:
        int8_dir = int8_model_dir(Path(folder))
        reference_embedders = REFERENCE.embedders(int8_dir)
        reference = {
            org.name: rankings(reference_embedders, org, embed(reference_embedders, org.documents))
            for org in orgs
        }
        columns = [f"{org.name}/{query_set}" for org in orgs for query_set in reference[org.name]]
        ties = " ".join(
            f"{column} {reference[column.split('/')[0]][column.split('/')[1]].near_tie.mean():.0%}"
            for column in columns
        )
        print(f"queries whose 5th and 6th nearest are within {NEAR_TIE} cosine (reference): {ties}")
        print(f"\ntop-{TOP_K} agreement with {REFERENCE.name}; acceptable when all >= {ACCEPT}")
        print(
            f"{'candidate':32s} {'docs/s':>7s} {'docs/cpu-s':>10s} {'tokens':>6s} "
            + " ".join(f"{c:>14s}" for c in columns)
        )
        for candidate in chosen:
            result = measure(candidate, orgs, reference, int8_dir)
            verdict = "ok" if min(result.agreements.values()) >= ACCEPT else "below"
            print(
                f"{candidate.name:32s} {result.docs_per_s:7.1f} {result.docs_per_cpu_s:10.1f} "
                f"{result.mean_tokens:6.1f} "
                + " ".join(f"{result.agreements[c]:14.3f}" for c in columns)
                + f"  {verdict}",
                flush=True,
            )
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
