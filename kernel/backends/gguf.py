"""Check a GGUF file before any run starts: present, a GGUF, and not cut short.

The header (metadata and tensor table) is read with plain Python; from it follows the size the file
must have (the data section's start plus the end of its last tensor). A file cut short anywhere,
header or data, is named as truncated with both sizes, instead of failing deep inside llama.cpp.
Type sizes are those of the ggml tensor types (block size, bytes per block).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from ..errors import BackendError

MAGIC = b"GGUF"
_SCALAR = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}  # value type -> bytes
_STRING, _ARRAY = 8, 9
_U64 = struct.Struct("<Q")
# ggml type -> (elements per block, bytes per block)
GGML_TYPES = {
    0: (1, 4),
    1: (1, 2),
    2: (32, 18),
    3: (32, 20),
    6: (32, 22),
    7: (32, 24),
    8: (32, 34),
    9: (32, 36),
    10: (256, 84),
    11: (256, 110),
    12: (256, 144),
    13: (256, 176),
    14: (256, 210),
    15: (256, 292),
    16: (256, 66),
    17: (256, 74),
    18: (256, 98),
    19: (256, 50),
    20: (32, 18),
    21: (256, 110),
    22: (256, 82),
    23: (256, 136),
    24: (1, 1),
    25: (1, 2),
    26: (1, 4),
    27: (1, 8),
    28: (1, 8),
    29: (256, 56),
    30: (1, 2),
    34: (256, 54),
    35: (256, 66),
    39: (32, 17),
}
HINT = "pass a complete .gguf file: --model local:PATH.gguf, or local for the bundled model"


@dataclass(frozen=True)
class GgufInfo:
    path: Path
    version: int
    tensors: int
    size: int
    needed: int  # bytes the header says the file must have (a lower bound if a tensor type is unknown)
    architecture: str | None


class _Short(Exception):
    pass


class _Reader:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise _Short
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def u32(self) -> int:
        return struct.unpack("<I", self.take(4))[0]

    def u64(self) -> int:
        return struct.unpack("<Q", self.take(8))[0]

    def string(self) -> bytes:
        return self.take(self.u64())

    def skip_strings(self, count: int) -> None:
        """A vocabulary is hundreds of thousands of strings: skip them without slicing."""
        data, pos, unpack, end = self.data, self.pos, _U64.unpack_from, len(self.data)
        for _ in range(count):
            if pos + 8 > end:
                raise _Short
            pos += 8 + unpack(data, pos)[0]
        if pos > end:
            raise _Short
        self.pos = pos

    def skip_value(self, kind: int) -> None:
        if kind == _STRING:
            self.string()
        elif kind == _ARRAY:
            item, count = self.u32(), self.u64()
            if item in _SCALAR:
                self.take(_SCALAR[item] * count)
            elif item == _STRING:
                self.skip_strings(count)
            else:
                for _ in range(count):
                    self.skip_value(item)
        elif kind in _SCALAR:
            self.take(_SCALAR[kind])
        else:
            raise ValueError(f"unknown metadata value type {kind}")


def _header_bytes(path: Path, size: int, limit: int) -> bytes:
    with open(path, "rb") as f:
        return f.read(min(size, limit))


def check_gguf(path: Path) -> GgufInfo:
    """Raise :class:`BackendError` (one line, with the fix) unless ``path`` is a whole GGUF file."""
    path = Path(path)
    if not path.is_file():
        raise BackendError(f"model file not found: {path}", hint=HINT)
    size, limit = path.stat().st_size, 8 << 20  # headers of real models are a few MB (the vocabulary)
    while True:
        data = _header_bytes(path, size, limit)
        if data[:4] != MAGIC:
            raise BackendError(f"not a GGUF file: {path} (it starts with {data[:4]!r}, not b'GGUF')", hint=HINT)
        try:
            return _parse(path, data, size)
        except _Short:
            if len(data) < size and limit < 1 << 30:
                limit *= 4
                continue
            raise BackendError(
                f"truncated GGUF file: {path} ({size:,} bytes end inside its header)", hint=HINT
            ) from None
        except (ValueError, struct.error, UnicodeDecodeError) as exc:
            raise BackendError(f"malformed GGUF file: {path}: {exc}", hint=HINT) from None


def _parse(path: Path, data: bytes, size: int) -> GgufInfo:
    r = _Reader(data)
    r.take(4)
    version = r.u32()
    if version not in (2, 3):
        raise ValueError(f"GGUF version {version} (llama.cpp reads versions 2 and 3)")
    n_tensors, n_kv = r.u64(), r.u64()
    alignment, arch = 32, None
    for _ in range(n_kv):
        key, kind = r.string().decode("utf-8"), r.u32()
        if key == "general.alignment" and kind == 4:
            alignment = r.u32()
        elif key == "general.architecture" and kind == _STRING:
            arch = r.string().decode("utf-8", "replace")
        else:
            r.skip_value(kind)
    end = 0
    for _ in range(n_tensors):
        r.string()
        dims = [r.u64() for _ in range(r.u32())]
        kind, offset = r.u32(), r.u64()
        elements = 1
        for d in dims:
            elements *= d
        block, nbytes = GGML_TYPES.get(kind, (1, 0))
        end = max(end, offset + elements // block * nbytes)
    start = -(-r.pos // alignment) * alignment
    needed = start + end
    if size < needed:
        raise BackendError(f"truncated GGUF file: {path} has {size:,} bytes, its header needs {needed:,}", hint=HINT)
    return GgufInfo(path, version, n_tensors, size, needed, arch)
