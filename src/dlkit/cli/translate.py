"""``dlkit translate``: sequence to sequence with attention (course 5 week 3).

    dlkit translate train                          # the date task: "3 may 1979" -> 1979-05-03
    dlkit translate train --pairs en-fr.tsv --level word --epochs 20 --out runs/enfr
    dlkit translate RUN "3 May 1979" --beam 5 --alpha 0.7 --n-best 3
    dlkit translate RUN "3 May 1979" --sample --n-best 5 --temperature 1.5 --seed 0
    dlkit translate evaluate RUN [--pairs dev.tsv] [--beam 3]   # exact match, BLEU, beam errors
    dlkit translate attention RUN "3 May 1979" --out map.png    # the attention map

``dlkit translate RUN TEXT...`` is short for ``dlkit translate run RUN TEXT...``. The run
folder holds ``model.safetensors``, ``source_vocab.json``, ``target_vocab.json``,
``config.json``, ``history.csv``, ``metrics.json``, ``dev.tsv`` (the held-out pairs) and
``attention.png``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click
import numpy as np

import dlkit as dl
from dlkit.cli import cli
from dlkit.cli.errors import UserError
from dlkit.cli.options import transformer_options
from dlkit.strategy import run_folder as rf
from dlkit.text.attention_plot import plot_attention
from dlkit.text.beam_analysis import beam_error_analysis
from dlkit.text.dates import TX, TY, date_pairs, human_vocab, machine_vocab
from dlkit.text.seq2seq import (
    Translator,
    build_model,
    fit_seq2seq,
    read_pairs,
    training_arrays,
)
from dlkit.text.vocab import CharVocab, WordVocab, load_vocab

CMD = "translate"
SRC_VOCAB, TGT_VOCAB, DEV = "source_vocab.json", "target_vocab.json", "dev.tsv"
MAP = "attention.png"


class DefaultToRun(click.Group):
    """A group whose first argument, when it names no subcommand, is a run folder:
    ``dlkit translate RUN TEXT`` runs ``dlkit translate run RUN TEXT``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


@cli.group(cls=DefaultToRun, invoke_without_command=True)
@click.pass_context
def translate(ctx: click.Context) -> None:
    """Sequence to sequence with attention: train, translate (greedy or beam search),
    evaluate (exact match, BLEU, beam-search error analysis), attention maps.

    dlkit translate RUN TEXT... is short for dlkit translate run RUN TEXT..."""
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


def _err(e: Exception, command: str) -> UserError:
    return UserError(str(e), f"{CMD} {command}")


def _write_pairs(path: Path, pairs: list[tuple[str, str]]) -> None:
    dl.io.atomic_write_bytes(path, "".join(f"{s}\t{t}\n" for s, t in pairs).encode(), CMD)


@translate.command("train")
@click.option("--pairs", "pairs_file", default=None, help="A UTF-8 file of source<TAB>target "
              "lines [default: the date task, generated].")
@click.option("--level", type=click.Choice(["char", "word"]), default="char", show_default=True,
              help="Tokens of a --pairs file: characters or words.")
@click.option("--n-train", type=click.IntRange(1), default=8000, show_default=True,
              help="Date task: training pairs to generate.")
@click.option("--n-dev", type=click.IntRange(1), default=1000, show_default=True,
              help="Date task: held-out pairs to generate.")
@click.option("--dev-size", type=click.FloatRange(0, 1, min_open=True, max_open=True),
              default=0.1, show_default=True, help="--pairs: fraction held out.")
@click.option("--model", "--arch", "kind", type=click.Choice(["seq2seq", "course", "transformer"]),
              default="seq2seq", show_default=True, help="seq2seq: encoder-decoder reading its "
              "previous output (beam search applies); course: the exercise's model exactly; "
              "transformer: an encoder-decoder Transformer (--d-model, --heads, --layers).")
@click.option("--cell", type=click.Choice(["lstm", "gru", "rnn"]), default="lstm",
              show_default=True)
@click.option("--attention", type=click.Choice(["additive", "course", "dot", "general",
                                                "none"]), default="additive",
              show_default=True, help="Attention scores (none: plain encoder-decoder).")
@click.option("--embed-dim", type=click.IntRange(1), default=16, show_default=True)
@click.option("--n-a", type=click.IntRange(1), default=32, show_default=True,
              help="Encoder units per direction.")
@click.option("--n-s", type=click.IntRange(1), default=64, show_default=True,
              help="Decoder (post-attention) units.")
@click.option("--hidden", type=click.IntRange(1), default=32, show_default=True,
              help="Units of the attention network (the exercise: 10).")
@transformer_options("Transformer: encoder layers and decoder layers.")
@click.option("--epochs", type=click.IntRange(1), default=6, show_default=True)
@click.option("--batch-size", type=click.IntRange(1), default=100, show_default=True)
@click.option("--lr", type=click.FloatRange(0, min_open=True), default=0.01, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", default=None, help="Run folder [default: runs/<task>-translate-<time>].")
@click.option("--progress/--no-progress", default=True, show_default=True)
def train_cmd(pairs_file: str | None, level: str, n_train: int, n_dev: int, dev_size: float,
              kind: str, cell: str, attention: str, embed_dim: int, n_a: int, n_s: int,
              hidden: int, d_model: int, heads: int, layers: int, epochs: int,
              batch_size: int, lr: float, seed: int, out: str | None, progress: bool) -> None:
    """Train a translation model and write a run folder."""
    command = f"{CMD} train"
    dl.manual_seed(seed)
    if pairs_file is None:
        task = "dates"
        train_pairs = date_pairs(n_train, seed=seed)
        dev_pairs = date_pairs(n_dev, seed=seed + 10_000)
        src_vocab, tgt_vocab = human_vocab(), machine_vocab()
        max_src, max_tgt = TX, TY
    else:
        task = Path(pairs_file).stem
        if not Path(pairs_file).is_file():
            raise UserError(f"--pairs: file {pairs_file!r} not found", command)
        try:
            pairs = read_pairs(pairs_file)
        except ValueError as e:
            raise _err(e, "train") from None
        if len(pairs) < 2:
            raise UserError(f"--pairs: {pairs_file!r} has {len(pairs)} pair; need at least 2 "
                            "(train and dev)", command)
        order = dl.backend.generator().permutation(len(pairs))
        n_held = min(max(1, round(dev_size * len(pairs))), len(pairs) - 1)
        dev_pairs = [pairs[i] for i in order[:n_held]]
        train_pairs = [pairs[i] for i in order[n_held:]]
        V = CharVocab if level == "char" else WordVocab
        src_vocab = V.from_corpus([s for s, _ in train_pairs])
        tgt_vocab = V.from_corpus([t for _, t in train_pairs])
        max_src = max(len(src_vocab.tokenize(s)) for s, _ in pairs)
        max_tgt = max(len(tgt_vocab.tokenize(t)) for _, t in pairs)
        dev_pairs = [(s, t) for s, t in dev_pairs
                     if all(x in src_vocab.ids for x in src_vocab.tokenize(s))
                     and all(x in tgt_vocab.ids for x in tgt_vocab.tokenize(t))] or dev_pairs[:0]
    if kind == "course" and pairs_file is not None:
        raise UserError("--model course is the exercise's fixed-length date model; use "
                        "--model seq2seq with --pairs", command)
    options = dict(embed_dim=embed_dim, n_a=n_a, n_s=n_s, cell=cell,
                   attention=None if attention == "none" else attention, hidden=hidden)
    if kind == "course":
        if attention == "none":
            raise UserError("--model course always has attention", command)
        options = dict(n_a=n_a, n_s=n_s, attention=attention, hidden=hidden)
    if kind == "transformer":
        if d_model % heads:
            raise UserError(f"--d-model {d_model} is not divisible by --heads {heads}", command)
        options = dict(d_model=d_model, num_heads=heads, num_encoder_layers=layers,
                       num_decoder_layers=layers, dim_feedforward=2 * d_model, dropout=0.0,
                       norm_first=True)
    max_out = max_tgt + (0 if kind == "course" else 1)  # room for <EOS>
    model = build_model(kind, src_vocab, tgt_vocab, max_out, **options)
    translator = Translator(model, src_vocab, tgt_vocab, max_src, max_out)
    try:
        arrays = training_arrays(train_pairs, translator)
    except ValueError as e:
        raise _err(e, "train") from None
    folder = rf.new_run_folder(out, f"{task}-translate")
    opt = dl.optim.Adam(model.parameters(), lr=lr)
    click.echo(f"{task}: {len(train_pairs)} train / {len(dev_pairs)} dev pairs; vocabularies "
               f"{len(src_vocab)} -> {len(tgt_vocab)} tokens; {kind} model "
               f"({model.num_parameters()} parameters), "
               + (f"d_model {d_model}, {heads} heads, {layers}+{layers} layers"
                  if kind == "transformer" else f"attention {attention}") + f"; adam lr={lr:g}")
    start = time.perf_counter()
    history = fit_seq2seq(model, opt, *arrays, epochs=epochs, batch_size=batch_size,
                          callbacks=[dl.train.CSVLogger(str(folder / rf.HISTORY))],
                          verbose=int(progress), pad_id=tgt_vocab.pad_id)
    seconds = time.perf_counter() - start
    metrics: dict[str, Any] = {"epochs": len(history), "seconds": round(seconds, 2),
                               "loss": history.history["loss"][-1]}
    if dev_pairs:
        r = translator.evaluate([s for s, _ in dev_pairs], [t for _, t in dev_pairs])
        metrics.update(dev_exact_match=r["exact_match"], dev_bleu=r["bleu"])
    dl.io.save(model, folder / rf.MODEL)
    src_vocab.save(folder / SRC_VOCAB)
    tgt_vocab.save(folder / TGT_VOCAB)
    _write_pairs(folder / DEV, dev_pairs)
    rf.write_json(folder / rf.CONFIG, {
        "dlkit_version": dl.__version__, "command": "translate", "task": task,
        "model": kind, "options": {**options, "epochs": epochs, "batch_size": batch_size,
                                   "lr": lr, "seed": seed},
        "max_source_len": max_src, "max_target_len": max_out,
        "split": {"train": len(train_pairs), "dev": len(dev_pairs)}})
    rf.write_json(folder / rf.METRICS, metrics)
    example = (dev_pairs or train_pairs)[0][0]
    alpha, src, outs = translator.attention_map(example)
    plot_attention(alpha, src, outs, folder / MAP, title=f"attention: {example!r}")
    line = f"trained {len(history)} epochs in {seconds:.1f} s; final loss {metrics['loss']:.4f}"
    if dev_pairs:
        line += (f"; dev exact match {100 * metrics['dev_exact_match']:.1f}%, BLEU "
                 f"{100 * metrics['dev_bleu']:.2f}")
    click.echo(line)
    click.echo(f"wrote {folder}/ (model.safetensors, {SRC_VOCAB}, {TGT_VOCAB}, config.json, "
               f"history.csv, metrics.json, {DEV}, {MAP})")


def load_translator(run: str, command: str) -> tuple[Translator, Path, dict[str, Any]]:
    """The Translator of a ``dlkit translate train`` run folder."""
    cmd = f"{CMD} {command}"
    folder = rf.run_folder(run, cmd)
    config = rf.read_json(folder, rf.CONFIG, cmd)
    if config.get("command") != "translate":
        raise UserError(f"{run!r} was not written by dlkit translate train", cmd)
    for name in (rf.MODEL, SRC_VOCAB, TGT_VOCAB):
        if not (folder / name).exists():
            raise UserError(f"{run!r} has no {name}; was the training run finished?", cmd)
    try:
        src_vocab, tgt_vocab = load_vocab(folder / SRC_VOCAB), load_vocab(folder / TGT_VOCAB)
        model = dl.io.load(folder / rf.MODEL)
    except ValueError as e:
        raise _err(e, command) from None
    tr = Translator(model, src_vocab, tgt_vocab, int(config["max_source_len"]),
                    int(config["max_target_len"]))
    return tr, folder, config


def _check_beam(beam: int, command: str) -> None:
    if beam < 1:
        raise UserError(f"--beam: expected a beam width B >= 1 (1 is greedy search), got {beam}",
                        f"{CMD} {command}")


def _check_texts(texts: tuple[str, ...] | list[str], tr: Translator, command: str) -> None:
    try:
        tr.sources(list(texts))
    except ValueError as e:
        raise _err(e, command) from None


@translate.command("run")
@click.argument("run")
@click.argument("texts", nargs=-1)
@click.option("--beam", type=int, default=1, show_default=True,
              help="Beam width B (1: greedy search).")
@click.option("--alpha", type=click.FloatRange(0), default=0.7, show_default=True,
              help="Length normalization 1/T_y^alpha (0: none).")
@click.option("--n-best", type=int, default=1, show_default=True,
              help="Print the N best outputs with their scores (N <= --beam).")
@click.option("--sample", is_flag=True, help="Draw outputs instead of searching (N = "
              "--n-best draws per text).")
@click.option("--temperature", type=float, default=1.0, show_default=True,
              help="--sample: divide the log probabilities by this (< 1: safer).")
@click.option("--top-k", type=int, default=None, help="--sample: from the K most likely "
              "tokens only.")
@click.option("--seed", type=int, default=None, help="--sample: repeat the same draws.")
def run_cmd(run: str, texts: tuple[str, ...], beam: int, alpha: float, n_best: int,
            sample: bool, temperature: float, top_k: int | None, seed: int | None) -> None:
    """Translate TEXTS with the model of RUN (one output a line)."""
    if not texts:
        raise UserError("give the text to translate: dlkit translate RUN TEXT...", f"{CMD} run")
    _check_beam(beam, "run")
    if n_best < 1:
        raise UserError(f"--n-best: expected at least 1, got {n_best}", f"{CMD} run")
    if sample:
        if not temperature > 0:
            raise UserError(f"--temperature: expected a value > 0, got {temperature}",
                            f"{CMD} run")
        if top_k is not None and top_k < 1:
            raise UserError(f"--top-k: expected at least 1, got {top_k}", f"{CMD} run")
    elif n_best > beam:
        raise UserError(f"--n-best {n_best} needs a beam at least as wide: --beam {n_best}",
                        f"{CMD} run")
    tr, _, _ = load_translator(run, "run")
    _check_texts(texts, tr, "run")
    results = tr.translate(list(texts), beam, alpha, n_best,
                           search="sample" if sample else "auto", temperature=temperature,
                           top_k=top_k, seed=seed)
    for text, outs in zip(texts, results):
        if n_best == 1:
            click.echo(outs[0][0] if len(texts) == 1 else f"{text}\t{outs[0][0]}")
            continue
        click.echo(text)
        for k, (o, score) in enumerate(outs, start=1):
            click.echo(f"  {k}. {o}\t(score {score:.4f})")


@translate.command("evaluate")
@click.argument("run")
@click.option("--pairs", "pairs_file", default=None, help="source<TAB>reference lines "
              "[default: the run's dev.tsv].")
@click.option("--beam", type=int, default=3, show_default=True, help="Beam width B.")
@click.option("--alpha", type=click.FloatRange(0), default=0.7, show_default=True)
@click.option("--rows", type=click.IntRange(0), default=10, show_default=True,
              help="Errors shown in the beam-search error analysis table.")
def evaluate_cmd(run: str, pairs_file: str | None, beam: int, alpha: float, rows: int) -> None:
    """Exact match and BLEU of greedy and beam search, and the beam-search error analysis."""
    _check_beam(beam, "evaluate")
    tr, folder, _ = load_translator(run, "evaluate")
    path = Path(pairs_file) if pairs_file else folder / DEV
    if not path.is_file():
        raise UserError(f"--pairs: file {str(path)!r} not found", f"{CMD} evaluate")
    try:
        pairs = read_pairs(path)
        tr.sources([s for s, _ in pairs])
    except ValueError as e:
        raise _err(e, "evaluate") from None
    src, ref = [s for s, _ in pairs], [t for _, t in pairs]
    for name, b in (("greedy", 1), (f"beam B={beam}", beam)):
        t0 = time.perf_counter()
        r = tr.evaluate(src, ref, b, alpha)
        dt = time.perf_counter() - t0
        click.echo(f"{name:12s} exact match {100 * r['exact_match']:6.2f}%  BLEU "
                   f"{100 * r['bleu']:6.2f}  ({len(src) / dt:.0f} sequences/s)")
    report = beam_error_analysis(tr, src, ref, beam, alpha, outputs=r["outputs"])
    click.echo("beam-search error analysis:")
    click.echo(report.table(rows))


@translate.command("attention")
@click.argument("run")
@click.argument("text")
@click.option("--out", default="attention.png", show_default=True, help="The PNG to write.")
@click.option("--head", default=None, help="Transformer: 'all' (one panel per head of the "
              "last decoder layer) or a head number [default: the mean over the heads].")
def attention_cmd(run: str, text: str, out: str, head: str | None) -> None:
    """Draw the attention map of TEXT (output characters against input characters)."""
    tr, _, _ = load_translator(run, "attention")
    _check_texts([text], tr, "attention")
    output = tr.translate([text])[0][0][0]
    if head is not None:
        path = _head_maps(tr, text, output, head, out)
    else:
        alpha, src, outs = tr.attention_map(text, output)
        path = plot_attention(alpha, src, outs, out, title=f"{text!r} -> {output!r}")
    click.echo(f"{output}\nwrote {path}")


def _head_maps(tr: Translator, text: str, output: str, head: str, out: str) -> Path:
    """``--head all`` or ``--head N``: the cross-attention of each head (or head N) of a
    Transformer's last decoder layer, one panel each."""
    from dlkit.models.transformer_translator import TransformerTranslator
    from dlkit.plot_attention import plot_attention_heads

    cmd = f"{CMD} attention"
    model = tr.model
    if not isinstance(model, TransformerTranslator):
        raise UserError("--head applies to a Transformer (a run of translate train --arch "
                        "transformer)", cmd)
    n = model.num_heads
    if head != "all" and not (head.isdigit() and int(head) < n):
        raise UserError(f"--head: expected 'all' or a head number in 0..{n - 1}, got {head!r}",
                        cmd)
    maps = []
    try:
        for h in range(n):
            model.attention_head = h
            alpha, src, outs = tr.attention_map(text, output)
            maps.append(alpha)
    finally:
        model.attention_head = None
    return plot_attention_heads(np.stack(maps), out, query_labels=outs, key_labels=src,
                                title=f"{text!r} -> {output!r}",
                                heads=None if head == "all" else [int(head)])
