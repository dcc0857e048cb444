"""Speech recognition with CTC (course 5, week 3): audio -> log-mel spectrogram -> 1-D
convolution -> bidirectional GRU layers -> per-step softmax over characters and the blank,
trained with the CTC cost through ``dl.train.fit`` (a ``CTCStep`` on batches with lengths),
decoded greedily or by prefix beam search.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dlkit.audio.ctc_decode import greedy_decode, prefix_beam_search
from dlkit.audio.features import log_mel_spectrogram
from dlkit.backend import generator
from dlkit.nn.config import register
from dlkit.nn.container import Sequential
from dlkit.nn.conv import Conv1d
from dlkit.nn.linear import Linear
from dlkit.nn.module import Module
from dlkit.nn.recurrent import GRU, Bidirectional, TimeDistributed
from dlkit.ops.activation import log_softmax, relu
from dlkit.ops.ctc import ctc_loss
from dlkit.tensor import Tensor, as_tensor, no_grad
from dlkit.train.step import Step, StepOutput

DEFAULT_CHARS = " abcdefghijklmnopqrstuvwxyz'"


class Alphabet:
    """Characters <-> class ids; id 0 is the CTC blank, characters are 1..len(chars).
    Text is lower-cased; any other character outside the alphabet is an error."""

    def __init__(self, chars: str = DEFAULT_CHARS) -> None:
        if len(set(chars)) != len(chars) or not chars:
            raise ValueError(f"Alphabet: expected distinct characters, got {chars!r}")
        self.chars = chars
        self.index = {c: i + 1 for i, c in enumerate(chars)}

    def __len__(self) -> int:
        """Classes, the blank included."""
        return len(self.chars) + 1

    def encode(self, text: str) -> np.ndarray:
        text = text.lower()
        bad = sorted({c for c in text if c not in self.index})
        if bad:
            raise ValueError(f"Alphabet: transcript {text!r} has characters outside the "
                             f"alphabet: {''.join(bad)!r} (alphabet: {self.chars!r})")
        return np.array([self.index[c] for c in text], dtype=np.int64)

    def decode(self, ids: Sequence[int]) -> str:
        return "".join(self.chars[i - 1] for i in ids if 0 < i <= len(self.chars))


def speech_features(audio: Any, rate: int, n_mels: int = 40) -> np.ndarray:
    """Log-mel spectrogram, 25 ms frames every 10 ms, each feature normalized over the
    utterance (mean 0, variance 1): (n,) -> (T, n_mels) float32."""
    n_fft = int(round(0.025 * rate))
    hop = int(round(0.010 * rate))
    audio = np.asarray(audio, np.float32)
    if len(audio) < n_fft:
        audio = np.pad(audio, (0, n_fft - len(audio)))
    feats = log_mel_spectrogram(audio, rate, n_fft, hop, n_mels, eps=1e-6)
    feats = (feats - feats.mean(axis=0)) / (feats.std(axis=0) + 1e-5)
    return feats.astype(np.float32)


@register
class SpeechRecognizer(Module):
    """(m, T, n_features) -> per-step logits (m, T', n_classes), T' = (T + 2 (k // 2) - k)
    // stride + 1: Conv1d (kernel k, stride) + ReLU, ``layers`` bidirectional GRUs of
    ``units`` each way, a time-distributed Linear. ``mask`` (m, T) marks the real frames."""

    def __init__(self, n_features: int = 40, n_classes: int = len(DEFAULT_CHARS) + 1,
                 filters: int = 128, kernel: int = 11, stride: int = 2, units: int = 128,
                 layers: int = 2) -> None:
        super().__init__()
        self.n_features, self.n_classes, self.filters = n_features, n_classes, filters
        self.kernel, self.stride, self.units, self.layers = kernel, stride, units, layers
        self.conv = Conv1d(n_features, filters, kernel, stride=stride, padding=kernel // 2)
        self.rnns = Sequential(*[
            Bidirectional(GRU(filters if i == 0 else 2 * units, units, return_sequences=True))
            for i in range(layers)])
        self.head = TimeDistributed(Linear(2 * units, n_classes, init="xavier"))

    def output_lengths(self, lengths: Any) -> np.ndarray:
        lengths = np.asarray(lengths, dtype=np.int64)
        pad = self.kernel // 2
        return np.maximum((lengths + 2 * pad - self.kernel) // self.stride + 1, 0)

    def forward(self, x: Any, mask: Any = None) -> Tensor:
        x = as_tensor(x)
        if mask is not None:  # padded frames are zeros, whatever the batch held there
            x = x * Tensor(np.asarray(mask, dtype=x.dtype)[..., None])
        h = relu(self.conv(x))
        out_mask = None
        if mask is not None:
            lengths = self.output_lengths(np.asarray(mask).sum(axis=1))
            out_mask = (np.arange(h.shape[1])[None, :] < lengths[:, None]).astype(h.dtype)
        for rnn in self.rnns:
            h = rnn(h, mask=out_mask)
        return self.head(h)

    def get_config(self) -> dict[str, Any]:
        return {"n_features": self.n_features, "n_classes": self.n_classes,
                "filters": self.filters, "kernel": self.kernel, "stride": self.stride,
                "units": self.units, "layers": self.layers}


class UtteranceBatches:
    """Batches of utterances for ``fit``: dicts with ``features`` (m, T, n) zero-padded,
    ``mask`` (m, T), ``lengths`` (m,), ``targets`` (m, S) padded, ``target_lengths`` (m,).
    Re-iterable; reshuffled each pass (dlkit's generator) when ``shuffle``."""

    def __init__(self, features: Sequence[np.ndarray], targets: Sequence[np.ndarray],
                 batch_size: int = 16, shuffle: bool = True) -> None:
        if len(features) != len(targets):
            raise ValueError(f"UtteranceBatches: {len(features)} utterances but "
                             f"{len(targets)} transcripts")
        if not features:
            raise ValueError("UtteranceBatches: no utterances")
        self.features, self.targets = list(features), list(targets)
        self.batch_size, self.shuffle = batch_size, shuffle

    def __len__(self) -> int:
        return -(-len(self.features) // self.batch_size)

    def __iter__(self):
        n = len(self.features)
        order = generator().permutation(n) if self.shuffle else np.arange(n)
        for start in range(0, n, self.batch_size):
            yield self.collate(order[start:start + self.batch_size])

    def collate(self, idx: Sequence[int]) -> dict[str, np.ndarray]:
        feats = [self.features[i] for i in idx]
        tgts = [self.targets[i] for i in idx]
        lengths = np.array([len(f) for f in feats])
        T, n = lengths.max(), feats[0].shape[1]
        X = np.zeros((len(idx), T, n), np.float32)
        for b, f in enumerate(feats):
            X[b, :len(f)] = f
        tl = np.array([len(t) for t in tgts])
        Y = np.zeros((len(idx), max(1, tl.max())), np.int64)
        for b, t in enumerate(tgts):
            Y[b, :len(t)] = t
        mask = (np.arange(T)[None, :] < lengths[:, None]).astype(np.float32)
        return {"features": X, "mask": mask, "lengths": lengths, "targets": Y,
                "target_lengths": tl}


class CTCStep(Step):
    """One batch -> the CTC cost of the model's per-step log-softmax (PyTorch's "mean":
    each utterance's cost over its transcript length, averaged)."""

    output = "log_probs"

    def __init__(self, blank: int = 0) -> None:
        self.blank = blank

    def __call__(self, model: Module, batch: dict[str, Any]) -> StepOutput:
        logits = model(batch["features"], mask=batch["mask"])
        log_probs = log_softmax(logits, axis=-1)
        in_len = np.minimum(model.output_lengths(batch["lengths"]), log_probs.shape[1])
        loss = ctc_loss(log_probs, batch["targets"], in_len, batch["target_lengths"],
                        blank=self.blank, zero_infinity=True)
        return StepOutput(loss, size=len(batch["lengths"]))

    def predict(self, model: Module, batch: dict[str, Any]) -> Any:
        return log_softmax(model(batch["features"], mask=batch["mask"]), axis=-1)


def transcribe(model: SpeechRecognizer, features: Sequence[np.ndarray], alphabet: Alphabet,
               beam_width: int = 1, batch_size: int = 32) -> list[str]:
    """Texts of utterances' features: greedy decoding (beam_width 1) or prefix beam search."""
    model.eval()
    batches = UtteranceBatches(features, [np.zeros(0, np.int64)] * len(features), batch_size,
                               shuffle=False)
    texts = []
    with no_grad():
        for batch in batches:
            lp = log_softmax(model(batch["features"], mask=batch["mask"]), axis=-1).numpy()
            lengths = np.minimum(model.output_lengths(batch["lengths"]), lp.shape[1])
            if beam_width <= 1:
                ids = greedy_decode(lp, lengths)
            else:
                ids = prefix_beam_search(lp, lengths, beam_width=beam_width)
            texts.extend(alphabet.decode(i) for i in ids)
    return texts


def synthesize_utterances(n: int, rate: int = 16000, source: str = "espeak",
                          rng: Any = None, progress: Any = None, low: int = 1,
                          high: int = 4) -> tuple[list[np.ndarray], list[str]]:
    """``n`` spoken digit sequences ("three one four") by random speakers (eSpeak NG) or as
    tone words, with their transcripts."""
    from dlkit.audio import synth

    rng = generator() if rng is None else rng
    audio, texts = [], []
    for _ in range(n):
        text = synth.digit_text(rng, low, high)
        audio.append(synth.say(text, rate, source, rng))
        texts.append(text)
        if progress is not None:
            progress.update(1)
    return audio, texts


def fit_recognizer(model: SpeechRecognizer, features: Sequence[np.ndarray],
                   texts: Sequence[str], alphabet: Alphabet,
                   dev_features: Sequence[np.ndarray] = (), dev_texts: Sequence[str] = (),
                   epochs: int = 30, batch_size: int = 16, lr: float = 3e-3,
                   clip_norm: float | None = 5.0, callbacks: Sequence[Any] = (),
                   verbose: int = 0) -> Any:
    """Train with Adam on the CTC cost through ``dl.train.fit`` (a ``CTCStep``); returns the
    History (``val_loss`` when there is a dev set)."""
    from dlkit.optim import Adam
    from dlkit.train.loop import fit

    data = UtteranceBatches(features, [alphabet.encode(t) for t in texts], batch_size)
    dev = None
    if len(dev_features):
        dev = UtteranceBatches(dev_features, [alphabet.encode(t) for t in dev_texts],
                               batch_size, shuffle=False)
    return fit(model, None, Adam(model.parameters(), lr=lr), data, epochs=epochs,
               validation_data=dev, step=CTCStep(), metrics=(), clip_norm=clip_norm,
               callbacks=callbacks, verbose=verbose)
