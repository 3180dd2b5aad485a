"""The neural core: recurrent layers written from their equations, CRF, pooling."""

from lstmkit.nn.rnn import GRU, LSTM, RNN

__all__ = ["LSTM", "GRU", "RNN"]
