"""ImageFolder (lazy Pillow decoding, resizing, clear errors), text lines and audio clips,
through the DataLoader with workers."""

from __future__ import annotations

import wave

import numpy as np
import pytest

import dlkit as dl
from dlkit.data import DataLoader
from dlkit.data.audio_clips import AudioClipDataset, read_wav
from dlkit.data.image_folder import ImageFolder
from dlkit.data.text_lines import TextLineDataset

Image = pytest.importorskip("PIL.Image")


def _write_folder(root, sizes=((20, 30), (16, 16), (40, 24)), per_class=3):
    rng = np.random.default_rng(0)
    for c, name in enumerate(["cat", "dog"]):
        (root / name).mkdir(parents=True)
        for j in range(per_class):
            h, w = sizes[j % len(sizes)]
            pixels = np.full((h, w, 3), 40 + 150 * c, np.uint8)
            pixels[0, 0] = rng.integers(0, 255, 3)
            fmt = "png" if j % 2 else "jpg"
            Image.fromarray(pixels).save(root / name / f"{j}.{fmt}")
    return root


def test_classes_labels_lazy_decode_and_resize(tmp_path):
    ds = ImageFolder(_write_folder(tmp_path / "imgs"), size=(12, 10))
    assert ds.classes == ["cat", "dog"] and len(ds) == 6
    assert ds.targets.tolist() == [0, 0, 0, 1, 1, 1]
    x, label = ds[4]
    assert x.shape == (12, 10, 3) and x.dtype == np.float32 and label == 1
    assert abs(float(x[5, 5, 0]) - 190 / 255) < 0.03
    gray = ImageFolder(tmp_path / "imgs", size=8, channels=1, dtype=np.uint8)
    g, _ = gray[0]
    assert g.shape == (8, 8, 1) and g.dtype == np.uint8 and abs(int(g[4, 4, 0]) - 40) <= 3


def test_image_folder_through_workers_matches_main_process(tmp_path):
    ds = ImageFolder(_write_folder(tmp_path / "imgs"), size=8)
    runs = []
    for workers in (0, 2):
        dl.manual_seed(3)
        runs.append([(x.numpy(), y.numpy()) for x, y in
                     DataLoader(ds, batch_size=4, num_workers=workers,
                                transform=dl.data.RandomHorizontalFlip())])
    for (x0, y0), (x1, y1) in zip(*runs):
        assert x0.shape[1:] == (8, 8, 3) and np.array_equal(x0, x1) and np.array_equal(y0, y1)


def test_unreadable_file_and_folders_without_classes_or_images(tmp_path):
    root = _write_folder(tmp_path / "imgs")
    (root / "dog" / "broken.jpg").write_bytes(b"not a jpeg at all")
    ds = ImageFolder(root, size=8)
    bad = [i for i, (p, _) in enumerate(ds.samples) if p.endswith("broken.jpg")][0]
    with pytest.raises(ValueError, match=r"cannot read image '.*broken\.jpg'"):
        ds[bad]
    with pytest.raises(ValueError, match=rf"example {bad} failed in worker .*broken\.jpg"):
        list(DataLoader(ds, batch_size=3, num_workers=2))
    (tmp_path / "none").mkdir()
    with pytest.raises(ValueError, match="no class folders"):
        ImageFolder(tmp_path / "none")
    (tmp_path / "none" / "empty_class").mkdir()
    with pytest.raises(ValueError, match=r"class folder\(s\) \['empty_class'\]"):
        ImageFolder(tmp_path / "none")
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        ImageFolder(tmp_path / "missing")


def test_text_lines_are_read_lazily_and_batched(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("first line\n\nsécond\r\nthird", encoding="utf-8")
    ds = TextLineDataset(path)
    assert len(ds) == 3 and [ds[i] for i in range(3)] == ["first line", "sécond", "third"]
    enc = TextLineDataset(path, encode=lambda s: np.array([len(w) for w in s.split()]))
    (padded,) = [b for b in DataLoader(enc, batch_size=3, shuffle=False)]
    assert padded.data.shape == (3, 2) and padded.lengths.numpy().tolist() == [2, 1, 1]
    assert padded.mask.numpy().tolist() == [[1, 1], [1, 0], [1, 0]]


def _write_wav(path, samples, rate=8000, width=2):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(samples.shape[1])
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes((samples * 32767).astype("<i2").tobytes())


def test_audio_clips_from_a_folder(tmp_path):
    t = np.arange(800) / 8000
    for c, name in enumerate(["no", "yes"]):
        (tmp_path / name).mkdir()
        for j in range(2):
            tone = 0.5 * np.sin(2 * np.pi * (200 + 100 * c) * t[: 400 + 200 * j])
            _write_wav(tmp_path / name / f"{j}.wav", np.stack([tone, tone], axis=1))
    x, rate = read_wav(tmp_path / "yes" / "1.wav")
    assert rate == 8000 and x.shape == (600, 2) and abs(float(x.max()) - 0.5) < 1e-3
    ds = AudioClipDataset.from_folder(tmp_path)
    assert ds.classes == ["no", "yes"] and ds[3][0].shape == (600, 1) and ds[3][1] == 1
    padded, labels = next(iter(DataLoader(ds, batch_size=4, shuffle=False)))
    assert padded.data.shape == (4, 600, 1) and padded.lengths.numpy().tolist() == [400, 600] * 2
    fixed = AudioClipDataset.from_folder(tmp_path, duration=0.06)
    assert fixed[0][0].shape == (480, 1) and np.all(fixed[0][0][400:] == 0)
    (tmp_path / "bad.wav").write_bytes(b"RIFF....")
    with pytest.raises(ValueError, match="cannot read WAV file"):
        read_wav(tmp_path / "bad.wav")


def test_image_folder_loaders_split_and_batch(tmp_path):
    from dlkit.data import image_folder_loaders
    root = _write_folder(tmp_path / "imgs", per_class=10)
    dl.manual_seed(0)
    parts = image_folder_loaders(root, size=8, batch_size=4, dev=0.2, test=0.1,
                                 transform=dl.data.RandomHorizontalFlip())
    assert parts.classes == ["cat", "dog"] and parts.input_shape == (8, 8, 3)
    sizes = [sum(len(y) for _, y in loader) for loader in (parts.train, parts.dev, parts.test)]
    assert sizes == [14, 4, 2]
    assert image_folder_loaders(root, size=8, dev=0.0).dev is None
    with pytest.raises(ValueError, match="dev and test fractions"):
        image_folder_loaders(root, dev=0.6, test=0.5)
