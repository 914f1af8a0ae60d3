"""Benchmark the offline MiniLM embedding model.

Run with ``python -m evals.benchmarks.bench_embedding``. Prints:

* the time to build the ONNX model cold (from the bundled safetensors) into a temp dir,
* the time to create the inference session,
* warm throughput (texts/s, after one warm-up call) for 500 deterministic incident-like
  documents of roughly 60 tokens, and for their ~10-token titles alone.

Nothing touches the network or the user's model cache.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

from agent.search.embedding import MiniLMEmbedding
from agent.search.onnx_model import build_onnx_model

_TITLES = [
    "Checkout API returning HTTP 500",
    "Elevated latency on search results",
    "Login loop on the iOS app",
    "Payment webhooks delayed",
    "TLS certificate expired on api gateway",
    "Kafka consumer lag growing",
    "Primary database failover",
    "CDN serving stale assets",
    "Background jobs stuck in queue",
    "Disk full on logging cluster",
]
_SERVICES = ["checkout", "payments", "auth", "search", "notifications", "orders", "inventory", "gateway"]
_REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2"]
_IMPACTS = [
    "customers could not complete purchases",
    "about 12% of requests failed",
    "mobile users were logged out repeatedly",
    "refunds were delayed by several hours",
    "dashboards showed stale data",
    "on-call was paged three times overnight",
]
_CAUSES = [
    "a bad config push disabled the connection pool",
    "a schema migration locked the orders table",
    "the certificate renewal cron job had been failing silently",
    "a dependency upgrade changed the default timeout",
    "autoscaling hit the account instance limit",
    "a noisy neighbour saturated the shared cache",
]
_ACTIONS = [
    "We rolled back the release and added an alert on error rate.",
    "We failed over to the replica and scheduled a postmortem.",
    "We renewed the certificate manually and fixed the cron job.",
    "We raised the limit and added capacity planning to the runbook.",
]


def make_documents(count: int = 500, seed: int = 1234) -> list[str]:
    """Generate deterministic incident summaries of roughly 60 tokens each.

    Args:
        count: Number of documents.
        seed: Seed for the private random generator (same seed, same documents).

    Returns:
        The documents.
    """
    rng = random.Random(seed)
    docs = []
    for i in range(count):
        docs.append(
            f"INC-{1000 + i}: {rng.choice(_TITLES)} in {rng.choice(_SERVICES)} ({rng.choice(_REGIONS)}). "
            f"Impact: {rng.choice(_IMPACTS)} for {rng.randint(5, 180)} minutes. "
            f"Cause: {rng.choice(_CAUSES)}. {rng.choice(_ACTIONS)}"
        )
    return docs


def _time_embed(
    embedder: MiniLMEmbedding, texts: list[str], repeats: int
) -> tuple[float, float, float, float]:
    """Time ``embedder.embed(texts)`` after one warm-up call.

    Returns:
        Best texts/s, median texts/s, CPU-seconds per wall-second over the timed runs (close
        to the thread count on an idle box; much lower means other processes are competing
        for the CPU), and texts per CPU-second (a contention-independent cost figure).
    """
    embedder.embed(texts)  # warm-up call
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        embedder.embed(texts)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return (
        len(texts) / min(walls),
        len(texts) / statistics.median(walls),
        sum(cpus) / sum(walls),
        len(texts) * repeats / sum(cpus),
    )


def main() -> None:
    """Run the benchmark and print the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=500, help="number of documents (default 500)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per measurement (default 3)")
    parser.add_argument(
        "--batch-sizes", type=int, nargs="+", default=[64], help="batch sizes to time (default 64)"
    )
    args = parser.parse_args()

    docs = make_documents(args.docs)
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (cpus: {os.cpu_count()})")
    with tempfile.TemporaryDirectory(prefix="bench-embedding-") as tmp:
        start = time.perf_counter()
        model_dir = build_onnx_model(Path(tmp) / "model")
        print(
            f"cold ONNX build (safetensors -> model.onnx + tokenizer files): {time.perf_counter() - start:.2f} s"
        )

        for n, batch_size in enumerate(args.batch_sizes):
            embedder = MiniLMEmbedding(model_dir=model_dir, batch_size=batch_size)
            start = time.perf_counter()
            embedder.embed(["warm-up"])  # creates the tokenizer and the onnxruntime session
            if n == 0:
                print(f"session load (tokenizer + onnxruntime session): {time.perf_counter() - start:.2f} s")
                tokenizer = embedder._load()[1]
                tokens = [len(e.ids) for e in tokenizer.encode_batch(docs)]
                print(
                    f"documents: {len(docs)}, tokens/doc mean {statistics.mean(tokens):.1f} "
                    f"(min {min(tokens)}, max {max(tokens)}), onnxruntime threads {embedder._num_threads}"
                )
            best, median, cpu, per_cpu = _time_embed(embedder, docs, args.repeats)
            print(
                f"warm throughput, ~60-token docs, batch_size={batch_size}: best {best:.1f} texts/s, "
                f"median {median:.1f} texts/s, CPU/wall {cpu:.2f}, {per_cpu:.1f} texts per CPU-second ({args.repeats} runs)"
            )
            if n == 0:
                # Short texts (titles only, ~10 tokens) for comparison: cost scales with tokens.
                titles = [doc.split(" in ", 1)[0] for doc in docs]
                best, median, cpu, per_cpu = _time_embed(embedder, titles, args.repeats)
                print(
                    f"warm throughput, ~10-token titles, batch_size={batch_size}: best {best:.1f} texts/s, "
                    f"median {median:.1f} texts/s, CPU/wall {cpu:.2f}, {per_cpu:.1f} texts per CPU-second ({args.repeats} runs)"
                )


if __name__ == "__main__":
    main()
