"""The model zoo of the courses: dense networks, LeNet-5, AlexNet, VGG, ResNet, Inception,
MobileNet. Every model is a registered Module, so ``dlkit.io.save`` / ``load`` rebuild it."""

from dlkit.models.alexnet import AlexNet
from dlkit.models.cnn import simple_cnn
from dlkit.models.inception import InceptionModule, InceptionSmall
from dlkit.models.lenet import LeNet5
from dlkit.models.mlp import ACTIVATIONS, mlp
from dlkit.models.mobilenet import DepthwiseSeparable, MobileNet
from dlkit.models.neural_lm import NeuralLM, context_windows
from dlkit.models.resnet import (
    BasicBlock,
    ConvolutionalBlock,
    IdentityBlock,
    ResNet50,
    ResNetSmall,
)
from dlkit.models.siamese import (
    EmbeddingNet,
    L2Normalize,
    PairClassifier,
    conv_encoder,
    embedding_net,
)
from dlkit.models.transformer_lm import TransformerLM
from dlkit.models.transformer_translator import TransformerTranslator
from dlkit.models.unet import UNet, UpsamplingBlock
from dlkit.models.vgg import VGG, vgg16, vgg19
from dlkit.models.yolo import YOLOSmall

__all__ = [
    "ACTIVATIONS", "VGG", "AlexNet", "BasicBlock", "ConvolutionalBlock", "DepthwiseSeparable",
    "IdentityBlock", "InceptionModule", "InceptionSmall", "LeNet5", "MobileNet", "ResNet50",
    "ResNetSmall", "mlp", "simple_cnn", "vgg16", "vgg19",
    "EmbeddingNet", "L2Normalize", "PairClassifier", "conv_encoder", "embedding_net",
    "UNet", "UpsamplingBlock", "YOLOSmall", "TransformerLM", "TransformerTranslator",
]
__all__ += ["NeuralLM", "context_windows"]
