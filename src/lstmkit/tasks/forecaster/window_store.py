"""Training windows of many series, cut on the fly from one feature array (memory-mapped on disk).

Cutting every window out in advance (:func:`lstmkit.tasks.forecaster.windows.make_windows`) copies each row
``lookback`` times: 10,000 series of 500 rows with ``lookback=28`` and 10 features would take
1.1 GB. The store keeps each row once instead, the series one after another::

    features (N_total, F) float32      series s holds rows offsets[s] .. offsets[s+1]-1
    origins  (W,) int64                a window's first forecast row, as a row of ``features``
    series   (W,) int64                the series each window belongs to

and a batch of windows ``b`` is read with one fancy index per part (no window crosses a series
boundary: every origin ``o`` of series ``s`` has ``offsets[s] + L <= o <= offsets[s+1] - H``)::

    past    = features[origins[b, None] + arange(-L, 0)]               (B, L, F)
    future  = features[origins[b, None] + arange(H)][..., future_idx]   (B, H, K)
    y       = features[origins[b, None] + arange(H)][..., target_idx]   (B, H, T)

With a ``folder``, ``features`` is written to ``folder/<name>-<host>-<pid>.npy`` (one file per
process, so DDP ranks never write each other's) a series at a time and read back with
``numpy.load(mmap_mode="r")``, so memory holds the pages in use, not the whole panel; the
forecaster deletes the files when training ends.
It is a map-style dataset, so under DDP Lightning's distributed sampler splits its windows across
the processes.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

__all__ = ["WindowStore", "batched"]


class WindowStore(Dataset):
    """The windows of many series (see the module docstring). ``store[indices]`` is a whole batch."""

    def __init__(self, features: np.ndarray, origins: np.ndarray, series: np.ndarray, lookback: int, horizon: int,
                 target_idx: list[int], future_idx: list[int], static_numbers: np.ndarray,
                 static_categories: np.ndarray):
        self.features, self.origins, self.series = features, origins, series
        self.lookback, self.horizon = lookback, horizon
        self.target_idx, self.future_idx = np.asarray(target_idx), np.asarray(future_idx, dtype=np.int64)
        self.static_numbers, self.static_categories = static_numbers, static_categories
        self.path: Path | None = None  # the memory-mapped file, when there is one

    @classmethod
    def build(cls, series_features: list[np.ndarray], lookback: int, horizon: int, target_idx: list[int],
              future_idx: list[int], static_numbers: np.ndarray, static_categories: np.ndarray,
              folder: Path | None = None, name: str = "features") -> WindowStore:
        """Windows at every origin (stride 1) of each series' ``(n_s, F)`` features; series shorter
        than ``lookback + horizon`` rows give none."""
        sizes = [len(f) for f in series_features]
        n_features = series_features[0].shape[1] if series_features else 0
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        if folder is not None:
            Path(folder).mkdir(parents=True, exist_ok=True)
            path = Path(folder) / f"{name}-{socket.gethostname()}-{os.getpid()}.npy"  # one per process (DDP ranks)
            out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(int(offsets[-1]), n_features))
            for s, f in enumerate(series_features):
                out[offsets[s]: offsets[s + 1]] = f
            out.flush()
            del out
            features = np.load(path, mmap_mode="r")
        else:
            features = (np.concatenate(series_features).astype(np.float32) if series_features
                        else np.zeros((0, n_features), dtype=np.float32))
        origins, series = [], []
        for s, n in enumerate(sizes):
            o = np.arange(lookback, n - horizon + 1, dtype=np.int64)
            origins.append(offsets[s] + o)
            series.append(np.full(len(o), s, dtype=np.int64))
        store = cls(features, np.concatenate(origins) if origins else np.zeros(0, np.int64),
                    np.concatenate(series) if series else np.zeros(0, np.int64), lookback, horizon, target_idx,
                    future_idx, static_numbers, static_categories)
        store.path = path if folder is not None else None
        return store

    def __len__(self) -> int:
        return len(self.origins)

    def __getitem__(self, i):
        return self.__getitems__([i])

    def __getitems__(self, indices) -> dict[str, torch.Tensor]:
        """A batch (PyTorch's DataLoader calls this with the sampler's indices; see :func:`batched`)."""
        idx = np.asarray(indices, dtype=np.int64)
        o = self.origins[idx]
        past = self.features[o[:, None] + np.arange(-self.lookback, 0)]  # (B, L, F)
        ahead = self.features[o[:, None] + np.arange(self.horizon)]  # (B, H, F)
        s = self.series[idx]
        return {"past": torch.from_numpy(np.ascontiguousarray(past, dtype=np.float32)),
                "future": torch.from_numpy(np.ascontiguousarray(ahead[..., self.future_idx], dtype=np.float32)),
                "y": torch.from_numpy(np.ascontiguousarray(ahead[..., self.target_idx], dtype=np.float32)),
                "static_numbers": torch.from_numpy(self.static_numbers[s]),
                "static_categories": torch.from_numpy(self.static_categories[s])}


def batched(batch):
    """The DataLoader's ``collate_fn``: :meth:`WindowStore.__getitems__` already made the batch."""
    return batch
