"""Sequence to sequence (course 5 week 3): machine translation as a conditional language model

    P(y<1..T_y> | x) = prod_t P(y<t> | x, y<1..t-1>)

``Seq2Seq``: an encoder (RNN / GRU / LSTM, optionally bidirectional) reads x<1..T_x>; a decoder
(the same kind of cell) is a language model over the output whose state starts from the
encoder's summary (s<0> = tanh(W [a_forward<T_x>, a_backward<1>] + b)) and, with ``attention``
(``"course"``, ``"additive"``, ``"dot"``, ``"general"``: ``dlkit.nn.attention``), reads at each
step the context sum_t' alpha<t,t'> a<t'> next to the previous output's embedding.
Trained with teacher forcing: the decoder reads the reference y<t-1> (``<EOS>`` is the start
token, as in ``CharLM``) and predicts y<t>; the loss is the cross-entropy over the predicted
tokens, ``<PAD>`` ignored.

Training goes through ``dl.train.fit`` with ``Seq2SeqStep`` (batches (X, Y_in, Y_out)); decoding
through ``dlkit.text.decode`` with the model's ``decoder_state`` / ``step``. ``Translator``
bundles a model with its vocabularies: ``translate`` (greedy or beam search), ``log_probs``
(log P(y | x) of given outputs), ``attention_map``, ``evaluate`` (exact match, BLEU).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dlkit.backend import array_module
from dlkit.data.loader import DataLoader
from dlkit.errors import ShapeError
from dlkit.nn.attention import SCORES, AttentionDecoder, AttentionModel
from dlkit.nn.config import register
from dlkit.nn.linear import Linear
from dlkit.nn.module import Module
from dlkit.nn.recurrent import GRU, LSTM, RNN, Bidirectional, Embedding
from dlkit.ops.activation import tanh
from dlkit.ops.loss import cross_entropy
from dlkit.ops.shape import concat, getitem, reshape
from dlkit.tensor import Tensor, no_grad
from dlkit.text.bleu import bleu_score
from dlkit.text.decode import (
    beam_search,
    greedy_search,
    log_softmax_rows,
    sample_search,
    sequence_log_probs,
)
from dlkit.text.vocab import PAD_ID, Vocab
from dlkit.train.loop import fit
from dlkit.train.step import Step, StepOutput

CELLS = {"rnn": RNN, "gru": GRU, "lstm": LSTM}


@register
class Seq2Seq(Module):
    """Encoder-decoder (see the module docstring). ``model(X (m, T_x), Y_in (m, T_y))`` ->
    logits (m, T_y, V_out); ``return_attention=True`` adds alpha (m, T_y, T_x) (attention
    models only)."""

    feeds_previous = True

    def __init__(self, src_vocab_size: int, tgt_vocab_size: int, embed_dim: int = 32,
                 n_a: int = 64, n_s: int = 64, cell: str = "lstm", bidirectional: bool = True,
                 attention: str | None = "additive", hidden: int = 32, pad_id: int = PAD_ID,
                 dtype: Any = None) -> None:
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"Seq2Seq: unknown cell {cell!r}; expected one of {sorted(CELLS)}")
        if attention is not None and attention not in SCORES:
            raise ValueError(f"Seq2Seq: unknown attention {attention!r}; expected None or one "
                             f"of {SCORES}")
        self.src_vocab_size, self.tgt_vocab_size = src_vocab_size, tgt_vocab_size
        self.embed_dim, self.n_a, self.n_s, self.cell = embed_dim, n_a, n_s, cell
        self.bidirectional, self.attention, self.hidden = bidirectional, attention, hidden
        self.pad_id = pad_id
        self.n_enc = n_a * (2 if bidirectional else 1)
        self.src_embed = Embedding(src_vocab_size, embed_dim, padding_idx=pad_id, dtype=dtype)
        layer = CELLS[cell](embed_dim, n_a, return_sequences=True, dtype=dtype)
        self.encoder = Bidirectional(layer) if bidirectional else layer
        self.bridge = Linear(self.n_enc, n_s, init="xavier", dtype=dtype)
        self.tgt_embed = Embedding(tgt_vocab_size, embed_dim, dtype=dtype)
        if attention is None:
            self.decoder = CELLS[cell](embed_dim, n_s, return_sequences=True, return_state=True,
                                       dtype=dtype)
        else:
            self.decoder = AttentionDecoder(self.n_enc, n_s, embed_dim, cell, attention, hidden,
                                            dtype)
        self.output = Linear(n_s, tgt_vocab_size, init="xavier", dtype=dtype)

    @property
    def n_states(self) -> int:
        return 2 if self.cell == "lstm" else 1

    def _ids(self, X: Any, vocab_size: int, what: str) -> np.ndarray:
        X = np.asarray(getattr(X, "data", X))
        if X.ndim != 2:
            raise ShapeError(f"Seq2Seq: expected {what} token ids of shape (m, T), got "
                             f"{X.shape}")
        if X.dtype.kind not in "iu":
            raise TypeError(f"Seq2Seq: expected integer {what} token ids, got {X.dtype}")
        return X

    def encode(self, X: Any) -> tuple[Tensor, np.ndarray, list[Tensor]]:
        """(a (m, T_x, n_enc), mask (m, T_x), the decoder's initial states)."""
        X = self._ids(X, self.src_vocab_size, "source")
        mask = self.src_embed.mask(X)
        if not (mask.sum(axis=1) > 0).all():
            raise ValueError("Seq2Seq: every source needs at least one token that is not "
                             "padding (an empty line?)")
        rnn_mask = None if mask.all() else mask
        a = self.encoder(self.src_embed(X), mask=rnn_mask)
        # the summary: the forward state at the last step (carried over the padding) and the
        # backward state at the first
        last = getitem(a, (slice(None), -1, slice(0, self.n_a)))
        summary = concat([last, getitem(a, (slice(None), 0, slice(self.n_a, None)))], axis=-1) \
            if self.bidirectional else last
        s0 = tanh(self.bridge(summary))
        states = [s0]
        if self.cell == "lstm":
            states.append(Tensor(array_module(s0.data).zeros_like(s0.data)))
        return a, mask, states

    def forward(self, X: Any, Y_in: Any, return_attention: bool = False) -> Any:
        Y_in = self._ids(Y_in, self.tgt_vocab_size, "target")
        a, mask, states = self.encode(X)
        if len(Y_in) != a.shape[0]:
            raise ShapeError(f"Seq2Seq: expected {a.shape[0]} target rows to match the "
                             f"sources, got {len(Y_in)}")
        e = self.tgt_embed(Y_in)
        if self.attention is None:
            if return_attention:
                raise ValueError("Seq2Seq: return_attention needs a model with attention")
            s = self.decoder(e, initial_state=states)[0]
            alphas = None
        else:
            s, alphas = self.decoder(a, e, mask if not mask.all() else None, states)
        logits = self.output(s)
        return (logits, alphas) if return_attention else logits

    # ---- decoding (dlkit.text.decode's step-function interface) ------------------------
    def decoder_state(self, X: Any) -> list[np.ndarray]:
        """The state ``step`` starts from: [s, (c,) a, keys, mask] as arrays, one row per
        source."""
        with no_grad():
            a, mask, states = self.encode(X)
            out = [s.data for s in states]
            if self.attention is not None:
                out += [a.data, self.decoder.attention.keys(a).data, mask]
        return out

    def step(self, tokens: np.ndarray, state: list[np.ndarray]) -> tuple[np.ndarray, list]:
        """One decoder step: log P(y<t> | x, y<1..t-1>) (k, V) and the new state."""
        with no_grad():
            k = len(tokens)
            e = self.tgt_embed(np.asarray(tokens, dtype=np.int64)[:, None])  # (k, 1, E)
            states = [Tensor(s) for s in state[:self.n_states]]
            if self.attention is None:
                _, *new_states = self.decoder(e, initial_state=states)
                s, rest = new_states[0], []
            else:
                a, keys, mask = state[self.n_states:]
                mask_t = None if mask.all() else mask
                s, new_states, _ = self.decoder.step(reshape(e, (k, self.embed_dim)), states,
                                                     Tensor(a), Tensor(keys), mask_t)
                rest = [a, keys, mask]
            logp = log_softmax_rows(self.output(s).data)
        return logp, [x.data for x in new_states] + rest

    def get_config(self) -> dict[str, Any]:
        return {"src_vocab_size": self.src_vocab_size, "tgt_vocab_size": self.tgt_vocab_size,
                "embed_dim": self.embed_dim, "n_a": self.n_a, "n_s": self.n_s,
                "cell": self.cell, "bidirectional": self.bidirectional,
                "attention": self.attention, "hidden": self.hidden, "pad_id": self.pad_id,
                "dtype": self.output.weight.dtype.name}


# ---- data ------------------------------------------------------------------------------
def read_pairs(path: Any) -> list[tuple[str, str]]:
    """(source, target) pairs of a UTF-8 file, one pair a line, the two separated by a tab.
    Blank lines are skipped; a line without the two columns, or with an empty one, is a
    ValueError that names it."""
    from pathlib import Path

    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"{str(path)!r} is not UTF-8 text ({e.reason})") from None
    pairs = []
    for i, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        cols = line.split("\t")
        if len(cols) < 2:
            raise ValueError(f"{str(path)!r} line {i}: expected two tab-separated columns "
                             f"(source, target), got one: {line[:60]!r}")
        if len(cols) > 2:
            raise ValueError(f"{str(path)!r} line {i}: expected two tab-separated columns "
                             f"(source, target), got {len(cols)}")
        src, tgt = cols[0].strip(), cols[1].strip()
        if not src or not tgt:
            raise ValueError(f"{str(path)!r} line {i}: empty {'source' if not src else 'target'}")
        pairs.append((src, tgt))
    if not pairs:
        raise ValueError(f"{str(path)!r} has no pairs")
    return pairs


def encode_texts(texts: Sequence[str], vocab: Vocab, length: int | None = None,
                 what: str = "source") -> np.ndarray:
    """Token ids (m, T) padded with ``<PAD>`` (T = ``length`` or the longest). A text with a
    token outside the vocabulary, an empty text or one longer than ``length`` is a
    ValueError naming it."""
    rows = []
    for i, text in enumerate(texts):
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"line {i + 1}: empty {what} text")
        toks = vocab.tokenize(text)
        unknown = sorted({t for t in toks if t not in vocab.ids})
        if unknown:
            raise ValueError(f"line {i + 1}: {what} {text!r} has tokens outside the "
                             f"vocabulary: {' '.join(repr(t) for t in unknown)}")
        if length is not None and len(toks) > length:
            raise ValueError(f"line {i + 1}: {what} {text!r} has {len(toks)} tokens; the model "
                             f"reads at most {length}")
        rows.append([vocab.ids[t] for t in toks])
    T = length if length is not None else max((len(r) for r in rows), default=1)
    out = np.full((len(rows), T), vocab.pad_id, dtype=np.int64)
    for i, r in enumerate(rows):
        out[i, :len(r)] = r
    return out


def teacher_forcing(targets: np.ndarray, eos_id: int, pad_id: int = PAD_ID,
                    ) -> tuple[np.ndarray, np.ndarray]:
    """(Y_in, Y_out) from padded targets (m, T): Y_in = [<EOS>, y<1..T>] (the start token,
    then the reference), Y_out = [y<1..T>, <EOS>]: the decoder reads y<t-1>, predicts y<t>.
    Both (m, T + 1), padded with ``pad_id``."""
    m, T = targets.shape
    lengths = (targets != pad_id).sum(axis=1)
    Y_out = np.full((m, T + 1), pad_id, dtype=np.int64)
    Y_out[:, :T] = targets
    Y_out[np.arange(m), lengths] = eos_id
    Y_in = np.full((m, T + 1), pad_id, dtype=np.int64)
    Y_in[:, 0] = eos_id
    Y_in[:, 1:] = targets
    return Y_in, Y_out


class Seq2SeqStep(Step):
    """``fit``'s step for batches (X, Y_in, Y_out): cross-entropy of the decoder's logits
    against Y_out, ``<PAD>`` ignored, weighted by the number of predicted tokens; logs the
    per-token accuracy. For models that do not read Y_in (``AttentionModel``) it is unused."""

    def __init__(self, pad_id: int = PAD_ID) -> None:
        self.pad_id = pad_id

    def logits(self, model: Module, batch: Sequence[Any]) -> Tensor:
        X, Y_in = batch[0], batch[1]
        return model(X, Y_in) if getattr(model, "feeds_previous", False) else model(X)

    def __call__(self, model: Module, batch: Sequence[Any]) -> Any:
        Y_out = np.asarray(getattr(batch[2], "data", batch[2]))
        logits = self.logits(model, batch)
        loss = cross_entropy(logits, Y_out, ignore_index=self.pad_id)
        valid = Y_out != self.pad_id
        tokens = int(valid.sum())
        correct = float(((logits.data.argmax(-1) == Y_out) & valid).sum())
        return StepOutput(loss, size=tokens, logs={"token_accuracy": correct / max(tokens, 1)})

    def predict(self, model: Module, batch: Sequence[Any]) -> Any:
        return self.logits(model, batch)


def fit_seq2seq(model: Module, optimizer: Any, X: np.ndarray, Y_in: np.ndarray,
                Y_out: np.ndarray, epochs: int = 10, batch_size: int = 64,
                validation: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
                callbacks: Sequence[Any] = (), clip_norm: float | None = 5.0,
                pad_id: int = PAD_ID, verbose: int = 0) -> Any:
    """Train through ``dl.train.fit`` with ``Seq2SeqStep`` (batches (X, Y_in, Y_out) from a
    shuffled ``DataLoader``). Returns the History."""
    loader = DataLoader(X, Y_in, Y_out, batch_size=batch_size, shuffle=True)
    val = None
    if validation is not None:
        val = DataLoader(*validation, batch_size=256, shuffle=False)
    return fit(model, None, optimizer, loader, epochs=epochs, step=Seq2SeqStep(pad_id),
               validation_data=val, callbacks=callbacks, metrics=(), clip_norm=clip_norm,
               verbose=verbose)


# ---- using a trained model ---------------------------------------------------------------
class Translator:
    """A trained model with its vocabularies and lengths: texts in, texts out.

    ``model`` is a ``Seq2Seq`` (reads the previous output; ``<EOS>`` ends an output) or the
    exercise's ``AttentionModel`` (a fixed ``max_target_len`` outputs, no ``<EOS>``)."""

    def __init__(self, model: Module, src_vocab: Vocab, tgt_vocab: Vocab,
                 max_source_len: int, max_target_len: int) -> None:
        self.model, self.src_vocab, self.tgt_vocab = model, src_vocab, tgt_vocab
        self.max_source_len, self.max_target_len = max_source_len, max_target_len

    @property
    def uses_eos(self) -> bool:
        return getattr(self.model, "feeds_previous", False)

    def sources(self, texts: Sequence[str]) -> np.ndarray:
        return encode_texts(texts, self.src_vocab, self.max_source_len, "source")

    def _banned(self) -> list[int]:
        v = self.tgt_vocab
        return [v.pad_id, v.unk_id] + ([] if self.uses_eos else [v.eos_id])

    def _decode_ids(self, ids: Sequence[int]) -> str:
        return self.tgt_vocab.detokenize([self.tgt_vocab.token(i) for i in ids])

    def translate(self, texts: Sequence[str], beam_width: int = 1, alpha: float = 0.7,
                  n_best: int = 1, batch_size: int = 256, search: str = "auto",
                  temperature: float = 1.0, top_k: int | None = None,
                  seed: int | None = None) -> list[list[tuple[str, float]]]:
        """For each text, ``n_best`` outputs with their normalized scores. ``search``: "auto"
        (greedy search for B = 1 and n_best = 1, else beam search), "greedy", "beam", or
        "sample" (``n_best`` draws from softmax(log P / ``temperature``), the ``top_k`` most
        likely tokens only, seeded by ``seed``)."""
        if search not in ("auto", "greedy", "beam", "sample"):
            raise ValueError(f"translate: expected search 'auto', 'greedy', 'beam' or "
                             f"'sample', got {search!r}")
        X = self.sources(texts)
        eos = self.tgt_vocab.eos_id if self.uses_eos else -1
        greedy = search == "greedy" or (search == "auto" and beam_width == 1 and n_best == 1)
        if search == "sample":
            X = np.repeat(X, n_best, axis=0)
            rng_seed = seed
        out: list[list[tuple[str, float]]] = []
        was = self.model.training
        self.model.eval()
        try:
            for s in range(0, len(X), batch_size):
                xb = X[s:s + batch_size]
                with no_grad():
                    state = self.model.decoder_state(xb)
                start = np.full(len(xb), self.tgt_vocab.eos_id, dtype=np.int64)
                if search == "sample":
                    hyps = [[h] for h in sample_search(
                        self.model.step, state, start, eos, self.max_target_len,
                        temperature=temperature, top_k=top_k, banned_ids=self._banned(),
                        seed=rng_seed, alpha=alpha)]
                    rng_seed = None if rng_seed is None else rng_seed + 1
                elif greedy:
                    hyps = [[h] for h in greedy_search(
                        self.model.step, state, start, eos, self.max_target_len, alpha=alpha,
                        banned_ids=self._banned())]
                else:
                    hyps = beam_search(self.model.step, state, start, eos, beam_width,
                                       self.max_target_len, alpha, n_best,
                                       banned_ids=self._banned())
                out += [[(self._decode_ids(h.tokens), h.score) for h in hs] for hs in hyps]
        finally:
            self.model.train(was)
        if search == "sample":
            out = [[o[0] for o in out[i:i + n_best]] for i in range(0, len(out), n_best)]
        return out

    def log_probs(self, sources: Sequence[str], targets: Sequence[str]) -> np.ndarray:
        """log P(y | x) of each target (its ``<EOS>`` included for a ``Seq2Seq``)."""
        X = self.sources(sources)
        Y = [[self.tgt_vocab.index(t) for t in self.tgt_vocab.tokenize(y)] for y in targets]
        eos = self.tgt_vocab.eos_id if self.uses_eos else None
        with no_grad():
            state = self.model.decoder_state(X)
            return sequence_log_probs(self.model.step, state, self.tgt_vocab.eos_id, Y, eos,
                                      batch_size=len(X))

    def attention_map(self, text: str, output: str | None = None,
                      ) -> tuple[np.ndarray, list[str], list[str]]:
        """alpha (T_y, T_x) of ``text`` -> ``output`` (default: the greedy translation), with
        the input and output tokens (the output's ``<EOS>`` included for a ``Seq2Seq``)."""
        if output is None:
            output = self.translate([text])[0][0][0]
        X = self.sources([text])
        n_src = int((X[0] != self.src_vocab.pad_id).sum())
        out_tokens = self.tgt_vocab.tokenize(output)
        was = self.model.training
        self.model.eval()
        try:
            with no_grad():
                if self.uses_eos:
                    ids = encode_texts([output], self.tgt_vocab, None, "output") if output \
                        else np.zeros((1, 0), dtype=np.int64)
                    Y_in, _ = teacher_forcing(ids, self.tgt_vocab.eos_id, self.tgt_vocab.pad_id)
                    _, alphas = self.model(X, Y_in, return_attention=True)
                    out_tokens = out_tokens + ["<EOS>"]
                else:
                    _, alphas = self.model(X, return_attention=True)
        finally:
            self.model.train(was)
        a = alphas.data[0, :len(out_tokens), :n_src]
        return a, self.src_vocab.tokenize(text)[:n_src], out_tokens

    def evaluate(self, sources: Sequence[str], references: Sequence[str], beam_width: int = 1,
                 alpha: float = 0.7) -> dict[str, Any]:
        """Exact match and corpus BLEU (over the target vocabulary's tokens) of the
        translations; the outputs are returned too."""
        outs = [o[0][0] for o in self.translate(sources, beam_width, alpha)]
        exact = float(np.mean([o == r for o, r in zip(outs, references)]))
        tok = self.tgt_vocab.tokenize
        bleu = bleu_score([tok(o) for o in outs], [[tok(r)] for r in references])
        return {"exact_match": exact, "bleu": bleu.score, "outputs": outs}


def build_model(kind: str, src_vocab: Vocab, tgt_vocab: Vocab, max_target_len: int,
                **options: Any) -> Module:
    """``"seq2seq"``: ``Seq2Seq`` (options: embed_dim, n_a, n_s, cell, bidirectional,
    attention, hidden); ``"course"``: the exercise's ``AttentionModel`` (n_a, n_s, score);
    ``"transformer"``: ``TransformerTranslator`` (d_model, num_heads, num_encoder_layers,
    num_decoder_layers, dim_feedforward, dropout)."""
    if kind == "course":
        keep = {k: options[k] for k in ("n_a", "n_s", "hidden") if k in options}
        if "attention" in options and options["attention"]:
            keep["score"] = options["attention"]
        return AttentionModel(len(src_vocab), len(tgt_vocab), max_target_len, **keep)
    if kind == "seq2seq":
        return Seq2Seq(len(src_vocab), len(tgt_vocab), pad_id=src_vocab.pad_id, **options)
    if kind == "transformer":  # options: d_model, num_heads, num_encoder_layers, ...
        from dlkit.models.transformer_translator import TransformerTranslator
        return TransformerTranslator(len(src_vocab), len(tgt_vocab), pad_id=src_vocab.pad_id,
                                     **options)
    raise ValueError(f"build_model: unknown model {kind!r}; expected 'seq2seq', 'course' or "
                     "'transformer'")


def training_arrays(pairs: Sequence[tuple[str, str]], translator: Translator,
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(X, Y_in, Y_out) of (source, target) pairs for ``fit_seq2seq``."""
    X = translator.sources([p[0] for p in pairs])
    tv = translator.tgt_vocab
    eos_len = 1 if translator.uses_eos else 0
    Y = encode_texts([p[1] for p in pairs], tv, translator.max_target_len - eos_len, "target")
    if translator.uses_eos:
        Y_in, Y_out = teacher_forcing(Y, tv.eos_id, tv.pad_id)
    else:
        Y_in, Y_out = Y, Y
    return X, Y_in, Y_out


__all__ = ["Seq2Seq", "Seq2SeqStep", "Translator", "build_model", "encode_texts", "read_pairs",
           "fit_seq2seq", "teacher_forcing", "training_arrays"]
