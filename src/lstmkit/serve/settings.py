"""``serve.*``: the server's limits and batching, set by ``lstmkit serve --set serve.KEY=VALUE``,
``--config FILE.yaml`` (a ``serve:`` section) or the shortcut options (``--max-wait-ms``, ``--int8``).

========================  ==========  =========================================================
key                       default     meaning
========================  ==========  =========================================================
``serve.max_batch``       64          most inputs in one ``POST /predict`` (more: 413)
``serve.max_chars``       10000       most characters in one text input (more: 413)
``serve.max_body_bytes``  8000000     most bytes in one request body (more: 413)
``serve.max_wait_ms``     2.0         how long the first request of a batch waits for others
``serve.batch_inputs``    256         most inputs in one forward pass (requests are merged up to it)
``serve.batching``        true        merge concurrent requests; false: one forward pass each
``serve.threads``         0           torch threads for inference; 0: OMP_NUM_THREADS, else the
                                      cores this process may use minus one, left to the event
                                      loop (lstmkit.training.threads.serving_threads)
``serve.int8``            false       int8 dynamic quantisation of the LSTM/GRU and Linear layers
========================  ==========  =========================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lstmkit.config import build_config, invalid


@dataclass
class ServeSettings:
    """The server's limits, batching and inference settings (see the module docstring)."""

    max_batch: int = 64
    """Most inputs in one request; a request with more is refused with 413."""
    max_chars: int = 10_000
    """Most characters in one text input (a token list counts its tokens' characters); more: 413."""
    max_body_bytes: int = 8_000_000
    """Most bytes in one request body; more: 413."""
    max_wait_ms: float = 2.0
    """How long the first waiting request of a batch waits for others to join it (milliseconds)."""
    batch_inputs: int = 256
    """Most inputs merged into one forward pass."""
    batching: bool = True
    """Merge concurrent requests into shared forward passes (false: one forward pass per request)."""
    threads: int = 0
    """Torch threads for inference; 0: OMP_NUM_THREADS when set, else the cores this process may use
    minus one (the event loop's), at least 1."""
    int8: bool = False
    """Quantise the recurrent and Linear layers to int8 for CPU inference (lstmkit.serve.int8)."""

    def __post_init__(self):
        for key in ("max_batch", "max_chars", "max_body_bytes", "batch_inputs"):
            if getattr(self, key) < 1:
                raise invalid(key, f"must be >= 1; got {getattr(self, key)}")
        if not 0 <= self.max_wait_ms <= 1000:
            raise invalid("max_wait_ms", f"must be between 0 and 1000 ms; got {self.max_wait_ms}")
        if self.threads < 0:
            raise invalid("threads", f"must be >= 0 (0: automatic); got {self.threads}")


@dataclass
class ServeConfig:
    """The config file / ``--set`` root: one ``serve`` section."""

    serve: ServeSettings = field(default_factory=ServeSettings)


def serve_settings(yaml_path: str | Path | None = None, overrides: list[str] = ()) -> ServeSettings:
    """Defaults < the YAML file's ``serve:`` section < ``--set serve.KEY=VALUE``, checked."""
    return build_config(ServeConfig, yaml_path=yaml_path, overrides=list(overrides)).serve
