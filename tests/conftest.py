"""Test-wide settings: one intra-op thread (the tests use tiny tensors, where thread hand-offs cost
more than they save, and CI shares two cores)."""

import torch

torch.set_num_threads(1)
