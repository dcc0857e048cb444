"""Image captioning: CNN encoder + RNN decoder learns to describe synthetic images."""

import numpy as np
import pytest

import dlkit as dl
from dlkit.errors import ShapeError
from dlkit.text.captioning import CaptionModel, caption, caption_vocab, synthetic_captions
from dlkit.text.seq2seq import encode_texts, fit_seq2seq, teacher_forcing


def test_synthetic_captions_are_seeded_and_described():
    a, ca = synthetic_captions(50, seed=1)
    b, cb = synthetic_captions(50, seed=1)
    assert a.shape == (50, 12, 12, 3) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert ca == cb and len(set(ca)) > 15
    vocab = caption_vocab()
    for c in ca:
        assert vocab.unk_id not in vocab.encode(c)
    # the described colour is the brightest channel of the brightest pixels
    for img, c in zip(a, ca):
        channel = {"red": 0, "green": 1, "blue": 2}[c.split()[1]]
        bright = img[img.max(axis=-1) > 0.5]
        assert (bright.argmax(axis=-1) == channel).all()


def test_caption_model_gradient_check(rng):
    dl.set_default_dtype("float64")
    dl.manual_seed(0)
    model = CaptionModel(vocab_size=6, image_size=4, embed_dim=3, n_s=4, channels=(2, 3))
    images = rng.uniform(size=(2, 4, 4, 3))
    Y_in, Y_out = teacher_forcing(np.array([[3, 4], [5, 0]]), eos_id=2)
    assert dl.gradient_check_module(
        model, lambda m: dl.cross_entropy(m(images, Y_in), Y_out, ignore_index=0)) < 2e-7


def test_caption_model_learns():
    dl.manual_seed(0)
    vocab = caption_vocab()
    images, captions = synthetic_captions(800, seed=0)
    Y = encode_texts(captions, vocab, None, "caption")
    Y_in, Y_out = teacher_forcing(Y, vocab.eos_id)
    model = CaptionModel(len(vocab), embed_dim=12, n_s=48)
    opt = dl.optim.Adam(model.parameters(), lr=0.01)
    fit_seq2seq(model, opt, images, Y_in, Y_out, epochs=8, batch_size=32)
    test_images, test_captions = synthetic_captions(100, seed=7)
    out = caption(model, vocab, test_images)
    exact = np.mean([o == c for o, c in zip(out, test_captions)])
    assert exact > 0.9, list(zip(out, test_captions))[:5]
    beam = caption(model, vocab, test_images, beam_width=3)
    assert np.mean([o == c for o, c in zip(beam, test_captions)]) > 0.9


def test_save_and_load(tmp_path):
    dl.manual_seed(1)
    model = CaptionModel(len(caption_vocab()), channels=(4, 6))
    dl.io.save(model, tmp_path / "c.safetensors")
    again = dl.io.load(tmp_path / "c.safetensors")
    images, _ = synthetic_captions(3, seed=2)
    assert caption(again, caption_vocab(), images) == caption(model, caption_vocab(), images)


def test_bad_images():
    model = CaptionModel(6)
    with pytest.raises(ShapeError, match=r"\(m, 12, 12, 3\)"):
        model(np.zeros((2, 10, 10, 3), dtype=np.float32), np.ones((2, 3), dtype=np.int64))
