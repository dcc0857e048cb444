"""Layers and models: Module, Parameter and the layers built from the ops."""

from dlkit.nn import init
from dlkit.nn.activation import GELU, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from dlkit.nn.config import LAYERS, UnknownLayerError, module_from_config, register, to_config
from dlkit.nn.container import Sequential
from dlkit.nn.conv import Conv1d, Conv2d, Conv3d, DepthwiseConv2d
from dlkit.nn.conv_transpose import ConvTranspose2d
from dlkit.nn.dropout import Dropout
from dlkit.nn.flatten import Flatten
from dlkit.nn.layer_norm import LayerNorm
from dlkit.nn.linear import Linear
from dlkit.nn.losses import LOSSES, LossSpec, get_loss
from dlkit.nn.merge import Add, Concatenate
from dlkit.nn.module import Module
from dlkit.nn.normalization import BatchNorm1d, BatchNorm2d
from dlkit.nn.parameter import Parameter
from dlkit.nn.pool import (
    AvgPool1d,
    AvgPool2d,
    AvgPool3d,
    GlobalAvgPool2d,
    MaxPool1d,
    MaxPool2d,
    MaxPool3d,
    ZeroPad2d,
)
from dlkit.nn.recurrent import GRU, LSTM, RNN, Bidirectional, Embedding, TimeDistributed
from dlkit.nn.regularization import l2_penalty
from dlkit.nn.transfer import (
    FeatureCache,
    freeze_backbone,
    parameterised_layers,
    replace_head,
    split_head,
    trainable_parameters,
    unfreeze_last,
)
from dlkit.nn.transformer import (
    LearnedPositionalEncoding,
    MultiHeadAttention,
    PositionalEncoding,
    Transformer,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
)

__all__ = [
    "LAYERS", "BatchNorm1d", "Dropout", "Flatten", "LeakyReLU", "Linear", "Module", "Parameter",
    "ReLU", "Sequential", "Sigmoid", "Softmax", "Tanh", "UnknownLayerError", "init",
    "module_from_config", "register", "to_config", "Add", "AvgPool1d", "AvgPool2d", "AvgPool3d",
    "BatchNorm2d", "Concatenate", "Conv1d", "Conv2d", "Conv3d", "DepthwiseConv2d",
    "ConvTranspose2d",
    "GlobalAvgPool2d", "MaxPool1d", "MaxPool2d", "MaxPool3d", "ZeroPad2d", "GRU", "LSTM", "RNN",
    "Bidirectional", "Embedding", "TimeDistributed", "LOSSES", "LossSpec", "get_loss",
    "l2_penalty", "FeatureCache", "freeze_backbone", "parameterised_layers", "replace_head",
    "split_head", "trainable_parameters", "unfreeze_last", "GELU",
    "LayerNorm", "LearnedPositionalEncoding", "MultiHeadAttention", "PositionalEncoding",
    "Transformer", "TransformerDecoder", "TransformerDecoderLayer", "TransformerEncoder",
    "TransformerEncoderLayer",
]
