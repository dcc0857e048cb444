"""Dense networks of courses 1-2: logistic regression, the shallow network, the deep L-layer
network, with optional dropout and batch norm; built as ``Sequential`` so they save and load."""

from __future__ import annotations

from collections.abc import Sequence

from dlkit.nn.activation import LeakyReLU, ReLU, Sigmoid, Tanh
from dlkit.nn.container import Sequential
from dlkit.nn.dropout import Dropout
from dlkit.nn.linear import Linear
from dlkit.nn.module import Module
from dlkit.nn.normalization import BatchNorm1d

ACTIVATIONS: dict[str, type[Module]] = {"relu": ReLU, "tanh": Tanh, "sigmoid": Sigmoid,
                                        "leaky_relu": LeakyReLU}


def mlp(n_in: int, hidden: Sequence[int], n_out: int, activation: str = "relu",
        init: str | None = None, dropout: float = 0.0, batch_norm: bool = False) -> Sequential:
    """[LINEAR -> (BATCHNORM) -> ACTIVATION -> (DROPOUT)] * len(hidden) -> LINEAR (logits).

    The output layer gives logits: pair it with a loss from logits (sigmoid or softmax cross-
    entropy). ``init`` defaults to He for ReLU-like activations and Xavier otherwise, as the
    notes. With batch norm the hidden Linear layers have no bias (beta takes its role, as the
    notes say). ``hidden=[]`` is logistic / softmax regression.
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"mlp: unknown activation {activation!r}; expected one of "
                         f"{sorted(ACTIVATIONS)}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"mlp: expected dropout (drop probability) in [0, 1), got {dropout}")
    if any(n <= 0 for n in hidden):
        raise ValueError(f"mlp: hidden layer sizes must be positive, got {list(hidden)}")
    if init is None:
        init = "he" if activation in ("relu", "leaky_relu") else "xavier"
    layers: list[Module] = []
    for n in hidden:
        layers.append(Linear(n_in, n, bias=not batch_norm, init=init))
        if batch_norm:
            layers.append(BatchNorm1d(n))
        layers.append(ACTIVATIONS[activation]())
        if dropout:
            layers.append(Dropout(dropout))
        n_in = n
    layers.append(Linear(n_in, n_out, init="xavier"))
    return Sequential(*layers)
