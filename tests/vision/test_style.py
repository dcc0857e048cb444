"""Neural style transfer: the notes' costs (NumPy references, gradient checks), the
optimization of the image, VGG-19 against PyTorch with the same weights, images on disk."""

from __future__ import annotations

import numpy as np
import pytest

import dlkit as dl
from dlkit import nn
from dlkit.errors import ShapeError
from dlkit.vision.images import (
    ImageError,
    image_grid,
    load_image,
    load_image_folder,
    sample_image,
    save_image,
)
from dlkit.vision.style import (
    StyleTransfer,
    content_cost,
    gram_matrix,
    layer_style_cost,
    style_cost,
    total_cost,
    vgg19_features,
    vgg_layer_names,
)


def unrolled(a):
    """The notes' unrolling: (1, n_H, n_W, n_C) -> (n_C, n_H * n_W)."""
    _, h, w, c = a.shape
    return a.reshape(h * w, c).T


def ref_content(a_c, a_g):
    _, h, w, c = a_c.shape
    return ((a_c - a_g) ** 2).sum() / (4 * h * w * c)


def ref_layer_style(a_s, a_g):
    _, h, w, c = a_s.shape
    gs, gg = unrolled(a_s) @ unrolled(a_s).T, unrolled(a_g) @ unrolled(a_g).T
    return ((gs - gg) ** 2).sum() / (4 * c**2 * (h * w) ** 2)


def test_costs_match_the_notes_formulas(rng):
    a_c, a_g = rng.standard_normal((2, 1, 4, 4, 3))
    assert content_cost(a_c, a_g).item() == pytest.approx(ref_content(a_c, a_g), rel=1e-12)
    A = rng.standard_normal((3, 2 * 1))
    np.testing.assert_allclose(gram_matrix(A).numpy(), A @ A.T)
    np.testing.assert_allclose(gram_matrix(a_c).numpy()[0], unrolled(a_c) @ unrolled(a_c).T)
    assert layer_style_cost(a_c, a_g).item() == pytest.approx(ref_layer_style(a_c, a_g),
                                                              rel=1e-12)
    b_s, b_g = rng.standard_normal((2, 1, 2, 2, 5))
    js = style_cost([a_c, b_s], [a_g, b_g], [0.3, 0.7]).item()
    assert js == pytest.approx(0.3 * ref_layer_style(a_c, a_g) + 0.7 * ref_layer_style(b_s, b_g))
    assert style_cost([a_c], [a_g]).item() == pytest.approx(ref_layer_style(a_c, a_g))
    assert total_cost(2.0, 3.0).item() == pytest.approx(10 * 2 + 40 * 3)


def test_costs_notes_small_example():
    # the course's unit test shapes: a_C, a_G (1, 4, 4, 3) -> J_content a scalar; a Gram
    # matrix of A (3, 2*1) is (3, 3), symmetric, with the squared norms on its diagonal
    A = np.array([[1.0, 2.0], [0.0, 1.0], [3.0, -1.0]])
    G = gram_matrix(A).numpy()
    np.testing.assert_allclose(G, [[5, 2, 1], [2, 1, -1], [1, -1, 10]])
    a = np.zeros((1, 1, 1, 2))
    b = np.ones((1, 1, 1, 2))
    assert content_cost(a, b).item() == pytest.approx(2 / 8)
    # one position, two channels: G_S = 0, G_G = ones(2, 2); J = 4 / (4 * 4 * 1)
    assert layer_style_cost(a, b).item() == pytest.approx(4 / 16)


def test_costs_gradient_checks(rng):
    a_c, a_g = rng.standard_normal((2, 1, 3, 3, 2))
    assert dl.gradient_check(content_cost, [a_c, a_g]) < 2e-7
    assert dl.gradient_check(layer_style_cost, [a_c, a_g]) < 2e-7
    w = rng.standard_normal((2, 2))
    assert dl.gradient_check(lambda t: (gram_matrix(t) * dl.Tensor(w)).sum(),
                             [rng.standard_normal((2, 5))]) < 2e-7
    w4 = rng.standard_normal((2, 2, 2))
    assert dl.gradient_check(lambda t: (gram_matrix(t) * dl.Tensor(w4)).sum(),
                             [rng.standard_normal((2, 2, 3, 2))]) < 2e-7
    assert dl.gradient_check(lambda s, g: style_cost([s, s * 2.0], [g, g], [0.4, 0.6]),
                             [a_c, a_g]) < 2e-7


def test_costs_bad_shapes():
    with pytest.raises(ShapeError, match="content_cost"):
        content_cost(np.zeros((1, 4, 4, 3)), np.zeros((1, 4, 4, 2)))
    with pytest.raises(ShapeError, match=r"\(m, n_H, n_W, n_C\)"):
        layer_style_cost(np.zeros((4, 4, 3)), np.zeros((4, 4, 3)))
    with pytest.raises(ShapeError, match="gram_matrix"):
        gram_matrix(np.zeros(3))
    with pytest.raises(ValueError, match="weights"):
        style_cost([np.zeros((1, 2, 2, 1))], [np.zeros((1, 2, 2, 1))], [0.5, 0.5])


def tiny_backbone():
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(4, 6, 3, padding=1), nn.ReLU())


def test_total_cost_gradient_with_respect_to_the_image(rng):
    dl.set_default_dtype("float64")
    dl.manual_seed(0)
    st = StyleTransfer(tiny_backbone(), "block2_conv1", ["block1_conv1", "block2_conv1"])
    C, S = rng.random((2, 4, 4, 3))
    a_c, a_s = st.targets(C, S)
    G = rng.random((4, 4, 3))
    assert dl.gradient_check(lambda g: st.cost(g, a_c, a_s)[0], [G]) < 2e-7


def test_layer_names_follow_keras():
    names = vgg_layer_names(vgg19_features(blocks=2))
    assert names["block1_conv1"] == 1 and names["block1_conv2"] == 3
    assert names["block1_pool"] == 4 and names["block2_conv1"] == 6
    assert names["block2_pool"] == 9 and "block3_conv1" not in names


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_style_transfer_lowers_the_cost_and_keeps_pixels_in_range(optimizer):
    dl.manual_seed(0)
    C = sample_image("china.jpg", size=16)
    S = sample_image("flower.jpg", size=16)
    st = StyleTransfer(vgg19_features(blocks=2), "block2_conv1",
                       ["block1_conv1", "block1_conv2", "block2_conv1"])
    seen = []
    result = st.run(C, S, steps=12, optimizer=optimizer, lr=0.05, snapshot_every=4,
                    callback=lambda step, logs: seen.append(step))
    totals = [h["total"] for h in result.history]
    assert totals[-1] < 0.5 * totals[0]
    assert result.image.shape == C.shape and result.image.dtype == np.float32
    assert 0 <= result.image.min() and result.image.max() <= 1
    assert seen == list(range(1, len(totals) + 1))
    assert [s for s, _ in result.snapshots][:2] == [0, 4]
    assert all(0 <= im.min() and im.max() <= 1 for _, im in result.snapshots)
    assert not np.allclose(result.snapshots[0][1], result.image)


def test_style_transfer_bad_input():
    st = StyleTransfer(tiny_backbone(), "block2_conv1", ["block1_conv1"])
    ok = np.zeros((8, 8, 3), np.float32)
    with pytest.raises(ShapeError, match="one size"):
        st.run(ok, np.zeros((4, 4, 3)), steps=1)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        st.run(ok * 0 + 255, ok, steps=1)
    with pytest.raises(ShapeError, match=r"\(n_H, n_W, 3\)"):
        st.run(np.zeros((8, 8)), ok, steps=1)
    with pytest.raises(ValueError, match="unknown layer"):
        StyleTransfer(tiny_backbone(), "block9_conv1", ["block1_conv1"])
    with pytest.raises(TypeError, match="Sequential"):
        StyleTransfer(nn.Linear(2, 2), "0", ["0"])


def torch_vgg19_features(torch):
    layers, c = [], 3
    for n, width in zip((2, 2, 4, 4, 4), (64, 128, 256, 512, 512)):
        for _ in range(n):
            layers += [torch.nn.Conv2d(c, width, 3, padding=1), torch.nn.ReLU()]
            c = width
        layers.append(torch.nn.MaxPool2d(2))
    return torch.nn.Sequential(*layers)


def torch_gram(a):  # a (1, C, H, W)
    F = a.reshape(a.shape[1], -1)
    return F @ F.T


def test_vgg19_costs_match_torch_with_the_same_weights(tmp_path, rng, request):
    """The zoo's VGG-19 with random weights imported from a PyTorch VGG-19 (torchvision's
    layer layout) by dl.io.load_torch_state_dict gives torch's content and style costs."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    request.addfinalizer(lambda: torch.set_num_threads(threads))
    torch.set_num_threads(1)
    tnet = torch_vgg19_features(torch).eval()
    zoo = dl.models.vgg19(input_size=32, hidden=1, n_classes=1)
    net = zoo.features
    dl.io.load_torch_state_dict(net, tnet.state_dict())
    st = StyleTransfer(net)  # the course's layers: block1..5_conv1, content block5_conv4
    assert StyleTransfer(zoo).backbone is net  # a whole VGG: its features
    C, S, G = rng.random((3, 16, 16, 3)).astype(np.float32)  # block5 at 1x1
    a_c, a_s = st.targets(C, S)
    J, Jc, Js = st.cost(G, a_c, a_s)

    mean = torch.tensor([0.485, 0.456, 0.406]).reshape(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).reshape(1, 3, 1, 1)
    names = vgg_layer_names(net)

    def acts(img):
        x = (torch.tensor(img.transpose(2, 0, 1)[None]) - mean) / std
        out = {}
        with torch.no_grad():
            for k, layer in enumerate(tnet):
                x = layer(x)
                out[k] = x.double()
                if k == names["block5_conv4"]:
                    break
        return out

    tc, ts, tg = acts(C), acts(S), acts(G)
    k_c = names["block5_conv4"]
    _, n_c, h, w = tc[k_c].shape
    ref_c = ((tc[k_c] - tg[k_c]) ** 2).sum() / (4 * h * w * n_c)
    ref_s = 0.0
    for b in range(1, 6):
        k = names[f"block{b}_conv1"]
        _, n_c, h, w = ts[k].shape
        ref_s = ref_s + 0.2 * ((torch_gram(ts[k]) - torch_gram(tg[k])) ** 2).sum() / (
            4 * n_c**2 * (h * w) ** 2)
    assert Jc.item() == pytest.approx(ref_c.item(), rel=1e-4)
    assert Js.item() == pytest.approx(ref_s.item(), rel=1e-4)
    assert J.item() == pytest.approx(10 * ref_c.item() + 40 * ref_s.item(), rel=1e-4)
    # vgg19_features builds the zoo's layers; it reads torchvision-named weights from a
    # safetensors file (here blocks 1-2, a smaller file); a file of another architecture fails
    from safetensors.numpy import save_file
    first = {f"features.{k}": v.numpy() for k, v in tnet.state_dict().items()
             if int(k.split(".")[0]) < 10}
    save_file(first, str(tmp_path / "vgg19.safetensors"))
    again = vgg19_features(tmp_path / "vgg19.safetensors", blocks=2)
    assert [repr(m) for m in again] == [repr(m) for m in list(net)[:10]]
    for mine, zoo in zip(again.parameters(), list(net.parameters())[:8]):
        np.testing.assert_array_equal(mine.numpy(), zoo.numpy())
    save_file({"fc.weight": np.zeros((2, 3))}, str(tmp_path / "other.safetensors"))
    with pytest.raises(ValueError, match="does not hold VGG-19 weights"):
        vgg19_features(tmp_path / "other.safetensors")


def test_images_roundtrip_grid_and_errors(tmp_path):
    img = np.linspace(0, 1, 4 * 6 * 3).reshape(4, 6, 3)
    save_image(tmp_path / "a.png", img)
    back = load_image(tmp_path / "a.png")
    assert back.shape == (4, 6, 3) and back.dtype == np.float32
    np.testing.assert_allclose(back, img, atol=1 / 255)
    assert load_image(tmp_path / "a.png", size=8).shape == (8, 8, 3)
    assert load_image(tmp_path / "a.png", max_side=3).shape == (2, 3, 3)
    assert load_image(tmp_path / "a.png", gray=True).shape == (4, 6, 1)
    grid = image_grid([img, img, img], cols=2, pad=1)
    assert grid.shape == (2 * 4 + 3, 2 * 6 + 3, 3)
    np.testing.assert_array_equal(grid[1:5, 1:7], img)
    (tmp_path / "bad.jpg").write_bytes(b"not an image")
    with pytest.raises(ImageError, match="cannot read"):
        load_image(tmp_path / "bad.jpg")
    with pytest.raises(ImageError, match="no such"):
        load_image(tmp_path / "none.jpg")
    assert sample_image("flower.jpg", size=(10, 12)).shape == (10, 12, 3)


def test_load_image_folder(tmp_path, rng):
    for name, n in (("ana", 3), ("bo", 2), ("cy", 1)):
        (tmp_path / name).mkdir()
        for k in range(n):
            save_image(tmp_path / name / f"{k}.png", rng.random((10, 8, 3)))
    (tmp_path / "ana" / "notes.txt").write_text("not an image, skipped by its suffix")
    X, y, names = load_image_folder(tmp_path, size=6)
    assert X.shape == (6, 6, 6, 3) and names == ["ana", "bo", "cy"]
    np.testing.assert_array_equal(y, [0, 0, 0, 1, 1, 2])
    X, y, names = load_image_folder(tmp_path, size=6, min_per_identity=2, gray=True)
    assert X.shape == (5, 6, 6, 1) and names == ["ana", "bo"]
    (tmp_path / "bo" / "broken.jpg").write_bytes(b"junk")
    with pytest.raises(ImageError, match="broken.jpg"):
        load_image_folder(tmp_path)
    with pytest.raises(ImageError, match="no such folder"):
        load_image_folder(tmp_path / "missing")
