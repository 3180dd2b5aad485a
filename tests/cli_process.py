"""``lstmkit`` as a user runs it: a fresh process (``python -m lstmkit``) in a folder, one thread."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def lstmkit_ok(cwd: Path, *args, timeout: int = 180) -> str:
    """Run ``lstmkit ARGS`` in ``cwd`` with ``OMP_NUM_THREADS=1``; it must exit 0. Returns its stdout."""
    result = subprocess.run([sys.executable, "-m", "lstmkit", *map(str, args)], check=False, capture_output=True,
                            text=True, env=dict(os.environ, OMP_NUM_THREADS="1"), cwd=cwd, timeout=timeout)
    assert result.returncode == 0, result.stderr
    return result.stdout
