"""The ``tagger`` task: token sequence -> tag sequence (NER, word segmentation, POS).

=================  ==========================================================
``config.py``      the settings (``data.*``, ``model.*``, ``train.*``)
``text.py``        raw text -> tokens with character offsets (``--text``, ``.txt``)
``dictionary.py``  word-boundary (B/M/E/S) features from a dictionary, cross-fitted
``network.py``     :class:`TaggerNet`: embeddings -> (Bi)LSTM -> CRF or softmax
``estimator.py``   :class:`Tagger`: reading CoNLL, fit, predict, records, the model folder
``demo.py``        ``lstmkit demo ner`` and ``lstmkit demo cws``
=================  ==========================================================
"""

from lstmkit.tasks.tagger.config import (
    TaggerConfig,
    TaggerDataConfig,
    TaggerModelConfig,
)
from lstmkit.tasks.tagger.estimator import Tagger
from lstmkit.tasks.tagger.network import TaggerNet

__all__ = ["Tagger", "TaggerConfig", "TaggerDataConfig", "TaggerModelConfig", "TaggerNet"]
