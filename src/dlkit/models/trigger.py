"""The course's trigger-word model (course 5, week 3):

    spectrogram (m, T_x, 101) -> Conv1D 196 filters, kernel 15, stride 4 -> BN -> ReLU ->
    dropout -> GRU(128) -> dropout -> BN -> GRU(128) -> dropout -> BN -> dropout ->
    time-distributed Dense(1) -> (m, T_y, 1)

T_y = (T_x - 15) // 4 + 1 (1375 for the 5511 frames of 10 s). The last layer gives logits:
train with ``binary_cross_entropy_with_logits``; the sigmoid of the output is the
probability that the trigger word has just been said. Batch norm over a sequence
normalizes each feature over the examples and the steps (Keras' BatchNormalization on
(m, T, n)). The course uses dropout 0.8 (Keras' rate: the drop probability).
"""

from __future__ import annotations

from dlkit.nn.activation import ReLU
from dlkit.nn.container import Sequential
from dlkit.nn.conv import Conv1d
from dlkit.nn.dropout import Dropout
from dlkit.nn.linear import Linear
from dlkit.nn.normalization import BatchNorm1d
from dlkit.nn.recurrent import GRU, TimeDistributed


def trigger_word_model(n_freq: int = 101, filters: int = 196, kernel: int = 15,
                       stride: int = 4, units: int = 128, dropout: float = 0.8) -> Sequential:
    """The course's model as a ``Sequential`` of registered layers (``dl.io.save``/``load``
    rebuild it)."""
    return Sequential(
        Conv1d(n_freq, filters, kernel, stride=stride),
        TimeDistributed(BatchNorm1d(filters)), ReLU(), Dropout(dropout),
        GRU(filters, units, return_sequences=True), Dropout(dropout),
        TimeDistributed(BatchNorm1d(units)),
        GRU(units, units, return_sequences=True), Dropout(dropout),
        TimeDistributed(BatchNorm1d(units)), Dropout(dropout),
        TimeDistributed(Linear(units, 1, init="xavier")),
    )
