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
  the model is stateful, so each chunk starts from the (detached) state the previous chunk
  ended in (gradients flow back at most ``bptt`` steps), and the state is reset at the start
  of each epoch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from dlkit.backend import generator
from dlkit.nn.module import Module
from dlkit.ops.loss import cross_entropy
from dlkit.optim.adam import Adam
from dlkit.optim.clip import clip_grad_norm, clip_grad_value
from dlkit.optim.optimizer import Optimizer
from dlkit.text.batching import lm_batch, tbptt_chunks
from dlkit.text.sampling import lm_loss, sample_many, stream_loss
from dlkit.text.vocab import Vocab
from dlkit.train.callbacks import Callback, ProgressBar
from dlkit.train.history import History
from dlkit.train.trainer import Trainer

Batches = Callable[[], Iterable[tuple[np.ndarray, np.ndarray]]]


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


def _check(name: str, epochs: int, clip_value: float | None, clip_norm: float | None) -> None:
    if epochs < 0:
        raise ValueError(f"{name}: expected epochs >= 0, got {epochs}")
    for label, value in (("clip_value", clip_value), ("clip_norm", clip_norm)):
        if value is not None and not value > 0:
            raise ValueError(f"{name}: expected {label} > 0 or None, got {value}")


def _fit(model: Module, optimizer: Optimizer, epochs: int, batches: Batches, n_batches: int,
         pad_id: int, clip_value: float | None, clip_norm: float | None,
         callbacks: Sequence[Callback], verbose: int,
         validate: Callable[[], float] | None,
         on_epoch_begin: Callable[[], None] | None = None) -> History:
    callbacks = list(callbacks)
    if verbose and not any(isinstance(cb, ProgressBar) for cb in callbacks):
        callbacks.append(ProgressBar())
    callbacks.sort(key=lambda cb: getattr(cb, "order", 0))
    history = History()
    trainer = Trainer(model, optimizer, history, callbacks, epochs=epochs,
                      steps_per_epoch=n_batches)
    for cb in callbacks:
        cb.trainer = trainer
    for cb in callbacks:
        cb.on_train_begin({})
    logs: dict[str, float] = {}
    for epoch in range(epochs):
        trainer.epoch = epoch
        if on_epoch_begin is not None:
            on_epoch_begin()
        for cb in callbacks:
            cb.on_epoch_begin(epoch, {})
        model.train()
        total, count, done = 0.0, 0, 0
        for batch, (X, Y) in enumerate(batches()):
            optimizer.zero_grad()
            loss = cross_entropy(model(X), Y, ignore_index=pad_id)
            loss.backward()
            if clip_value is not None:
                clip_grad_value(optimizer.params, clip_value)
            if clip_norm is not None:
                clip_grad_norm(optimizer.params, clip_norm)
            optimizer.step()
            trainer.step += 1
            done += 1
            value = float(loss.item())
            n = int((Y != pad_id).sum())
            total += value * n
            count += n
            for cb in callbacks:
                cb.on_batch_end(batch, {"loss": value})
            if trainer.stop_training:
                break
        trainer.epoch_completed = done == n_batches
        mean = total / max(count, 1)
        logs = {"loss": mean, "perplexity": math.exp(min(mean, 700.0))}
        if validate is not None:
            val = validate()
            logs.update(val_loss=val, val_perplexity=math.exp(min(val, 700.0)))
        logs["lr"] = optimizer.lr
        history.append(epoch, logs)
        for cb in callbacks:
            cb.on_epoch_end(epoch, logs)
        if trainer.stop_training:
            break
    for cb in callbacks:
        cb.on_train_end(dict(logs))
    return history


def fit_lines(model: Module, vocab: Vocab, lines: Sequence[str], epochs: int = 10,
              batch_size: int = 32, optimizer: Optimizer | None = None, lr: float = 0.01,
              clip_value: float | None = 5.0, clip_norm: float | None = None,
              validation_lines: Sequence[str] | None = None,
              callbacks: Sequence[Callback] = (), shuffle: bool = True,
              verbose: int = 0) -> History:
    """Train ``model`` (logits (m, T, |V|) from ids (m, T)) to predict each line's next
    token, x = [<EOS>] + line, y = line + [<EOS>]; mini-batches padded with ``<PAD>`` and
    masked. ``optimizer`` defaults to ``Adam(model.parameters(), lr)``; ``clip_value`` (the
    notes' maxValue, 5) and/or ``clip_norm`` clip after backward. Returns the ``History``."""
    _check("fit_lines", epochs, clip_value, clip_norm)
    if len(lines) == 0:
        raise ValueError("fit_lines: expected at least one line, got none")
    if batch_size < 1:
        raise ValueError(f"fit_lines: expected batch_size >= 1, got {batch_size}")
    encoded = [vocab.encode(s) for s in lines]
    optimizer = optimizer if optimizer is not None else Adam(model.parameters(), lr=lr)
    n_batches = -(-len(encoded) // batch_size)

    def batches() -> Iterable[tuple[np.ndarray, np.ndarray]]:
        order = generator().permutation(len(encoded)) if shuffle else np.arange(len(encoded))
        for s in range(0, len(order), batch_size):
            X, Y, _ = lm_batch([encoded[i] for i in order[s:s + batch_size]], vocab)
            yield X, Y

    validate = None
    if validation_lines is not None and len(validation_lines):
        def validate() -> float:
            return lm_loss(model, vocab, validation_lines)

    return _fit(model, optimizer, epochs, batches, n_batches, vocab.pad_id, clip_value,
                clip_norm, callbacks, verbose, validate)


def fit_stream(model: Module, vocab: Vocab, text: str | Sequence[int], epochs: int = 10,
               batch_size: int = 16, bptt: int = 64, optimizer: Optimizer | None = None,
               lr: float = 0.01, clip_value: float | None = 5.0, clip_norm: float | None = None,
               validation_text: str | Sequence[int] | None = None,
               callbacks: Sequence[Callback] = (), verbose: int = 0) -> History:
    """Truncated BPTT over one long text (or token ids): ``batch_size`` parallel rows, chunks
    of ``bptt`` steps in order, the state carried across chunks (detached: ``model`` is made
    stateful while it trains) and reset at each epoch's start. ``model`` needs a
    ``stateful`` attribute and ``reset_states()`` (``CharLM`` has both)."""
    _check("fit_stream", epochs, clip_value, clip_norm)
    if not hasattr(model, "reset_states") or not hasattr(model, "stateful"):
        raise TypeError(f"fit_stream: {type(model).__name__} has no stateful / reset_states; "
                        "use a CharLM")
    ids = vocab.encode(text) if isinstance(text, str) else [int(i) for i in text]
    chunks = tbptt_chunks(ids, batch_size, bptt, vocab.pad_id)
    optimizer = optimizer if optimizer is not None else Adam(model.parameters(), lr=lr)
    validate = None
    if validation_text is not None and len(validation_text):
        val_ids = vocab.encode(validation_text) if isinstance(validation_text, str) \
            else [int(i) for i in validation_text]
        rows = max(1, min(batch_size, len(val_ids) - 1))

        def validate() -> float:
            return stream_loss(model, val_ids, rows, bptt, vocab.pad_id)

    was = model.stateful
    model.stateful = True
    try:
        return _fit(model, optimizer, epochs, lambda: chunks, len(chunks), vocab.pad_id,
                    clip_value, clip_norm, callbacks, verbose, validate,
                    on_epoch_begin=model.reset_states)
    finally:
        model.stateful = was
        model.reset_states()


__all__ = ["SampleText", "fit_lines", "fit_stream"]
