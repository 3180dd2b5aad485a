"""Where a training run's token stores live while it trains, and their removal afterwards.

With a run folder (``lstmkit train --out OUT``, ``fit(..., out_dir=OUT)``) the stores go under
``OUT/store/<host>-<pid>-<random>/``: on the disk the user chose for the run (the system's
temporary folder may be small, or in memory), removed when ``fit`` ends, however it ends, and
``OUT/store/`` with it when empty. A folder left by a process that was killed (its process id no
longer running on this host) is removed by the next run in ``OUT``. Without a run folder, and in
the other processes of a DDP run (each reads the data itself, and only the first process writes
into the run folder), the stores go to a temporary folder (``TMPDIR``). The model folder
(``OUT/model``) never holds a store.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from lstmkit.training.distributed import is_global_zero

STORE_DIR = "store"
"""The run folder's subfolder for token stores while training."""


@contextmanager
def training_store_folder(out_dir: str | Path | None) -> Iterator[Path]:
    """A new empty folder for this process's stores (see the module docstring); removed on exit."""
    if out_dir is None or not is_global_zero():
        with tempfile.TemporaryDirectory(prefix="lstmkit-store-") as tmp:
            yield Path(tmp)
        return
    base = Path(out_dir) / STORE_DIR
    base.mkdir(parents=True, exist_ok=True)
    host = socket.gethostname().replace("-", "_")
    _remove_stale(base, host)
    folder = Path(tempfile.mkdtemp(prefix=f"{host}-{os.getpid()}-", dir=base))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        try:
            base.rmdir()  # only when empty: other processes of the run may still be reading theirs
        except OSError:
            pass


def _remove_stale(base: Path, host: str) -> None:
    """Remove the folders of processes of this host that are no longer running."""
    for child in base.iterdir():
        parts = child.name.rsplit("-", 2)
        if len(parts) != 3 or parts[0] != host or not parts[1].isdigit() or _running(int(parts[1])):
            continue
        shutil.rmtree(child, ignore_errors=True)


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists (another user's), or cannot tell: keep it
    return True


__all__ = ["STORE_DIR", "training_store_folder"]
