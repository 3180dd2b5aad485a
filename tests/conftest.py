"""Test-wide settings: one intra-op thread (the tests use tiny tensors, where thread hand-offs cost
more than they save, and CI shares two cores)."""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # lstmkit.training.train sizes its threads from it

import torch

torch.set_num_threads(1)
