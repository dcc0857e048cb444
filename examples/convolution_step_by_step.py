"""Course 4, week 1 programming exercise: Convolution model - Step by Step.

The exercise builds a convolutional layer and a pooling layer in NumPy, loop by loop; here
each step is one dlkit op, checked against the course's printed values (the inputs are the
course's test cases, drawn from NumPy's legacy generator seeded with 1) and, for the forward
passes, against the course's naive loops written out below.

1. ``zero_pad``: x (4, 3, 3, 2), pad 2 -> (4, 7, 7, 2); the course prints x[1, 1] and
   x_pad[1, 1] (all zeros: a padded row).
2. ``conv_single_step``: Z = sum(a_slice_prev * W) + b on one (4, 4, 3) slice; the course
   reports Z = -6.99908945068.
3. ``conv_forward``: A_prev (10, 5, 7, 4), W (3, 3, 4, 8), b (1, 1, 1, 8), pad 1, stride 2
   -> Z (10, 3, 4, 8) with floor((n + 2p - f) / s) + 1; the course reports Z's mean
   0.692360880758 and Z[3, 2, 1]. ``dl.conv2d`` (im2col + one GEMM) against the loop.
4. ``pool_forward``: max and average pooling, f = 3, on A_prev (2, 4, 4, 3) with stride 2
   and on A_prev (2, 5, 5, 3) with stride 1 (both versions of the notebook).
5. ``conv_backward``: the notes' dA += W_c dZ_hw, dW_c += a_slice dZ_hw, db = sum dZ, on
   A_prev (10, 4, 4, 3), W (2, 2, 3, 8), pad 2, stride 2, with dZ = Z as the course's test;
   the course reports dA_mean 1.45243777754, dW_mean 1.72699145831, db_mean 7.83923256462.
   dlkit's autograd against the course's loops, then ``dl.gradient_check`` (float64).
6. ``pool_backward``: A_prev (5, 5, 3, 2), f = 2, stride 1, dA (5, 4, 2, 2); the course
   reports mean of dA 0.145713902729 and dA_prev[1, 1] for max (the mask of the maximum) and
   average (dA / f^2 spread over the window) pooling.
7. Edge detection (course 4, week 1 lectures): the notes' 6x6 examples, then the vertical,
   horizontal, Sobel and Scharr filters (and their horizontal turns) on scikit-learn's
   bundled photo ``china.jpg`` in grayscale, float32, applied with one ``dl.conv2d`` of six
   filters, and the notes' edge magnitude sqrt(vertical^2 + horizontal^2). Saves
   ``edge_detection.png``.

    python examples/convolution_step_by_step.py            # about 2 s
    python examples/convolution_step_by_step.py --quick    # the same (it is quick already)
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from figures import DEFAULT_OUT, pyplot, save

import dlkit as dl

THRESHOLD = 2e-7
VERTICAL = np.array([[1, 0, -1], [1, 0, -1], [1, 0, -1]], dtype=np.float32)
SOBEL = np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]], dtype=np.float32)
SCHARR = np.array([[3, 0, -3], [10, 0, -10], [3, 0, -3]], dtype=np.float32)
# the horizontal filters are the vertical ones turned by 90 degrees: rows (1, 1, 1), 0, -1
FILTERS = {"vertical": VERTICAL, "horizontal": VERTICAL.T,
           "Sobel vertical": SOBEL, "Sobel horizontal": SOBEL.T,
           "Scharr vertical": SCHARR, "Scharr horizontal": SCHARR.T}


def show(name: str, ours: np.ndarray, course: str) -> None:
    print(f"{name} =\n{np.array2string(np.asarray(ours), precision=8)}")
    print(f"  (course: {course})")


# ---- the course's loops, for comparison ------------------------------------------------------
def conv_forward_loops(A_prev: np.ndarray, W: np.ndarray, b: np.ndarray, stride: int,
                       pad: int) -> np.ndarray:
    """The course's conv_forward: for each example, row, column and filter, one
    conv_single_step on the slice a_prev_pad[vert_start:vert_end, horiz_start:horiz_end, :]."""
    m, n_H_prev, n_W_prev, _ = A_prev.shape
    f, _, _, n_C = W.shape
    n_H = (n_H_prev + 2 * pad - f) // stride + 1
    n_W = (n_W_prev + 2 * pad - f) // stride + 1
    Z = np.zeros((m, n_H, n_W, n_C))
    A_prev_pad = np.pad(A_prev, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    for i in range(m):
        for h in range(n_H):
            for w in range(n_W):
                a_slice = A_prev_pad[i, h * stride:h * stride + f, w * stride:w * stride + f]
                for c in range(n_C):
                    Z[i, h, w, c] = np.sum(a_slice * W[..., c]) + b[..., c].item()
    return Z


def conv_backward_loops(dZ: np.ndarray, A_prev: np.ndarray, W: np.ndarray, stride: int,
                        pad: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The notes' formulas, in their loops: da_prev_pad[slice] += W[..., c] * dZ[i, h, w, c],
    dW[..., c] += a_slice * dZ[i, h, w, c], db[..., c] += dZ[i, h, w, c]."""
    f = W.shape[0]
    A_prev_pad = np.pad(A_prev, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    dA_prev_pad, dW, db = np.zeros_like(A_prev_pad), np.zeros_like(W), np.zeros(W.shape[-1])
    m, n_H, n_W, n_C = dZ.shape
    for i in range(m):
        for h in range(n_H):
            for w in range(n_W):
                window = (i, slice(h * stride, h * stride + f), slice(w * stride, w * stride + f))
                for c in range(n_C):
                    dA_prev_pad[window] += W[..., c] * dZ[i, h, w, c]
                    dW[..., c] += A_prev_pad[window] * dZ[i, h, w, c]
                    db[c] += dZ[i, h, w, c]
    return dA_prev_pad[:, pad:-pad, pad:-pad] if pad else dA_prev_pad, dW, db


def pool_forward_loops(A_prev: np.ndarray, f: int, stride: int, mode: str) -> np.ndarray:
    """The course's pool_forward: max or mean of each f x f window, channel by channel."""
    m, n_H_prev, n_W_prev, n_C = A_prev.shape
    n_H, n_W = (n_H_prev - f) // stride + 1, (n_W_prev - f) // stride + 1
    reduce = np.max if mode == "max" else np.mean
    A = np.zeros((m, n_H, n_W, n_C))
    for i in range(m):
        for h in range(n_H):
            for w in range(n_W):
                window = A_prev[i, h * stride:h * stride + f, w * stride:w * stride + f]
                A[i, h, w] = reduce(window, axis=(0, 1))
    return A


# ---- the steps -------------------------------------------------------------------------------
def step_zero_pad() -> None:
    print("== 1. zero_pad ==")
    rng = np.random.RandomState(1)
    x = rng.randn(4, 3, 3, 2)
    x_pad = dl.zero_pad(x, 2)
    print(f"x.shape = {x.shape}, x_pad.shape = {x_pad.shape}   (course: (4, 3, 3, 2), "
          "(4, 7, 7, 2))")
    show("x[1, 1]", x[1, 1], "[[0.90085595 -0.68372786] [-0.12289023 -0.93576943] "
         "[-0.26788808 0.53035547]]")
    print(f"x_pad[1, 1] = zeros {x_pad.data[1, 1].shape}: {not x_pad.data[1, 1].any()}   "
          "(course: 7 rows of [0. 0.])")


def step_conv_single_step() -> None:
    print("\n== 2. conv_single_step ==")
    rng = np.random.RandomState(1)
    a_slice_prev, W, b = rng.randn(4, 4, 3), rng.randn(4, 4, 3), rng.randn(1, 1, 1)
    Z = (dl.tensor(a_slice_prev) * dl.tensor(W)).sum() + float(b.item())
    print(f"Z = {Z.item():.11f}   (course: -6.99908945068)")


def step_conv_forward() -> None:
    print("\n== 3. conv_forward (pad 1, stride 2) ==")
    rng = np.random.RandomState(1)
    A_prev, W, b = rng.randn(10, 5, 7, 4), rng.randn(3, 3, 4, 8), rng.randn(1, 1, 1, 8)
    Z = dl.conv2d(A_prev, W, b.reshape(-1), stride=2, padding=1).numpy()
    Z_loops = conv_forward_loops(A_prev, W, b, stride=2, pad=1)
    print(f"Z.shape = {Z.shape}   (course: (10, 3, 4, 8))")
    print(f"Z's mean = {Z.mean():.12f}   (course: 0.692360880758)")
    show("Z[3, 2, 1]", Z[3, 2, 1], "[-1.28912231 2.27650251 6.61941931 0.95527176 8.25132576 "
         "2.31329639 13.00689405 2.34576051]")
    print(f"dl.conv2d vs the course's loops: max |difference| {np.abs(Z - Z_loops).max():.1e}")


def step_pool_forward() -> None:
    print("\n== 4. pool_forward (f = 3) ==")
    cases = [
        ((2, 4, 4, 3), 2, "A.ravel()",
         {"max": "[1.74481176 0.86540763 1.13376944 1.13162939 1.51981682 2.18557541]",
          "average": "[0.02105773 -0.20328806 -0.40389855 -0.22154621 0.51716526 "
                     "0.48155844]"}),
        ((2, 5, 5, 3), 1, "A[1, 1]",
         {"max": "[[1.96710175 0.84616065 1.27375593] [1.96710175 0.84616065 1.23616403] "
                 "[1.62765075 1.12141771 1.2245077]]",
          "average": "[[0.44497696 -0.00261695 -0.31040307] [0.50811474 -0.23493734 "
                     "-0.23961183] [0.11872677 0.17255229 -0.22112197]]"}),
    ]
    for shape, stride, shown, course in cases:
        A_prev = np.random.RandomState(1).randn(*shape)
        for mode, op in (("max", dl.max_pool2d), ("average", dl.avg_pool2d)):
            A = op(A_prev, 3, stride).numpy()
            loops = pool_forward_loops(A_prev, 3, stride, "max" if mode == "max" else "avg")
            part = A.ravel() if shown == "A.ravel()" else A[1, 1]
            print(f"A_prev {shape}, stride {stride}, mode = {mode}: A.shape = {A.shape}, "
                  f"max |difference| from the loops {np.abs(A - loops).max():.1e}")
            show(shown, part, course[mode])


def step_conv_backward() -> None:
    print("\n== 5. conv_backward (pad 2, stride 2; dZ = Z) ==")
    rng = np.random.RandomState(1)
    A_prev, W, b = rng.randn(10, 4, 4, 3), rng.randn(2, 2, 3, 8), rng.randn(1, 1, 1, 8)
    A_t, W_t = dl.tensor(A_prev, requires_grad=True), dl.tensor(W, requires_grad=True)
    b_t = dl.tensor(b.reshape(-1), requires_grad=True)
    Z = dl.conv2d(A_t, W_t, b_t, stride=2, padding=2)
    dZ = Z.numpy().copy()  # the course's test feeds Z back as dZ
    (Z * dl.tensor(dZ)).sum().backward()  # d/dZ of sum(Z * dZ) is dZ
    dA, dW, db = A_t.grad, W_t.grad, b_t.grad
    print(f"dA_mean = {dA.mean():.11f}   (course: 1.45243777754)")
    print(f"dW_mean = {dW.mean():.11f}   (course: 1.72699145831)")
    print(f"db_mean = {db.mean():.11f}   (course: 7.83923256462)")
    loops = conv_backward_loops(dZ, A_prev, W, stride=2, pad=2)
    worst = max(np.abs(g - ref).max() for g, ref in zip((dA, dW, db), loops))
    print(f"autograd vs the notes' loops: max |difference| {worst:.1e}")

    def J(a: dl.Tensor, w: dl.Tensor, bias: dl.Tensor) -> dl.Tensor:
        return (dl.conv2d(a, w, bias, stride=2, padding=2) * dl.tensor(dZ)).sum()

    diff = dl.gradient_check(J, [A_prev, W, b.reshape(-1)])
    print(f"gradient check (dA, dW, db: {A_prev.size + W.size + b.size} entries): "
          f"difference = {diff:.2e}  ({'correct' if diff < THRESHOLD else 'A MISTAKE'}: "
          f"< {THRESHOLD:g})")


def step_pool_backward() -> None:
    print("\n== 6. pool_backward (f = 2, stride 1) ==")
    rng = np.random.RandomState(1)
    A_prev = rng.randn(5, 5, 3, 2)
    dA = rng.randn(5, 4, 2, 2)
    print(f"mean of dA = {dA.mean():.12f}   (course: 0.145713902729)")
    course = {"max": "[[0. 0.] [5.05844394 -1.68282702] [0. 0.]]",
              "average": "[[0.08485462 0.2787552] [1.26461098 -0.25749373] "
                         "[1.17975636 -0.53624893]]"}
    for mode, op in (("max", dl.max_pool2d), ("average", dl.avg_pool2d)):
        A_t = dl.tensor(A_prev, requires_grad=True)
        (op(A_t, 2, 1) * dl.tensor(dA)).sum().backward()
        diff = dl.gradient_check(lambda a, op=op: (op(a, 2, 1) * dl.tensor(dA)).sum(), [A_prev])
        print(f"mode = {mode}: gradient check difference = {diff:.2e}")
        show("dA_prev[1, 1]", A_t.grad[1, 1], course[mode])


# ---- edge detection --------------------------------------------------------------------------
def notes_examples() -> None:
    """The lectures' 6x6 images: a bright-to-dark vertical edge gives 30s in the middle
    columns, its mirror image -30s; the checkerboard-like image with the horizontal filter
    gives rows 0, (30 10 -10 -30), (30 10 -10 -30), 0."""
    print("\n== 7. edge detection: the notes' 6x6 examples ==")
    half = np.tile(np.array([10, 10, 10, 0, 0, 0], np.float32), (6, 1))
    board = np.block([[np.full((3, 3), 10.0), np.zeros((3, 3))],
                      [np.zeros((3, 3)), np.full((3, 3), 10.0)]]).astype(np.float32)
    for name, image, kernel, course in (
        ("bright | dark, vertical filter", half, VERTICAL, "rows of [0 30 30 0]"),
        ("dark | bright, vertical filter", half[:, ::-1], VERTICAL, "rows of [0 -30 -30 0]"),
        ("checkerboard, horizontal filter", board, VERTICAL.T,
         "[0 0 0 0] [30 10 -10 -30] [30 10 -10 -30] [0 0 0 0]"),
    ):
        Z = dl.conv2d(image[None, :, :, None], kernel[:, :, None, None]).numpy()[0, :, :, 0]
        rows = " ".join(np.array2string(r.astype(int)) for r in Z)
        print(f"{name}: {rows}\n  (course: {course})")


def grayscale_photo() -> np.ndarray:
    """scikit-learn's bundled china.jpg (427 x 640 RGB) as luma 0.299 R + 0.587 G + 0.114 B,
    scaled to [0, 1], float32, shape (1, 427, 640, 1)."""
    from sklearn.datasets import load_sample_image

    rgb = load_sample_image("china.jpg").astype(np.float32) / 255.0
    gray = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return gray[None, :, :, None]


def edge_detection(out: str) -> None:
    print("\n== edge detection on china.jpg ==")
    x = grayscale_photo()
    W = np.stack(list(FILTERS.values()), axis=-1)[:, :, None, :]  # (3, 3, 1, 6)
    start = time.perf_counter()
    Z = dl.conv2d(x, W).numpy()[0]  # (425, 638, 6): a valid convolution, n - f + 1
    elapsed = time.perf_counter() - start
    print(f"input {x.shape} float32, W {W.shape}: Z {Z.shape} in {1e3 * elapsed:.1f} ms")
    print(f"{'filter':18s} {'min':>8s} {'max':>8s} {'mean |Z|':>9s} {'std':>7s} "
          f"{'mean |Z| / weight':>18s} {'strong edges':>13s}")
    responses = {}
    for k, (name, kernel) in enumerate(FILTERS.items()):
        z = Z[..., k]
        # 3, 4 or 16: the response to a step from black (0) to white (1); "strong edges" are
        # the pixels whose response is above half of it
        weight = kernel[kernel > 0].sum()
        responses[name] = z
        print(f"{name:18s} {z.min():8.3f} {z.max():8.3f} {np.abs(z).mean():9.4f} "
              f"{z.std():7.4f} {np.abs(z).mean() / weight:18.4f} "
              f"{100 * (np.abs(z) > 0.5 * weight).mean():12.2f}%")
    for family in ("Sobel", "Scharr"):
        v, h = responses[f"{family} vertical"], responses[f"{family} horizontal"]
        magnitude = np.sqrt(v ** 2 + h ** 2)  # the notes' sqrt(vertical^2 + horizontal^2)
        responses[f"{family} magnitude"] = magnitude
        print(f"{family} magnitude: mean {magnitude.mean():.4f}, max {magnitude.max():.3f}")

    fig, grid = pyplot().subplots(3, 3, figsize=(13, 9))
    axes = list(grid.ravel())
    axes[0].imshow(x[0, :, :, 0], cmap="gray")
    axes[0].set_title("china.jpg, grayscale", fontsize=9)
    for ax, (name, z) in zip(axes[1:], responses.items()):
        if name.endswith("magnitude"):
            ax.imshow(z, cmap="gray_r", vmax=np.percentile(z, 99.5))
        else:  # signed: light-to-dark and dark-to-light edges in opposite colours
            limit = np.percentile(np.abs(z), 99.5)
            ax.imshow(z, cmap="RdBu", vmin=-limit, vmax=limit)
        ax.set_title(name, fontsize=9)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    save(fig, out, "edge_detection.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=1,
                        help="unused: the inputs are the course's (NumPy legacy seed 1)")
    parser.add_argument("--out", default=DEFAULT_OUT, help="folder for the figure")
    parser.add_argument("--quick", action="store_true", help="the same (it is quick already)")
    args = parser.parse_args()
    dl.manual_seed(args.seed)
    step_zero_pad()
    step_conv_single_step()
    step_conv_forward()
    step_pool_forward()
    step_conv_backward()
    step_pool_backward()
    notes_examples()
    edge_detection(args.out)


if __name__ == "__main__":
    main()
