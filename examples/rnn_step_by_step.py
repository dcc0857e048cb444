"""Course 5, week 1 programming exercise: Building your Recurrent Neural Network - Step by Step.

The exercise writes an RNN cell and an LSTM cell in NumPy and loops them over time; here
each is dlkit's fused op (``dl.rnn``, ``dl.lstm``: one recorded op for the whole sequence,
backward through time written by hand), fed the course's test inputs (NumPy's legacy
generator seeded with 1) and checked against the course's printed values and against the
course's cell loops written out below.

Layouts. The course puts examples in columns and time last: x (n_x, m, T_x), a (n_a, m, T_x),
and keeps Waa, Wax apart. dlkit is batch-first, x (m, T_x, n_x), a (m, T_x, n_a), and uses one
matrix W = [Waa | Wax] (n_a, n_a + n_x) acting on [a<t-1>, x<t>] (the notes' W_a [a, x]):
``x.transpose(1, 2, 0)`` and ``np.hstack([Waa, Wax])``. The LSTM's four gates stack in the
notes' order, W = [Wf; Wi; Wc; Wo] (4 n_a, n_a + n_x) on [a<t-1>, x<t>], the course's
``concat``, so the course's matrices are used as they are. The output layer y = softmax(Wya a
+ by) is ``dl.softmax(dl.linear(a, Wya, by))`` on every step.

1. ``rnn_cell_forward``: xt (3, 10), a_prev (5, 10); the course reports a_next[4] and
   yt_pred[1].
2. ``rnn_forward``: x (3, 10, 4), a0 (5, 10); the course reports a[4][1], y_pred[1][3].
3. ``lstm_cell_forward``: xt (3, 10), a_prev, c_prev (5, 10); a_next[4], c_next[2], yt[1].
4. ``lstm_forward``: x (3, 10, 7), a0 (5, 10); a[4][3][6], y[1][4][3], c[1][2][1].
5. ``rnn_backward``: the course's test (da (5, 10, 4) of random upstream gradients, so the
   cost is sum(a * da)); the course reports dx[1][2], da0[2][3], dWax[3][1], dWaa[1][2],
   dba[4]. dlkit's autograd against the course's backward loop, then ``dl.gradient_check``
   (float64) of ``dl.rnn``, ``dl.lstm`` and ``dl.gru`` with respect to x, W, b and the
   initial states, through the course's loss on every step.

    python examples/rnn_step_by_step.py            # about 1 s
    python examples/rnn_step_by_step.py --quick    # the same (it is quick already)
"""

from __future__ import annotations

import argparse

import numpy as np

import dlkit as dl

THRESHOLD = 2e-7


def show(name: str, ours: np.ndarray | float, course: str) -> None:
    ours = np.asarray(ours)
    text = f"{float(ours):.12g}" if ours.ndim == 0 else np.array2string(ours, precision=8)
    print(f"{name} = {text}")
    print(f"  (course: {course})")


def batch_first(x: np.ndarray) -> np.ndarray:
    """The course's (n_x, m, T_x) -> dlkit's (m, T_x, n_x)."""
    return x.transpose(1, 2, 0)


def course_layout(a: np.ndarray) -> np.ndarray:
    """dlkit's (m, T_x, n) -> the course's (n, m, T_x)."""
    return a.transpose(2, 0, 1)


def output_layer(a: dl.Tensor, Wy: np.ndarray, by: np.ndarray) -> np.ndarray:
    """y<t> = softmax(Wy a<t> + by) on every step, batch-first: (m, T, n_y)."""
    return dl.softmax(dl.linear(a, Wy, by.ravel())).numpy()


# ---- the course's cells and loops, for comparison ----------------------------------------------
def softmax_columns(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=0))
    return e / e.sum(axis=0)


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


def rnn_forward_loop(x, a0, Waa, Wax, ba):
    """The course's rnn_forward: a<t> = tanh(Waa a<t-1> + Wax x<t> + ba), t = 1 .. T_x."""
    a, a_next, caches = np.zeros((Waa.shape[0], *x.shape[1:])), a0, []
    for t in range(x.shape[2]):
        caches.append(a_next)
        a_next = np.tanh(Waa @ a_next + Wax @ x[:, :, t] + ba)
        a[:, :, t] = a_next
    return a, caches


def rnn_backward_loop(da, x, a, a_prevs, Waa, Wax):
    """The course's rnn_backward: dtanh = (1 - a<t>^2) (da<t> + da_prev), dx<t> = Wax^T dtanh,
    dWax += dtanh x<t>^T, dWaa += dtanh a<t-1>^T, dba += sum dtanh, da_prev = Waa^T dtanh."""
    dx, dWax, dWaa = np.zeros_like(x), np.zeros_like(Wax), np.zeros_like(Waa)
    dba, da_prev = np.zeros((Waa.shape[0], 1)), np.zeros_like(a_prevs[0])
    for t in reversed(range(x.shape[2])):
        dtanh = (1 - a[:, :, t] ** 2) * (da[:, :, t] + da_prev)
        dx[:, :, t] = Wax.T @ dtanh
        dWax += dtanh @ x[:, :, t].T
        dWaa += dtanh @ a_prevs[t].T
        dba += dtanh.sum(axis=1, keepdims=True)
        da_prev = Waa.T @ dtanh
    return dx, da_prev, dWax, dWaa, dba


def lstm_forward_loop(x, a0, Wf, bf, Wi, bi, Wc, bc, Wo, bo):
    """The course's lstm_forward: concat = [a<t-1>; x<t>], the four gates, c<t>, a<t>."""
    n_a = a0.shape[0]
    a, c = np.zeros((n_a, *x.shape[1:])), np.zeros((n_a, *x.shape[1:]))
    a_next, c_next = a0, np.zeros_like(a0)
    for t in range(x.shape[2]):
        concat = np.vstack([a_next, x[:, :, t]])
        ft, it = sigmoid(Wf @ concat + bf), sigmoid(Wi @ concat + bi)
        cct, ot = np.tanh(Wc @ concat + bc), sigmoid(Wo @ concat + bo)
        c_next = ft * c_next + it * cct
        a_next = ot * np.tanh(c_next)
        a[:, :, t], c[:, :, t] = a_next, c_next
    return a, c


# ---- the exercise --------------------------------------------------------------------------------
def step_rnn_cell() -> None:
    print("1. rnn_cell_forward")
    np.random.seed(1)
    xt, a_prev = np.random.randn(3, 10), np.random.randn(5, 10)
    Waa, Wax, Wya = np.random.randn(5, 5), np.random.randn(5, 3), np.random.randn(2, 5)
    ba, by = np.random.randn(5, 1), np.random.randn(2, 1)
    # one cell = the fused op over a sequence of length 1
    a, a_last = dl.rnn(xt.T[:, None, :], np.hstack([Waa, Wax]), ba.ravel(), a_prev.T)
    a_next = a_last.numpy().T
    yt_pred = output_layer(a, Wya, by)[:, 0].T
    show("a_next[4]", a_next[4], "[ 0.59584544  0.18141802  0.61311866  0.99808218  0.85016201 "
         "0.99980978 -0.18887155  0.99815551  0.6531151   0.82872037]")
    print(f"a_next.shape = {a_next.shape}  (course: (5, 10))")
    show("yt_pred[1]", yt_pred[1], "[ 0.9888161   0.01682021  0.21140899  0.36817467  "
         "0.98988387  0.88945212 0.36920224  0.9966312   0.9982559   0.17746526]")
    print(f"yt_pred.shape = {yt_pred.shape}  (course: (2, 10))\n")


def step_rnn_forward() -> None:
    print("2. rnn_forward")
    np.random.seed(1)
    x, a0 = np.random.randn(3, 10, 4), np.random.randn(5, 10)
    Waa, Wax, Wya = np.random.randn(5, 5), np.random.randn(5, 3), np.random.randn(2, 5)
    ba, by = np.random.randn(5, 1), np.random.randn(2, 1)
    a_seq, _ = dl.rnn(batch_first(x), np.hstack([Waa, Wax]), ba.ravel(), a0.T)
    a, y_pred = course_layout(a_seq.numpy()), course_layout(output_layer(a_seq, Wya, by))
    show("a[4][1]", a[4][1], "[-0.99999375  0.77911235 -0.99861469 -0.99833267]")
    print(f"a.shape = {a.shape}  (course: (5, 10, 4))")
    show("y_pred[1][3]", y_pred[1][3], "[ 0.79560373  0.86224861  0.11118257  0.81515947]")
    print(f"y_pred.shape = {y_pred.shape}  (course: (2, 10, 4))")
    loop, caches = rnn_forward_loop(x, a0, Waa, Wax, ba)
    show("caches[1][1][3] (caches[1] is x: x[1][3])", x[1][3],
         "[-1.1425182  -0.34934272 -0.20889423  0.58662319]")
    print(f"fused dl.rnn against the course's loop: max |difference| = "
          f"{np.abs(a - loop).max():.1e}\n")


def step_lstm_cell() -> None:
    print("3. lstm_cell_forward")
    np.random.seed(1)
    xt, a_prev, c_prev = np.random.randn(3, 10), np.random.randn(5, 10), np.random.randn(5, 10)
    Wf, bf = np.random.randn(5, 5 + 3), np.random.randn(5, 1)
    Wi, bi = np.random.randn(5, 5 + 3), np.random.randn(5, 1)
    Wo, bo = np.random.randn(5, 5 + 3), np.random.randn(5, 1)
    Wc, bc = np.random.randn(5, 5 + 3), np.random.randn(5, 1)
    Wy, by = np.random.randn(2, 5), np.random.randn(2, 1)
    W, b = np.vstack([Wf, Wi, Wc, Wo]), np.concatenate([bf, bi, bc, bo]).ravel()
    a, a_last, c_last = dl.lstm(xt.T[:, None, :], W, b, a_prev.T, c_prev.T)
    a_next, c_next = a_last.numpy().T, c_last.numpy().T
    yt = output_layer(a, Wy, by)[:, 0].T
    show("a_next[4]", a_next[4], "[-0.66408471  0.0036921   0.02088357  0.22834167 -0.85575339 "
         "0.00138482 0.76566531  0.34631421 -0.00215674  0.43827275]")
    show("c_next[2]", c_next[2], "[ 0.63267805  1.00570849  0.35504474  0.20690913 -1.64566718 "
         "0.11832942 0.76449811 -0.0981561  -0.74348425 -0.26810932]")
    show("yt[1]", yt[1], "[ 0.79913913  0.15986619  0.22412122  0.15606108  0.97057211  "
         "0.31146381 0.00943007  0.12666353  0.39380172  0.07828381]")
    print(f"a_next.shape = {a_next.shape}, c_next.shape = {c_next.shape}, yt.shape = "
          f"{yt.shape}  (course: (5, 10), (5, 10), (2, 10))\n")


def step_lstm_forward() -> None:
    print("4. lstm_forward")
    np.random.seed(1)
    x, a0 = np.random.randn(3, 10, 7), np.random.randn(5, 10)
    Wf, bf = np.random.randn(5, 5 + 3), np.random.randn(5, 1)
    Wi, bi = np.random.randn(5, 5 + 3), np.random.randn(5, 1)
    Wo, bo = np.random.randn(5, 5 + 3), np.random.randn(5, 1)
    Wc, bc = np.random.randn(5, 5 + 3), np.random.randn(5, 1)
    Wy, by = np.random.randn(2, 5), np.random.randn(2, 1)
    W, b = np.vstack([Wf, Wi, Wc, Wo]), np.concatenate([bf, bi, bc, bo]).ravel()
    a_seq, _, _ = dl.lstm(batch_first(x), W, b, a0.T)  # c<0> = 0, as the course
    a, y = course_layout(a_seq.numpy()), course_layout(output_layer(a_seq, Wy, by))
    loop_a, loop_c = lstm_forward_loop(x, a0, Wf, bf, Wi, bi, Wc, bc, Wo, bo)
    show("a[4][3][6]", a[4][3][6], "0.172117767533")
    show("y[1][4][3]", y[1][4][3], "0.95087346185")
    # the fused op returns the last memory cell only: c<2> is the last of the first 2 steps
    _, _, c_2 = dl.lstm(batch_first(x)[:, :2], W, b, a0.T)
    show("c[1][2][1]", c_2.numpy().T[1][2], "-0.855544916718")
    print(f"a.shape = {a.shape}, y.shape = {y.shape}  (course: (5, 10, 7), (2, 10, 7))")
    print(f"fused dl.lstm against the course's loop: max |difference| = "
          f"{np.abs(a - loop_a).max():.1e} (a), {np.abs(c_2.numpy().T - loop_c[:, :, 1]).max():.1e}"
          " (c<2>)\n")


def step_rnn_backward() -> None:
    print("5. rnn_backward (and gradient checks)")
    np.random.seed(1)
    x, a0 = np.random.randn(3, 10, 4), np.random.randn(5, 10)
    Wax, Waa = np.random.randn(5, 3), np.random.randn(5, 5)  # this test draws Wax first
    np.random.randn(2, 5)  # Wya: drawn (the stream must match) but unused by the backward
    ba = np.random.randn(5, 1)
    np.random.randn(2, 1)  # by
    a, caches = rnn_forward_loop(x, a0, Waa, Wax, ba)
    da = np.random.randn(5, 10, 4)
    dx, da0, dWax, dWaa, dba = rnn_backward_loop(da, x, a, caches, Waa, Wax)
    # dlkit: the cost sum(a * da) has exactly these upstream gradients; autograd does the rest
    X, W = dl.tensor(batch_first(x), requires_grad=True), dl.tensor(np.hstack([Waa, Wax]),
                                                                       requires_grad=True)
    b, A0 = dl.tensor(ba.ravel(), requires_grad=True), dl.tensor(a0.T, requires_grad=True)
    a_seq, _ = dl.rnn(X, W, b, A0)
    (a_seq * batch_first(da)).sum().backward()
    g_dx, g_da0 = course_layout(X.grad), A0.grad.T
    g_dWaa, g_dWax, g_dba = W.grad[:, :5], W.grad[:, 5:], b.grad[:, None]
    show("dx[1][2]", g_dx[1][2], "[-2.07101689 -0.59255627  0.02466855  0.01483317]")
    show("da0[2][3]", g_da0[2][3], "-0.314942375127")
    show("dWax[3][1]", g_dWax[3][1], "11.2641044965")
    show("dWaa[1][2]", g_dWaa[1][2], "2.30333312658")
    show("dba[4]", g_dba[4], "[-0.74747722]")
    worst = max(np.abs(p - q).max() for p, q in ((g_dx, dx), (g_da0, da0), (g_dWax, dWax),
                                                  (g_dWaa, dWaa), (g_dba, dba)))
    print(f"dlkit's backward through time against the course's loop: max |difference| = "
          f"{worst:.1e}")

    # gradient checks (float64) of the fused ops through a softmax cost on every step
    rng = np.random.default_rng(1)
    m, T, n_x, n_a = 3, 5, 4, 6
    labels = rng.integers(0, 2, (m, T))
    Wy2 = rng.standard_normal((2, n_a))
    mask = np.ones((m, T))
    mask[0, 3:] = 0  # a shorter first sequence: the padded steps are skipped

    def cost(a: dl.Tensor) -> dl.Tensor:
        return dl.cross_entropy(dl.linear(a, Wy2), labels)

    cases = {
        "dl.rnn": (lambda x_, w, b_, s: cost(dl.rnn(x_, w, b_, s)[0]), 1, 1),
        "dl.lstm": (lambda x_, w, b_, s, c: cost(dl.lstm(x_, w, b_, s, c)[0]), 4, 2),
        "dl.gru": (lambda x_, w, b_, s: cost(dl.gru(x_, w, b_, s)[0]), 3, 1),
        "dl.lstm with a mask": (
            lambda x_, w, b_, s, c: cost(dl.lstm(x_, w, b_, s, c, mask=mask)[0]), 4, 2),
    }
    for name, (f, G, n_states) in cases.items():
        inputs = [rng.standard_normal((m, T, n_x)),
                  0.5 * rng.standard_normal((G * n_a, n_a + n_x)),
                  0.1 * rng.standard_normal(G * n_a)]
        inputs += [0.5 * rng.standard_normal((m, n_a)) for _ in range(n_states)]
        diff = dl.gradient_check(f, inputs)
        verdict = "correct" if diff < THRESHOLD else "a mistake in the backward propagation!"
        print(f"gradient check {name} (x, W, b, initial states): difference = {diff:.2e} "
              f"-> {verdict}")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=1,
                        help="unused: the inputs are the course's (NumPy legacy seed 1)")
    parser.add_argument("--quick", action="store_true", help="the same (it is quick already)")
    args = parser.parse_args()
    dl.manual_seed(args.seed)
    dl.set_default_dtype("float64")  # the course's values are float64
    step_rnn_cell()
    step_rnn_forward()
    step_lstm_cell()
    step_lstm_forward()
    step_rnn_backward()


if __name__ == "__main__":
    main()
