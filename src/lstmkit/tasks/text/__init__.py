"""The ``text-classifier`` task: text -> label (sentiment, topic).

=================  ==========================================================
``config.py``      the settings (``data.*``, ``model.*``, ``train.*``)
``network.py``     :class:`TextClassifierNet`: embedding -> (Bi)LSTM -> pooling -> classifier,
                   beside a fixed TF-IDF n-gram branch, with the lexicon fed to the LSTM
``features.py``    what is counted before training: the n-gram regression, the lexicon, PPMI vectors
``estimator.py``   :class:`TextClassifier`: reading files, fit, predict, the model folder
``demo.py``        ``lstmkit demo sentiment``
=================  ==========================================================
"""

from lstmkit.tasks.text.config import TextClassifierConfig, TextDataConfig, TextModelConfig
from lstmkit.tasks.text.estimator import TextClassifier
from lstmkit.tasks.text.features import unlabeled_texts
from lstmkit.tasks.text.network import TextClassifierNet

__all__ = ["TextClassifier", "TextClassifierConfig", "TextDataConfig", "TextModelConfig", "TextClassifierNet",
           "unlabeled_texts"]
