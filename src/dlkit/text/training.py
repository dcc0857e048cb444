"""Training a language model: on lines (names, sentences) or on one long stream (TBPTT).

Each step is the notes' optimization loop: forward, the cost (cross-entropy per predicted
token, padding ignored), backward through time, clip the gradients (the exercise's
``clip(gradients, maxValue)``: every entry into [-maxValue, maxValue]; or the global norm),
update. The logs of each epoch are ``loss`` (mean cross-entropy per predicted token over
the epoch), ``perplexity`` = exp(loss), ``val_loss`` / ``val_perplexity`` with validation
data, and ``lr``; dlkit's callbacks (``CSVLogger``, ``EarlyStopping``, ``ProgressBar``, ...)
work as in ``dlkit.train.fit``, and ``SampleText`` prints samples as the exercise does.

- ``fit_lines``: every line is one example (``lm_pair``); each mini-batch is padded to its
  own longest line, masked, and shuffled anew each epoch.
- ``fit_stream``: truncated backpropagation through time over one token stream: the stream
  is laid out in ``batch_size`` rows cut into chunks of ``bptt`` steps (``tbptt_chunks``);
  the step carries the state, so each chunk starts from the (detached) state the previous
  chunk ended in (gradients flow back at most ``bptt`` steps), and the state is forgotten at
  the start of each epoch.

Both are ``dlkit.train.fit`` with a ``LanguageModelStep``: no loop of their own.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from dlkit.backend import generator
from dlkit.nn.module import Module
from dlkit.ops.loss import cross_entropy
from dlkit.optim.adam import Adam
from dlkit.optim.optimizer import Optimizer
from dlkit.tensor import Tensor
from dlkit.text.batching import lm_batch, tbptt_chunks
from dlkit.text.sampling import sample_many
from dlkit.text.vocab import Vocab
from dlkit.train.callbacks import Callback
from dlkit.train.history import History
from dlkit.train.loop import fit
from dlkit.train.step import Step, StepOutput


class SampleText(Callback):
    """Every ``every`` epochs, print the epoch's loss and ``n`` samples (the exercise prints
    7 dinosaur names every 2000 iterations). Draws from a generator seeded with
    ``seed + epoch``, so sampling does not change the training's random stream. The samples
    are kept in ``self.samples`` ({epoch: [texts]})."""

    def __init__(self, vocab: Vocab, every: int = 2, n: int = 7, max_len: int = 50,
                 temperature: float = 1.0, top_k: int | None = None, seed: int = 0,
                 capitalize: bool = False, print_fn: Callable[[str], Any] = print) -> None:
        if every < 1 or n < 1:
            raise ValueError(f"SampleText: expected every >= 1 and n >= 1, got {every}, {n}")
        self.vocab, self.every, self.n, self.max_len = vocab, every, n, max_len
        self.temperature, self.top_k, self.seed = temperature, top_k, seed
        self.capitalize, self.print_fn = capitalize, print_fn
        self.samples: dict[int, list[str]] = {}

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        if (epoch + 1) % self.every and epoch + 1 != self.trainer.epochs:
            return
        texts = sample_many(self.trainer.model, self.vocab, self.n, self.max_len,
                            self.temperature, self.top_k, seed=self.seed + epoch)
        if self.capitalize:
            texts = [t[:1].upper() + t[1:] for t in texts]
        self.samples[epoch] = texts
        line = f"epoch {epoch + 1}, loss {logs['loss']:.4f}, perplexity {logs['perplexity']:.2f}"
        if "val_loss" in logs:
            line += f", dev loss {logs['val_loss']:.4f}, dev perplexity " \
                    f"{logs['val_perplexity']:.2f}"
        self.print_fn(line)
        for t in texts:
            self.print_fn(t)
        self.print_fn("")


class LinesBatches:
    """The batches of a list of lines, re-iterable: each pass shuffles the lines (dlkit's
    generator) and yields ``(X, Y)`` (m, T) of ``lm_batch``, padded to each batch's longest."""

    def __init__(self, encoded: Sequence[Sequence[int]], vocab: Vocab, batch_size: int = 32,
                 shuffle: bool = True) -> None:
        if len(encoded) == 0:
            raise ValueError("lines: expected at least one line, got none")
        if batch_size < 1:
            raise ValueError(f"lines: expected batch_size >= 1, got {batch_size}")
        self.encoded, self.vocab = list(encoded), vocab
        self.batch_size, self.shuffle = int(batch_size), shuffle

    def __len__(self) -> int:
        return -(-len(self.encoded) // self.batch_size)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        n = len(self.encoded)
        order = generator().permutation(n) if self.shuffle else np.arange(n)
        for s in range(0, n, self.batch_size):
            X, Y, _ = lm_batch([self.encoded[i] for i in order[s:s + self.batch_size]],
                               self.vocab)
            yield X, Y


class LanguageModelStep(Step):
    """A language model's step: logits = model(X) (m, T, |V|), the loss the mean
    cross-entropy per predicted token (targets equal to ``pad_id`` ignored), weighted by the
    number of predicted tokens; ``perplexity`` = exp(loss) is logged beside it.

    ``carry_state`` (truncated BPTT): the batches are consecutive chunks of the same rows, so
    each chunk starts from the state the previous one ended in, detached (gradients flow back
    at most one chunk); the state is forgotten at the start of every epoch and evaluation."""

    def __init__(self, pad_id: int = 0, carry_state: bool = False) -> None:
        self.pad_id, self.carry_state = int(pad_id), carry_state
        self.state: Any = None

    def begin(self, model: Module, training: bool) -> None:
        self.state = None

    def __call__(self, model: Module, batch: Any) -> StepOutput:
        X, Y = batch[0], batch[1]
        if self.carry_state:
            logits, state = model(X, initial_state=self.state, return_state=True)
            self.state = [s.detach() for s in state]
        else:
            logits = model(X)
        Yd = Y.data if isinstance(Y, Tensor) else np.asarray(Y)
        loss = cross_entropy(logits, Yd, ignore_index=self.pad_id)
        return StepOutput(loss, size=int((Yd != self.pad_id).sum()))

    def epoch_logs(self, logs: Mapping[str, float]) -> dict[str, float]:
        return {"perplexity": math.exp(min(logs["loss"], 700.0))}


def fit_lines(model: Module, vocab: Vocab, lines: Sequence[str], epochs: int = 10,
              batch_size: int = 32, optimizer: Optimizer | None = None, lr: float = 0.01,
              clip_value: float | None = 5.0, clip_norm: float | None = None,
              validation_lines: Sequence[str] | None = None,
              callbacks: Sequence[Callback] = (), shuffle: bool = True,
              verbose: int = 0, *, initial_epoch: int = 0, l2: float = 0.0) -> History:
    """Train ``model`` (logits (m, T, |V|) from ids (m, T)) to predict each line's next
    token, x = [<EOS>] + line, y = line + [<EOS>]; mini-batches padded with ``<PAD>`` and
    masked; through ``dlkit.train.fit`` (callbacks, checkpoints, ``initial_epoch`` to resume,
    ``l2``). ``optimizer`` defaults to ``Adam(model.parameters(), lr)``; ``clip_value`` (the
    notes' maxValue, 5) and/or ``clip_norm`` clip after backward. Returns the ``History``."""
    if len(lines) == 0:
        raise ValueError("fit_lines: expected at least one line, got none")
    if batch_size < 1:
        raise ValueError(f"fit_lines: expected batch_size >= 1, got {batch_size}")
    data = LinesBatches([vocab.encode(s) for s in lines], vocab, batch_size, shuffle)
    val = None
    if validation_lines is not None and len(validation_lines):
        val = LinesBatches([vocab.encode(s) for s in validation_lines], vocab, 256, False)
    optimizer = optimizer if optimizer is not None else Adam(model.parameters(), lr=lr)
    return fit(model, None, optimizer, data, epochs=epochs, validation_data=val,
               callbacks=callbacks, metrics=(), step=LanguageModelStep(vocab.pad_id),
               initial_epoch=initial_epoch, clip_value=clip_value, clip_norm=clip_norm,
               l2=l2, verbose=verbose)


def fit_stream(model: Module, vocab: Vocab, text: str | Sequence[int], epochs: int = 10,
               batch_size: int = 16, bptt: int = 64, optimizer: Optimizer | None = None,
               lr: float = 0.01, clip_value: float | None = 5.0, clip_norm: float | None = None,
               validation_text: str | Sequence[int] | None = None,
               callbacks: Sequence[Callback] = (), verbose: int = 0, *,
               initial_epoch: int = 0, l2: float = 0.0) -> History:
    """Truncated BPTT over one long text (or token ids): ``batch_size`` parallel rows, chunks
    of ``bptt`` steps in order, the state carried across chunks (detached) and forgotten at
    each epoch's start, through ``dlkit.train.fit``. ``model(X, initial_state=s,
    return_state=True)`` must return ``(logits, state)`` (``CharLM`` does)."""
    if not _takes_state(model):
        raise TypeError(f"fit_stream: {type(model).__name__}.forward takes no initial_state / "
                        "return_state; use a CharLM")
    ids = vocab.encode(text) if isinstance(text, str) else [int(i) for i in text]
    chunks = tbptt_chunks(ids, batch_size, bptt, vocab.pad_id)
    val = None
    if validation_text is not None and len(validation_text):
        val_ids = vocab.encode(validation_text) if isinstance(validation_text, str) \
            else [int(i) for i in validation_text]
        rows = max(1, min(batch_size, len(val_ids) - 1))
        val = tbptt_chunks(val_ids, rows, bptt, vocab.pad_id)
    optimizer = optimizer if optimizer is not None else Adam(model.parameters(), lr=lr)
    return fit(model, None, optimizer, chunks, epochs=epochs, validation_data=val,
               callbacks=callbacks, metrics=(),
               step=LanguageModelStep(vocab.pad_id, carry_state=True),
               initial_epoch=initial_epoch, clip_value=clip_value, clip_norm=clip_norm,
               l2=l2, verbose=verbose)


def _takes_state(model: Module) -> bool:
    params = inspect.signature(model.forward).parameters
    return "initial_state" in params and "return_state" in params


__all__ = ["LanguageModelStep", "LinesBatches", "SampleText", "fit_lines", "fit_stream"]
