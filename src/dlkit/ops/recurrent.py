"""Recurrent layers as fused ops over a whole sequence (course 5, week 1), batch-first:
x (m, T, n_x) -> a (m, T, n_a). One recorded op per call; backward through time is written
by hand, step by step, with the notes' formulas.

Weights, as the notes, act on the concatenation [a<t-1>, x<t>] (previous state first): one
fused matrix W (G * n_a, n_a + n_x) and one bias b (G * n_a,), the G gate blocks stacked in the
notes' order. The input part of every step is one GEMM for the whole sequence (X W_x^T);
each step then does one GEMM of the previous state for all gates. Inside the LSTM and GRU ops
the gates are stored block by block, in an order of their own with the sigmoid gates first;
the public layout above does not change (see ``LSTMSequence``, and
docs/recurrent_performance.md for the measurements behind the design).

- RNN:  a<t> = tanh(W [a<t-1>, x<t>] + b)                                   (G = 1)
- LSTM: forget, update, candidate, output                                    (G = 4)
        Gf = sigma(Wf [a, x] + bf), Gu = sigma(Wu [a, x] + bu), c~ = tanh(Wc [a, x] + bc),
        Go = sigma(Wo [a, x] + bo);  c<t> = Gf * c<t-1> + Gu * c~;  a<t> = Go * tanh(c<t>)
- GRU:  update, relevance, candidate                                         (G = 3)
        Gu = sigma(Wu [c, x] + bu), Gr = sigma(Wr [c, x] + br),
        c~ = tanh(Wc [Gr * c<t-1>, x] + bc);  c<t> = Gu * c~ + (1 - Gu) * c<t-1>;  a<t> = c<t>
        ``reset_after`` (PyTorch's and Keras' form, applies Gr after the matrix product, with
        its own recurrent candidate bias b_ca): c~ = tanh(W_cx x + bc + Gr * (W_ca c + b_ca)).

A mask (m, T) of 0/1 skips padded steps: there the state is carried over unchanged (and the
output repeats it), as Keras' masking.
"""

from __future__ import annotations

from typing import Any

from dlkit.backend import array_module
from dlkit.errors import ShapeError
from dlkit.ops.reduction import column_sums
from dlkit.tensor import Function, Tensor, as_tensor

GATES = {"rnn": 1, "lstm": 4, "gru": 3}

# the order of the gate blocks inside the ops, as indices of the public blocks: the LSTM's
# (o, f, u, c~) from (f, u, c~, o), the GRU's (r, u, c~) from (u, r, c~)
_LSTM_ORDER = [3, 0, 1, 2]
_GRU_ORDER = [1, 0, 2]


def _blocks(w: Any, order: list[int]) -> Any:
    """Weight rows (G n_a, k) or a bias (G n_a,) as blocks (G, n_a, k) (k = 1 for a bias),
    reordered to ``order``: a copy."""
    return w.reshape(len(order), w.shape[0] // len(order), -1)[order]


def _rows(blocks: Any, order: list[int]) -> Any:
    """The inverse of ``_blocks`` (for gradients): blocks (G, n_a, ...) in ``order`` back to
    rows (G n_a, ...) in the public order."""
    back = [order.index(i) for i in range(len(order))]
    return blocks[back].reshape((-1,) + blocks.shape[2:])


class _Recurrent(Function):
    """Shared set-up: the input projection of all steps in one GEMM, masks, shapes."""

    kind = "rnn"

    def __init__(self, mask: Any = None, reverse: bool = False) -> None:
        self.mask, self.reverse = mask, reverse

    def steps(self, T: int) -> range:
        return range(T - 1, -1, -1) if self.reverse else range(T)

    def project_inputs(self, x, w, b, step_order=False):
        """X W_x^T + b for all steps at once: (T, m, G n_a), time-major for the loop; with
        ``step_order``, indexed by step (time reversed when ``reverse``)."""
        self.setup(x, w, step_order)
        proj = self.xt @ self.w_x.T
        proj += b
        return proj.reshape(self.T, self.m, -1)

    def setup(self, x, w, step_order=False):
        """Sizes, and the inputs time-major (T m, n_x) as ``xt`` (kept for dW_x)."""
        m, T, n_x = x.shape
        n_a = w.shape[1] - n_x
        self.m, self.T, self.n_x, self.n_a = m, T, n_x, n_a
        self.x, self.w = x, w
        self.w_a, self.w_x = w[:, :n_a], w[:, n_a:]
        self.flipped = step_order and self.reverse  # rows of proj and xt: steps, not times
        xs = x[:, ::-1] if self.flipped else x
        self.xt = xs.transpose(1, 0, 2).reshape(T * m, n_x)  # kept for dW_x

    def step_mask(self, t: int) -> Any:
        return None if self.mask is None else self.mask[:, t, None]

    def finish_grads(self, dz_all, a_prev_all, dz_rec=None):
        """dW, db and dX from the pre-activation gradients of all steps, in three GEMMs:
        dW_a = sum_t dz<t>^T a<t-1>,  dW_x = sum_t dz<t>^T x<t>,  db = sum_t dz<t>,
        dx<t> = dz<t> W_x. ``dz_rec``: the gradient of the recurrent products W_a a<t-1>
        where it differs from dz (the reset-after GRU's candidate block). dz_all and
        a_prev_all are indexed as ``project_inputs`` made its rows (by time or by step)."""
        xp = array_module(dz_all)
        T, m, g = dz_all.shape
        dz2 = dz_all.reshape(T * m, g)
        dr2 = dz2 if dz_rec is None else dz_rec.reshape(T * m, g)
        gw = xp.empty_like(self.w)
        gw[:, :self.n_a] = dr2.T @ a_prev_all.reshape(T * m, self.n_a)
        gw[:, self.n_a:] = dz2.T @ self.xt
        gb = column_sums(dz2)
        gx = (dz2 @ self.w_x).reshape(T, m, self.n_x)
        return (gx[::-1] if self.flipped else gx).transpose(1, 0, 2), gw, gb

    def block_grads(self, dz, w_blocks, rec_pairs):
        """dX, dW and db of the gated ops, whose pre-activation gradients dz (G, T, m, n_a)
        are stored block by block, in step order: dW_x,j = sum_t dz_j<t>^T x<t>,
        db_j = sum_t dz_j<t>, dx<t> = sum_j dz_j<t> W_x,j (batched over the blocks), and
        dW_a,j = dh_j^T h_j for each pair (dh_j, h_j) of ``rec_pairs``: the gradient of block
        j's recurrent product and its input, (T m, n_a) each. ``w_blocks`` (G, n_a, n_a + n_x):
        the weights in the op's block order. Returns dx (m, T, n_x), dW blocks, db (G, n_a)."""
        xp = array_module(dz)
        G, T, m, n = dz.shape
        dz3 = dz.reshape(G, T * m, n)
        gw = xp.empty_like(w_blocks)
        for j, (dh, h) in enumerate(rec_pairs):
            gw[j, :, :n] = dh.T @ h
        gw[:, :, n:] = xp.matmul(dz3.transpose(0, 2, 1), self.xt)
        gb = xp.matmul(xp.ones(T * m, dtype=dz.dtype), dz3)  # column sums, as BLAS products
        gx = xp.matmul(dz3, w_blocks[:, :, n:]).sum(axis=0).reshape(T, m, self.n_x)
        return (gx[::-1] if self.flipped else gx).transpose(1, 0, 2), gw, gb


class RNNSequence(_Recurrent):
    """a<t> = tanh(W [a<t-1>, x<t>] + b);  backward: dz = (da<t> + da_next) * (1 - a<t>^2),
    da_next = dz W_a (the notes' rnn_cell_backward, through time). The states are written in
    place into one (T + 1, m, n_a) buffer in step order, and 1 - a<t>^2 is computed for all
    steps at once before the backward loop."""

    def forward(self, x, w, b, a0):
        xp = array_module(x)
        z_all = self.project_inputs(x, w, b, step_order=True)  # W_x x<t> + b, step order
        T, m, n_a = self.T, self.m, self.n_a
        w_a_t = xp.ascontiguousarray(self.w_a.T)
        a_all = xp.empty((T + 1, m, n_a), dtype=x.dtype)  # a_all[0] = a<0>, in step order
        a_all[0] = a0
        rec = xp.empty((m, n_a), dtype=x.dtype)
        for k, t in enumerate(self.steps(T)):
            a_prev, a, z = a_all[k], a_all[k + 1], z_all[k]
            z += xp.matmul(a_prev, w_a_t, out=rec)
            xp.tanh(z, out=a)
            mk = self.step_mask(t)
            if mk is not None:  # padded: carry the state over
                a[...] = mk * a + (1 - mk) * a_prev
        self.a_all = a_all
        in_time_order = a_all[:0:-1] if self.reverse else a_all[1:]
        return xp.ascontiguousarray(in_time_order.transpose(1, 0, 2)), a_all[T].copy()

    def backward(self, g_out, g_last):
        xp = array_module(g_out)
        T = self.T
        tanh_d = xp.multiply(self.a_all[1:], self.a_all[1:])  # 1 - a<t>^2, all steps
        xp.subtract(1, tanh_d, out=tanh_d)
        w_a = xp.ascontiguousarray(self.w_a)
        dz_all = xp.empty_like(tanh_d)  # in step order
        da = g_last.copy()
        order = self.steps(T)
        for k in reversed(range(T)):
            t = order[k]
            da += g_out[:, t]  # da<t>: from the output y<t> and from step t + 1
            mk = self.step_mask(t)
            if mk is not None:  # padded: the gradient passes to the state it carried
                carry = (1 - mk) * da
                da *= mk
            dz = xp.multiply(da, tanh_d[k], out=dz_all[k])  # dz = da (1 - a<t>^2)
            da = dz @ w_a  # da_next = dz W_a
            if mk is not None:
                da += carry
        gx, gw, gb = self.finish_grads(dz_all, self.a_all[:T])
        return gx, gw, gb, da


class LSTMSequence(_Recurrent):
    """The notes' LSTM over a sequence. Backward per step (the notes' lstm_cell_backward):
    dc = dc_next + da Go (1 - tanh(c)^2);  dGo = da tanh(c);  dGf = dc c<t-1>;
    dGu = dc c~;  dc~ = dc Gu;  dz = [dGf Gf(1-Gf), dGu Gu(1-Gu), dc~ (1-c~^2), dGo Go(1-Go)];
    da_next = dz W_a;  dc_next = dc Gf.

    How it runs fast (a step's arrays are small, so a step costs its number of NumPy calls and
    how many rows each call walks): inside the op the gates are stored block by block,
    (4, T, m, n_a), so every gate of a step is one contiguous (m, n_a) array, and in the order
    (o, f, u, c~) (``_LSTM_ORDER``; the public weight layout stays (f, u, c~, o)), so the three
    sigmoid gates are one slice. Their rows of W and b are halved once per call, so one tanh
    of the step's pre-activations gives every gate: sigma(z) = (1 + tanh(z / 2)) / 2. The
    recurrent product of a step is one batched GEMM a<t-1> W_a^T over the four blocks.
    Backward first computes, for all steps at once, the factors that do not depend on the
    recurrence: K_o = tanh(c) Go(1-Go), K_f = c<t-1> Gf(1-Gf), K_u = c~ Gu(1-Gu),
    K_c = Gu (1-c~^2), K_1 = Go (1 - tanh(c)^2); a step then is
    dc = dc_next + da K_1;  [dz_f, dz_u, dz_c] = dc [K_f, K_u, K_c] (one broadcast pass);
    dz_o = da K_o;  dc_next = dc Gf;  da_next = sum over blocks dz_j W_a,j."""

    def forward(self, x, w, b, a0, c0):
        xp = array_module(x)
        self.setup(x, w, step_order=True)
        T, m, n = self.T, self.m, self.n_a
        w4 = _blocks(w, _LSTM_ORDER)  # (4, n_a, n_a + n_x), blocks (o, f, u, c~): a copy
        self.w4 = w4
        half = w4.copy()  # the sigmoid blocks halved: z / 2, so that tanh gives sigma
        half[:3] *= 0.5
        b_half = _blocks(b, _LSTM_ORDER)[:, :, 0]  # (4, n_a)
        b_half[:3] *= 0.5
        # W_x x<t> + b for all steps, block by block (4, T, m, n_a), in step order; each step
        # turns its slice into z (halved for the sigmoid gates), then into Go, Gf, Gu, c~
        gates = xp.matmul(self.xt, half[:, :, n:].transpose(0, 2, 1))  # (4, T m, n_a)
        gates += b_half[:, None, :]
        gates = gates.reshape(4, T, m, n)
        w_a_t = xp.ascontiguousarray(half[:, :, :n].transpose(0, 2, 1))  # (4, n_a, n_a)
        a_all = xp.empty((T + 1, m, n), dtype=x.dtype)  # a<0>, then a<t> in step order
        c_all = xp.empty((T + 1, m, n), dtype=x.dtype)
        tanh_c = xp.empty((T, m, n), dtype=x.dtype)
        a_all[0], c_all[0] = a0, c0
        rec = xp.empty((4, m, n), dtype=x.dtype)
        uc = xp.empty((m, n), dtype=x.dtype)
        for k, t in enumerate(self.steps(T)):
            a_prev, c_prev, g = a_all[k], c_all[k], gates[:, k]
            g += xp.matmul(a_prev, w_a_t, out=rec)  # z = W [a<t-1>, x<t>] + b, per block
            xp.tanh(g, out=g)  # c~ = tanh(z_c); tanh(z / 2) for the sigmoid gates
            sig = g[:3]  # Go, Gf, Gu = (1 + tanh(z / 2)) / 2
            sig += 1
            sig *= 0.5
            go, gf, gu, cc = g
            c, a, th = c_all[k + 1], a_all[k + 1], tanh_c[k]
            xp.multiply(gf, c_prev, out=c)  # c<t> = Gf * c<t-1> + Gu * c~
            c += xp.multiply(gu, cc, out=uc)
            xp.multiply(go, xp.tanh(c, out=th), out=a)  # a<t> = Go * tanh(c<t>)
            mk = self.step_mask(t)
            if mk is not None:  # padded: carry the state over
                c[...] = mk * c + (1 - mk) * c_prev
                a[...] = mk * a + (1 - mk) * a_prev
        self.gates, self.a_all, self.c_all, self.tanh_c = gates, a_all, c_all, tanh_c
        in_time_order = a_all[:0:-1] if self.reverse else a_all[1:]
        out = xp.ascontiguousarray(in_time_order.transpose(1, 0, 2))
        return out, a_all[T].copy(), c_all[T].copy()

    def _step_factors(self, xp):
        """The factors of the backward step that do not depend on the recurrence, for all
        steps at once (step order): K (4, T, m, n_a) = [K_o, K_f, K_u, K_c] and K_1."""
        g, th = self.gates, self.tanh_c
        go, gu, cc = g[0], g[2], g[3]
        k = xp.empty_like(g)
        sig_d = k[:3]
        xp.subtract(1, g[:3], out=sig_d)
        sig_d *= g[:3]  # G (1 - G), sigma' of the three sigmoid gates
        k[0] *= th  # K_o = tanh(c) Go (1 - Go)
        k[1] *= self.c_all[:self.T]  # K_f = c<t-1> Gf (1 - Gf)
        k[2] *= cc  # K_u = c~ Gu (1 - Gu)
        k_c = k[3]
        xp.multiply(cc, cc, out=k_c)  # K_c = Gu (1 - c~^2)
        xp.subtract(1, k_c, out=k_c)
        k_c *= gu
        k_1 = xp.multiply(th, th)  # K_1 = Go (1 - tanh(c)^2)
        xp.subtract(1, k_1, out=k_1)
        k_1 *= go
        return k, k_1

    def backward(self, g_out, g_a_last, g_c_last):
        xp = array_module(g_out)
        T, m, n = self.T, self.m, self.n_a
        k_all, k_1 = self._step_factors(xp)
        gf = self.gates[1]
        dz_all = xp.empty((4, T, m, n), dtype=g_out.dtype)  # by block (o, f, u, c~), step
        w_a = xp.ascontiguousarray(self.w4[:, :, :n])  # (4, n_a, n_a): da = sum_j dz_j W_a,j
        da, dc_next = g_a_last.copy(), g_c_last.copy()
        dc = xp.empty((m, n), dtype=g_out.dtype)
        rec = xp.empty((4, m, n), dtype=g_out.dtype)
        order = self.steps(T)
        for k in reversed(range(T)):
            t = order[k]
            da += g_out[:, t]  # da<t>: from the output y<t> and from step t + 1
            mk = self.step_mask(t)
            if mk is not None:  # padded: the gradient passes to the state it carried
                carry_a, carry_c = (1 - mk) * da, (1 - mk) * dc_next
                da *= mk
                dc_next *= mk
            dz = dz_all[:, k]
            xp.multiply(da, k_1[k], out=dc)  # dc = dc_next + da Go (1 - tanh(c)^2)
            dc += dc_next
            xp.multiply(dc, k_all[1:, k], out=dz[1:])  # dz_f, dz_u, dz_c = dc K_f, K_u, K_c
            xp.multiply(da, k_all[0, k], out=dz[0])  # dz_o = da K_o
            xp.multiply(dc, gf[k], out=dc_next)  # dc_next = dc Gf
            da = xp.matmul(dz, w_a, out=rec).sum(axis=0)  # da_next = dz W_a
            if mk is not None:
                da += carry_a
                dc_next += carry_c
        a_prev = self.a_all[:T].reshape(T * m, n)
        dz3 = dz_all.reshape(4, T * m, n)
        gx, g4, gb = self.block_grads(dz_all, self.w4, [(dz3[j], a_prev) for j in range(4)])
        return gx, _rows(g4, _LSTM_ORDER), _rows(gb, _LSTM_ORDER), da, dc_next


class GRUSequence(_Recurrent):
    """The notes' full GRU (relevance gate inside the candidate's matrix product). Backward
    per step: dc~ = dc Gu;  dGu = dc (c~ - c<t-1>);  dz_c = dc~ (1 - c~^2);
    d(Gr c<t-1>) = dz_c W_ca;  dGr = d(Gr c<t-1>) c<t-1>;  dz_u, dz_r = sigmoid' terms;
    dc_next = dc (1 - Gu) + d(Gr c<t-1>) Gr + [dz_u, dz_r] W_a[:2 n_a].

    ``reset_after``: c~ = tanh(W_cx x<t> + bc + Gr * h_c), h_c = W_ca c<t-1> + b_ca (one more
    input, b_ca (n_a,)); then dh_c = dz_c Gr;  dGr = dz_c h_c;  db_ca = sum_t dh_c;
    dc_next = dc (1 - Gu) + [dz_u, dz_r, dh_c] W_a.

    Computed as the LSTM (see ``LSTMSequence``): gates stored block by block (3, T, m, n_a)
    in the order (r, u, c~) (``_GRU_ORDER``; the public layout stays (u, r, c~)), the two
    sigmoid gates from one tanh of their pre-halved rows, the recurrent products of a step in
    one batched GEMM, and backward's factors that do not depend on the recurrence computed
    for all steps at once: K_r = c<t-1> Gr(1-Gr) (reset after: h_c Gr(1-Gr)),
    K_u = (c~ - c<t-1>) Gu(1-Gu), K_c = Gu (1-c~^2), so that [dz_u, dz_c] = dc [K_u, K_c] is
    one pass and dz_r = d(Gr c<t-1>) K_r (reset after: dz_c K_r)."""

    def __init__(self, mask: Any = None, reverse: bool = False,
                 reset_after: bool = False) -> None:
        super().__init__(mask, reverse)
        self.reset_after = reset_after

    def forward(self, x, w, b, c0, b_ca=None):
        xp = array_module(x)
        self.setup(x, w, step_order=True)
        T, m, n = self.T, self.m, self.n_a
        w3 = self.w3 = _blocks(w, _GRU_ORDER)  # (3, n_a, n_a + n_x), blocks (r, u, c~)
        half = w3.copy()  # the sigmoid blocks halved: tanh(z / 2) gives sigma(z)
        half[:2] *= 0.5
        b_half = _blocks(b, _GRU_ORDER)[:, :, 0]
        b_half[:2] *= 0.5
        gates = xp.matmul(self.xt, half[:, :, n:].transpose(0, 2, 1))  # W_x x<t> + b
        gates += b_half[:, None, :]
        gates = gates.reshape(3, T, m, n)
        w_a_t = xp.ascontiguousarray(half[:, :, :n].transpose(0, 2, 1))  # (3, n_a, n_a)
        c_all = xp.empty((T + 1, m, n), dtype=x.dtype)  # c<0>, then c<t> in step order
        c_all[0] = c0
        # the recurrent input of the candidate: Gr * c<t-1> (notes), or h_c (reset after)
        h_all = xp.empty((T, m, n), dtype=x.dtype)
        rec = xp.empty((3, m, n), dtype=x.dtype)
        for k, t in enumerate(self.steps(T)):
            c_prev, g, h = c_all[k], gates[:, k], h_all[k]
            sig, cc = g[:2], g[2]
            if self.reset_after:
                xp.matmul(c_prev, w_a_t, out=rec)  # all three blocks in one GEMM
                sig += rec[:2]
                xp.add(rec[2], b_ca, out=h)  # h_c = W_ca c<t-1> + b_ca
            else:
                sig += xp.matmul(c_prev, w_a_t[:2], out=rec[:2])
            xp.tanh(sig, out=sig)  # Gr, Gu = (1 + tanh(z / 2)) / 2
            sig += 1
            sig *= 0.5
            gr, gu = sig
            if self.reset_after:  # c~ = tanh(W_cx x + bc + Gr * h_c)
                cc += xp.multiply(gr, h, out=rec[2])
            else:  # c~ = tanh(Wc [Gr * c<t-1>, x] + bc)
                xp.multiply(gr, c_prev, out=h)
                cc += xp.matmul(h, w_a_t[2], out=rec[2])
            xp.tanh(cc, out=cc)
            c = c_all[k + 1]  # c<t> = Gu * c~ + (1 - Gu) * c<t-1>
            xp.subtract(cc, c_prev, out=c)
            c *= gu
            c += c_prev
            mk = self.step_mask(t)
            if mk is not None:  # padded: carry the state over
                c[...] = mk * c + (1 - mk) * c_prev
        self.gates, self.c_all, self.h_all = gates, c_all, h_all
        in_time_order = c_all[:0:-1] if self.reverse else c_all[1:]
        out = xp.ascontiguousarray(in_time_order.transpose(1, 0, 2))
        return out, c_all[T].copy()

    def _step_factors(self, xp):
        """K (3, T, m, n_a) = [K_r, K_u, K_c] and 1 - Gu, for all steps (see the class)."""
        g, c_prev = self.gates, self.c_all[:self.T]
        gu, cc = g[1], g[2]
        k = xp.empty_like(g)
        sig_d = k[:2]
        xp.subtract(1, g[:2], out=sig_d)
        sig_d *= g[:2]  # G (1 - G), sigma' of the two sigmoid gates
        k[0] *= self.h_all if self.reset_after else c_prev  # K_r
        k[1] *= xp.subtract(cc, c_prev, out=k[2])  # K_u = (c~ - c<t-1>) Gu (1 - Gu)
        k_c = k[2]
        xp.multiply(cc, cc, out=k_c)  # K_c = Gu (1 - c~^2)
        xp.subtract(1, k_c, out=k_c)
        k_c *= gu
        return k, xp.subtract(1, gu)

    def backward(self, g_out, g_last):
        xp = array_module(g_out)
        T, m, n = self.T, self.m, self.n_a
        k_all, keep = self._step_factors(xp)
        gr = self.gates[0]
        w_a = xp.ascontiguousarray(self.w3[:, :, :n])  # (3, n_a, n_a), true weights
        dz_all = xp.empty((3, T, m, n), dtype=g_out.dtype)  # by block (r, u, c~), step
        # the gradient of the candidate's recurrent input: d(Gr c<t-1>), or dh_c (reset after)
        dh_all = xp.empty((T, m, n), dtype=g_out.dtype)
        dc_next = g_last.copy()
        dc = xp.empty((m, n), dtype=g_out.dtype)
        tmp = xp.empty((m, n), dtype=g_out.dtype)
        rec = xp.empty((2, m, n), dtype=g_out.dtype)
        order = self.steps(T)
        for k in reversed(range(T)):
            t = order[k]
            xp.add(g_out[:, t], dc_next, out=dc)  # dc<t>: from the output and from step t + 1
            mk = self.step_mask(t)
            if mk is not None:  # padded: the gradient passes to the state it carried
                carry = (1 - mk) * dc
                dc *= mk
            dz, dh = dz_all[:, k], dh_all[k]
            xp.multiply(dc, k_all[1:, k], out=dz[1:])  # dz_u, dz_c = dc K_u, dc K_c
            if self.reset_after:
                xp.multiply(dz[2], gr[k], out=dh)  # dh_c = dz_c Gr
                xp.multiply(dz[2], k_all[0, k], out=dz[0])  # dz_r = dz_c h_c Gr(1-Gr)
            else:
                xp.matmul(dz[2], w_a[2], out=dh)  # d(Gr c<t-1>) = dz_c W_ca
                xp.multiply(dh, k_all[0, k], out=dz[0])  # dz_r = d(Gr c) c<t-1> Gr(1-Gr)
            xp.multiply(dc, keep[k], out=dc_next)  # dc_next = dc (1 - Gu)
            if self.reset_after:  # + [dz_r, dz_u, dh_c] W_a
                dc_next += xp.matmul(dh, w_a[2], out=tmp)
            else:  # + d(Gr c<t-1>) Gr + [dz_r, dz_u] W_a[r, u]
                dc_next += xp.multiply(dh, gr[k], out=tmp)
            dc_next += xp.matmul(dz[:2], w_a[:2], out=rec).sum(axis=0)
            if mk is not None:
                dc_next += carry
        c_prev = self.c_all[:T].reshape(T * m, n)
        h = c_prev if self.reset_after else self.h_all.reshape(T * m, n)
        dz3 = dz_all.reshape(3, T * m, n)
        # dW_a,c: reset after, dh_c^T c<t-1>; the notes' GRU, dz_c^T (Gr * c<t-1>)
        rec_pairs = [(dz3[0], c_prev), (dz3[1], c_prev),
                     (dh_all.reshape(T * m, n), h) if self.reset_after else (dz3[2], h)]
        gx, g3, gb = self.block_grads(dz_all, self.w3, rec_pairs)
        grads = (gx, _rows(g3, _GRU_ORDER), _rows(gb, _GRU_ORDER), dc_next)
        if self.reset_after:
            return (*grads, column_sums(dh_all.reshape(T * m, n)))
        return grads


def _check(name: str, kind: str, x: Tensor, w: Tensor, b: Tensor, states: list[Tensor],
           mask: Any, recurrent_bias: Tensor | None = None) -> None:
    G = GATES[kind]
    if x.ndim != 3:
        hint = "; a single sequence? add the batch axis: x[None]" if x.ndim == 2 else ""
        raise ShapeError(f"{name}: expected x of shape (m, T, n_x) (batch-first), got "
                         f"{x.shape}{hint}")
    m, T, n_x = x.shape
    if w.ndim != 2 or w.shape[0] % G or w.shape[1] <= n_x:
        raise ShapeError(f"{name}: expected W of shape ({G} n_a, n_a + {n_x}) acting on "
                         f"[a<t-1>, x<t>], got {w.shape}")
    n_a = w.shape[0] // G
    if w.shape[1] != n_a + n_x:
        raise ShapeError(f"{name}: W {w.shape} implies n_a = {n_a}, so expected "
                         f"{n_a + n_x} columns ([a<t-1>, x<t>] = {n_a} + {n_x}), got "
                         f"{w.shape[1]}; is x (m, T, n_x) batch-first?")
    if b.shape != (G * n_a,):
        raise ShapeError(f"{name}: expected b of shape ({G * n_a},), got {b.shape}")
    for s in states:
        if s.shape != (m, n_a):
            raise ShapeError(f"{name}: expected an initial state of shape ({m}, {n_a}), got "
                             f"{s.shape}")
    if mask is not None and tuple(mask.shape) != (m, T):
        raise ShapeError(f"{name}: expected mask of shape ({m}, {T}), got {tuple(mask.shape)}")
    if recurrent_bias is not None and recurrent_bias.shape != (n_a,):
        raise ShapeError(f"{name}: expected recurrent_bias (b_ca) of shape ({n_a},), got "
                         f"{recurrent_bias.shape}")


def _prepare(name: str, kind: str, x: Any, w: Any, b: Any, states: list[Any],
             mask: Any) -> tuple[Tensor, Tensor, Tensor, list[Tensor], Any]:
    x, w, b = as_tensor(x), as_tensor(w), as_tensor(b)
    n_a = w.shape[0] // GATES[kind] if w.ndim == 2 else 0
    xp = array_module(x.data)
    states = [as_tensor(s) if s is not None else Tensor(xp.zeros((x.shape[0], n_a), x.dtype))
              for s in states]
    if mask is not None:
        mask = mask.data if isinstance(mask, Tensor) else mask
        mask = xp.asarray(mask).astype(x.dtype)
    _check(name, kind, x, w, b, states, mask)
    return x, w, b, states, mask


def rnn(x: Any, w: Any, b: Any, a0: Any = None, mask: Any = None,
        reverse: bool = False) -> tuple[Tensor, Tensor]:
    """Simple RNN over x (m, T, n_x): returns (a (m, T, n_a), a<T> (m, n_a)).
    W (n_a, n_a + n_x) acts on [a<t-1>, x<t>]; ``reverse`` runs from the last step."""
    x, w, b, (a0,), mask = _prepare("rnn", "rnn", x, w, b, [a0], mask)
    return RNNSequence(mask, reverse)(x, w, b, a0)


def lstm(x: Any, w: Any, b: Any, a0: Any = None, c0: Any = None, mask: Any = None,
         reverse: bool = False) -> tuple[Tensor, Tensor, Tensor]:
    """LSTM over x (m, T, n_x): returns (a (m, T, n_a), a<T>, c<T>).
    W (4 n_a, n_a + n_x): gate blocks forget, update, candidate, output."""
    x, w, b, (a0, c0), mask = _prepare("lstm", "lstm", x, w, b, [a0, c0], mask)
    return LSTMSequence(mask, reverse)(x, w, b, a0, c0)


def gru(x: Any, w: Any, b: Any, c0: Any = None, mask: Any = None, reverse: bool = False,
        reset_after: bool = False, recurrent_bias: Any = None) -> tuple[Tensor, Tensor]:
    """GRU (the notes' full GRU) over x (m, T, n_x): returns (c (m, T, n_a), c<T>).
    W (3 n_a, n_a + n_x): gate blocks update, relevance, candidate.

    ``reset_after=True``: PyTorch's (and Keras') candidate, with the relevance gate applied
    after the matrix product: c~ = tanh(W_cx x + bc + Gr * (W_ca c<t-1> + b_ca)), where
    ``recurrent_bias`` is b_ca (n_a,) (zeros when None)."""
    if recurrent_bias is not None and not reset_after:
        raise ValueError("gru: recurrent_bias (b_ca) is used only with reset_after=True")
    x, w, b, (c0,), mask = _prepare("gru", "gru", x, w, b, [c0], mask)
    if not reset_after:
        return GRUSequence(mask, reverse)(x, w, b, c0)
    if recurrent_bias is None:
        recurrent_bias = Tensor(array_module(x.data).zeros(w.shape[0] // 3, x.dtype))
    recurrent_bias = as_tensor(recurrent_bias)
    _check("gru", "gru", x, w, b, [c0], mask, recurrent_bias)
    return GRUSequence(mask, reverse, reset_after=True)(x, w, b, c0, recurrent_bias)
