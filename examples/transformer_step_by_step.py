"""Course 5, week 4 programming exercise: Transformer networks, with dlkit's pieces.

1. Positional encoding: PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(...),
   the table as a picture (``output/positional_encoding.png``).
2. Masks: the padding mask (True where a token is not <PAD>) and the look-ahead (causal) mask.
3. Scaled dot-product attention softmax(q k^T / sqrt(d_k) + mask) v on the exercise's small
   inputs, the masked weights exactly 0.
4. The encoder-decoder: a small ``TransformerTranslator`` learns to reverse strings of
   symbols (a synthetic translation task), is decoded greedily with the key/value cache, and
   the attention weights of each head are drawn (``output/attention_heads_*.png``): the
   decoder's cross-attention of a trained reverser looks at the mirrored source position.

    python examples/transformer_step_by_step.py            # about half a minute
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import dlkit as dl
from dlkit.models.transformer_translator import TransformerTranslator
from dlkit.nn.transformer import sinusoidal_table
from dlkit.ops import causal_mask, padding_mask, scaled_dot_product_attention
from dlkit.plot_attention import plot_attention_heads, plot_positional_encoding

OUT = Path(__file__).resolve().parent / "output"
PAD, BOS, EOS = 0, 1, 2
SYMBOLS = "abcdefgh"  # token 3 + i


def reverse_task(rng, n, length=8):
    lengths = rng.integers(4, length + 1, n)
    src = np.zeros((n, length), np.int64)
    tgt = np.zeros((n, length + 1), np.int64)
    for i, k in enumerate(lengths):
        s = rng.integers(3, 3 + len(SYMBOLS), k)
        src[i, :k], tgt[i, :k], tgt[i, k] = s, s[::-1], EOS
    return src, tgt


def step(model, batch):
    src, tgt = (np.asarray(b.data) for b in batch)
    tgt_in = np.concatenate([np.full((len(tgt), 1), BOS), tgt[:, :-1]], 1)
    loss = dl.ops.cross_entropy(model(src, tgt_in), tgt, ignore_index=PAD)
    return dl.train.StepOutput(loss, size=int((tgt != PAD).sum()))


def greedy(model, src, n_steps):
    state, tokens, out = model.initial_state(src), np.full(len(src), BOS), []
    for _ in range(n_steps):
        log_probs, state = model.step(tokens, state)  # one position per token (the cache)
        tokens = log_probs.argmax(-1)
        out.append(tokens)
    return np.stack(out, 1)


def text(ids):
    return "".join(SYMBOLS[i - 3] if i >= 3 else {EOS: "|", PAD: "."}.get(i, "^") for i in ids)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    dl.manual_seed(0)

    # 1. positional encoding
    pe = sinusoidal_table(50, 64)
    print("PE(1, 0) = sin(1) =", round(pe[1, 0], 6), "  PE(1, 1) = cos(1) =", round(pe[1, 1], 6))
    print("wrote", plot_positional_encoding(pe, args.out / "positional_encoding.png"))

    # 2. masks
    ids = np.array([[7, 6, 0, 0, 0], [1, 2, 3, 0, 1]])
    print("padding mask of", ids.tolist(), "->", padding_mask(ids)[:, 0].astype(int).tolist())
    print("look-ahead mask (3):\n", causal_mask(3).astype(int))

    # 3. attention
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal((1, 4, 4)) for _ in range(3))
    out, w = scaled_dot_product_attention(q, k, v, causal_mask(4), return_weights=True)
    print("causal attention weights (rows sum to 1, the future is 0):\n",
          np.round(w.numpy()[0], 3))

    # 4. a Transformer that reverses strings
    src, tgt = reverse_task(rng, 3000)
    model = TransformerTranslator(3 + len(SYMBOLS), 3 + len(SYMBOLS), d_model=32, num_heads=4,
                                  num_encoder_layers=2, num_decoder_layers=2,
                                  dim_feedforward=64, dropout=0.0, norm_first=True)
    loader = dl.data.DataLoader(src, tgt, batch_size=64, shuffle=True)
    dl.train.fit(model, None, dl.optim.Adam(model.parameters(), lr=0.003), loader,
                 epochs=args.epochs, metrics=(), step=step, clip_norm=1.0)
    test_src, test_tgt = reverse_task(np.random.default_rng(1), 500)
    pred = greedy(model, test_src, test_tgt.shape[1])
    keep = test_tgt != PAD
    exact = np.mean([(pred[i][keep[i]] == test_tgt[i][keep[i]]).all() for i in range(500)])
    print(f"reverse task: exact match {exact:.1%} on 500 new strings")
    for i in range(3):
        print(f"  {text(test_src[i]):10s} -> {text(pred[i])}")

    example = test_src[:1]
    n = int((example != PAD).sum())
    tgt_in = np.concatenate([[[BOS]], pred[:1, :n]], 1)
    model.eval()
    with dl.no_grad():
        _, (enc_w, dec_w) = model(example, tgt_in, return_weights=True)
    src_labels = list(text(example[0][:n])) + ["."] * (example.shape[1] - n)
    tgt_labels = ["^"] + list(text(pred[0, :n]))
    for layer in range(len(dec_w)):
        path = plot_attention_heads(
            dec_w[layer][1].numpy()[0], args.out / f"attention_heads_cross_{layer}.png",
            query_labels=tgt_labels, key_labels=src_labels,
            title=f"decoder layer {layer}: cross-attention of each head")
        print("wrote", path)
    print("wrote", plot_attention_heads(enc_w[0].numpy()[0], args.out / "attention_heads_enc_0.png",
                                        query_labels=src_labels, key_labels=src_labels,
                                        title="encoder layer 0: self-attention of each head"))


if __name__ == "__main__":
    main()
