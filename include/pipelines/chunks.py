"""Large JSONL extracts in bounded memory: line chunks, and duplicate keys across chunks."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd


def split_lines(path: Path, rows_per_chunk: int, work_dir: Path) -> Iterator[tuple[Path, int]]:
    """Yield (chunk file, number of lines before it); a file within one chunk is yielded as it is."""
    with path.open("rb") as source:
        first = list(itertools.islice(source, rows_per_chunk))
        following = source.readline()
        if not following:
            yield path, 0
            return
        offset, lines = 0, [*first, following]
        while lines:
            chunk = work_dir / f"{path.stem}.part{offset // rows_per_chunk + 1:04d}.jsonl"
            chunk.write_bytes(b"".join(lines[:rows_per_chunk]))
            yield chunk, offset
            chunk.unlink()
            offset += min(len(lines), rows_per_chunk)
            rest = lines[rows_per_chunk:]
            lines = rest + list(itertools.islice(source, rows_per_chunk - len(rest)))


class SeenKeys:
    """Keys already kept in earlier chunks of one extract, as 64-bit hashes with their source rows."""

    def __init__(self, key: Sequence[str]) -> None:
        self.key = list(key)
        self.hashes = np.empty(0, dtype=np.uint64)
        self.rows = np.empty(0, dtype=np.int64)

    def split(self, clean: pd.DataFrame, source_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(mask of rows whose key an earlier chunk kept, those earlier rows); remembers the others."""
        hashes = pd.util.hash_pandas_object(clean[self.key], index=False).to_numpy()
        positions = np.searchsorted(self.hashes, hashes)
        found = positions < len(self.hashes)
        found[found] = self.hashes[positions[found]] == hashes[found]
        earlier = self.rows[positions[found]]
        order = np.argsort(np.concatenate([self.hashes, hashes[~found]]), kind="stable")
        self.hashes = np.concatenate([self.hashes, hashes[~found]])[order]
        self.rows = np.concatenate([self.rows, source_rows[~found]])[order]
        return found, earlier
