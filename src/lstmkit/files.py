"""Writing files atomically, with the permissions the user's umask asks for.

Every file lstmkit writes goes through here (a scratch folder's working files, such as ONNX
export's graph before it is checked, are not results: the result is then moved into place with
:func:`atomic_write`), so two promises hold everywhere:

* **Atomic**: the data is written to a temporary name in the target's folder and renamed over
  the target with :func:`os.replace`, so a reader (or a crash) sees the old file or the new
  one, never half of one.
* **Honours the umask**: a new file gets mode ``0o666 & ~umask`` (``0644`` under the usual
  umask ``022``; ``0600`` under ``077``), exactly as ``open(path, "w")`` or ``touch`` would.
  Two common ways of writing files do not: :func:`tempfile.mkstemp` always creates ``0600``,
  and so does safetensors' ``save_file``. A model folder written that way is unreadable by the
  other users of a shared machine. :func:`honour_umask` repairs such a file.

Folders made by :func:`os.mkdir` already honour the umask (``0o777 & ~umask``: ``0755`` under
``022``); :func:`tempfile.mkdtemp` does not (``0700``): use :func:`honour_umask` on those too.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def current_umask() -> int:
    """The process's umask (e.g. ``0o022``), read without changing it for other threads for long.

    POSIX offers no read-only call: :func:`os.umask` sets and returns the old value, so it is
    set back at once. (Linux ≥ 4.7 also shows it in ``/proc/self/status``; read that first.)
    """
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def honour_umask(path: str | Path) -> None:
    """Give ``path`` the mode a plain ``open``/``mkdir`` would have: ``0o666`` (files) or
    ``0o777`` (folders) without the umask's bits. Changes only the permission bits."""
    path = Path(path)
    full = 0o777 if path.is_dir() else 0o666
    os.chmod(path, full & ~current_umask())


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` to write a temporary file beside ``path``, then rename it to ``path``.

    ``write`` gets the temporary file's path (it exists, empty) and may write it any way it
    likes, e.g. ``safetensors.torch.save_file(tensors, str(tmp))``. The result gets the umask's
    mode (see :func:`honour_umask`); on any error the temporary file is removed and ``path`` is
    left as it was. Returns ``path``.
    """
    path = Path(path)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        honour_umask(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically, with the umask's mode. Returns ``path``."""
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


def atomic_write_text(path: str | Path, text: str, encoding: str = "utf-8", newline: str | None = "") -> Path:
    """Write ``text`` to ``path`` atomically, with the umask's mode. Returns ``path``.

    ``newline=""`` (the default) writes ``text`` as given, without turning ``\\n`` into the
    platform's line ending, as :mod:`csv` expects.
    """
    def write(tmp: Path) -> None:
        with open(tmp, "w", encoding=encoding, newline=newline) as f:
            f.write(text)

    return atomic_write(path, write)
