"""The Lightning trainer on a tiny synthetic task (CPU, a few seconds in all)."""

from __future__ import annotations

import csv
import json
import math

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from lstmkit.config import TrainConfig
from lstmkit.errors import ConfigError
from lstmkit.io import load_tensors
from lstmkit.train import FitResult, _evaluate, _mean_state, fit, lr_factor


class Tiny(nn.Module):
    """Learns y = [x0 > 0] from 4 features: a 2-layer MLP with the trainer's three methods."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 2))

    def training_loss(self, batch):
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
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 4, generator=g)
    y = (x[:, 0] > 0).long()
    cut = int(0.8 * n)
    train = DataLoader(TensorDataset(x[:cut], y[:cut]), batch_size=batch_size, shuffle=True,
                       generator=torch.Generator().manual_seed(1))
    valid = DataLoader(TensorDataset(x[cut:], y[cut:]), batch_size=16)  # 40 rows: 16, 16, 8
    return train, valid


def run(out_dir, monitor="accuracy", mode="max", **train) -> tuple[Tiny, FitResult]:
    torch.manual_seed(0)
    model = Tiny()
    cfg = TrainConfig(**{"epochs": 3, "lr": 0.02, "device": "cpu", "patience": 0, **train})
    return model, fit(model, *loaders(), cfg, out_dir, monitor=monitor, mode=mode,
                      progress_bar=False)


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_fit_learns_and_keeps_the_best(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model, result = run(tmp_path / "run")
    out = tmp_path / "run"

    history = result.history
    assert [row["epoch"] for row in history] == [1, 2, 3] and result.epochs_run == 3
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert history[-1]["val_loss"] < history[0]["val_loss"]
    assert history[-1]["val_accuracy"] >= 0.85

    # metrics.csv: exactly one row per epoch, the documented columns
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

    # best.safetensors holds those weights, and they score what was recorded
    saved = load_tensors(out / "checkpoints" / "best.safetensors")
    assert saved.keys() == result.best_state_dict.keys()
    for name in saved:
        assert torch.equal(saved[name], result.best_state_dict[name])
        assert torch.equal(model.state_dict()[name], saved[name])  # model holds the kept weights
    assert json.loads((out / "checkpoints" / "best.json").read_text())["epoch"] == best_epoch
    again = _evaluate(model, loaders()[1])
    assert again["accuracy"] == result.best_metrics["accuracy"]
    # val_loss is the batch mean weighted by "n" (batches of 16, 16, 8)
    assert again["loss"] == pytest.approx(result.best_metrics["loss"], rel=1e-5)
    x, y = loaders()[1].dataset.tensors
    with torch.no_grad():
        full = nn.functional.cross_entropy(model.net(x), y).item()
    assert again["loss"] == pytest.approx(full, rel=1e-5)

    # files: Lightning checkpoints, plots, TensorBoard logs; no lightning_logs anywhere
    assert (out / "checkpoints" / "last.ckpt").is_file()
    assert (out / "checkpoints" / "best.ckpt").is_file()
    assert sorted(p.name for p in (out / "plots").iterdir()) == ["accuracy.png", "loss.png"]
    assert not list(tmp_path.rglob("lightning_logs"))
    assert not model.training


def test_resume_continues_the_epoch_count(tmp_path):
    _, first = run(tmp_path, epochs=2)
    assert [row["epoch"] for row in first.history] == [1, 2]

    _, second = run(tmp_path, epochs=4)
    assert [row["epoch"] for row in second.history] == [1, 2, 3, 4]
    assert second.history[:2] == first.history  # earlier rows kept, not retrained
    assert [int(r["epoch"]) for r in read_csv(tmp_path / "logs" / "metrics.csv")] == [1, 2, 3, 4]

    # the same command again: nothing to train, returns the saved best
    last = tmp_path / "checkpoints" / "last.ckpt"
    stamp = last.stat().st_mtime_ns
    model, third = run(tmp_path, epochs=4)
    assert last.stat().st_mtime_ns == stamp
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


def test_resume_after_a_crash_keeps_earlier_rows(tmp_path):
    torch.manual_seed(0)
    cfg = TrainConfig(epochs=4, lr=0.02, device="cpu", patience=0)
    with pytest.raises(RuntimeError, match="power cut"):
        fit(CrashesInEpoch3(), *loaders(), cfg, tmp_path, progress_bar=False)
    before = read_csv(tmp_path / "logs" / "metrics.csv")
    assert [r["epoch"] for r in before] == ["1", "2"]
    assert not (tmp_path / "checkpoints" / "finished.json").exists()

    _, result = run(tmp_path, epochs=4)
    after = read_csv(tmp_path / "logs" / "metrics.csv")
    assert [r["epoch"] for r in after] == ["1", "2", "3", "4"] and after[:2] == before
    assert result.epochs_run == 4


class PressesCtrlCInEpoch3(Tiny):
    calls = 0

    def validation_metrics(self, outputs):
        self.calls += 1
        if self.calls == 4:
            raise KeyboardInterrupt
        return super().validation_metrics(outputs)


def test_ctrl_c_raises_keyboard_interrupt_restores_sigint_and_resumes(tmp_path):
    import signal

    torch.manual_seed(0)
    cfg = TrainConfig(epochs=4, lr=0.02, device="cpu", patience=0)
    with pytest.raises(KeyboardInterrupt, match="rerun the same command to resume"):  # not SystemExit
        fit(PressesCtrlCInEpoch3(), *loaders(), cfg, tmp_path, progress_bar=False)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # Ctrl+C works again
    assert [r["epoch"] for r in read_csv(tmp_path / "logs" / "metrics.csv")] == ["1", "2"]
    _, result = run(tmp_path, epochs=4)
    assert [r["epoch"] for r in result.history] == [1, 2, 3, 4]


def test_early_stopping_stops(tmp_path):
    # lr so small that accuracy never changes: no improvement after epoch 1
    _, result = run(tmp_path, epochs=10, lr=1e-9, patience=2)
    assert result.epochs_run == 3 and result.best_epoch == 1
    assert json.loads((tmp_path / "checkpoints" / "finished.json").read_text()) == {
        "epochs": 3, "stopped_early": True}
    _, again = run(tmp_path, epochs=10, lr=1e-9, patience=2)  # finished: not resumed
    assert again.epochs_run == 3


def test_monitor_loss_in_min_mode(tmp_path):
    _, result = run(tmp_path, monitor="loss", mode="min")
    losses = [row["val_loss"] for row in result.history]
    assert result.best_metrics["loss"] == pytest.approx(min(losses))


def test_a_fresh_run_clears_a_stale_unresumable_one(tmp_path):
    run(tmp_path, epochs=2)
    (tmp_path / "checkpoints" / "last.ckpt").unlink()  # cannot resume: start over
    (tmp_path / "checkpoints" / "finished.json").unlink()
    _, result = run(tmp_path, epochs=1)
    assert [row["epoch"] for row in result.history] == [1]


def test_average_last(tmp_path):
    model, result = run(tmp_path, epochs=4, average_last=3)
    recent = sorted((tmp_path / "checkpoints" / "recent").glob("*.safetensors"))
    assert [p.name for p in recent] == [f"epoch-000{e}.safetensors" for e in (2, 3, 4)]
    mean = _mean_state([load_tensors(p) for p in recent])
    model.load_state_dict(mean)
    mean_metrics = _evaluate(model, loaders()[1])
    if result.averaged_epochs is not None:  # the mean was kept: its weights and metrics
        assert result.averaged_epochs == [2, 3, 4] and result.best_epoch is None
        for name, tensor in mean.items():
            assert torch.equal(result.best_state_dict[name], tensor)
        assert result.best_metrics["accuracy"] == mean_metrics["accuracy"]
    else:  # the best epoch was kept because the mean is not better
        assert mean_metrics["accuracy"] <= result.best_metrics["accuracy"]


def test_mean_state_averages_floats_and_keeps_counters():
    a = {"w": torch.tensor([1.0, 2.0]), "n": torch.tensor(3)}
    b = {"w": torch.tensor([3.0, 6.0]), "n": torch.tensor(5)}
    mean = _mean_state([a, b])
    assert torch.equal(mean["w"], torch.tensor([2.0, 4.0])) and mean["n"].item() == 5


# --- schedules ------------------------------------------------------------------


def torch_lrs(make_scheduler, steps, lr=1.0):
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=lr)
    scheduler = make_scheduler(opt)
    lrs = []
    for _ in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        scheduler.step()
    return lrs


def test_onecycle_matches_torch():
    for pct in (0.3, 0.25):
        total = 40
        expected = torch_lrs(lambda o: torch.optim.lr_scheduler.OneCycleLR(
            o, max_lr=1.0, total_steps=total, pct_start=pct, cycle_momentum=False), total)
        warmup = 0 if pct == 0.3 else round(pct * total)
        got = [lr_factor(s, scheduler="onecycle", total_steps=total, warmup_steps=warmup)
               for s in range(total)]
        assert got == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_step_matches_steplr():
    spe = 4  # optimizer steps per epoch
    expected = [0.5 ** (epoch // 2) for epoch in range(6) for _ in range(spe)]
    got = [lr_factor(s, scheduler="step", total_steps=24, steps_per_epoch=spe, step_size=2,
                     gamma=0.5) for s in range(24)]
    assert got == expected


def test_cosine_linear_and_warmup_by_hand():
    f = lambda s, name, w=0: lr_factor(s, scheduler=name, total_steps=20, warmup_steps=w)  # noqa: E731
    assert [f(s, "none", 4) for s in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert f(0, "cosine") == 1.0 and f(10, "cosine") == pytest.approx(0.5)
    assert f(5, "cosine") == pytest.approx((1 + math.cos(math.pi / 4)) / 2)
    assert f(4, "cosine", 4) == 1.0 and f(12, "cosine", 4) == pytest.approx(0.5)
    assert [f(s, "linear") for s in (0, 5, 10, 20)] == [1.0, 0.75, 0.5, 0.0]
    assert f(1, "linear", 4) == 0.5 and f(12, "linear", 4) == pytest.approx(0.5)


@pytest.mark.parametrize("scheduler", ["none", "cosine", "step", "onecycle", "linear"])
def test_every_per_step_scheduler_runs_in_fit(tmp_path, scheduler):
    # 160 training rows in batches of 16: 10 steps per epoch, 30 in all; warmup 1.5 epochs
    _, result = run(tmp_path, scheduler=scheduler, warmup_epochs=1.5, step_size=1, gamma=0.5)
    for row in result.history:  # lr of the epoch's last step
        factor = lr_factor(10 * row["epoch"] - 1, scheduler=scheduler, total_steps=30, warmup_steps=15,
                           steps_per_epoch=10, step_size=1, gamma=0.5)
        assert row["lr"] == pytest.approx(0.02 * factor)


def test_plateau_warms_up_then_decays_on_the_monitored_metric(tmp_path):
    _, result = run(tmp_path, lr=1e-6, scheduler="plateau", plateau_patience=0, gamma=0.1,
                    warmup_epochs=2)  # accuracy never improves: decay after every epoch
    lrs = [row["lr"] for row in result.history]
    # epoch 1 ends at step 10 of a 20-step warmup; epoch 2 at full lr; epoch 2 did not beat
    # epoch 1, so plateau (patience 0) decays the lr by gamma for epoch 3
    assert lrs == pytest.approx([1e-6 * 10 / 20, 1e-6, 1e-6 * 0.1], rel=1e-9, abs=0)


@pytest.mark.parametrize("optimizer", ["adamw", "sgd", "rmsprop"])
def test_other_optimizers_learn(tmp_path, optimizer):
    _, result = run(tmp_path, optimizer=optimizer, epochs=2, lr=0.05, weight_decay=1e-4)
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]


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
