"""A sparse matrix on disk: CSR rows written a block at a time, read back memory-mapped.

A TF-IDF matrix of hashed n-grams holds about three entries per token of each text, 8 bytes
each: several times the token ids themselves. :class:`CsrWriter` appends row blocks to three
files in a folder::

    data.f32      float32 (nnz,)   the values, row after row
    indices.i32   int32 (nnz,)     their columns (ascending within a row)
    indptr.i64    int64 (n + 1,)   row i is data[indptr[i] : indptr[i + 1]]

and :class:`MappedCsr` reads them back as SciPy CSR matrices over the memory maps (no copy):
the whole matrix, or row blocks of about ``max_nonzero`` entries (:meth:`MappedCsr.blocks`),
releasing the pages read after each block so a pass over the matrix holds one block in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from lstmkit.data.store.tokens import release_pages

DATA, INDICES, INDPTR = "data.f32", "indices.i32", "indptr.i64"


class CsrWriter:
    """Append CSR row blocks to ``folder`` (created); :meth:`close` returns the :class:`MappedCsr`."""

    def __init__(self, folder: str | Path, columns: int):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.columns = columns
        self.data = open(self.folder / DATA, "wb")  # noqa: SIM115 - closed by close()
        self.indices = open(self.folder / INDICES, "wb")  # noqa: SIM115
        self.indptr = open(self.folder / INDPTR, "wb")  # noqa: SIM115
        self.indptr.write(np.zeros(1, dtype="<i8").tobytes())
        self.rows = self.nonzero = 0

    def add(self, rows: np.ndarray, columns: np.ndarray, values: np.ndarray, n_rows: int) -> None:
        """A block of ``n_rows`` rows given as entries ``(rows, columns, values)``: ``rows`` in
        ``0..n_rows-1`` ascending, columns ascending within a row."""
        self.data.write(np.asarray(values, dtype="<f4").tobytes())
        self.indices.write(np.asarray(columns, dtype="<i4").tobytes())
        per_row = np.bincount(np.asarray(rows, dtype=np.int64), minlength=n_rows)
        self.indptr.write((self.nonzero + np.cumsum(per_row)).astype("<i8").tobytes())
        self.rows += n_rows
        self.nonzero += len(values)

    def close(self) -> MappedCsr:
        for f in (self.data, self.indices, self.indptr):
            f.close()
        return MappedCsr(self.folder, (self.rows, self.columns))


class MappedCsr:
    """The CSR matrix in ``folder`` (see the module docstring), ``shape`` (rows, columns)."""

    def __init__(self, folder: str | Path, shape: tuple[int, int]):
        self.folder, self.shape = Path(folder), shape
        self.indptr = self._map(INDPTR, "<i8", shape[0] + 1)
        nonzero = int(self.indptr[-1])
        self.data = self._map(DATA, "<f4", nonzero)
        self.indices = self._map(INDICES, "<i4", nonzero)

    def _map(self, name: str, dtype: str, count: int) -> np.ndarray:
        if count == 0:
            return np.zeros(0, dtype=dtype)
        return np.memmap(self.folder / name, dtype=dtype, mode="r", shape=(count,))

    @property
    def nnz(self) -> int:
        return len(self.data)

    def matrix(self) -> sp.csr_matrix:
        """The whole matrix, its ``data`` and ``indices`` read through the memory maps."""
        return self._csr(0, self.shape[0])

    def _csr(self, start: int, stop: int) -> sp.csr_matrix:
        begin, end = int(self.indptr[start]), int(self.indptr[stop])
        indptr = np.asarray(self.indptr[start: stop + 1]) - begin
        matrix = sp.csr_matrix((self.data[begin:end], self.indices[begin:end], indptr),
                               shape=(stop - start, self.shape[1]), copy=False)
        matrix.has_sorted_indices = True  # as written (CsrWriter.add)
        return matrix

    def blocks(self, max_nonzero: int) -> Iterator[tuple[int, sp.csr_matrix]]:
        """``(first row, rows as CSR)`` for consecutive row blocks of about ``max_nonzero`` entries
        (at least one row each); the pages read are released after each block."""
        start, n = 0, self.shape[0]
        while start < n:
            stop = int(np.searchsorted(self.indptr, self.indptr[start] + max_nonzero, side="right")) - 1
            stop = min(n, max(start + 1, stop))
            yield start, self._csr(start, stop)
            self.release()
            start = stop

    def release(self) -> None:
        """Let go of the pages read (as :meth:`lstmkit.data.store.tokens.TokenStore.release`)."""
        for array in (self.data, self.indices, self.indptr):
            release_pages(array)


__all__ = ["CsrWriter", "MappedCsr"]
