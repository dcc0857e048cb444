"""Skip-gram with negative sampling, words per second: dlkit vs gensim's Word2Vec (compiled C).

Same corpus and settings for both: sg=1, negative=5, window=5, dim=100, min_count=5,
sample=1e-3, one epoch, one worker (gensim ``workers=1``; dlkit is single-threaded, BLAS
limited to one thread). Each run is a fresh process (this script with ``--worker``), the two
libraries alternated for ``--rounds`` rounds; the vocabulary is built before the clock starts
for both. Prints the medians and the ratio dlkit / gensim, and writes them as JSON.

    python benchmarks/word2vec.py                      # the default corpus (Shakespeare)
    python benchmarks/word2vec.py --corpus text8 --max-words 2000000 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

SETTINGS = {"dim": 100, "window": 5, "negative": 5, "min_count": 5, "sample": 1e-3,
            "epochs": 1}


def sentences(corpus: str, max_words: int | None) -> list[list[str]]:
    from dlkit.text.embedding_data import default_corpus
    from dlkit.text.word_corpus import read_corpus_file
    sents = default_corpus()[1] if corpus == "default" else read_corpus_file(corpus)
    if max_words:
        out, n = [], 0
        for s in sents:
            out.append(s[:max_words - n])
            n += len(out[-1])
            if n >= max_words:
                break
        sents = out
    return sents


def run_dlkit(sents: list[list[str]]) -> float:
    from dlkit.text.word2vec import Word2Vec
    s = SETTINGS
    model = Word2Vec(dim=s["dim"], window=s["window"], negative=s["negative"],
                     min_count=s["min_count"], sample=s["sample"], seed=1)
    model.build_vocab(sents)
    n = sum(len(x) for x in sents)
    t0 = time.perf_counter()
    model.train(sents, epochs=s["epochs"])
    return n * s["epochs"] / (time.perf_counter() - t0)


def run_gensim(sents: list[list[str]]) -> float:
    from gensim.models import Word2Vec
    s = SETTINGS
    model = Word2Vec(vector_size=s["dim"], window=s["window"], negative=s["negative"],
                     min_count=s["min_count"], sample=s["sample"], sg=1, hs=0, workers=1,
                     seed=1)
    model.build_vocab(sents)
    n = sum(len(x) for x in sents)
    t0 = time.perf_counter()
    model.train(sents, total_examples=len(sents), epochs=s["epochs"])
    return n * s["epochs"] / (time.perf_counter() - t0)


def worker(lib: str, corpus: str, max_words: int | None) -> None:
    sents = sentences(corpus, max_words)
    rate = run_dlkit(sents) if lib == "dlkit" else run_gensim(sents)
    print(json.dumps({"lib": lib, "words_per_second": rate,
                      "words": sum(len(x) for x in sents)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="default")
    parser.add_argument("--max-words", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default="benchmarks/word2vec.json")
    parser.add_argument("--worker", choices=["dlkit", "gensim"], default=None)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.corpus, args.max_words)
        return
    try:
        import gensim  # noqa: F401
        libs = ["dlkit", "gensim"]
    except ImportError:
        print("gensim is not installed (pip install gensim): timing dlkit alone")
        libs = ["dlkit"]
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1"}
    rates: dict[str, list[float]] = {k: [] for k in libs}
    words = 0
    for _ in range(args.rounds):
        for lib in libs:
            cmd = [sys.executable, __file__, "--worker", lib, "--corpus", args.corpus]
            if args.max_words:
                cmd += ["--max-words", str(args.max_words)]
            line = subprocess.run(cmd, env=env, check=True, capture_output=True,
                                  text=True).stdout.strip().splitlines()[-1]
            result = json.loads(line)
            rates[lib].append(result["words_per_second"])
            words = result["words"]
            print(f"{lib:7s} {result['words_per_second']:>12,.0f} words/s")
    medians = {k: statistics.median(v) for k, v in rates.items()}
    summary = {"corpus": args.corpus, "words": words, "settings": SETTINGS,
               "words_per_second": medians, "samples": rates}
    print(f"corpus {args.corpus}: {words:,} words; medians of {args.rounds} rounds")
    for k, v in medians.items():
        print(f"  {k:7s} {v:>12,.0f} words/s")
    if "gensim" in medians:
        summary["ratio_dlkit_over_gensim"] = medians["dlkit"] / medians["gensim"]
        print(f"  dlkit / gensim = {summary['ratio_dlkit_over_gensim']:.2f} (goal >= 0.33)")
    with open(args.out, "w") as f:
        json.dump(summary, f, indent=2)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
