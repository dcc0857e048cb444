"""Course 5, week 1 programming exercise: Character level language model - Dinosaurus Island.

Part 1 is the exercise as the course runs it, with dlkit's pieces: the 1536 dinosaur names
(bundled with dlkit, lowercased), a character vocabulary, and an RNN over one-hot characters

    a<t> = tanh(Wax x<t> + Waa a<t-1> + b),   y_hat<t> = softmax(Wya a<t> + by),

n_a = 50, the weights drawn as randn * 0.01 and the biases zero (the course's
``initialize_parameters``), x<1> = the zero vector (``<EOS>`` here reads as zeros), y<t> =
x<t+1>, the last target the end of the name. One name per step: forward, the cost summed
over the name's characters, backward through time, ``clip(gradients, maxValue=5)`` (every
entry into [-5, 5]: ``dl.optim.clip_grad_value``), plain gradient descent with lr 0.01,
35000 iterations over the shuffled names; as the exercise, the hidden state at the end of
one name starts the next (``a_prev``). Every 2000 iterations it prints the smoothed cost
(loss = 0.999 loss + 0.001 cost, from 7 log|V|) and samples 7 names (``dl.text.sample``:
one character at a time, the state carried, until the end token or 50 characters).

Part 2 is the same task the library's way: ``dl.text.CharLM`` (embedding -> LSTM -> per-step
logits), mini-batches of 32 names padded and masked, Adam, clipping, 10 epochs, a dev set
for perplexity, and sampling with temperature, top-k (top-k 1 is greedy) and a prefix.

What the course reports: "Iteration: 0, Loss: 23.087336", then lower costs and names that
look more and more like dinosaurs' (endings such as -saurus, -don, -rex). Its vocabulary is 27
characters ('\\n' and a-z); dlkit's has 29 (<PAD>, <UNK>, <EOS> and a-z), so the starting
cost is 7 log 29 = 23.57 instead of 7 log 27 = 23.07.

    python examples/dinosaur_names.py            # about 15 s
    python examples/dinosaur_names.py --quick    # a few seconds
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

import dlkit as dl
from dlkit.text import CharLM, CharVocab


class OneHotRNN(dl.nn.Module):
    """The exercise's model: one-hot x<t> (the start token reads as the zero vector) ->
    a<t> = tanh(Waa a<t-1> + Wax x<t> + b) -> logits Wya a<t> + by. It takes token ids,
    so ``dl.text.sample`` and ``perplexity`` work on it as on a ``CharLM``."""

    def __init__(self, vocab_size: int, n_a: int = 50, start_id: int = 2) -> None:
        super().__init__()
        self.vocab_size, self.n_a, self.start_id = vocab_size, n_a, start_id
        self.rnn = dl.nn.RNN(vocab_size, n_a, return_sequences=True, return_state=True)
        self.head = dl.nn.TimeDistributed(dl.nn.Linear(n_a, vocab_size))
        rng = dl.backend.generator()  # the course's initialize_parameters: randn * 0.01, zeros
        dt = self.rnn.weight.dtype
        self.rnn.weight.data[...] = (rng.standard_normal(self.rnn.weight.shape) * 0.01).astype(dt)
        self.rnn.bias.data[...] = 0
        self.head.layer.weight.data[...] = (rng.standard_normal((vocab_size, n_a)) * 0.01
                                            ).astype(dt)
        self.head.layer.bias.data[...] = 0
        self.onehot = np.eye(vocab_size, dtype=dt)
        self.onehot[start_id] = 0  # x<1> = 0

    def forward(self, idx, initial_state=None, return_state=False):
        x = self.onehot[np.asarray(idx)]
        a, state = self.rnn(x, initial_state=initial_state)
        logits = self.head(a)
        return (logits, [state]) if return_state else logits


def capitalized(names: list[str]) -> list[str]:
    return [n[:1].upper() + n[1:] for n in names]


def course_style(names: list[str], vocab: CharVocab, iterations: int, every: int,
                 seed: int) -> None:
    print(f"Part 1: the exercise's RNN, one name per iteration, {iterations} iterations")
    print(f"{len(names)} names, {len(vocab)} tokens: {''.join(vocab.tokens[3:])} + <PAD> "
          f"<UNK> <EOS>")
    dl.manual_seed(seed)
    model = OneHotRNN(len(vocab), n_a=50, start_id=vocab.eos_id)
    optimizer = dl.optim.SGD(model.parameters(), lr=0.01)
    order = dl.backend.generator().permutation(len(names))
    examples = [vocab.encode(names[i]) for i in order]
    loss = -math.log(1.0 / len(vocab)) * 7  # the course's get_initial_loss(vocab_size, 7)
    a_prev = None
    start = time.perf_counter()
    for j in range(iterations):
        ids = examples[j % len(examples)]
        x, y = np.array([[vocab.eos_id, *ids]]), np.array([[*ids, vocab.eos_id]])
        optimizer.zero_grad()
        logits, (a_last,) = model(x, initial_state=a_prev, return_state=True)
        cost = dl.cross_entropy(logits, y, reduction="sum")  # L = sum_t L<t>
        cost.backward()
        dl.optim.clip_grad_value(model.parameters(), 5.0)   # clip(gradients, maxValue=5)
        optimizer.step()
        a_prev = a_last.detach()                              # the course carries a_prev
        loss = loss * 0.999 + float(cost.item()) * 0.001      # smooth(loss, cur_loss)
        if j % every == 0:
            print(f"Iteration: {j}, Loss: {loss:f}\n")
            # the exercise draws each name with its own seed: seed, seed + 1, ...
            for k in range(7):
                print(capitalized([dl.text.sample(model, vocab, seed=j + k)])[0])
            print()
    seconds = time.perf_counter() - start
    print(f"{iterations} iterations in {seconds:.1f} s; cost per character on all names "
          f"{dl.text.lm_loss(model, vocab, names):.4f} (perplexity "
          f"{dl.text.perplexity(model, vocab, names):.2f}; a uniform guess: "
          f"{math.log(len(vocab)):.4f}, {len(vocab)})\n")


def library_way(names: list[str], vocab: CharVocab, epochs: int, seed: int) -> None:
    print(f"Part 2: dl.text.CharLM (LSTM), mini-batches of 32 names, Adam, {epochs} epochs")
    dl.manual_seed(seed)
    order = dl.backend.generator().permutation(len(names))
    dev = [names[i] for i in order[:154]]
    train = [names[i] for i in order[154:]]
    model = CharLM(len(vocab), embed_dim=16, n_a=50, cell="lstm")
    printer = dl.text.SampleText(vocab, every=2, n=7, seed=seed, capitalize=True)
    start = time.perf_counter()
    history = dl.text.fit_lines(model, vocab, train, epochs=epochs, batch_size=32, lr=0.01,
                                clip_value=5.0, validation_lines=dev, callbacks=[printer])
    seconds = time.perf_counter() - start
    print(f"{epochs} epochs in {seconds:.1f} s: train loss {history['loss'][-1]:.4f}; dev "
          f"loss {history['val_loss'][-1]:.4f}, dev perplexity "
          f"{history['val_perplexity'][-1]:.2f} (uniform: {len(vocab)})")
    print("greedy (top_k=1):", capitalized([dl.text.sample(model, vocab, top_k=1)])[0])
    for temperature in (0.5, 1.0, 1.5):
        names_t = dl.text.sample_many(model, vocab, 6, temperature=temperature, seed=seed)
        print(f"temperature {temperature}: {', '.join(capitalized(names_t))}")
    print("top_k=3:", ", ".join(capitalized(dl.text.sample_many(model, vocab, 6, top_k=3,
                                                                 seed=seed))))
    print("prefix 'Tyr':", ", ".join(capitalized(dl.text.sample_many(model, vocab, 6,
                                                                       prefix="tyr",
                                                                       seed=seed))))
    novel = dl.text.sample_many(model, vocab, 200, seed=seed + 1)
    new = sum(n not in set(names) for n in novel)
    print(f"of 200 sampled names, {new} are not among the 1536 real ones")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--iterations", type=int, default=None,
                        help="part 1's iterations [default: 35000, --quick 4001]")
    parser.add_argument("--epochs", type=int, default=None,
                        help="part 2's epochs [default: 10, --quick 2]")
    parser.add_argument("--quick", action="store_true", help="fewer iterations and epochs")
    args = parser.parse_args()
    names = dl.text.dinosaur_names()
    vocab = CharVocab.from_corpus(names)
    iterations = args.iterations or (4001 if args.quick else 35000)
    course_style(names, vocab, iterations, every=2000, seed=args.seed)
    library_way(names, vocab, args.epochs or (2 if args.quick else 10), args.seed)


if __name__ == "__main__":
    main()
