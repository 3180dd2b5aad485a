"""Training with several processes (``train.devices``, ``train.strategy=ddp``): lstmkit.training.distributed
and its use in lstmkit.training.train.

The two end-to-end tests start real DDP runs on the CPU (gloo): one through Lightning's own
launcher (``lstmkit train ... --set train.devices=2``, which starts rank 1 by running the same
command again), one through ``torchrun`` and the Python API.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from textdata import english_reviews, write_csv
from torch.utils.data import BatchSampler, DataLoader, RandomSampler

from lstmkit import TextClassifier, load
from lstmkit.config import ConfigError
from lstmkit.data.batching import BucketBatchSampler
from lstmkit.training.config import TrainConfig
from lstmkit.training.distributed import (
    ShardedBatches,
    is_global_zero,
    launched_processes,
    shard_loader,
)
from lstmkit.training.threads import available_cores, resolve_threads
from lstmkit.training.train import _local_ranks_environ, _strategy

PYTHON = sys.executable
SMALL = {"embedding_dim": 8, "hidden_size": 8, "ngram_buckets": 0, "lexicon_buckets": 512,
         "embedding_init": "random", "unlabeled_text": None, "batch_size": 16, "epochs": 3, "lr": 0.01,
         "scheduler": "none", "patience": 0}
SETS = [f"model.{k}={v}" for k, v in SMALL.items() if k in ("embedding_dim", "hidden_size", "ngram_buckets",
                                                              "lexicon_buckets", "embedding_init")]
SETS += ["model.unlabeled_text=null"] + [f"train.{k}={SMALL[k]}" for k in ("batch_size", "lr", "scheduler",
                                                                         "patience")]


# ---------------------------------------------------------------------- which process writes
@pytest.mark.parametrize("environ, zero", [
    ({}, True),                                               # a plain run
    ({"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "2"}, True),   # torchrun rank 0
    ({"RANK": "1", "LOCAL_RANK": "1", "WORLD_SIZE": "2"}, False),  # torchrun rank 1
    ({"LOCAL_RANK": "0", "NODE_RANK": "0", "WORLD_SIZE": "2"}, True),  # Lightning's launcher, the user's process
    ({"LOCAL_RANK": "1", "NODE_RANK": "0", "WORLD_SIZE": "2"}, False),  # ... the rank it started
    ({"LOCAL_RANK": "0", "NODE_RANK": "1"}, False),           # rank 0 of the second machine
    ({"SLURM_PROCID": "0"}, True), ({"SLURM_PROCID": "3"}, False),  # srun
    ({"SLURM_PROCID": "0", "LOCAL_RANK": "1"}, False),        # Lightning's launcher inside one SLURM task
    ({"RANK": "", "LOCAL_RANK": "x"}, True),                  # malformed: as if unset
])
def test_is_global_zero_reads_each_launchers_variables(environ, zero):
    """Bug caught: a rank other than 0 taking itself for rank 0 (two processes writing one run
    folder), e.g. by trusting SLURM_PROCID=0 inside a task where Lightning started local rank 1."""
    assert is_global_zero(environ) is zero


def test_launched_processes_only_under_torchrun():
    """Bug caught: taking WORLD_SIZE from another launcher (Lightning's own) for torchrun's count."""
    assert launched_processes({"WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "2"}) is None
    assert launched_processes({"TORCHELASTIC_RUN_ID": "x", "WORLD_SIZE": "4", "LOCAL_WORLD_SIZE": "2"}) == (2, 4)


def test_devices_that_do_not_match_torchrun_are_a_clear_error(monkeypatch):
    """Bug caught: ``torchrun --nproc_per_node=2`` with train.devices left at 1 hanging or
    training two separate models instead of saying which setting to change."""
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "test")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ConfigError, match=r"train\.devices.*torchrun started 2 .* set train\.devices=2 "
                                          r"train\.num_nodes=1"):
        _strategy(TrainConfig(devices=1), "cpu")
    assert _strategy(TrainConfig(devices=2, strategy="ddp"), "cpu").process_group_backend == "gloo"


def test_settings_are_checked():
    """Bug caught: devices=0 or an unknown strategy reaching Lightning (its own, less clear error)."""
    for bad in ({"devices": 0}, {"num_nodes": 0}, {"strategy": "ddp_spawn"}):
        with pytest.raises(ConfigError, match=next(iter(bad))):
            TrainConfig(**bad)
    assert _strategy(TrainConfig(), "cpu") == "auto"  # one process: no DDP at all


def test_threads_are_the_cores_divided_by_the_local_processes(monkeypatch):
    """Bug caught: each of N processes started by Lightning's launcher (which sets no
    LOCAL_WORLD_SIZE) taking every core, N times oversubscribing the machine."""
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    assert resolve_threads(0, _local_ranks_environ(TrainConfig(devices=2))) == max(1, available_cores() // 2)
    assert _local_ranks_environ(TrainConfig()) is None  # one process: lstmkit.training.threads' own rule
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")  # torchrun said: it wins
    assert _local_ranks_environ(TrainConfig(devices=2)) is None


# ---------------------------------------------------------------------- each rank's batches
def _epoch(sampler, world: int, epoch: int) -> list[list[list[int]]]:
    shards = [ShardedBatches(sampler, rank, world, seed=5) for rank in range(world)]
    for shard in shards:
        shard.set_epoch(epoch)
    return [list(shard) for shard in shards]


@pytest.mark.parametrize("n, batch, world", [(100, 8, 2), (97, 10, 3), (5, 4, 4), (64, 16, 4)])
def test_ranks_share_out_every_batch_in_equal_numbers(n, batch, world):
    """Bugs caught: two ranks training on the same batches, a batch no rank trains on, and ranks
    taking different numbers of steps (DDP then waits forever for the rank that is done)."""
    sampler = BucketBatchSampler([1 + i % 7 for i in range(n)], batch, shuffle=True, seed=3)
    inner = list(sampler)
    shards = _epoch(sampler, world, 0)
    per_rank = -(-len(inner) // world)
    assert [len(s) for s in shards] == [per_rank] * world == [len(ShardedBatches(sampler, 0, world))] * world
    taken = [b for k in range(per_rank) for s in shards for b in [s[k]]]  # in round order
    assert taken[: len(inner)] == inner  # each batch once, in the sampler's order ...
    assert taken[len(inner):] == inner[: len(taken) - len(inner)]  # ... then padding from the start


def test_each_epoch_a_new_mix_alike_on_every_rank():
    """Bug caught: ``set_epoch`` not reaching the task's sampler (every epoch the same batches)."""
    sampler = BucketBatchSampler([1 + i % 5 for i in range(60)], 6, shuffle=True, seed=1)
    first, second = _epoch(sampler, 2, 0), _epoch(sampler, 2, 1)
    assert first != second
    assert sorted(i for s in second for b in s for i in b) == list(range(60))


def test_a_sampler_drawing_torch_random_numbers_gives_every_rank_the_same_order():
    """Bug caught: a RandomSampler (torch's global random numbers, which drift apart between ranks
    once they train on different batches) giving each rank its own order: overlapping shards.
    The process's own random numbers must be left as they were."""
    inner = BatchSampler(RandomSampler(range(50)), 5, drop_last=False)
    shards = []
    for rank, drift in ((0, 1), (1, 2)):
        torch.manual_seed(drift)  # the ranks' random states differ
        state = torch.get_rng_state()
        shards.append(list(ShardedBatches(inner, rank, 2, seed=9)))
        assert torch.equal(torch.get_rng_state(), state)
    assert sorted(i for s in shards for b in s for i in b) == list(range(50))


def test_shard_loader_keeps_the_collate_function():
    """Bug caught: a rebuilt loader losing the task's collate function (batches of raw indices)."""
    loader = DataLoader(list(range(10)), batch_size=4, collate_fn=lambda items: {"sum": sum(items)})
    assert [b["sum"] for b in shard_loader(loader, 1, 2)] == [4 + 5 + 6 + 7, 0 + 1 + 2 + 3]


# ---------------------------------------------------------------------- real DDP runs


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ddp-data")
    return {"train": write_csv(folder / "train.csv", *english_reviews(200)),
            "valid": write_csv(folder / "valid.csv", *english_reviews(60, seed=1)),
            "test": english_reviews(100, seed=2)}


@pytest.fixture(scope="module")
def one_process(data, tmp_path_factory):
    """The same training in one process, for reference."""
    out = tmp_path_factory.mktemp("one") / "run"
    est = TextClassifier(**SMALL)
    est.fit(*est.read_data(data["train"]), valid=est.read_data(data["valid"]), out_dir=out)
    est.save(out / "model", metrics={"valid": est.valid_metrics_})  # as `lstmkit train` does
    return out, est


AUDIT = """\
import json, os, sys
RUN = os.path.realpath(os.environ["AUDIT_RUN"])
WRITING = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
CHANGING = {"os.rename", "os.replace", "os.remove", "os.rmdir", "os.mkdir", "os.truncate",
            "shutil.rmtree", "shutil.move", "os.chmod", "os.link", "os.symlink", "tempfile.mkstemp",
            "tempfile.mkdtemp"}
seen = []

def under_run(path):
    return isinstance(path, (str, bytes, os.PathLike)) and os.path.realpath(os.fsdecode(path)).startswith(RUN)

def audit(event, args):
    if event == "open":
        path, mode, flags = args
        if under_run(path) and ((mode and any(c in mode for c in "wax+")) or (flags or 0) & WRITING):
            seen.append([event, os.fsdecode(path)])
    elif event in CHANGING and args and under_run(args[0]):
        seen.append([event, os.fsdecode(args[0])])

def report():
    rank = os.environ.get("RANK", os.environ.get("LOCAL_RANK", "0"))
    with open(os.path.join(os.environ["AUDIT_REPORT"], f"rank-{rank}.json"), "w") as f:
        json.dump(seen, f)

sys.addaudithook(audit)
"""

CLI_SCRIPT = AUDIT + """
import atexit
atexit.register(report)
from lstmkit.cli import main
main()
"""

API_SCRIPT = AUDIT + """
import sys
sys.path.insert(0, os.environ["TESTS_DIR"])
from safetensors.torch import save_file
from lstmkit import TextClassifier
est = TextClassifier(**json.loads(os.environ["SETTINGS"]))
X, y = est.read_data(os.environ["TRAIN"])
est.fit(X, y, valid=est.read_data(os.environ["VALID"]), out_dir=os.environ["AUDIT_RUN"])
est.save(os.path.join(os.environ["AUDIT_RUN"], "model"), metrics={"valid": est.valid_metrics_})
rank = os.environ["RANK"]
state = {k: v.contiguous() for k, v in est.network_.state_dict().items()}
save_file(state, os.path.join(os.environ["AUDIT_REPORT"], f"weights-{rank}.safetensors"))
with open(os.path.join(os.environ["AUDIT_REPORT"], f"history-{rank}.json"), "w") as f:
    json.dump(est.history_, f)
report()
"""


def _run(args: list[str], tmp_path: Path, run: Path, **env) -> tuple[subprocess.CompletedProcess, list]:
    report = tmp_path / "report"
    report.mkdir()
    environ = {**os.environ, "OMP_NUM_THREADS": "1", "AUDIT_RUN": str(run), "AUDIT_REPORT": str(report),
               "TESTS_DIR": str(Path(__file__).parent), **env}
    for name in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "NODE_RANK", "TORCHELASTIC_RUN_ID"):
        environ.pop(name, None)
    done = subprocess.run(args, env=environ, capture_output=True, text=True, timeout=240, cwd=tmp_path,
                          check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return done, sorted(report.iterdir())


def _csv_rows(path: Path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _check_run_folder(run: Path, reference: Path) -> None:
    rows = _csv_rows(run / "logs" / "metrics.csv")
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]  # one row per epoch, written once
    log = (run / "logs" / "train.log").read_text(encoding="utf-8")
    assert [log.count(f"epoch {e}/3:") for e in (1, 2, 3)] == [1, 1, 1]
    files = {p.relative_to(run).as_posix() for p in run.rglob("*") if p.is_file() and "events.out" not in p.name}
    expected = {p.relative_to(reference).as_posix() for p in reference.rglob("*")
                if p.is_file() and "events.out" not in p.name}
    assert files == expected  # the same files as one process writes, no stray temporary ones


def _same_quality(run: Path, reference_est, test) -> None:
    model = load(run / "model")
    ddp, one = model.evaluate(*test)["accuracy"], reference_est.evaluate(*test)["accuracy"]
    assert ddp >= 0.9 and abs(ddp - one) <= 0.05, (ddp, one)


@pytest.mark.slow
def test_two_processes_through_lightnings_launcher(data, one_process, tmp_path):
    """``lstmkit train ... --set train.devices=2 train.strategy=ddp``: Lightning starts rank 1 by
    running the command again. Bugs caught: rank 1 writing into the run folder (checked by an
    audit hook on every file it opens for writing, renames or deletes there; the model folder
    and metrics.csv written twice, rows duplicated), the run not finishing, and a model worse
    than one process trains."""
    script = tmp_path / "lstmkit_audited.py"
    script.write_text(CLI_SCRIPT, encoding="utf-8")
    run = tmp_path / "run"
    args = [PYTHON, str(script), "train", "text-classifier", "--train", str(data["train"]),
            "--valid", str(data["valid"]), "--out", str(run), "--epochs", "3",
            *[a for s in SETS + ["train.devices=2", "train.strategy=ddp"] for a in ("--set", s)]]
    done, reports = _run(args, tmp_path, run)
    assert [p.name for p in reports] == ["rank-0.json", "rank-1.json"], done.stderr[-2000:]
    written = {p.name: json.loads(p.read_text()) for p in reports}
    assert written["rank-0.json"], "the audit hook saw no writes at all: it is not working"
    assert written["rank-1.json"] == [], "rank 1 wrote into the run folder"
    assert "Traceback" not in done.stderr and "sync_dist" not in done.stderr
    assert done.stderr.count("preparing 200 texts") == 1  # one voice on stderr, not one per rank
    _check_run_folder(run, one_process[0])
    _same_quality(run, one_process[1], data["test"])


@pytest.mark.slow
def test_two_processes_under_torchrun_keep_the_same_weights(data, one_process, tmp_path):
    """``torchrun --nproc_per_node=2`` and the Python API. Bugs caught: the ranks' weights
    drifting apart (gradients not averaged), rank 1 not training every epoch, rank 1 writing
    files, and the training loss of metrics.csv being rank 0's alone."""
    script = tmp_path / "train_api.py"
    script.write_text(API_SCRIPT, encoding="utf-8")
    run = tmp_path / "run"
    settings = {**SMALL, "devices": 2, "strategy": "ddp"}
    args = [PYTHON, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(script)]
    _, reports = _run(args, tmp_path, run, SETTINGS=json.dumps(settings), TRAIN=str(data["train"]),
                      VALID=str(data["valid"]))
    report = reports[0].parent
    assert json.loads((report / "rank-1.json").read_text()) == []
    assert json.loads((report / "rank-0.json").read_text())
    # rank 1 returns its final weights; they are the ones rank 0 checkpointed after the last epoch
    final = load_file(str(report / "weights-1.safetensors"))
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    assert ckpt["model.embedding.weight"].shape == final["embedding.weight"].shape
    for name, tensor in final.items():
        assert torch.equal(ckpt[f"model.{name}"], tensor), name
    # both ranks' histories are the same epochs with the same numbers: the loss is all ranks' mean
    rank0 = _csv_rows(run / "logs" / "metrics.csv")
    rank1 = json.loads((report / "history-1.json").read_text())
    assert [r["epoch"] for r in rank1] == [1, 2, 3]
    for row0, row1 in zip(rank0, rank1):
        assert float(row0["train_loss"]) == pytest.approx(row1["train_loss"], rel=1e-6)
        assert float(row0["val_loss"]) == pytest.approx(row1["val_loss"], rel=1e-6)
    _check_run_folder(run, one_process[0])
    _same_quality(run, one_process[1], data["test"])


NAN_SCRIPT = """
import json, os, sys
from lstmkit import TextClassifier
from lstmkit.errors import LstmkitError
from lstmkit.tasks.text.network import TextClassifierNet

original, calls = TextClassifierNet.training_loss, [0]

def training_loss(self, batch):  # rank 1 alone goes NaN at its 5th step (epoch 1)
    loss = original(self, batch)
    calls[0] += 1
    return loss * float("nan") if os.environ["RANK"] == "1" and calls[0] == 5 else loss

TextClassifierNet.training_loss = training_loss
est = TextClassifier(**json.loads(os.environ["SETTINGS"]))
X, y = est.read_data(os.environ["TRAIN"])
try:
    est.fit(X, y, valid=est.read_data(os.environ["VALID"]), out_dir=os.environ["RUN"])
except LstmkitError as error:
    print(f"rank {os.environ['RANK']}: {error}", file=sys.stderr)
    sys.exit(3)
sys.exit(0)
"""


@pytest.mark.slow
def test_a_nan_on_one_rank_stops_every_rank(data, tmp_path):
    """Bug caught: the rank whose loss went NaN stops while the others wait forever in the next
    gradient all-reduce (the run hangs until killed). Every rank must stop at the same step with
    the error naming the rank, the epoch and the step."""
    script = tmp_path / "nan.py"
    script.write_text(NAN_SCRIPT, encoding="utf-8")
    environ = {**os.environ, "OMP_NUM_THREADS": "1", "RUN": str(tmp_path / "run"), "TRAIN": str(data["train"]),
               "VALID": str(data["valid"]), "SETTINGS": json.dumps({**SMALL, "devices": 2, "strategy": "ddp"})}
    args = [PYTHON, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(script)]
    try:
        done = subprocess.run(args, env=environ, capture_output=True, text=True, timeout=120, cwd=tmp_path,
                              check=False)
    except subprocess.TimeoutExpired:
        pytest.fail("a NaN on rank 1 left the run hanging")
    assert done.returncode != 0
    for rank in (0, 1):
        assert (f"rank {rank}: training stopped: the training loss is nan on rank 1 (every rank stopped) "
                "in epoch 1, at global step 5.") in done.stderr, done.stderr[-3000:]
