"""Recorded events read in batches: JSON Lines files, plain, gzip or zstd.

The compression is recognised by the file's first bytes, not its name. Memory is one batch of
lines (~1 MiB) whatever the file's size; `done_bytes` follows the file on disk (compressed
bytes for a compressed file), so progress and ETA work for all three.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import zstandard

from streams.backtesting.decode import decode_line
from streams.model import Event
from streams.validation import InvalidEvent

GZIP_MAGIC: Final = b"\x1f\x8b"
ZSTD_MAGIC: Final = b"\x28\xb5\x2f\xfd"
BATCH_BYTES: Final = 1 << 20

Lines = list[tuple[int, bytes]]
"""(line number from 1, the line's bytes); blank lines are left out."""


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
            self._lines = io.BufferedReader(reader, BATCH_BYTES)
        else:
            self._lines = self._raw

    @property
    def done_bytes(self) -> int:
        return self._raw.tell()

    def batches(self) -> Iterator[Lines]:
        number = 0
        read = self._lines.readlines
        while chunk := read(BATCH_BYTES):
            batch: Lines = []
            for raw in chunk:
                number += 1
                if raw.strip():
                    batch.append((number, raw))
            yield batch

    def close(self) -> None:
        self._lines.close()
        self._raw.close()

    def __enter__(self) -> LineFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


Decoded = list[tuple[int, Event | InvalidEvent]]


class FileEvents:
    """A JSON Lines file as batches of (line number, event or why the line was refused)."""

    needs_sort = False  # a file may well be in order: try the reorder buffer first

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = LineFile(path)

    def batches(self) -> Iterator[Decoded]:
        for lines in self._file.batches():
            yield [(number, decode_line(raw)) for number, raw in lines]

    def where(self, seq: int) -> str:
        return f"{self.path}:{seq}"

    def fraction_done(self) -> float | None:
        total = self._file.total_bytes
        return self._file.done_bytes / total if total else None

    def close(self) -> None:
        self._file.close()
