"""Training progress on stderr: a bar on a terminal, one line per epoch anywhere else.

On a terminal (``sys.stderr.isatty()``) :class:`EpochBar` shows Lightning's tqdm bar, with the
epochs counted from 1 as in ``logs/metrics.csv`` and the plots (``epoch 3/8``), no bar for
Lightning's sanity check (two validation batches run before training to catch a broken
``validation_output`` early), and no logger version number. When training stops with an
exception (Ctrl-C included) the bar is closed first, so the message that follows starts on a
line of its own.

Anywhere else (CI, ``nohup``, ``2> train.log``) a bar's carriage-return updates pile up into
one unreadable line, so :func:`epoch_line` texts are printed instead, one per epoch::

    epoch 3/8: loss=0.4121 val_loss=0.3907 val_accuracy=0.8650 (12.3 s)

(``loss`` is the epoch's mean training loss; the rest are the validation metrics.)
Both write to stderr: stdout is for results a script may read.
"""

from __future__ import annotations

import contextlib
import math
import sys

from lightning.pytorch.callbacks import TQDMProgressBar
from lightning.pytorch.callbacks.progress.tqdm_progress import Tqdm, convert_inf


def epoch_line(epoch: int, epochs: int, row: dict) -> str:
    """``epoch E/N: loss=.. val_x=.. (S s)`` from a ``logs/metrics.csv`` row."""
    parts = []
    for key, value in row.items():
        if key in ("epoch", "lr", "seconds") or value is None:
            continue
        name = "loss" if key == "train_loss" else key
        parts.append(f"{name}={value:.4f}" if isinstance(value, float) and math.isfinite(value)
                     else f"{name}={value}")
    seconds = row.get("seconds")
    timing = f" ({seconds:.1f} s)" if isinstance(seconds, (int, float)) else ""
    return f"epoch {epoch}/{epochs}: {' '.join(parts)}{timing}"


class EpochBar(TQDMProgressBar):
    """Lightning's bar on stderr, epochs from 1, no sanity-check bar, closed on exceptions."""

    def _description(self) -> str:
        return f"epoch {self.trainer.current_epoch + 1}/{self.trainer.max_epochs}"

    def get_metrics(self, trainer, pl_module):
        items = super().get_metrics(trainer, pl_module)
        items.pop("v_num", None)  # the logger's version: meaningless here
        return items

    def init_sanity_tqdm(self) -> Tqdm:
        return Tqdm(disable=True)

    def init_train_tqdm(self) -> Tqdm:
        # Built with its description and length, so "Training: 0/?" never shows.
        return Tqdm(desc=self._description(), total=convert_inf(self.total_train_batches),
                    position=2 * self.process_position, disable=self.is_disabled, leave=True,
                    dynamic_ncols=True, file=sys.stderr, smoothing=0, bar_format=self.BAR_FORMAT)

    def init_validation_tqdm(self) -> Tqdm:
        # Lightning builds its bars with file=sys.stdout, read when the bar is made.
        with contextlib.redirect_stdout(sys.stderr):
            return super().init_validation_tqdm()

    def on_train_epoch_start(self, trainer, *_) -> None:
        # Lightning's version, with the description set before the bar is redrawn ("Epoch 0").
        if self._leave:
            self.train_progress_bar = self.init_train_tqdm()
        bar = self.train_progress_bar
        bar.set_description(self._description(), refresh=False)
        bar.reset(total=convert_inf(self.total_train_batches))

    def on_exception(self, trainer, pl_module, exception) -> None:
        for bar in (self._val_progress_bar, self._train_progress_bar):
            if bar is not None and not bar.disable:
                bar.close()  # the train bar (leave=True) ends its line with "\n"
