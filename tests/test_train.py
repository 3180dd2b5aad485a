"""The Lightning trainer on tiny synthetic tasks (CPU, a few seconds in all)."""

from __future__ import annotations

import csv
import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from lstmkit.errors import ConfigError, LstmkitError
from lstmkit.files import current_umask
from lstmkit.io import load_tensors
from lstmkit.training.config import TrainConfig
from lstmkit.training.train import FitResult, _evaluate, average_weights, fit

HERE = Path(__file__).resolve().parent


class Tiny(nn.Module):
    """Learns y = [x0 > 0] from 4 features: a 2-layer MLP with the trainer's three methods.
    ``steps`` counts the optimizer steps (training_loss calls) it was trained for."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 2))
        self.steps = 0

    def training_loss(self, batch):
        self.steps += 1
        x, y = batch
        return nn.functional.cross_entropy(self.net(x), y)

    def validation_output(self, batch):
        x, y = batch
        logits = self.net(x)
        return {"loss": nn.functional.cross_entropy(logits, y), "n": len(y),
                "pred": logits.argmax(-1), "target": y}

    def validation_metrics(self, outputs):
        pred = torch.cat([o["pred"] for o in outputs])
        target = torch.cat([o["target"] for o in outputs])
        return {"accuracy": (pred == target).float().mean().item()}


def loaders(n=200, batch_size=16):
    """160 training rows (10 steps per epoch), shuffled by an epoch-seeded sampler (as lstmkit's
    own BucketBatchSampler), so a resumed run sees the batches an uninterrupted one would."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 4, generator=g)
    y = (x[:, 0] > 0).long()
    cut = int(0.8 * n)
    train_set = TensorDataset(x[:cut], y[:cut])
    sampler = DistributedSampler(train_set, num_replicas=1, rank=0, shuffle=True, seed=1)
    train = DataLoader(train_set, batch_size=batch_size, sampler=sampler)
    valid = DataLoader(TensorDataset(x[cut:], y[cut:]), batch_size=16)  # 40 rows: 16, 16, 8
    return train, valid


def config(**train) -> TrainConfig:
    return TrainConfig(**{"epochs": 3, "lr": 0.02, "device": "cpu", "patience": 0, **train})


def run(out_dir, monitor="accuracy", mode="max", model=None, progress_bar=False, callbacks=(),
        **train) -> tuple[Tiny, FitResult]:
    torch.manual_seed(0)
    model = Tiny() if model is None else model
    return model, fit(model, *loaders(), config(**train), out_dir, monitor=monitor, mode=mode,
                      progress_bar=progress_bar, callbacks=callbacks)


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_fit_learns_and_keeps_the_best(tmp_path, monkeypatch):
    """Bugs guarded: keeping the last epoch instead of the best; metrics.csv with extra rows or
    columns; writing the unread best.ckpt pickle; a last.ckpt that needs full unpickling or has
    mode 0600."""
    monkeypatch.chdir(tmp_path)
    import lstmkit.training.train

    plotted = {}
    real_plot = lstmkit.training.train.plot_history
    monkeypatch.setattr(lstmkit.training.train, "plot_history",
                        lambda csv_path, out_dir, best_epoch=None: plotted.update(best_epoch=best_epoch)
                        or real_plot(csv_path, out_dir, best_epoch=best_epoch))
    model, result = run(tmp_path / "run")
    out = tmp_path / "run"
    assert plotted["best_epoch"] == result.best_epoch  # the plots mark the kept epoch

    history = result.history
    assert [row["epoch"] for row in history] == [1, 2, 3] and result.epochs_run == 3
    assert model.steps == 30  # 3 epochs of 10 batches
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert history[-1]["val_loss"] < history[0]["val_loss"]
    assert history[-1]["val_accuracy"] >= 0.85

    rows = read_csv(out / "logs" / "metrics.csv")
    assert list(rows[0]) == ["epoch", "train_loss", "val_loss", "val_accuracy", "lr", "seconds"]
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]

    # the kept model is the best epoch by val_accuracy (first one on ties)
    accuracies = [row["val_accuracy"] for row in history]
    best_epoch = accuracies.index(max(accuracies)) + 1
    assert result.best_epoch == best_epoch and result.averaged_epochs is None
    best_row = history[best_epoch - 1]
    assert result.best_metrics["accuracy"] == best_row["val_accuracy"]
    assert result.best_metrics["loss"] == pytest.approx(best_row["val_loss"])

    saved = load_tensors(out / "checkpoints" / "best.safetensors")
    assert saved.keys() == result.best_state_dict.keys()
    for name in saved:
        assert torch.equal(saved[name], result.best_state_dict[name])
        assert torch.equal(model.state_dict()[name], saved[name])  # model holds the kept weights
    assert json.loads((out / "checkpoints" / "best.json").read_text())["epoch"] == best_epoch
    again = _evaluate(model, loaders()[1])
    assert again["accuracy"] == result.best_metrics["accuracy"]
    assert again["loss"] == pytest.approx(result.best_metrics["loss"], rel=1e-5)
    x, y = loaders()[1].dataset.tensors
    with torch.no_grad():
        full = nn.functional.cross_entropy(model.net(x), y).item()
    assert again["loss"] == pytest.approx(full, rel=1e-5)  # val_loss: batch mean weighted by "n"

    # checkpoints: only last.ckpt (loadable without unpickling code), with the umask's mode
    last = out / "checkpoints" / "last.ckpt"
    assert sorted(p.name for p in (out / "checkpoints").glob("*.ckpt")) == ["last.ckpt"]
    checkpoint = torch.load(last, weights_only=True)
    assert checkpoint["epoch"] == 2 and "lstmkit" in checkpoint
    assert last.stat().st_mode & 0o777 == 0o666 & ~current_umask()
    assert sorted(p.name for p in (out / "plots").iterdir()) == ["accuracy.png", "loss.png"]
    assert not list(tmp_path.rglob("lightning_logs"))
    assert not model.training


def test_resume_counts_steps_says_so_and_loads_weights_only(tmp_path, capsys, monkeypatch):
    """Bugs guarded: a rerun retraining finished epochs (counted in optimizer steps), a silent
    resume, rows duplicated in metrics.csv, loading last.ckpt with full unpickling."""
    _, first = run(tmp_path, epochs=2)
    assert [row["epoch"] for row in first.history] == [1, 2]
    capsys.readouterr()

    loads = []
    real_load = torch.load

    def spy(*args, **kwargs):
        loads.append(kwargs.get("weights_only"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    model, second = run(tmp_path, epochs=4)
    assert model.steps == 20  # epochs 3 and 4 only
    assert loads and all(w is True for w in loads)
    err = capsys.readouterr().err
    message = f"resuming from {tmp_path / 'checkpoints' / 'last.ckpt'}: epoch 2 of 4 done"
    assert message in err
    assert message in (tmp_path / "logs" / "train.log").read_text()
    assert [row["epoch"] for row in second.history] == [1, 2, 3, 4]
    assert second.history[:2] == first.history  # earlier rows kept, not retrained
    assert [int(r["epoch"]) for r in read_csv(tmp_path / "logs" / "metrics.csv")] == [1, 2, 3, 4]

    # the same command again: nothing to train, returns the saved best
    last = tmp_path / "checkpoints" / "last.ckpt"
    stamp = last.stat().st_mtime_ns
    model, third = run(tmp_path, epochs=4)
    assert model.steps == 0 and last.stat().st_mtime_ns == stamp
    assert third.history == second.history and third.best_metrics == second.best_metrics
    for name, tensor in second.best_state_dict.items():
        assert torch.equal(third.best_state_dict[name], tensor)
        assert torch.equal(model.state_dict()[name], tensor)


class CrashesInEpoch3(Tiny):
    calls = 0

    def validation_metrics(self, outputs):
        self.calls += 1  # 1: Lightning's sanity check, then one call per epoch
        if self.calls == 4:
            raise RuntimeError("power cut")
        return super().validation_metrics(outputs)


def test_resume_after_a_crash_redoes_only_the_unfinished_epoch(tmp_path):
    """Bug guarded: resuming from the start, or from after the crashed epoch (its steps lost)."""
    torch.manual_seed(0)
    crashing = CrashesInEpoch3()
    with pytest.raises(RuntimeError, match="power cut"):
        fit(crashing, *loaders(), config(epochs=4), tmp_path, progress_bar=False)
    assert crashing.steps == 30
    before = read_csv(tmp_path / "logs" / "metrics.csv")
    assert [r["epoch"] for r in before] == ["1", "2"]
    assert not (tmp_path / "checkpoints" / "finished.json").exists()

    model, result = run(tmp_path, epochs=4)
    assert model.steps == 20  # epoch 3 again, and epoch 4
    after = read_csv(tmp_path / "logs" / "metrics.csv")
    assert [r["epoch"] for r in after] == ["1", "2", "3", "4"] and after[:2] == before
    assert result.epochs_run == 4


class KillsItself(Tiny):
    """Training step ``kill_at`` (1-based, over the whole run) SIGKILLs the process, the first
    time only (``marker`` remembers)."""

    def __init__(self, kill_at: int, marker: Path):
        super().__init__()
        self.kill_at, self.marker = kill_at, marker

    def training_loss(self, batch):
        if self.steps + 1 == self.kill_at and not self.marker.exists():
            self.marker.touch()
            os.kill(os.getpid(), signal.SIGKILL)
        return super().training_loss(batch)


def killed_run(out_dir: str, kill_at: int) -> None:
    """Run in a subprocess by the test below."""
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = KillsItself(kill_at, Path(out_dir) / "killed")
    fit(model, *loaders(), config(epochs=4), out_dir, progress_bar=False)


def test_sigkill_mid_epoch_then_rerun_equals_an_uninterrupted_run(tmp_path):
    """Bugs guarded: a half-written checkpoint or metrics.csv after SIGKILL; the killed epoch
    counted twice or lost; a resumed run that differs from an uninterrupted one (random state or
    shuffling not continued, optimizer state lost)."""
    out = tmp_path / "killed"
    code = f"import sys; sys.path.insert(0, {str(HERE)!r}); import test_train; " \
           f"test_train.killed_run({str(out)!r}, kill_at=25)"
    proc = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert [r["epoch"] for r in read_csv(out / "logs" / "metrics.csv")] == ["1", "2"]

    resumed, result = run(out, epochs=4)
    assert resumed.steps == 20  # killed at step 25, in epoch 3: epochs 3 and 4 are run
    assert [int(r["epoch"]) for r in read_csv(out / "logs" / "metrics.csv")] == [1, 2, 3, 4]

    plain, reference = run(tmp_path / "plain", epochs=4)
    assert plain.steps == 40
    for got, want in zip(result.history, reference.history, strict=True):
        assert got["val_loss"] == pytest.approx(want["val_loss"], rel=1e-6)
        assert got["val_accuracy"] == want["val_accuracy"]
    for name, tensor in reference.best_state_dict.items():
        torch.testing.assert_close(result.best_state_dict[name], tensor, rtol=1e-6, atol=1e-7)


class PressesCtrlCInEpoch3(Tiny):
    calls = 0

    def validation_metrics(self, outputs):
        self.calls += 1
        if self.calls == 4:
            raise KeyboardInterrupt
        return super().validation_metrics(outputs)


def test_ctrl_c_raises_keyboard_interrupt_restores_sigint_and_resumes(tmp_path):
    """Bug guarded: Lightning's sys.exit(1) escaping a library call, SIGINT left ignored."""
    torch.manual_seed(0)
    with pytest.raises(KeyboardInterrupt, match="rerun the same command to resume"):  # not SystemExit
        fit(PressesCtrlCInEpoch3(), *loaders(), config(epochs=4), tmp_path, progress_bar=False)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # Ctrl+C works again
    assert [r["epoch"] for r in read_csv(tmp_path / "logs" / "metrics.csv")] == ["1", "2"]
    assert "training interrupted" in (tmp_path / "logs" / "train.log").read_text()
    model, result = run(tmp_path, epochs=4)
    assert model.steps == 20 and [r["epoch"] for r in result.history] == [1, 2, 3, 4]


# --- progress ---------------------------------------------------------------------


def test_progress_without_a_terminal_is_one_line_per_epoch(tmp_path, capsys):
    """Bugs guarded: carriage-return bar updates in a log file; Lightning's sanity-check and
    "Training: 0/?" bars; epochs counted from 0."""
    run(tmp_path, progress_bar=True)
    err = capsys.readouterr().err
    assert "\r" not in err and "Sanity" not in err and "Training" not in err
    lines = err.splitlines()
    assert [line.split(":")[0] for line in lines[:-1]] == ["epoch 1/3", "epoch 2/3", "epoch 3/3"]
    rows = read_csv(tmp_path / "logs" / "metrics.csv")
    best = json.loads((tmp_path / "checkpoints" / "best.json").read_text())["epoch"]
    assert lines[-1] == f"trained 3 epochs; kept epoch {best} (best val_accuracy)"
    for line, row in zip(lines[:-1], rows, strict=True):
        assert line == (f"epoch {row['epoch']}/3: loss={float(row['train_loss']):.4f} "
                        f"val_loss={float(row['val_loss']):.4f} "
                        f"val_accuracy={float(row['val_accuracy']):.4f} ({float(row['seconds']):.1f} s)")
    assert (tmp_path / "logs" / "train.log").read_text().splitlines() == lines


def test_bar_on_a_terminal_counts_from_1_and_ctrl_c_starts_a_new_line(tmp_path, capsys, monkeypatch):
    """Bugs guarded: "Epoch 0" where metrics.csv says 1; the sanity-check bar; the interrupt
    message glued to the end of the bar."""
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    torch.manual_seed(0)
    with pytest.raises(KeyboardInterrupt):
        fit(PressesCtrlCInEpoch3(), *loaders(), config(epochs=4), tmp_path, progress_bar=True)
    err = capsys.readouterr().err
    assert "epoch 1/4" in err and "epoch 3/4" in err and "\r" in err
    assert "Epoch 0" not in err and "Sanity" not in err and "Training" not in err
    assert err.endswith("\n")
    assert "epoch 1/4: loss=" in (tmp_path / "logs" / "train.log").read_text()


# --- NaN, threads -----------------------------------------------------------------


class GoesNaNAtStep25(Tiny):
    def training_loss(self, batch):
        loss = super().training_loss(batch)
        return loss * float("nan") if self.steps == 25 else loss


def test_nan_loss_stops_with_a_clear_error_and_keeps_the_good_state(tmp_path):
    """Bugs guarded: training on with NaN weights; a NaN epoch saved as last or best; an error
    that does not say where."""
    torch.manual_seed(0)
    model = GoesNaNAtStep25()
    with pytest.raises(LstmkitError, match=r"loss is nan in epoch 3, at global step 25") as info:
        fit(model, *loaders(), config(epochs=4), tmp_path, progress_bar=False)
    assert "last.ckpt (after epoch 2)" in str(info.value)
    assert all(torch.isfinite(p).all() for p in model.parameters())  # the NaN step was not taken
    assert torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)["epoch"] == 1
    assert [r["epoch"] for r in read_csv(tmp_path / "logs" / "metrics.csv")] == ["1", "2"]
    best = load_tensors(tmp_path / "checkpoints" / "best.safetensors")
    assert all(torch.isfinite(t).all() for t in best.values())
    assert "global step 25" in (tmp_path / "logs" / "train.log").read_text()
    assert TrainConfig().grad_clip == 5.0


class RecordsThreads(Tiny):
    seen: list[int]

    def training_loss(self, batch):
        self.seen.append(torch.get_num_threads())
        return super().training_loss(batch)


@pytest.mark.parametrize(("num_threads", "omp", "expected"), [(2, "1", 2), (0, "3", 3)])
def test_threads_set_while_training_and_restored(tmp_path, monkeypatch, num_threads, omp, expected):
    """Bugs guarded: torch.set_num_threads left changed after fit; num_threads=0 ignoring
    OMP_NUM_THREADS."""
    monkeypatch.setenv("OMP_NUM_THREADS", omp)
    before = torch.get_num_threads()
    model = RecordsThreads()
    model.seen = []
    try:
        torch.set_num_threads(1)
        run(tmp_path, model=model, epochs=1, num_threads=num_threads)
        assert set(model.seen) == {expected}
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


# --- weight averaging -------------------------------------------------------------


class Walker(nn.Module):
    """One weight p that plain SGD at lr 1 moves by exactly +1 per step (loss = -p); it scores
    -|p - goal|. With one batch per epoch, p = e after epoch e. Integer and boolean buffers,
    like lstmkit's CRF masks, must survive averaging."""

    def __init__(self, goal: float):
        super().__init__()
        self.p = nn.Parameter(torch.zeros(()))
        self.goal = goal
        self.register_buffer("count", torch.tensor(7))
        self.register_buffer("mask", torch.ones(2, dtype=torch.bool))

    def training_loss(self, batch):
        return -self.p

    def validation_output(self, batch):
        return {}

    def validation_metrics(self, outputs):
        return {"score": -abs(self.p.item() - self.goal)}


def walk(out_dir, goal: float) -> FitResult:
    one = DataLoader(TensorDataset(torch.zeros(1, 1)), batch_size=1)
    cfg = config(epochs=4, lr=1.0, optimizer="sgd", momentum=0.0, average_last=2)
    return fit(Walker(goal), one, one, cfg, out_dir, monitor="score", progress_bar=False)


@pytest.mark.parametrize(("goal", "kept"), [
    (3.5, "mean"),    # mean of epochs 3, 4 is p = 3.5: scores 0, beats every epoch
    (4.0, "epoch"),   # epoch 4 scores 0, the mean -0.5
    (3.75, "epoch"),  # a tie (-0.25 each): the epoch is kept
])
def test_average_last_kept_exactly_when_better(tmp_path, goal, kept):
    """Bugs guarded: the mean kept when it is not strictly better (or dropped when it is); the
    wrong epochs averaged; integer buffers breaking the average."""
    result = walk(tmp_path, goal)
    recent = sorted(p.name for p in (tmp_path / "checkpoints" / "recent").iterdir())
    assert recent == ["epoch-0003.safetensors", "epoch-0004.safetensors"]
    said = (tmp_path / "logs" / "train.log").read_text().splitlines()[-1]
    if kept == "mean":
        assert result.averaged_epochs == [3, 4] and result.best_epoch is None
        assert result.best_state_dict["p"].item() == 3.5 and result.best_metrics["score"] == 0.0
        assert said.startswith("trained 4 epochs; kept the mean of the weights of epochs 3-4 (train.average_last")
    else:
        assert result.averaged_epochs is None and result.best_epoch == 4
        assert result.best_state_dict["p"].item() == 4.0
        assert said == "trained 4 epochs; kept epoch 4 (best val_score)"
    assert result.best_state_dict["count"].item() == 7 and result.best_state_dict["mask"].all()


def test_average_weights_is_the_mean_by_hand(tmp_path):
    """Bug guarded: a running mean that weights later epochs more (e.g. an EMA)."""
    torch.manual_seed(0)
    states = [Tiny().state_dict() for _ in range(3)]
    files = []
    from lstmkit.io import save_tensors

    for i, state in enumerate(states):
        save_tensors(tmp_path / f"{i}.safetensors", state)
        files.append(tmp_path / f"{i}.safetensors")
    mean = average_weights(Tiny(), files)
    for name in states[0]:
        by_hand = sum(s[name].double() for s in states) / 3
        torch.testing.assert_close(mean[name].double(), by_hand, rtol=1e-6, atol=1e-7)


# --- schedules --------------------------------------------------------------------


def reference_factor(step, scheduler, total, warmup, per_epoch, step_size=1, gamma=0.5):
    """The learning-rate multiplier of 0-based ``step``, written out by hand (and onecycle by
    torch's OneCycleLR)."""
    if scheduler == "onecycle":
        opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
        one = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=total,
                                                  pct_start=warmup / total if warmup else 0.3,
                                                  cycle_momentum=False)
        for _ in range(step):
            opt.step()
            one.step()
        return opt.param_groups[0]["lr"]
    warm = (step + 1) / warmup if step < warmup else 1.0
    p = min(1.0, max(0, step - warmup) / max(1, total - warmup))
    if scheduler == "step":
        return warm * gamma ** ((step // per_epoch) // step_size)
    if step < warmup:
        return warm
    return {"none": 1.0, "cosine": (1 + math.cos(math.pi * p)) / 2, "linear": 1 - p}[scheduler]


class LrPerStep:
    """Records the learning rate each optimizer step used."""

    def __new__(cls):
        from lightning.pytorch.callbacks import Callback

        class _Recorder(Callback):
            lrs: list[float]

            def on_train_batch_start(self, trainer, *_):
                self.lrs.append(trainer.optimizers[0].param_groups[0]["lr"])

        recorder = _Recorder()
        recorder.lrs = []
        return recorder


@pytest.mark.parametrize(("scheduler", "warmup_epochs"), [
    ("none", 1.5), ("cosine", 1.5), ("linear", 1.5), ("step", 1.5), ("onecycle", 0),
    ("onecycle", 1.5)])
def test_lr_per_step_matches_the_reference_curves(tmp_path, scheduler, warmup_epochs):
    """Bugs guarded: a schedule stepped per epoch instead of per step, warmup off by one step,
    the decay starting at step 0 instead of after warmup, step decays not aligned to epochs."""
    recorder = LrPerStep()
    _, result = run(tmp_path, callbacks=[recorder], scheduler=scheduler,
                    warmup_epochs=warmup_epochs, step_size=1, gamma=0.5)
    warmup = round(warmup_epochs * 10)
    expected = [0.02 * reference_factor(s, scheduler, 30, warmup, 10) for s in range(30)]
    assert recorder.lrs == pytest.approx(expected, rel=1e-6, abs=1e-12)
    assert [row["lr"] for row in result.history] == pytest.approx(expected[9::10], rel=1e-6)


@pytest.mark.parametrize("scheduler", ["cosine", "onecycle"])
def test_training_longer_holds_the_final_lr(tmp_path, capsys, scheduler):
    """Bug guarded: raising train.epochs on a finished run restarting the schedule (the lr
    jumping back up), or onecycle raising past its last step."""
    first = LrPerStep()
    run(tmp_path, callbacks=[first], epochs=2, scheduler=scheduler)
    capsys.readouterr()
    second = LrPerStep()
    model, result = run(tmp_path, callbacks=[second], epochs=4, scheduler=scheduler)
    assert model.steps == 20 and result.epochs_run == 4
    assert first.lrs == sorted(first.lrs, reverse=True) or scheduler == "onecycle"
    assert second.lrs == pytest.approx([first.lrs[-1]] * 20, rel=1e-12)
    assert "keep its final learning rate" in capsys.readouterr().err


def test_plateau_warms_up_then_decays_on_the_monitored_metric(tmp_path):
    """Bug guarded: warmup fighting ReduceLROnPlateau, or plateau stepping on the wrong metric."""
    _, result = run(tmp_path, lr=1e-6, scheduler="plateau", plateau_patience=0, gamma=0.1,
                    warmup_epochs=2)  # accuracy never improves: decay after every epoch
    lrs = [row["lr"] for row in result.history]
    # epoch 1 ends at step 10 of a 20-step warmup; epoch 2 at full lr; epoch 2 did not beat
    # epoch 1, so plateau (patience 0) decays the lr by gamma for epoch 3
    assert lrs == pytest.approx([1e-6 * 10 / 20, 1e-6, 1e-6 * 0.1], rel=1e-9, abs=0)


def test_early_stopping_stops_and_says_so(tmp_path, capsys):
    """Bug guarded: patience ignored, or a stopped run resumed again; a run that ended early and kept
    an earlier epoch without a word (the epoch lines alone look like a run cut short)."""
    _, result = run(tmp_path, epochs=10, lr=1e-9, patience=2, progress_bar=True)
    assert result.epochs_run == 3 and result.best_epoch == 1
    said = ("stopped early after epoch 3 of 10 (no better val_accuracy in 2 epochs: train.patience); "
            "kept epoch 1 (best val_accuracy)")
    assert capsys.readouterr().err.splitlines()[-1] == said
    assert (tmp_path / "logs" / "train.log").read_text().splitlines()[-1] == said
    assert json.loads((tmp_path / "checkpoints" / "finished.json").read_text()) == {
        "epochs": 3, "stopped_early": True}
    model, again = run(tmp_path, epochs=10, lr=1e-9, patience=2)  # finished: not resumed
    assert again.epochs_run == 3 and model.steps == 0


def test_monitor_loss_in_min_mode(tmp_path):
    _, result = run(tmp_path, monitor="loss", mode="min")
    losses = [row["val_loss"] for row in result.history]
    assert result.best_metrics["loss"] == pytest.approx(min(losses))


def test_a_fresh_run_clears_a_stale_unresumable_one(tmp_path):
    run(tmp_path, epochs=2)
    (tmp_path / "checkpoints" / "last.ckpt").unlink()  # cannot resume: start over
    (tmp_path / "checkpoints" / "finished.json").unlink()
    model, result = run(tmp_path, epochs=1)
    assert [row["epoch"] for row in result.history] == [1] and model.steps == 10


@pytest.mark.parametrize("optimizer", ["adamw", "sgd", "rmsprop"])
def test_other_optimizers_learn(tmp_path, optimizer):
    _, result = run(tmp_path, optimizer=optimizer, epochs=2, lr=0.05, weight_decay=1e-4)
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]


# --- gradient clipping -------------------------------------------------------------


class Steep(Tiny):
    """Tiny with its loss multiplied by 1e4: a raw gradient norm in the thousands."""

    def training_loss(self, batch):
        return super().training_loss(batch) * 1e4


class StepNorms:
    """Records, per optimizer step, the raw gradient norm (before clipping) and the norm of the
    gradient the optimizer applied: with plain SGD (no momentum, no weight decay) the step is
    ``w <- w - lr * g``, so ``||w_before - w_after|| / lr`` is the gradient it used."""

    def __new__(cls, lr: float):
        from lightning.pytorch.callbacks import Callback

        def flat(module) -> torch.Tensor:
            return torch.cat([p.detach().reshape(-1).clone() for p in module.parameters()])

        class _Recorder(Callback):
            def on_train_batch_start(self, trainer, pl_module, *_):
                self.before = flat(pl_module)

            def on_before_optimizer_step(self, trainer, pl_module, optimizer):  # Lightning clips after this
                self.raw.append(float(torch.cat([p.grad.reshape(-1) for p in pl_module.parameters()]).norm()))

            def on_train_batch_end(self, trainer, pl_module, *_):
                self.applied.append(float((self.before - flat(pl_module)).norm()) / lr)

        recorder = _Recorder()
        recorder.raw, recorder.applied = [], []
        return recorder


@pytest.mark.parametrize("grad_clip", [1.0, 0.0])
def test_gradient_clipping_bounds_every_step(tmp_path, grad_clip):
    """Bug guarded: gradient_clip_val not passed to Lightning (train.grad_clip ignored), which every
    other test let through: with clipping each applied gradient has norm <= train.grad_clip although
    the raw norm is thousands of times larger; with grad_clip=0 the raw gradient is applied."""
    lr = 1e-4
    recorder = StepNorms(lr)
    run(tmp_path, model=Steep(), callbacks=[recorder], epochs=2, lr=lr, optimizer="sgd", momentum=0.0,
        scheduler="none", grad_clip=grad_clip)
    assert len(recorder.applied) == len(recorder.raw) == 20
    assert min(recorder.raw) > 1000
    if grad_clip:
        assert max(recorder.applied) <= grad_clip * (1 + 1e-4)
        assert min(recorder.applied) >= grad_clip * (1 - 1e-4)  # clipped to exactly the bound
    else:
        assert recorder.applied == pytest.approx(recorder.raw, rel=1e-3)


# --- errors ---------------------------------------------------------------------


def test_half_precision_needs_a_gpu(tmp_path):
    with pytest.raises(ConfigError, match="train.precision"):
        run(tmp_path, precision="16-mixed")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_gpu(tmp_path):
    with pytest.raises(ConfigError, match="train.device"):
        run(tmp_path, device="cuda")


def test_model_without_the_interface(tmp_path):
    with pytest.raises(TypeError, match="training_loss, validation_output, validation_metrics"):
        fit(nn.Linear(2, 2), *loaders(), TrainConfig(device="cpu"), tmp_path)
