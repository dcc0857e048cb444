"""Course 5, week 2 programming exercise: Emojify (sentiment classification with embeddings).

The exercise classifies short sentences into 5 emoji (heart, baseball, smile, disappointed,
fork and knife) with GloVe 50-d vectors: model 1 averages the words' vectors and applies
softmax; model 2 is Embedding (pretrained, frozen) -> LSTM(128, all steps) -> Dropout(0.5) ->
LSTM(128, last step) -> Dropout(0.5) -> Dense(5) -> softmax, the sentences padded to the
longest. The course's data (183 + 56 sentences) and GloVe are not distributed with dlkit:
here the labelled sentences are generated (``dl.text.sentiment_sentences``: 5 classes, with
negations such as "i am not happy", which only the sequence model can read), and the
pretrained vectors are skip-gram vectors learned on other, unlabelled generated sentences
(``--vectors FILE`` uses a GloVe / word2vec file instead). Both models train with
``dl.train.fit`` (Adam); the embeddings stay frozen.

What the course reports: model 1, train accuracy about 97%, test 85.7%; model 2, test about
82-93% depending on the run; model 1 misreads "not feeling happy", model 2 gets it.

    python examples/emojify.py            # about 20 s
    python examples/emojify.py --quick
"""

from __future__ import annotations

import argparse

from dlkit.text.embedding_data import EMOJI, EMOJI_CLASSES
from dlkit.text.sentiment import predict_sentiment, pretrained_vectors, train_sentiment
from dlkit.text.vectors import load_vectors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vectors", default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default="examples/output")
    args = parser.parse_args()
    vectors = load_vectors(args.vectors) if args.vectors else pretrained_vectors(
        dim=25, n_sentences=1500 if args.quick else 4000, seed=args.seed + 1)
    print(f"pretrained vectors: {vectors}")
    examples = ["i am not happy", "i am not excited", "what a wonderful day", "i love you",
                "let us have pasta for dinner", "we played golf today", "i lost my keys"]
    for kind, epochs, lr in [("average", 40, 0.1), ("lstm", 30, 0.01)]:
        result = train_sentiment(kind, vectors, epochs=epochs // (3 if args.quick else 1),
                                 lr=lr, seed=args.seed)
        name = "model 1 (average of embeddings)" if kind == "average" else "model 2 (LSTM)"
        print(f"{name}: train accuracy {100 * result.train_accuracy:.1f}%, test accuracy "
              f"{100 * result.test_accuracy:.1f}%")
        for s, p in zip(examples, predict_sentiment(result.model, result.vocab, examples),
                        strict=True):
            print(f"    {s:32s} {EMOJI[p]} ({EMOJI_CLASSES[p]})")


if __name__ == "__main__":
    main()
