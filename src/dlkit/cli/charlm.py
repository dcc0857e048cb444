"""``dlkit charlm``: train a character-level language model (the course's Dinosaurus Island
exercise) and write a run folder; ``dlkit sample``: draw texts from one.

    dlkit charlm                                  # LSTM on the bundled dinosaur names
    dlkit charlm --corpus names.txt --cell gru --epochs 30 --out runs/names
    dlkit charlm --corpus book.txt --mode stream --bptt 64   # truncated BPTT over the text
    dlkit sample runs/names --n 10 --temperature 0.8 --top-k 5 --seed 3

The run folder holds ``model.safetensors`` (``dl.io.load``), ``vocab.json``
(``dl.text.load_vocab``), ``config.json``, ``history.csv`` (loss and perplexity per epoch),
``metrics.json`` (final loss and perplexity on the train and dev lines) and ``samples.txt``.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import click

import dlkit as dl
from dlkit import recipes
from dlkit.cli import cli
from dlkit.cli.errors import UserError
from dlkit.cli.options import transformer_options
from dlkit.models.transformer_lm import TransformerLM
from dlkit.strategy import run_folder as rf
from dlkit.text import CELLS, CharLM, CharVocab, SampleText, fit_lines, fit_stream
from dlkit.text.corpus import BUNDLED, bundled_text, read_text, split_lines

CMD, SAMPLE = "charlm", "sample"
VOCAB, SAMPLES = "vocab.json", "samples.txt"
DEFAULTS: dict[str, Any] = {
    "corpus": "dinos", "mode": "lines", "cell": "lstm", "embed_dim": 16, "n_a": 50,
    "epochs": 10, "batch_size": 32, "bptt": 64, "optimizer": "adam", "lr": 0.01,
    "clip_value": 5.0, "clip_norm": None, "lower": None, "dev_size": 0.1,
    "early_stopping": None, "sample_every": 2, "samples": 7, "max_len": 50,
    "temperature": 1.0, "top_k": None, "seed": 1, "out": None, "progress": True,
    "checkpoint_every": 1, "overwrite": False, "device": "cpu",
    "arch": "rnn", "d_model": 32, "heads": 4, "layers": 2,
}


def load_corpus(corpus: str, lower: bool, command: str = CMD) -> list[str]:
    """The non-empty lines of the bundled corpus ``corpus`` or of the file at that path."""
    option = "--dataset" if command == "train" else "--corpus"
    if corpus in BUNDLED:
        text = bundled_text(corpus)
    else:
        path = Path(corpus)
        if not path.is_file():
            raise UserError(f"{option}: {corpus!r} is neither a bundled corpus "
                            f"({', '.join(BUNDLED)}) nor a file", command)
        try:
            text = read_text(path)
        except ValueError as e:
            raise UserError(f"{option}: {e}", command) from None
    lines = split_lines(text, lower)
    if not lines:
        raise UserError(f"{option}: {corpus!r} is empty (no non-empty lines)", command)
    return lines


def split_dev(lines: list[str], dev_size: float, mode: str) -> tuple[list[str], list[str]]:
    """Lines mode: a random dev set (dlkit's generator); stream mode: the last lines."""
    n_dev = int(round(dev_size * len(lines)))
    n_dev = min(n_dev, len(lines) - 1)
    if n_dev <= 0:
        return lines, []
    if mode == "stream":
        return lines[:-n_dev], lines[-n_dev:]
    order = dl.backend.generator().permutation(len(lines))
    return [lines[i] for i in order[n_dev:]], [lines[i] for i in order[:n_dev]]


def stream_ids(vocab: CharVocab, lines: list[str]) -> list[int]:
    """<EOS> line <EOS> line <EOS> ...: the stream truncated BPTT reads."""
    ids = [vocab.eos_id]
    for line in lines:
        ids += vocab.encode(line, add_eos=True)
    return ids


def evaluate_lm(model: CharLM, vocab: CharVocab, lines: list[str], mode: str, batch_size: int,
                bptt: int) -> dict[str, float]:
    if mode == "stream":
        ids = stream_ids(vocab, lines)
        rows = max(1, min(batch_size, len(ids) - 1))
        loss = dl.text.stream_loss(model, ids, rows, bptt, vocab.pad_id)
    else:
        loss = dl.text.lm_loss(model, vocab, lines)
    return {"loss": loss, "perplexity": math.exp(min(loss, 700.0))}


def train_charlm(command: str = CMD, resume_from: Path | None = None, **given: Any) -> Path:
    """Train a character-level language model with the options ``given`` (the rest take
    ``DEFAULTS``); print samples as it trains and the final loss and perplexity; write the
    run folder and return it. ``resume_from``: continue that run folder from its checkpoint
    (``given`` then holds the run's own options)."""
    unknown = sorted(set(given) - set(DEFAULTS))
    if unknown:
        raise TypeError(f"train_charlm: unknown options {unknown}")
    o = {**DEFAULTS, **given}
    if o["mode"] not in ("lines", "stream"):
        raise UserError(f"--mode: expected lines or stream, got {o['mode']!r}", command)
    if o["cell"] not in CELLS:
        raise UserError(f"--cell: expected one of {', '.join(CELLS)}, got {o['cell']!r}", command)
    if not o["temperature"] > 0:
        raise UserError(f"--temperature: expected a value > 0, got {o['temperature']}", command)
    if not 0 <= o["dev_size"] < 1:
        raise UserError(f"--dev-size: expected a fraction in [0, 1), got {o['dev_size']}",
                        command)
    for name in ("epochs", "batch_size", "bptt", "embed_dim", "n_a", "samples", "max_len"):
        if int(o[name]) < 1:
            raise UserError(f"--{name.replace('_', '-')}: expected a positive integer, got "
                            f"{o[name]}", command)
    if o["early_stopping"] is not None and o["dev_size"] == 0:
        raise UserError("--early-stopping watches the dev loss: give a --dev-size > 0", command)
    if o["lower"] is None:
        o["lower"] = o["corpus"] in BUNDLED
    clip_value = o["clip_value"] or None
    clip_norm = o["clip_norm"] or None
    try:
        device = dl.device(o["device"])
    except (dl.DeviceError, ValueError, TypeError) as e:
        raise UserError(f"--device {o['device']}: {e}", command) from None

    dl.manual_seed(o["seed"])
    lines = load_corpus(o["corpus"], o["lower"], command)
    train_lines, dev_lines = split_dev(lines, o["dev_size"], o["mode"])
    vocab = CharVocab.from_corpus(train_lines, lower=o["lower"])
    if o["mode"] == "stream" and len(stream_ids(vocab, train_lines)) - 1 < o["batch_size"]:
        raise UserError(f"the training text has {len(stream_ids(vocab, train_lines)) - 1} "
                        f"character pairs, too few for --batch-size {o['batch_size']} parallel "
                        "rows in stream mode: lower --batch-size", command)
    model = CharLM(len(vocab), o["embed_dim"], o["n_a"], o["cell"]) if o["arch"] == "rnn" \
        else transformer_charlm(o, len(vocab), command)
    optimizer = recipes.make_optimizer(o["optimizer"], model.parameters(), o["lr"],
                                       command=command)
    name = o["corpus"] if o["corpus"] in BUNDLED else Path(o["corpus"]).stem
    folder = resume_from if resume_from is not None else rf.new_run_folder(
        o["out"], f"{name}-charlm-{o['cell']}", o["overwrite"], command)
    options = {k: o[k] for k in DEFAULTS}
    vocab.save(folder / VOCAB)
    rf.write_json(folder / rf.CONFIG, {
        "dlkit_version": dl.__version__, "command": "charlm", "task": "charlm",
        "status": rf.RUNNING, "options": options, "vocab_size": len(vocab),
        "capitalize": bool(o["lower"]), "split": {"train": len(train_lines),
                                                   "dev": len(dev_lines)},
        "loss": "cross_entropy"})
    callbacks: list[Any] = [dl.train.TerminateOnNaN(raise_error=True, lr_option="--lr")]
    if o["sample_every"]:
        callbacks.append(SampleText(vocab, every=o["sample_every"], n=o["samples"],
                                    max_len=o["max_len"], temperature=o["temperature"],
                                    top_k=o["top_k"], seed=o["seed"], capitalize=o["lower"],
                                    print_fn=click.echo))
    if o["early_stopping"] is not None:
        callbacks += recipes.standard_callbacks(optimizer, early_stopping=o["early_stopping"])
    if o["checkpoint_every"]:
        callbacks.append(dl.train.ModelCheckpoint(folder / rf.CHECKPOINT,
                                                  every=o["checkpoint_every"]))
    initial_epoch = 0
    if resume_from is not None:
        initial_epoch = dl.io.load_checkpoint(folder / rf.CHECKPOINT, model, optimizer,
                                              callbacks=callbacks)["epoch"]
        rf.truncate_history(folder / rf.HISTORY, initial_epoch)
    model.to(device)  # the optimizer's state follows; the batches' ids follow the weights
    callbacks.append(dl.train.CSVLogger(str(folder / rf.HISTORY),
                                        append=resume_from is not None))
    n_chars = len(vocab) - len(dl.text.SPECIALS)
    unit = "lines" if o["mode"] == "lines" else "lines as one stream"
    clip = ", ".join(f"clip {k} {v:g}" for k, v in (("value", clip_value), ("norm", clip_norm))
                     if v is not None) or "no clipping"
    click.echo(f"{name}: {len(train_lines)} train / {len(dev_lines)} dev {unit}; vocabulary "
               f"{len(vocab)} tokens ({n_chars} characters + <PAD> <UNK> <EOS>); model "
               + (f"{o['cell']} embed {o['embed_dim']} n_a {o['n_a']} " if o["arch"] == "rnn"
                  else f"transformer d_model {o['d_model']} heads {o['heads']} layers "
                       f"{o['layers']} ")
               + f"({model.num_parameters()} parameters); {o['optimizer']} lr={o['lr']:g}, "
               f"{clip}" + (f"; resuming after epoch {initial_epoch}" if initial_epoch else ""))
    start = time.perf_counter()
    common = dict(epochs=o["epochs"], batch_size=o["batch_size"], optimizer=optimizer,
                  clip_value=clip_value, clip_norm=clip_norm, callbacks=callbacks,
                  verbose=int(o["progress"]), initial_epoch=initial_epoch)
    try:
        if o["mode"] == "lines":
            fit_lines(model, vocab, train_lines, validation_lines=dev_lines or None, **common)
        else:
            fit_stream(model, vocab, stream_ids(vocab, train_lines), bptt=o["bptt"],
                       validation_text=stream_ids(vocab, dev_lines) if dev_lines else None,
                       **common)
    except UserError:
        rf.set_status(folder, rf.FAILED)
        raise
    history = dl.train.History.from_csv(folder / rf.HISTORY)
    seconds = time.perf_counter() - start
    model.to("cpu")  # evaluation, sampling and files on the host
    results = {"train": evaluate_lm(model, vocab, train_lines, o["mode"], o["batch_size"],
                                    o["bptt"])}
    if dev_lines:
        results["dev"] = evaluate_lm(model, vocab, dev_lines, o["mode"], o["batch_size"],
                                     o["bptt"])
    final = dl.text.sample_many(model, vocab, o["samples"], o["max_len"], o["temperature"],
                                o["top_k"], seed=o["seed"])
    if o["lower"]:
        final = [t[:1].upper() + t[1:] for t in final]
    dl.io.save(model, folder / rf.MODEL)
    ran = len(history)
    rf.write_json(folder / rf.METRICS, {**results, "epochs": ran, "seconds": round(seconds, 3),
                                        "uniform_perplexity": len(vocab)})
    dl.io.atomic_write_bytes(folder / SAMPLES, ("\n".join(final) + "\n").encode(), command)
    rf.set_status(folder, rf.COMPLETE)
    click.echo(f"trained {ran} epochs in {seconds:.1f} s; wrote {folder}/ (model.safetensors, "
               f"vocab.json, config.json, history.csv, metrics.json, samples.txt)")
    line = (f"final loss {results['train']['loss']:.4f}, perplexity "
            f"{results['train']['perplexity']:.2f}")
    if "dev" in results:
        line += (f"; dev loss {results['dev']['loss']:.4f}, perplexity "
                 f"{results['dev']['perplexity']:.2f}")
    click.echo(f"{line} (a uniform guess: loss {math.log(len(vocab)):.4f}, perplexity "
               f"{len(vocab)})")
    return folder


def evaluate_charlm(folder: Path, config: dict[str, Any], model: Any, data: str | None,
                    command: str = "evaluate") -> None:
    """``dlkit evaluate RUN [--data FILE]`` for a charlm run: the loss (cross-entropy per
    predicted character) and perplexity on the run's train and dev lines (split again as
    training split them), or on the lines of FILE."""
    o = {**DEFAULTS, **config.get("options", {})}
    if not (folder / VOCAB).exists():
        raise UserError(f"{str(folder)!r} has no {VOCAB}: pass a folder written by dlkit "
                        "charlm", command)
    try:
        vocab = dl.text.load_vocab(folder / VOCAB)
    except ValueError as e:
        raise UserError(str(e), command) from None
    if data is not None:
        sets = {Path(data).name: load_corpus(data, bool(o["lower"]), command)}
    else:
        dl.manual_seed(o["seed"])
        lines = load_corpus(o["corpus"], bool(o["lower"]), command)
        train_lines, dev_lines = split_dev(lines, o["dev_size"], o["mode"])
        sets = {"train": train_lines, "dev": dev_lines}
    for name, lines in sets.items():
        if not lines:
            continue
        r = evaluate_lm(model, vocab, lines, o["mode"], o["batch_size"], o["bptt"])
        click.echo(f"{name:6s} {len(lines):6d} lines  loss {r['loss']:.4f}  perplexity "
                   f"{r['perplexity']:.4f}")


TRAIN_OPTIONS = {"dataset": "corpus", "epochs": "epochs", "batch_size": "batch_size",
                 "lr": "lr", "optimizer": "optimizer", "seed": "seed", "out": "out",
                 "progress": "progress", "dev_size": "dev_size",
                 "early_stopping": "early_stopping", "hidden": "n_a", "device": "device"}


def charlm_from_train(ctx: click.Context) -> Path:
    """``dlkit train --task charlm ...``: the options given on the command line that mean the
    same for a character model (--dataset is the corpus, --hidden the units n_a, --epochs,
    --batch-size, --lr, --optimizer, --seed, --out, --dev-size, --early-stopping,
    --progress) go to ``train_charlm``; any other option given is an error."""
    given: dict[str, Any] = {}
    for key, value in ctx.params.items():
        source = ctx.get_parameter_source(key)
        if source is None or source.name not in ("COMMANDLINE", "ENVIRONMENT"):
            continue
        if key == "task":
            continue
        if key not in TRAIN_OPTIONS:
            raise UserError(f"--{key.replace('_', '-')} does not apply to --task charlm (see "
                            f"dlkit charlm -h for the character model's options)", "train")
        if key == "hidden":
            try:
                value = int(value)
            except ValueError:
                raise UserError(f"--hidden: --task charlm takes one size (the units n_a), got "
                                f"{value!r}", "train") from None
        given[TRAIN_OPTIONS[key]] = value
    return train_charlm("train", **given)


@cli.command()
@click.option("--corpus", default="dinos", show_default=True,
              help="'dinos' (the course's 1536 dinosaur names, bundled) or a UTF-8 text file, "
                   "one name or sentence a line.")
@click.option("--mode", type=click.Choice(["lines", "stream"]), default="lines",
              show_default=True, help="lines: each line is one example (padded, masked "
              "batches); stream: the lines as one stream, truncated BPTT over --bptt steps.")
@click.option("--cell", type=click.Choice(list(CELLS)), default="lstm", show_default=True)
@click.option("--arch", type=click.Choice(["rnn", "transformer"]), default="rnn",
              show_default=True, help="rnn: embedding -> --cell -> logits; transformer: a "
              "causal Transformer (--d-model, --heads, --layers; lines mode only).")
@transformer_options()
@click.option("--embed-dim", type=click.IntRange(1), default=16, show_default=True,
              help="Size of the character embeddings.")
@click.option("--hidden", "--n-a", "n_a", type=click.IntRange(1), default=50,
              show_default=True, help="Units of the recurrent layer (the notes' n_a).")
@click.option("--epochs", type=click.IntRange(1), default=10, show_default=True)
@click.option("--batch-size", type=click.IntRange(1), default=32, show_default=True,
              help="Lines per batch (stream mode: parallel rows of the stream).")
@click.option("--bptt", type=click.IntRange(1), default=64, show_default=True,
              help="Stream mode: time steps per chunk (gradients flow back this far).")
@click.option("--optimizer", type=click.Choice(sorted(recipes.OPTIMIZERS)), default="adam",
              show_default=True)
@click.option("--lr", type=click.FloatRange(0, min_open=True), default=0.01, show_default=True)
@click.option("--clip-value", type=click.FloatRange(0), default=5.0, show_default=True,
              help="Clip every gradient entry to [-V, V] (the exercise's maxValue); 0: off.")
@click.option("--clip-norm", type=click.FloatRange(0), default=None,
              help="Scale the gradients down to this global norm when above it.")
@click.option("--lower/--no-lower", default=None,
              help="Lowercase the corpus (samples are printed capitalized) [default: on for "
                   "dinos, off for a file].")
@click.option("--dev-size", type=click.FloatRange(0, 1, max_open=True), default=0.1,
              show_default=True, help="Fraction of lines held out to measure the dev "
              "perplexity (stream mode: the last lines).")
@click.option("--early-stopping", type=click.IntRange(1), default=None, metavar="PATIENCE",
              help="Stop when the dev loss has not improved for PATIENCE epochs; keep the "
                   "best weights.")
@click.option("--sample-every", type=click.IntRange(0), default=2, show_default=True,
              help="Print samples every this many epochs (0: never).")
@click.option("--samples", type=click.IntRange(1), default=7, show_default=True,
              help="How many samples to print.")
@click.option("--max-len", type=click.IntRange(1), default=50, show_default=True,
              help="Longest sample (the exercise stops at 50 characters).")
@click.option("--temperature", type=click.FloatRange(0, min_open=True), default=1.0,
              show_default=True, help="Sampling temperature (< 1: safer, > 1: wilder).")
@click.option("--top-k", type=click.IntRange(1), default=None,
              help="Sample from the K most likely characters only.")
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--out", default=None, help="Run folder [default: runs/<corpus>-charlm-<cell>-"
              "<time>].")
@click.option("--overwrite", is_flag=True, help="Replace the run already in --out.")
@click.option("--checkpoint-every", type=click.IntRange(0), default=1, show_default=True,
              metavar="N", help="Write checkpoint.safetensors every N epochs (0: never).")
@click.option("--resume", default=None, metavar="RUN",
              help="Continue run folder RUN from its checkpoint with its own options (only "
                   "--epochs may change, to train longer).")
@click.option("--progress/--no-progress", default=True, show_default=True,
              help="Progress bar (only on a terminal).")
@click.option("--device", default="cpu", show_default=True,
              help="Train on cpu, or on cuda / cuda:N (an NVIDIA GPU through CuPy: "
                   "pip install 'dlkit[gpu]').")
def charlm(resume: str | None, **options: Any) -> None:
    """Train a character-level language model; print samples as it trains."""
    if resume is None:
        train_charlm(CMD, **options)
        return
    ctx = click.get_current_context()
    given = {k for k in ctx.params
             if ctx.get_parameter_source(k) is click.core.ParameterSource.COMMANDLINE}
    extra = given - {"resume", "epochs", "progress", "device"}
    if extra:
        names = ", ".join("--" + k.replace("_", "-") for k in sorted(extra))
        raise UserError(f"--resume continues a run with its own options; {names} cannot be "
                        "changed (only --epochs, to train longer)", CMD)
    folder = rf.run_folder(resume, CMD)
    config = rf.read_json(folder, rf.CONFIG, CMD, required=("options",))
    if config.get("task") != "charlm":
        raise UserError(f"{resume!r} is not a dlkit charlm run", CMD)
    if not (folder / rf.CHECKPOINT).exists():
        raise UserError(f"run {resume!r} has no {rf.CHECKPOINT} to resume from", CMD)
    own = {k: v for k, v in config["options"].items() if k in DEFAULTS}
    if "epochs" in given:
        own["epochs"] = options["epochs"]
    own["progress"] = options["progress"]
    own["device"] = options["device"]
    train_charlm(CMD, resume_from=folder, **own)


@cli.command()
@click.argument("run", required=False)
@click.option("--model", "model_run", default=None, help="The run folder (instead of RUN).")
@click.option("--n", "-n", "n", type=click.IntRange(1), default=10, show_default=True,
              help="How many texts to draw.")
@click.option("--temperature", type=click.FloatRange(0, min_open=True), default=1.0,
              show_default=True, help="Divide the logits by this (< 1: safer, > 1: wilder).")
@click.option("--top-k", type=click.IntRange(1), default=None,
              help="Draw from the K most likely characters only (1: greedy).")
@click.option("--max-len", type=click.IntRange(1), default=50, show_default=True)
@click.option("--prefix", default="", help="Start every text with this.")
@click.option("--seed", type=int, default=None, help="Repeat the same draws [default: new "
              "draws each run].")
@click.option("--beam", type=click.IntRange(1), default=None, metavar="B",
              help="Beam search of width B instead of sampling: the N most likely texts "
                   "(length-normalized log probability), with their scores.")
@click.option("--alpha", type=click.FloatRange(0), default=0.7, show_default=True,
              help="With --beam: length normalization 1/T^alpha of the summed log probability.")
def sample(run: str | None, model_run: str | None, n: int, temperature: float,
           top_k: int | None, max_len: int, prefix: str, seed: int | None, beam: int | None,
           alpha: float) -> None:
    """Draw texts from the language model of a `dlkit charlm` run folder, one a line (or the
    most likely ones by beam search)."""
    if beam is not None and n > beam:
        raise UserError(f"--n {n} is more than the --beam width {beam}: a beam search keeps "
                        f"{beam} hypotheses", SAMPLE)
    if (run is None) == (model_run is None):
        raise UserError("give the run folder once: dlkit sample RUN or dlkit sample --model RUN",
                        "sample")
    run = run if run is not None else model_run
    folder = rf.run_folder(run, SAMPLE)
    if not (folder / VOCAB).exists():
        raise UserError(f"{run!r} has no {VOCAB}: pass a folder written by dlkit charlm", SAMPLE)
    if not (folder / rf.MODEL).exists():
        raise UserError(f"{run!r} has no {rf.MODEL}; was the training run finished?", SAMPLE)
    try:
        vocab = dl.text.load_vocab(folder / VOCAB)
    except ValueError as e:
        raise UserError(str(e), SAMPLE) from None
    model = dl.io.load(folder / rf.MODEL)
    if not isinstance(model, (CharLM, TransformerLM)) or model.vocab_size != len(vocab):
        raise UserError(f"{run!r}: the model is not a character model of this vocabulary "
                        f"({len(vocab)} tokens)", SAMPLE)
    config = rf.read_json(folder, rf.CONFIG, SAMPLE) if (folder / rf.CONFIG).exists() else {}
    scores: list[float | None] = [None] * n
    if beam is not None:
        found = dl.text.lm_beam_search(model, vocab, prefix=prefix, beam_width=beam,
                                       max_len=max_len, alpha=alpha, n_best=n)
        texts, scores = [t for t, _ in found], [s for _, s in found]
    else:
        texts = dl.text.sample_many(model, vocab, n, max_len, temperature, top_k, seed=seed,
                                    prefix=prefix)
    if config.get("capitalize"):
        texts = [t[:1].upper() + t[1:] for t in texts]
    for t, score in zip(texts, scores):
        click.echo(t if score is None else f"{t}\t{score:.4f}")


def transformer_charlm(o: dict[str, Any], vocab_size: int, command: str = CMD) -> TransformerLM:
    """``--arch transformer``: a causal ``TransformerLM`` (d_model, heads, layers; learned
    positions up to the longest sample)."""
    if o["mode"] != "lines":
        raise UserError("--arch transformer trains on lines (--mode lines); stream mode "
                        "carries a recurrent state", command)
    if o["d_model"] % o["heads"]:
        raise UserError(f"--d-model {o['d_model']} is not divisible by --heads {o['heads']}",
                        command)
    return TransformerLM(vocab_size, o["d_model"], o["heads"], o["layers"],
                         max_len=max(256, o["max_len"] + 64))
