"""TransformerTranslator: the encoder-decoder Transformer over token ids (machine
translation, the date task), teacher-forced for training and stepped with a key/value cache
for search.

    src (m, S) ids -> Embedding + positions -> encoder (padding mask) -> memory (m, S, d)
    tgt_in (m, T) ids ([<start>] + target[:-1]) -> Embedding + positions
        -> decoder (causal + padding mask; attends to the memory) -> Linear -> logits (m, T, V)

For greedy and beam search: ``initial_state(src)`` encodes the sources once and
``step(tokens, state)`` follows the decoding interface
``step_fn(tokens (k,) int64, state) -> (log_probs (k, V), new_state)``, the state a list of
arrays whose first axis is the k hypotheses: the source mask (k, S), each decoder layer's
cross-attention keys and values of the memory (k, h, S, d_k), and each layer's cache of
self-attention keys and values (k, h, t, d_k).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlkit.backend import to_numpy
from dlkit.nn.config import register
from dlkit.nn.linear import Linear
from dlkit.nn.module import Module
from dlkit.nn.recurrent import Embedding
from dlkit.nn.transformer import PositionalEncoding, Transformer
from dlkit.ops.attention import causal_mask
from dlkit.tensor import Tensor, no_grad
from dlkit.text.vocab import PAD_ID


def _ids(x: Any, name: str) -> np.ndarray:
    x = np.asarray(x.data if isinstance(x, Tensor) else to_numpy(x))
    if x.ndim != 2 or x.dtype.kind not in "iu":
        raise ValueError(f"TransformerTranslator: expected integer {name} ids of shape (m, T), "
                         f"got {x.dtype} {x.shape}")
    return x


@register
class TransformerTranslator(Module):
    """Source and target embeddings (``src_vocab``, ``tgt_vocab`` tokens), sinusoidal
    positions, ``dl.nn.Transformer`` and a Linear head to the target vocabulary.

    It plugs into ``dlkit.text.Translator`` as a ``Seq2Seq`` does: ``model(X, Y_in)``
    (teacher forcing), ``decoder_state(X)`` and ``step`` (search), ``return_attention``."""

    feeds_previous = True  # reads its previous output (dlkit.text.Translator)
    attention_head: int | None = None  # return_attention: this head, or the mean (None)

    def __init__(self, src_vocab: int, tgt_vocab: int, d_model: int = 64, num_heads: int = 4,
                 num_encoder_layers: int = 2, num_decoder_layers: int = 2,
                 dim_feedforward: int | None = None, dropout: float = 0.1, max_len: int = 512,
                 norm_first: bool = False, pad_id: int = PAD_ID, dtype: Any = None) -> None:
        super().__init__()
        self.src_vocab, self.tgt_vocab, self.d_model = int(src_vocab), int(tgt_vocab), \
            int(d_model)
        self.num_heads, self.max_len, self.pad_id = int(num_heads), int(max_len), int(pad_id)
        self.dim_feedforward = int(dim_feedforward or 4 * d_model)
        self.dropout_p, self.norm_first = float(dropout), bool(norm_first)
        self.src_embedding = Embedding(src_vocab, d_model, padding_idx=pad_id, dtype=dtype)
        self.tgt_embedding = Embedding(tgt_vocab, d_model, padding_idx=pad_id, dtype=dtype)
        self.positions = PositionalEncoding(d_model, max_len, dropout, dtype=dtype)
        self.transformer = Transformer(d_model, num_heads, num_encoder_layers,
                                       num_decoder_layers, self.dim_feedforward, dropout,
                                       norm_first=norm_first, dtype=dtype)
        self.head = Linear(d_model, tgt_vocab, init="xavier", dtype=dtype)

    def source_mask(self, src: np.ndarray) -> np.ndarray:
        """(m, S) True where the source token is not padding."""
        return src != self.pad_id

    def encode(self, src: Any, return_weights: bool = False) -> Any:
        """src (m, S) ids -> memory (m, S, d_model) (and each layer's weights)."""
        src = _ids(src, "source")
        x = self.positions(self.src_embedding(src))
        return self.transformer.encoder(x, self.source_mask(src)[:, None, :],
                                        return_weights=return_weights)

    def forward(self, src: Any, tgt_in: Any, return_weights: bool = False,
                return_attention: bool = False) -> Any:
        """Teacher forcing: logits (m, T, tgt_vocab) of the next target token at each step;
        ``return_weights``: also (encoder weights, decoder weights) per layer;
        ``return_attention``: also the last decoder layer's cross-attention averaged over
        the heads (or of head ``attention_head``), (m, T, S) (the alignment
        ``Translator.attention_map`` draws)."""
        src, tgt_in = _ids(src, "source"), _ids(tgt_in, "target")
        if src.shape[0] != tgt_in.shape[0]:
            raise ValueError(f"TransformerTranslator: {src.shape[0]} sources and "
                             f"{tgt_in.shape[0]} targets")
        memory, enc_w = self.encode(src, return_weights=True)
        t = tgt_in.shape[1]
        tgt_mask = causal_mask(t) & (tgt_in != self.pad_id)[:, None, :]
        tgt_mask |= np.eye(t, dtype=bool)  # a padded position attends to itself: finite rows
        y = self.positions(self.tgt_embedding(tgt_in))
        y, dec_w = self.transformer.decoder(y, memory, tgt_mask,
                                            self.source_mask(src)[:, None, :],
                                            return_weights=True)
        logits = self.head(y)
        if return_attention:
            w = dec_w[-1][1].data
            h = self.attention_head
            return logits, Tensor(w.mean(axis=1) if h is None else w[:, h])
        return (logits, (enc_w, dec_w)) if return_weights else logits

    # ---- the decoding interface ---------------------------------------------------------
    def initial_state(self, src: Any) -> list[np.ndarray]:
        """Encode the sources (k, S) once: [source mask (k, S), then per decoder layer the
        cross-attention K and V (k, h, S, d_k), then per layer the empty self-attention K and
        V caches (k, h, 0, d_k)]."""
        src = _ids(src, "source")
        was = self.training
        self.eval()
        try:
            with no_grad():
                memory = self.encode(src)
                mkv = self.transformer.decoder.memory_kv(memory)
        finally:
            self.train(was)
        d_k = self.d_model // self.num_heads
        empty = np.zeros((src.shape[0], self.num_heads, 0, d_k), self.head.weight.dtype)
        n = self.transformer.decoder.num_layers
        return [self.source_mask(src), *(a.data for kv in mkv for a in kv),
                *([empty] * (2 * n))]

    def decoder_state(self, src: Any) -> list[np.ndarray]:
        """``initial_state`` under the name ``dlkit.text.Translator`` calls."""
        return self.initial_state(src)

    def step(self, tokens: Any, state: Any) -> tuple[np.ndarray, list[np.ndarray]]:
        """``tokens`` (k,) int64 (the last token of each hypothesis) and the state -> the
        log-probabilities of the next token (k, tgt_vocab) and the new state."""
        n = self.transformer.decoder.num_layers
        state = list(state)
        src_mask = state[0]
        mkv = [(state[1 + 2 * i], state[2 + 2 * i]) for i in range(n)]
        past = [(state[1 + 2 * n + 2 * i], state[2 + 2 * n + 2 * i]) for i in range(n)]
        t = past[0][0].shape[2]
        tokens = np.asarray(tokens, dtype=np.int64).reshape(-1, 1)
        was = self.training
        self.eval()
        try:
            with no_grad():
                y = self.positions(self.tgt_embedding(tokens), offset=t)
                y, kvs = self.transformer.decoder(
                    y, None, None, src_mask[:, None, :], past_kv=None if t == 0 else past,
                    memory_kv=mkv, return_kv=True)
                logits = np.asarray(self.head(y).data[:, -1], np.float64)
        finally:
            self.train(was)
        z = logits - logits.max(-1, keepdims=True)
        log_probs = z - np.log(np.exp(z).sum(-1, keepdims=True))
        return log_probs, [src_mask, *state[1:1 + 2 * n], *(a.data for kv in kvs for a in kv)]

    def get_config(self) -> dict[str, Any]:
        return {"src_vocab": self.src_vocab, "tgt_vocab": self.tgt_vocab,
                "d_model": self.d_model, "num_heads": self.num_heads,
                "num_encoder_layers": self.transformer.encoder.num_layers,
                "num_decoder_layers": self.transformer.decoder.num_layers,
                "dim_feedforward": self.dim_feedforward, "dropout": self.dropout_p,
                "max_len": self.max_len, "norm_first": self.norm_first, "pad_id": self.pad_id,
                "dtype": self.head.weight.dtype.name}


__all__ = ["TransformerTranslator"]
