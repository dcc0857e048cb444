"""Encoder-decoder: gradients with masks, decoding equals teacher forcing, training through fit."""

import numpy as np
import pytest

import dlkit as dl
from dlkit.nn.attention import AttentionModel
from dlkit.text.dates import date_pairs, human_vocab, machine_vocab
from dlkit.text.decode import log_softmax_rows
from dlkit.text.seq2seq import (
    Seq2Seq,
    Seq2SeqStep,
    Translator,
    encode_texts,
    fit_seq2seq,
    teacher_forcing,
    training_arrays,
)


def test_teacher_forcing_shifts_and_ends():
    Y = np.array([[5, 6, 7], [8, 9, 0]])
    Y_in, Y_out = teacher_forcing(Y, eos_id=2)
    assert Y_in.tolist() == [[2, 5, 6, 7], [2, 8, 9, 0]]
    assert Y_out.tolist() == [[5, 6, 7, 2], [8, 9, 2, 0]]


@pytest.mark.parametrize("cell,attention,bi", [("lstm", "additive", True),
                                               ("gru", None, False), ("rnn", "course", True),
                                               ("lstm", None, True)])
def test_seq2seq_gradient_check_with_padding(rng, cell, attention, bi):
    dl.set_default_dtype("float64")
    dl.manual_seed(0)
    model = Seq2Seq(7, 6, embed_dim=2, n_a=2, n_s=3, cell=cell, bidirectional=bi,
                    attention=attention, hidden=2)
    if attention == "course":
        model.decoder.attention.densor2.bias.data[:] = 3.0
    X = np.array([[3, 4, 5], [4, 0, 0]])  # the second source is padded
    Y = np.array([[3, 4], [5, 0]])
    Y_in, Y_out = teacher_forcing(Y, eos_id=2)
    step = Seq2SeqStep()

    def loss(m):
        out = step(m, (X, Y_in, Y_out))
        return getattr(out, "loss", out)

    assert dl.gradient_check_module(model, loss) < 2e-7


def test_padding_does_not_change_the_output(rng):
    dl.manual_seed(1)
    model = Seq2Seq(7, 6, embed_dim=4, n_a=5, n_s=6, attention="additive")
    Y_in = np.array([[2, 3, 4]])
    short = model(np.array([[3, 4, 5]]), Y_in).data
    padded = model(np.array([[3, 4, 5, 0, 0]]), Y_in).data
    np.testing.assert_allclose(short, padded, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("attention", ["additive", None])
def test_step_function_equals_teacher_forcing(rng, attention):
    dl.manual_seed(2)
    model = Seq2Seq(8, 7, embed_dim=4, n_a=5, n_s=6, cell="lstm", attention=attention)
    model.eval()
    X = np.array([[3, 4, 5, 6], [7, 5, 0, 0]])
    Y = np.array([[3, 4, 5], [6, 0, 0]])
    Y_in, Y_out = teacher_forcing(Y, eos_id=2)
    with dl.no_grad():
        logp = log_softmax_rows(model(X, Y_in).data)
    expect = [sum(logp[i, t, Y_out[i, t]] for t in range(4) if Y_out[i, t] != 0)
              for i in range(2)]
    from dlkit.text.decode import sequence_log_probs
    got = sequence_log_probs(model.step, model.decoder_state(X), 2, [[3, 4, 5], [6]], eos_id=2)
    np.testing.assert_allclose(got, expect, rtol=1e-5)


def _date_translator(n_a=16, n_s=32):
    hv, mv = human_vocab(), machine_vocab()
    model = Seq2Seq(len(hv), len(mv), embed_dim=12, n_a=n_a, n_s=n_s, attention="additive",
                    hidden=16)
    return Translator(model, hv, mv, 30, 11)


def test_beam_one_equals_greedy_and_beam_scores(rng):
    dl.manual_seed(3)
    tr = _date_translator()
    texts = [h for h, _ in date_pairs(6, seed=5)]
    greedy = tr.translate(texts)
    beam1 = tr.translate(texts, beam_width=1, n_best=1, alpha=0.7, search="beam")
    assert [g[0][0] for g in greedy] == [b[0][0] for b in beam1]
    nbest = tr.translate(texts, beam_width=4, n_best=3)
    for hs in nbest:
        assert len(hs) == 3 and [s for _, s in hs] == sorted((s for _, s in hs), reverse=True)


def test_date_model_learns_through_fit():
    """A small attention model reaches a high exact match on held-out dates within seconds."""
    dl.manual_seed(0)
    tr = _date_translator()
    X, Y_in, Y_out = training_arrays(date_pairs(1500, seed=0), tr)
    dev = date_pairs(150, seed=123)
    opt = dl.optim.Adam(tr.model.parameters(), lr=0.01)
    before = tr.evaluate([h for h, _ in dev], [m for _, m in dev])
    hist = fit_seq2seq(tr.model, opt, X, Y_in, Y_out, epochs=6, batch_size=64)
    after = tr.evaluate([h for h, _ in dev], [m for _, m in dev])
    losses = hist.history["loss"]
    assert losses[-1] < 0.5 * losses[0]
    assert before["exact_match"] == 0.0
    assert after["exact_match"] > 0.4 and after["bleu"] > 0.8


def test_course_model_learns_through_fit():
    dl.manual_seed(0)
    hv, mv = human_vocab(), machine_vocab()
    tr = Translator(AttentionModel(len(hv), len(mv), 10, n_a=16, n_s=32), hv, mv, 30, 10)
    X, Y_in, Y_out = training_arrays(date_pairs(600, seed=0), tr)
    assert Y_out.shape == (600, 10)  # the exercise's T_y = 10, no <EOS>
    opt = dl.optim.Adam(tr.model.parameters(), lr=0.01)
    hist = fit_seq2seq(tr.model, opt, X, Y_in, Y_out, epochs=3, batch_size=64)
    assert hist.history["loss"][-1] < 0.9 * hist.history["loss"][0]
    out = tr.translate(["3 may 1979"], beam_width=3)[0][0][0]
    assert len(out) == 10


def test_attention_map_shape_and_rows(rng):
    dl.manual_seed(4)
    tr = _date_translator()
    alpha, src, out = tr.attention_map("3 may 1979")
    assert alpha.shape == (len(out), len(src)) and src == list("3 may 1979")
    assert out[-1] == "<EOS>"
    np.testing.assert_allclose(alpha.sum(axis=1), 1.0, rtol=1e-5)


def test_save_and_load(tmp_path, rng):
    dl.manual_seed(5)
    tr = _date_translator()
    dl.io.save(tr.model, tmp_path / "m.safetensors")
    again = Translator(dl.io.load(tmp_path / "m.safetensors"), tr.src_vocab, tr.tgt_vocab, 30, 11)
    texts = ["3 may 1979", "tuesday 10/06/2009"]
    assert again.translate(texts) == tr.translate(texts)


def test_bad_input():
    hv = human_vocab()
    with pytest.raises(ValueError, match="empty source"):
        encode_texts(["  "], hv)
    with pytest.raises(ValueError, match="outside the vocabulary"):
        encode_texts(["3 may 1979 ☃"], hv)
    with pytest.raises(ValueError, match="at most 5"):
        encode_texts(["3 may 1979"], hv, 5)
    with pytest.raises(ValueError, match="unknown attention"):
        Seq2Seq(5, 5, attention="cosine")
    with pytest.raises(ValueError, match="not padding"):
        Seq2Seq(5, 5)(np.zeros((1, 3), dtype=np.int64), np.ones((1, 2), dtype=np.int64))
    with pytest.raises(ValueError, match="beam width"):
        _date_translator().translate(["3 may 1979"], beam_width=0, n_best=1)


def test_validation_callbacks_and_resume_through_fit(tmp_path):
    """The same fit as every model: val_ logs, per-token accuracy, checkpoints that resume."""
    dl.manual_seed(6)
    tr = _date_translator(n_a=8, n_s=16)
    X, Y_in, Y_out = training_arrays(date_pairs(200, seed=0), tr)
    val = training_arrays(date_pairs(50, seed=1), tr)
    opt = dl.optim.Adam(tr.model.parameters(), lr=0.01)
    ckpt = tmp_path / "ckpt.safetensors"
    hist = fit_seq2seq(tr.model, opt, X, Y_in, Y_out, epochs=2, batch_size=50, validation=val,
                       callbacks=[dl.train.ModelCheckpoint(ckpt)])
    for key in ("loss", "token_accuracy", "val_loss", "val_token_accuracy"):
        assert len(hist.history[key]) == 2, key
    assert 0 <= hist.history["val_token_accuracy"][-1] <= 1
    # continue from the checkpoint: the third epoch equals an uninterrupted run's
    dl.manual_seed(6)
    tr2 = _date_translator(n_a=8, n_s=16)
    opt2 = dl.optim.Adam(tr2.model.parameters(), lr=0.01)
    full = fit_seq2seq(tr2.model, opt2, X, Y_in, Y_out, epochs=3, batch_size=50,
                       validation=val)
    dl.manual_seed(99)
    tr3 = _date_translator(n_a=8, n_s=16)
    opt3 = dl.optim.Adam(tr3.model.parameters(), lr=0.01)
    state = dl.io.load_checkpoint(ckpt, tr3.model, opt3)
    epoch = state["epoch"]
    from dlkit.data.loader import DataLoader
    from dlkit.text.seq2seq import Seq2SeqStep
    rest = dl.train.fit(tr3.model, None, opt3, DataLoader(X, Y_in, Y_out, batch_size=50),
                        epochs=3, initial_epoch=epoch, step=Seq2SeqStep(), metrics=(),
                        clip_norm=5.0)
    assert rest.history["loss"][-1] == pytest.approx(full.history["loss"][-1], rel=1e-5)


def test_plot_attention_writes_a_png_and_checks_shapes(tmp_path):
    from dlkit.text.attention_plot import plot_attention

    alpha = np.full((3, 4), 0.25)
    path = plot_attention(alpha, list("ab c"), ["1", "2", "<EOS>"], tmp_path / "a.png")
    assert path.exists() and path.read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match=r"\(3, 5\)"):
        plot_attention(alpha, list("ab cd"), ["1", "2", "<EOS>"], tmp_path / "b.png")
