"""Memory stays bounded when a model meets many input shapes (a server's micro-batches do).

PyTorch runs float LSTM layers on the CPU through oneDNN, which keeps a primitive (with buffers
sized for its shape) per steps x batch shape, 1,024 of them by default. The command line and the
server cap the cache at 64 (``lstmkit.runtime.tune_process``); without the cap this process grows
by about 220 MB.
"""

import os
import subprocess
import sys

_MANY_SHAPES = """
import os
import lstmkit.runtime
lstmkit.runtime.tune_process()  # as lstmkit serve and the command line do, before torch
import psutil, torch
from lstmkit.nn.rnn import LSTM
torch.manual_seed(0)
torch.set_num_threads(1)
lstm = LSTM(64, 128, num_layers=2, bidirectional=True, batch_first=True).eval()
process = psutil.Process()

def run(n, t):
    lengths = torch.full((n,), t)
    lengths[0] = max(1, t - 1)  # a padded batch, as the server makes them
    lstm(torch.randn(n, t, 64), lengths=lengths)

with torch.inference_mode():
    run(2, 3)
    before = process.memory_info().rss
    for n in range(1, 21):
        for t in range(2, 22):
            run(n, t)
    grown = (process.memory_info().rss - before) / 2**20
print(os.environ["ONEDNN_PRIMITIVE_CACHE_CAPACITY"], round(grown))
"""


def _grown_mb(env: dict) -> tuple[str, int]:
    run = subprocess.run([sys.executable, "-c", _MANY_SHAPES], env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    capacity, grown = run.stdout.split()
    return capacity, int(grown)


def test_four_hundred_input_shapes_do_not_grow_memory():
    env = {k: v for k, v in os.environ.items() if k != "ONEDNN_PRIMITIVE_CACHE_CAPACITY"}
    capacity, grown = _grown_mb(env)
    assert capacity == "64"
    assert grown < 80, f"memory grew by {grown} MB over 400 input shapes (about 220 MB without the cap)"


def test_a_users_own_cache_capacity_is_kept():
    env = {**os.environ, "ONEDNN_PRIMITIVE_CACHE_CAPACITY": "1024"}
    capacity, grown = _grown_mb(env)
    assert capacity == "1024"
    assert grown > 80, (
        f"the default cache should grow (it grew {grown} MB): the test above would not catch a regression"
    )
