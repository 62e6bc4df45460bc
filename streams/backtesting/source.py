"""Recorded events read in blocks: JSON Lines files, plain, gzip or zstd.

A block is ~1 MiB of whole lines and the number of its first line, packed in bytes, so the
reading process can hand blocks to job processes that decode them (`decode_lines`) as cheaply
as it reads them. The compression is recognised by the file's first bytes, not its name.
Memory is a block whatever the file's size; `done_bytes` follows the file on disk (compressed
bytes for a compressed file), so progress and ETA work for all three.
"""

from __future__ import annotations

import gzip
import io
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Final, Protocol

import zstandard

from streams.backtesting import decode
from streams.backtesting.decode import Decoded

GZIP_MAGIC: Final = b"\x1f\x8b"
ZSTD_MAGIC: Final = b"\x28\xb5\x2f\xfd"
BLOCK_BYTES: Final = 1 << 20
_FIRST_LINE: Final = struct.Struct("<Q")


class LineFile:
    """One pass over a JSON Lines file; open a new one to read it again."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.total_bytes = path.stat().st_size
        self._raw = path.open("rb")
        head = self._raw.peek(4)[:4]
        self.compression = (
            "gzip" if head.startswith(GZIP_MAGIC) else "zstd" if head == ZSTD_MAGIC else "none"
        )
        self._lines: io.BufferedIOBase
        if self.compression == "gzip":
            self._lines = gzip.GzipFile(fileobj=self._raw, mode="rb")
        elif self.compression == "zstd":
            reader = zstandard.ZstdDecompressor().stream_reader(self._raw, read_across_frames=True)
            self._lines = io.BufferedReader(reader, BLOCK_BYTES)
        else:
            self._lines = self._raw

    @property
    def done_bytes(self) -> int:
        return self._raw.tell()

    def blocks(self) -> Iterator[bytes]:
        """Blocks of whole lines, each led by its first line's number (`decode_lines`)."""
        self.lines = 0
        read = self._lines.read
        rest = b""
        while chunk := read(BLOCK_BYTES):
            cut = chunk.rfind(b"\n") + 1
            if not cut:
                rest += chunk
                continue
            block, rest = rest + chunk[:cut], chunk[cut:]
            yield _FIRST_LINE.pack(self.lines + 1) + block
            self.lines += block.count(b"\n")
        if rest:
            yield _FIRST_LINE.pack(self.lines + 1) + rest
            self.lines += 1

    def close(self) -> None:
        self._lines.close()
        self._raw.close()

    def __enter__(self) -> LineFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class EventSource(Protocol):
    """Blocks of raw input, and how to decode one into (position, event or why refused)."""

    needs_sort: bool  # never in time order: straight to the external sort
    parallel: bool  # `decode_block` can run in a job process (a module-level function)
    unit: str  # "lines", "records"

    @property
    def done_items(self) -> int:
        """Lines or records read so far."""

    def blocks(self) -> Iterator[bytes]: ...
    def decode_block(self, block: bytes, /) -> Decoded: ...
    def where(self, seq: int) -> str: ...
    def fraction_done(self) -> float | None: ...
    def close(self) -> None: ...


def decode_lines(block: bytes) -> Decoded:
    """A `LineFile` block: its non-blank lines, numbered, decoded (`decode.decode_lines`)."""
    (number,) = _FIRST_LINE.unpack_from(block)
    return decode.decode_lines(block[_FIRST_LINE.size :], number)


class FileEvents:
    """A JSON Lines file as blocks of lines, for the events of a backtest."""

    needs_sort = False  # a file may well be in order: try the reorder buffer first
    decode_block = staticmethod(decode_lines)
    parallel = True  # job processes can decode its blocks
    unit = "lines"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = LineFile(path)

    def blocks(self) -> Iterator[bytes]:
        return self._file.blocks()

    @property
    def done_items(self) -> int:
        return self._file.lines

    def where(self, seq: int) -> str:
        return f"{self.path}:{seq}"

    def fraction_done(self) -> float | None:
        total = self._file.total_bytes
        return self._file.done_bytes / total if total else None

    def close(self) -> None:
        self._file.close()
