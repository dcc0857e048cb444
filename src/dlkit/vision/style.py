"""Neural style transfer (Gatys et al. 2015), as the notes: optimize the generated image G
itself to lower J(G) = alpha J_content(C, G) + beta J_style(S, G).

The costs are in ``dlkit.vision.style_costs`` (re-exported here). ``StyleTransfer(backbone,
content_layer, style_layers)`` runs a backbone (a ``Sequential`` of layers, such as the zoo's
VGG-19 ``features``) on images in [0, 1] (normalized with the ImageNet mean and std first, as
torchvision's VGG expects), reads the activations of the named layers, and optimizes the
pixels of G with Adam (``dl.optim.Adam``; pixels clipped to [0, 1] after each step) or with
L-BFGS (SciPy's L-BFGS-B, with the bounds [0, 1]), keeping intermediate images.

Layer names for VGG (``vgg_layer_names``) follow Keras, as the course: ``block{b}_conv{i}``
is the i-th convolution of block b after its ReLU, ``block{b}_pool`` the block's max pool.

Backbones:

- ``vgg19_features(weights="vgg19.safetensors")``: the zoo's VGG-19 convolutional part with
  the ImageNet weights of torchvision's ``vgg19`` (converted once to safetensors, see
  ``docs/faces.md``), imported with ``dl.io.load_torch_state_dict``. This is the real thing.
- ``vgg19_features(weights=None)`` (the default when no file is given): the same layers with
  **random** He-scaled filters (seeded), truncated after block 3. Random filters still give
  Gram statistics of local color and texture, so the result is visibly stylized (colors and
  brush-like texture move over), but much less faithfully than with trained weights, whose
  deep layers encode objects and strokes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dlkit.backend import array_module, generator, get_default_dtype, to_numpy
from dlkit.errors import ShapeError
from dlkit.nn.activation import ReLU
from dlkit.nn.container import Sequential
from dlkit.nn.conv import Conv2d
from dlkit.nn.module import Module
from dlkit.nn.pool import AvgPool2d, MaxPool2d
from dlkit.tensor import Tensor, no_grad
from dlkit.vision.style_costs import (
    content_cost,
    gram_matrix,
    layer_style_cost,
    style_cost,
    total_cost,
)

__all__ = ["COURSE_CONTENT_LAYER", "COURSE_STYLE_LAYERS", "IMAGENET_MEAN", "IMAGENET_STD",
           "RANDOM_CONTENT_LAYER", "RANDOM_STYLE_LAYERS", "StyleResult", "StyleTransfer",
           "content_cost", "gram_matrix", "layer_style_cost", "random_vgg_features",
           "style_cost", "total_cost", "vgg19_features", "vgg_layer_names"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# the course's choice (Keras names): style from the first conv of each block, 0.2 each
COURSE_STYLE_LAYERS = {f"block{b}_conv1": 0.2 for b in range(1, 6)}
COURSE_CONTENT_LAYER = "block5_conv4"
# what the random-filter default uses: shallow layers, where random filters still carry
# local color and texture statistics
RANDOM_STYLE_LAYERS = {"block1_conv1": 0.2, "block1_conv2": 0.2, "block2_conv1": 0.2,
                       "block2_conv2": 0.2, "block3_conv1": 0.2}
RANDOM_CONTENT_LAYER = "block3_conv1"


def vgg_layer_names(features: Sequential) -> dict[str, int]:
    """{Keras-style name: index in ``features``}: ``block{b}_conv{i}`` the ReLU after the i-th
    convolution of block b (Keras' conv layers include their activation), ``block{b}_pool``
    the pooling that ends the block; also ``"{index}"`` for every layer."""
    names: dict[str, int] = {}
    block, conv = 1, 0
    layers = list(features)
    for k, layer in enumerate(layers):
        names[str(k)] = k
        if isinstance(layer, Conv2d):
            conv += 1
            after = k + 1 if k + 1 < len(layers) and isinstance(layers[k + 1], ReLU) else k
            names[f"block{block}_conv{conv}"] = after
        elif isinstance(layer, (MaxPool2d, AvgPool2d)):
            names[f"block{block}_pool"] = k
            block, conv = block + 1, 0
    return names


def vgg19_features(weights: str | Path | Mapping[str, Any] | None = None, blocks: int = 5,
                   seed: int | None = 0) -> Sequential:
    """The convolutional part of the zoo's VGG-19 (CONV 3x3 same + ReLU, MAXPOOL 2), the
    first ``blocks`` blocks.

    ``weights``: a torchvision ``vgg19().state_dict()`` (a mapping, or a safetensors file of
    it; only its ``features.*`` entries are used) imported with
    ``dl.io.load_torch_state_dict``. ``None``: random He-scaled filters drawn after
    ``dl.manual_seed(seed)`` (when ``seed`` is not None), a stand-in that needs no download."""
    from dlkit.backend import manual_seed
    from dlkit.models.vgg import CONFIGS, WIDTHS

    if not 1 <= blocks <= 5:
        raise ValueError(f"vgg19_features: expected blocks in 1..5, got {blocks}")
    if weights is None and seed is not None:
        manual_seed(seed)
    # the layers of dlkit.models.VGG(19).features, block by block (the same Conv2d, ReLU and
    # MaxPool2d), built only as far as needed
    layers: list[Module] = []
    c = 3
    for n_convs, width in list(zip(CONFIGS[19], WIDTHS))[:blocks]:
        for _ in range(n_convs):
            layers += [Conv2d(c, width, 3, padding=1), ReLU()]
            c = width
        layers.append(MaxPool2d(2))
    features = Sequential(*layers)
    if weights is not None:
        _load_vgg_weights(features, weights)
    features.eval()
    return features


def random_vgg_features(blocks: int = 3, seed: int = 0) -> Sequential:
    """VGG-19's first ``blocks`` blocks with random He-scaled filters (the default backbone of
    ``dlkit style`` when no weights file is given)."""
    return vgg19_features(None, blocks, seed)


def _load_vgg_weights(features: Sequential, weights: Any) -> None:
    from dlkit.io.files import read_safetensors
    from dlkit.io.torch_import import TorchImportError, load_torch_state_dict

    if isinstance(weights, (str, Path)):
        state, _ = read_safetensors(weights, "vgg19_features")
        source = repr(str(weights))
    else:
        state, source = dict(weights), "the state dict"
    feats = {k: v for k, v in state.items() if k.startswith("features.")}
    if not feats:
        feats = state  # a state dict of the features alone
    n_convs = sum(isinstance(m, Conv2d) for m in features)
    # keep the first n_convs conv layers of the file (a truncated backbone)
    prefixes = sorted({k.rsplit(".", 1)[0] for k in feats},
                      key=lambda p: [int(t) if t.isdigit() else t for t in p.split(".")])
    # in the model's order (a safetensors file stores its keys sorted as text)
    feats = {f"{p}.{name}": feats[f"{p}.{name}"] for p in prefixes[:n_convs]
             for name in ("weight", "bias") if f"{p}.{name}" in feats}
    try:
        load_torch_state_dict(features, feats)
    except (TorchImportError, ShapeError, KeyError) as e:
        raise ValueError(f"vgg19_features: {source} does not hold VGG-19 weights "
                         f"(torchvision's vgg19().state_dict()): {e}") from None


@dataclass
class StyleResult:
    """What ``StyleTransfer.run`` gives: the image (H, W, 3) in [0, 1], the cost per step
    (``history``: dicts with ``step``, ``total``, ``content``, ``style``) and the intermediate
    images ``snapshots`` [(step, image)]."""

    image: np.ndarray
    history: list[dict[str, float]] = field(default_factory=list)
    snapshots: list[tuple[int, np.ndarray]] = field(default_factory=list)
    seconds: float = 0.0


class StyleTransfer:
    """Style transfer with ``backbone`` (a Sequential; frozen, in eval mode).

    ``content_layer``: a layer name (``vgg_layer_names``) or an index; ``style_layers``: a
    {name: lambda} mapping or a list of names (equal lambdas summing to 1). ``alpha``,
    ``beta``: the weights of the content and style costs (the course's 10 and 40).
    ``normalize``: subtract the ImageNet mean and divide by the std before the backbone
    (torchvision's VGG weights expect it)."""

    def __init__(self, backbone: Module, content_layer: str | int = COURSE_CONTENT_LAYER,
                 style_layers: Mapping[str | int, float] | Sequence[str | int] | None = None,
                 alpha: float = 10.0, beta: float = 40.0, normalize: bool = True) -> None:
        if not isinstance(backbone, Sequential) and isinstance(
                getattr(backbone, "features", None), Sequential):
            backbone = backbone.features  # a zoo VGG: its convolutional part
        if not isinstance(backbone, Sequential):
            raise TypeError(f"StyleTransfer: expected backbone a Sequential of layers (e.g. "
                            f"dlkit.vision.style.vgg19_features() or a VGG's .features), got "
                            f"{type(backbone).__name__}")
        self.backbone = backbone.eval()
        self.backbone.freeze()
        self.names = vgg_layer_names(backbone)
        if style_layers is None:
            style_layers = COURSE_STYLE_LAYERS
        if not isinstance(style_layers, Mapping):
            style_layers = {name: 1.0 / len(style_layers) for name in style_layers}
        if not style_layers:
            raise ValueError("StyleTransfer: expected at least one style layer")
        self.content_index = self._index(content_layer)
        self.style_indices = [self._index(name) for name in style_layers]
        self.style_weights = [float(w) for w in style_layers.values()]
        self.content_layer, self.style_layers = content_layer, dict(style_layers)
        self.alpha, self.beta, self.normalize = float(alpha), float(beta), normalize
        self.last = max(self.content_index, *self.style_indices)

    def _index(self, name: str | int) -> int:
        key = str(name)
        if key not in self.names:
            named = [n for n in self.names if not n.isdigit()]
            raise ValueError(f"StyleTransfer: unknown layer {name!r}; the backbone has "
                             f"{named or 'no named layers'} and indices 0..{len(self.names) - 1}")
        return self.names[key]

    # ---- activations ------------------------------------------------------------------
    def _prepare(self, image: Any) -> Tensor:
        x = image if isinstance(image, Tensor) else Tensor(
            np.asarray(image, dtype=get_default_dtype()))
        if x.ndim == 3:
            x = x.reshape((1, *x.shape))
        if x.ndim != 4 or x.shape[-1] != 3:
            raise ShapeError(f"StyleTransfer: expected an image (n_H, n_W, 3) or (1, n_H, n_W, "
                             f"3) with values in [0, 1], got {tuple(x.shape)}")
        if self.normalize:
            dt = x.dtype
            mean = np.asarray(IMAGENET_MEAN, dtype=dt)
            std = np.asarray(IMAGENET_STD, dtype=dt)
            x = (x - Tensor(mean)) / Tensor(std)
        return x

    def activations(self, image: Any) -> dict[int, Tensor]:
        """{layer index: activation} for the content and style layers (one forward pass)."""
        wanted = {self.content_index, *self.style_indices}
        out: dict[int, Tensor] = {}
        x = self._prepare(image)
        for k, layer in enumerate(self.backbone):
            x = layer(x)
            if k in wanted:
                out[k] = x
            if k >= self.last:
                break
        return out

    def targets(self, content: Any, style: Any) -> tuple[Tensor, list[Tensor]]:
        """a^(C) at the content layer and a^(S) at each style layer (no tape)."""
        with no_grad():
            a_c = self.activations(content)[self.content_index]
            acts = self.activations(style)
        return a_c, [acts[k] for k in self.style_indices]

    def cost(self, G: Any, a_C: Tensor, a_S: Sequence[Tensor]
             ) -> tuple[Tensor, Tensor, Tensor]:
        """(J, J_content, J_style) of the generated image G."""
        acts = self.activations(G)
        j_c = content_cost(a_C, acts[self.content_index])
        j_s = style_cost(a_S, [acts[k] for k in self.style_indices], self.style_weights)
        return total_cost(j_c, j_s, self.alpha, self.beta), j_c, j_s

    # ---- optimization -----------------------------------------------------------------
    def initial_image(self, content: np.ndarray, noise_ratio: float = 0.6) -> np.ndarray:
        """The notes' start: G = noise * r + content * (1 - r) in the mean-centered space
        (noise uniform in (-20, 20) of 255), i.e. the content at lower contrast plus noise."""
        mean = np.asarray(IMAGENET_MEAN, dtype=np.float64)
        noise = generator().uniform(-20 / 255, 20 / 255, content.shape)
        G = mean + (1 - noise_ratio) * (content - mean) + noise_ratio * noise
        return np.clip(G, 0, 1).astype(get_default_dtype())

    def run(self, content: Any, style: Any, steps: int = 200, optimizer: str = "adam",
            lr: float = 0.02, noise_ratio: float = 0.6, init: Any = None,
            snapshot_every: int | None = None,
            callback: Callable[[int, dict[str, float]], None] | None = None) -> StyleResult:
        """Optimize G for ``steps`` steps (Adam) or iterations (``optimizer="lbfgs"``).

        ``content``, ``style``: images (n_H, n_W, 3) in [0, 1] of one size; ``init``: the
        starting image (default ``initial_image``); ``snapshot_every``: keep G every that many
        steps (and the first and last); ``callback(step, logs)`` after each step."""
        content = self._image(content, "content")
        style = self._image(style, "style")
        if content.shape != style.shape:
            raise ShapeError(f"StyleTransfer.run: expected content and style images of one "
                             f"size, got {content.shape} and {style.shape} (resize the style "
                             f"image, e.g. dlkit.vision.images.load_image(path, size=...))")
        if steps < 1:
            raise ValueError(f"StyleTransfer.run: expected steps >= 1, got {steps}")
        if optimizer not in ("adam", "lbfgs"):
            raise ValueError(f"StyleTransfer.run: expected optimizer 'adam' or 'lbfgs', got "
                             f"{optimizer!r}")
        a_c, a_s = self.targets(content, style)
        G0 = self.initial_image(content, noise_ratio) if init is None else self._image(init,
                                                                                      "init")
        result = StyleResult(G0.copy())
        every = snapshot_every or max(1, steps // 5)
        result.snapshots.append((0, G0.copy()))
        start = time.perf_counter()

        def record(step: int, j: Tensor, j_c: Tensor, j_s: Tensor, image: np.ndarray) -> None:
            logs = {"step": step, "total": float(j.item()), "content": float(j_c.item()),
                    "style": float(j_s.item())}
            result.history.append(logs)
            if step % every == 0 or step == steps:
                result.snapshots.append((step, image.copy()))
            if callback is not None:
                callback(step, logs)

        if optimizer == "adam":
            result.image = self._run_adam(G0, a_c, a_s, steps, lr, record)
        else:
            result.image = self._run_lbfgs(G0, a_c, a_s, steps, record)
        result.seconds = time.perf_counter() - start
        return result

    def _image(self, image: Any, what: str) -> np.ndarray:
        a = np.asarray(image.numpy() if isinstance(image, Tensor) else image)
        if a.ndim == 4 and a.shape[0] == 1:
            a = a[0]
        if a.ndim != 3 or a.shape[-1] != 3:
            raise ShapeError(f"StyleTransfer: expected the {what} image of shape (n_H, n_W, 3), "
                             f"got {a.shape}")
        if a.size and (a.min() < 0 or a.max() > 1):
            raise ValueError(f"StyleTransfer: expected the {what} image's values in [0, 1], got "
                             f"[{a.min():.3g}, {a.max():.3g}] (divide 8-bit pixels by 255)")
        return a.astype(get_default_dtype())

    def _run_adam(self, G0, a_c, a_s, steps, lr, record) -> np.ndarray:
        from dlkit.optim.adam import Adam

        G = Tensor(G0.copy(), requires_grad=True)
        opt = Adam([G], lr=lr)
        for step in range(1, steps + 1):
            opt.zero_grad()
            j, j_c, j_s = self.cost(G, a_c, a_s)
            j.backward()
            opt.step()
            xp = array_module(G.data)
            G.data = xp.clip(G.data, 0, 1)  # pixels stay in range
            record(step, j, j_c, j_s, to_numpy(G.data))
        return to_numpy(G.data).copy()

    def _run_lbfgs(self, G0, a_c, a_s, steps, record) -> np.ndarray:
        try:
            from scipy.optimize import Bounds, minimize
        except ImportError as e:  # pragma: no cover - scipy comes with scikit-learn
            raise ImportError('StyleTransfer: optimizer="lbfgs" needs SciPy: pip install '
                              'scipy') from e
        shape, dtype = G0.shape, G0.dtype
        state: dict[str, Any] = {"step": 0}

        def fun(flat: np.ndarray) -> tuple[float, np.ndarray]:
            G = Tensor(flat.reshape(shape).astype(dtype), requires_grad=True)
            j, j_c, j_s = self.cost(G, a_c, a_s)
            j.backward()
            state["last"] = (j, j_c, j_s)
            return float(j.item()), np.asarray(G.grad, dtype=np.float64).ravel()

        def on_iteration(flat: np.ndarray) -> None:
            state["step"] += 1
            record(state["step"], *state["last"], flat.reshape(shape).astype(dtype))

        res = minimize(fun, G0.astype(np.float64).ravel(), jac=True, method="L-BFGS-B",
                       bounds=Bounds(0.0, 1.0), callback=on_iteration,
                       options={"maxiter": steps, "maxfun": steps * 2})
        return np.clip(res.x.reshape(shape), 0, 1).astype(dtype)
