"""The ``char-lm`` task: forward and backward character LSTM language models (``lstmkit pretrain``),
whose hidden states other tasks read as contextual character features (``model.char_lm``).

================  ==========================================================
``config.py``     the settings (``data.*``, ``model.*``, ``train.*``)
``corpus.py``     raw text files, one text per line, with their SHA-256
``streams.py``    texts -> one character stream -> windows for truncated back-propagation
``network.py``    :class:`CharLMNet`: the forward and the backward LSTM language model
``estimator.py``  :class:`CharLanguageModel`: fit, perplexities, the model folder
``features.py``   the models' states at each token's boundaries, for the tagger
``pretrained.py`` what a tagger or text classifier keeps of the language model it reads
``bundled.py``    language models shipped with lstmkit (``model.char_lm=peoples-daily``)
``export.py``     the models' states through exportable LSTMs, for the tasks' ONNX graphs
================  ==========================================================
"""

from lstmkit.tasks.charlm.config import CharLMConfig, CharLMDataConfig, CharLMModelConfig
from lstmkit.tasks.charlm.estimator import CharLanguageModel
from lstmkit.tasks.charlm.network import CharLMNet

__all__ = ["CharLMConfig", "CharLMDataConfig", "CharLMModelConfig", "CharLMNet", "CharLanguageModel"]
