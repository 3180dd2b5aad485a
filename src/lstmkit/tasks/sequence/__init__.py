"""The ``sequence-classifier`` task: a multivariate sequence -> a label, or a target per step.

=================  ==========================================================
``config.py``      the settings (``data.*``, ``model.*``, ``train.*`` with augmentation)
``inputs.py``      sequences and targets from .ts / long CSV files, JSON and Python
``network.py``     :class:`SequenceNet`: (Bi)LSTM/GRU -> pooling or a per-step head
``estimator.py``   :class:`SequenceClassifier`: fit, predict, evaluate, the model folder
``demo.py``        ``lstmkit demo vowels`` and ``lstmkit demo mnist``
=================  ==========================================================
"""

from lstmkit.tasks.sequence.config import (
    SequenceClassifierConfig,
    SequenceDataConfig,
    SequenceModelConfig,
    SequenceTrainConfig,
)
from lstmkit.tasks.sequence.estimator import SequenceClassifier
from lstmkit.tasks.sequence.network import SequenceNet

__all__ = ["SequenceClassifier", "SequenceClassifierConfig", "SequenceDataConfig", "SequenceModelConfig",
           "SequenceTrainConfig", "SequenceNet"]
