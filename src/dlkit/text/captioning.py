"""Image captioning (course 5 week 3, the notes' second sequence-to-sequence example): a CNN
encodes the image into the decoder's first state, an RNN language model writes the caption,
P(y<1..T_y> | image). Shown on synthetic images with generated captions (no download).

``synthetic_captions(n, seed)``: (images (n, 12, 12, 3) float32 in [0, 1], captions) with one
shape ("square", "frame" or "bar") of one colour (red, green, blue) in one corner:
"a red square at the top left". ``CaptionModel``: conv-relu-pool x 2 -> flatten -> tanh(Linear)
= v, the decoder's s<0> and an input at every step next to the previous word's embedding ->
LSTM/GRU/RNN decoder -> per-step logits; teacher forcing, trained with
``dlkit.text.seq2seq.fit_seq2seq`` (batches (images, Y_in, Y_out)); ``caption`` decodes with
greedy or beam search (``dlkit.text.decode``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dlkit.backend import array_module
from dlkit.nn.activation import ReLU
from dlkit.nn.config import register
from dlkit.nn.container import Sequential
from dlkit.nn.conv import Conv2d
from dlkit.nn.flatten import Flatten
from dlkit.nn.linear import Linear
from dlkit.nn.module import Module
from dlkit.nn.pool import MaxPool2d
from dlkit.nn.recurrent import GRU, LSTM, RNN, Embedding
from dlkit.ops.activation import tanh
from dlkit.ops.shape import broadcast_to, concat, reshape
from dlkit.tensor import Tensor, as_tensor, no_grad
from dlkit.text.decode import beam_search, greedy_search, log_softmax_rows
from dlkit.text.vocab import Vocab, WordVocab

COLOURS = {"red": (1.0, 0.1, 0.1), "green": (0.1, 0.9, 0.1), "blue": (0.15, 0.3, 1.0)}
SHAPES = ("square", "frame", "bar")
CORNERS = {"top left": (0, 0), "top right": (0, 1), "bottom left": (1, 0),
           "bottom right": (1, 1)}
CELLS = {"rnn": RNN, "gru": GRU, "lstm": LSTM}
SIZE = 12


def _draw(shape: str, rgb: tuple[float, float, float], corner: tuple[int, int],
          rng: np.random.Generator) -> np.ndarray:
    img = rng.uniform(0, 0.15, (SIZE, SIZE, 3)).astype(np.float32)
    half = SIZE // 2
    r0 = corner[0] * half + int(rng.integers(0, 2))
    c0 = corner[1] * half + int(rng.integers(0, 2))
    mask = np.zeros((SIZE, SIZE), dtype=bool)
    if shape == "square":
        mask[r0:r0 + 4, c0:c0 + 4] = True
    elif shape == "frame":
        mask[r0:r0 + 5, c0:c0 + 5] = True
        mask[r0 + 1:r0 + 4, c0 + 1:c0 + 4] = False
    else:  # a horizontal bar
        mask[r0 + 2:r0 + 3, c0:c0 + 5] = True
    img[mask] = np.asarray(rgb, dtype=np.float32)
    return img


def synthetic_captions(n: int, seed: int | None = 0) -> tuple[np.ndarray, list[str]]:
    """``n`` images (n, 12, 12, 3) and their captions, seeded."""
    rng = np.random.default_rng(seed)
    images, captions = [], []
    names = list(COLOURS)
    corners = list(CORNERS)
    for _ in range(n):
        colour = names[int(rng.integers(len(names)))]
        shape = SHAPES[int(rng.integers(len(SHAPES)))]
        corner = corners[int(rng.integers(len(corners)))]
        images.append(_draw(shape, COLOURS[colour], CORNERS[corner], rng))
        captions.append(f"a {colour} {shape} at the {corner}")
    return np.stack(images), captions


def caption_vocab() -> WordVocab:
    """Every word the captions use."""
    words = ["a", "at", "the", *COLOURS, *SHAPES, "top", "bottom", "left", "right"]
    return WordVocab(sorted(set(words)))


@register
class CaptionModel(Module):
    """CNN encoder + RNN decoder: ``model(images (m, H, W, C), Y_in (m, T_y))`` -> logits
    (m, T_y, V)."""

    feeds_previous = True

    def __init__(self, vocab_size: int, image_size: int = SIZE, n_C: int = 3,
                 embed_dim: int = 16, n_s: int = 64, cell: str = "lstm",
                 channels: Sequence[int] = (8, 16), dtype: Any = None) -> None:
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"CaptionModel: unknown cell {cell!r}; expected one of "
                             f"{sorted(CELLS)}")
        self.vocab_size, self.image_size, self.n_C = vocab_size, image_size, n_C
        self.embed_dim, self.n_s, self.cell = embed_dim, n_s, cell
        c1, c2 = self.channels = tuple(int(c) for c in channels)
        side = image_size // 4
        self.cnn = Sequential(Conv2d(n_C, c1, 3, padding=1, dtype=dtype), ReLU(), MaxPool2d(2),
                              Conv2d(c1, c2, 3, padding=1, dtype=dtype), ReLU(), MaxPool2d(2),
                              Flatten())
        self.bridge = Linear(c2 * side * side, n_s, init="xavier", dtype=dtype)
        self.embed = Embedding(vocab_size, embed_dim, dtype=dtype)
        self.decoder = CELLS[cell](embed_dim + n_s, n_s, return_sequences=True,
                                   return_state=True, dtype=dtype)
        self.output = Linear(n_s, vocab_size, init="xavier", dtype=dtype)

    def features(self, images: Any) -> Tensor:
        """v = tanh(W CNN(image) + b) (m, n_s): the decoder's first state s<0> (c<0> = 0 for
        an LSTM), and read again at every step next to the previous word ("inject")."""
        images = as_tensor(images)
        want = (self.image_size, self.image_size, self.n_C)
        if images.ndim != 4 or tuple(images.shape[1:]) != want:
            from dlkit.errors import ShapeError
            raise ShapeError(f"CaptionModel: expected images of shape (m, {want[0]}, "
                             f"{want[1]}, {want[2]}), got {images.shape}")
        return tanh(self.bridge(self.cnn(images)))

    def _states(self, v: Tensor) -> list[Tensor]:
        if self.cell != "lstm":
            return [v]
        return [v, Tensor(array_module(v.data).zeros_like(v.data))]

    def _inputs(self, Y_in: Any, v: Tensor) -> Tensor:
        e = self.embed(np.asarray(getattr(Y_in, "data", Y_in)).astype(np.int64))
        m, T = e.shape[:2]
        return concat([e, broadcast_to(reshape(v, (m, 1, self.n_s)), (m, T, self.n_s))],
                      axis=-1)

    def forward(self, images: Any, Y_in: Any) -> Tensor:
        v = self.features(images)
        seq = self.decoder(self._inputs(Y_in, v), initial_state=self._states(v))[0]
        return self.output(seq)

    def decoder_state(self, images: Any) -> list[np.ndarray]:
        """[s, (c,) v] as arrays."""
        with no_grad():
            v = self.features(images)
            return [s.data for s in self._states(v)] + [v.data]

    def step(self, tokens: np.ndarray, state: list[np.ndarray]) -> tuple[np.ndarray, list]:
        with no_grad():
            *states, v = state
            x = self._inputs(np.asarray(tokens, dtype=np.int64)[:, None], Tensor(v))
            _, *new = self.decoder(x, initial_state=[Tensor(s) for s in states])
            return log_softmax_rows(self.output(new[0]).data), [s.data for s in new] + [v]

    def get_config(self) -> dict[str, Any]:
        return {"vocab_size": self.vocab_size, "image_size": self.image_size, "n_C": self.n_C,
                "embed_dim": self.embed_dim, "n_s": self.n_s, "cell": self.cell,
                "channels": list(self.channels), "dtype": self.output.weight.dtype.name}


def caption(model: CaptionModel, vocab: Vocab, images: Any, beam_width: int = 1,
            alpha: float = 0.7, max_len: int = 12) -> list[str]:
    """The caption of each image: greedy search (B = 1) or beam search."""
    was = model.training
    model.eval()
    try:
        state = model.decoder_state(images)
        banned: Sequence[int] = [vocab.pad_id, vocab.unk_id]
        if beam_width == 1:
            hyps = greedy_search(model.step, state, vocab.eos_id, vocab.eos_id, max_len,
                                 banned_ids=banned)
        else:
            hyps = [h[0] for h in beam_search(model.step, state, vocab.eos_id, vocab.eos_id,
                                              beam_width, max_len, alpha, banned_ids=banned)]
    finally:
        model.train(was)
    return [vocab.detokenize([vocab.token(i) for i in h.tokens]) for h in hyps]


__all__ = ["CaptionModel", "caption", "caption_vocab", "synthetic_captions"]
