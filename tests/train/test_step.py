"""fit's extension point: steps over batches of any structure, the same step in evaluation,
models with their own train_step, and language models trained (and resumed) through fit."""

from __future__ import annotations

import numpy as np
import pytest

import dlkit as dl
from dlkit.ops.loss import mse_loss
from dlkit.train import Step, StepOutput


def _regression(m: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=(m, 3)), rng.normal(size=(m, 2))
    y = x1 @ np.array([[1.0], [-2.0], [0.5]]) + x2 @ np.array([[3.0], [1.0]])
    return x1, x2, y


class TwoInputs(dl.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = dl.nn.Linear(3, 1, dtype="float64")
        self.b = dl.nn.Linear(2, 1, dtype="float64")

    def forward(self, x1, x2):
        return self.a(x1) + self.b(x2)


class PairStep(Step):
    output = "values"

    def __init__(self) -> None:
        self.begun: list[bool] = []

    def begin(self, model, training):
        self.begun.append(training)

    def __call__(self, model, batch):
        x1, x2, y = batch
        out = model(x1, x2)
        return StepOutput(mse_loss(out, y), outputs=out, targets=y,
                          logs={"abs_mean": float(np.abs(out.data).mean())})

    def epoch_logs(self, logs):
        return {"rmse": float(np.sqrt(logs["loss"]))}


def test_a_step_over_three_arrays_trains_a_two_input_model():
    dl.manual_seed(0)
    x1, x2, y = _regression()
    model, step = TwoInputs(), PairStep()
    opt = dl.optim.Adam(model.parameters(), lr=0.05)
    data = dl.data.DataLoader(x1, x2, y, batch_size=16)
    h = dl.train.fit(model, None, opt, data, epochs=60, step=step, metrics=(),
                     validation_data=dl.data.DataLoader(x1, x2, y, shuffle=False))
    assert h["loss"][-1] < 1e-2 * h["loss"][0]
    assert h["rmse"][-1] == pytest.approx(np.sqrt(h["loss"][-1]))
    assert h["val_rmse"][-1] == pytest.approx(np.sqrt(h["val_loss"][-1]))
    assert "abs_mean" in h and "val_abs_mean" in h
    # begin runs before every training epoch (True) and every evaluation pass (False)
    assert step.begun[:4] == [True, False, True, False] and len(step.begun) == 120


def test_evaluate_runs_the_same_step_and_weights_batches_by_size():
    x1, x2, y = _regression(50)
    model = TwoInputs()
    whole = dl.train.evaluate(model, None, dl.data.DataLoader(x1, x2, y, batch_size=50,
                                                             shuffle=False), step=PairStep(),
                              metrics=())
    parts = dl.train.evaluate(model, None, dl.data.DataLoader(x1, x2, y, batch_size=7,
                                                             shuffle=False), step=PairStep(),
                              metrics=())
    assert parts["loss"] == pytest.approx(whole["loss"], rel=1e-12)


def test_dict_batches_and_a_plain_function_step():
    dl.manual_seed(1)
    x1, x2, y = _regression()
    batches = [{"x1": x1[i:i + 16], "x2": x2[i:i + 16], "y": y[i:i + 16]}
               for i in range(0, 64, 16)]

    def step(model, batch):
        return mse_loss(model(batch["x1"], batch["x2"]), batch["y"])

    model = TwoInputs()
    h = dl.train.fit(model, None, dl.optim.Adam(model.parameters(), lr=0.05), batches,
                     epochs=40, step=step, metrics=())
    assert h["loss"][-1] < 0.05 * h["loss"][0]


def test_a_model_with_its_own_train_step_needs_no_step_argument():
    class Own(TwoInputs):
        def train_step(self, batch):
            x1, x2, y = batch
            return mse_loss(self(x1, x2), y)

        def predict_step(self, batch):
            return self(batch[0], batch[1])

    dl.manual_seed(2)
    x1, x2, y = _regression()
    model = Own()
    h = dl.train.fit(model, None, dl.optim.Adam(model.parameters(), lr=0.05),
                     dl.data.DataLoader(x1, x2, y, batch_size=16), epochs=40, metrics=())
    assert h["loss"][-1] < 0.05 * h["loss"][0]
    out = dl.train.predict(model, dl.data.DataLoader(x1, x2, y, shuffle=False, batch_size=10))
    np.testing.assert_allclose(out, model(x1, x2).data)


def test_default_step_is_unchanged_for_arrays():
    dl.manual_seed(3)
    X, y = dl.data.make_moons(200, noise=0.1)
    model = dl.nn.Sequential(dl.nn.Linear(2, 8), dl.nn.Tanh(), dl.nn.Linear(8, 1))
    h = dl.train.fit(model, "bce_logits", dl.optim.Adam(model.parameters(), lr=0.05), X, y,
                     epochs=30, validation_data=(X, y))
    assert h["accuracy"][-1] > 0.85 and h["val_accuracy"][-1] > 0.85


def test_bad_steps_and_data_are_clear_errors():
    model = TwoInputs()
    opt = dl.optim.SGD(model.parameters(), lr=0.1)
    x1, x2, y = _regression(8)
    with pytest.raises(ValueError, match="expected a loss"):
        dl.train.fit(model, None, opt, x1, y)
    with pytest.raises(TypeError, match="one-shot iterator"):
        dl.train.fit(model, None, opt, iter([(x1, x2, y)]), step=PairStep())
    with pytest.raises(ValueError, match="must be a scalar"):
        dl.train.fit(model, None, opt, [(x1, x2, y)], metrics=(),
                     step=lambda m, b: (m(b[0], b[1]) - b[2]) ** 2)
    with pytest.raises(TypeError, match="expects \\(X, y\\) batches"):
        dl.train.fit(model, "mse", opt, [{"x": x1}])


def test_callback_list_dispatches_every_hook_in_order():
    calls: list[str] = []

    class Spy(dl.train.Callback):
        def __init__(self, name, order=0):
            self.name, self.order = name, order

        def on_train_begin(self, logs):
            calls.append(f"{self.name}:train_begin")

        def on_batch_begin(self, batch, logs):
            calls.append(f"{self.name}:batch_begin")

        def on_epoch_end(self, epoch, logs):
            calls.append(f"{self.name}:epoch_end")

    X, y = np.zeros((4, 2)), np.zeros((4, 1))
    model = dl.nn.Linear(2, 1)
    dl.train.fit(model, "mse", dl.optim.SGD(model.parameters(), lr=0.1), X, y, epochs=1,
                 batch_size=4, metrics=(), callbacks=[Spy("late", 5), Spy("early", -5)])
    assert calls == ["early:train_begin", "late:train_begin", "early:batch_begin",
                     "late:batch_begin", "early:epoch_end", "late:epoch_end"]


def _charlm(seed: int = 0) -> tuple[dl.text.CharLM, dl.text.CharVocab, list[str]]:
    dl.manual_seed(seed)
    names = dl.text.dinosaur_names()[:48]
    vocab = dl.text.CharVocab.from_corpus(names, lower=True)
    model = dl.text.CharLM(len(vocab), 8, 12, "lstm", dtype="float64")
    return model, vocab, names


@pytest.mark.parametrize("mode", ["lines", "stream"])
def test_language_model_resumed_from_a_checkpoint_equals_an_uninterrupted_run(tmp_path, mode):
    def train(model, vocab, names, epochs, initial_epoch=0, callbacks=(), opt=None):
        opt = opt or dl.optim.Adam(model.parameters(), lr=0.01)
        if mode == "lines":
            return opt, dl.text.fit_lines(model, vocab, names, epochs=epochs, batch_size=16,
                                          optimizer=opt, callbacks=callbacks, l2=0.01,
                                          initial_epoch=initial_epoch,
                                          validation_lines=names[:8])
        text = "\n".join(names)
        return opt, dl.text.fit_stream(model, vocab, text, epochs=epochs, batch_size=4,
                                       bptt=16, optimizer=opt, callbacks=callbacks, l2=0.01,
                                       initial_epoch=initial_epoch)

    model, vocab, names = _charlm()
    _, full = train(model, vocab, names, 4)
    expected = model.state_dict()

    model, vocab, names = _charlm()
    path = tmp_path / "lm.ckpt"
    train(model, vocab, names, 2, callbacks=[dl.train.ModelCheckpoint(path)])
    model2, _, _ = _charlm(seed=99)  # different initial weights and RNG: all from the file
    opt2 = dl.optim.Adam(model2.parameters(), lr=0.01)
    state = dl.io.load_checkpoint(path, model2, opt2)
    _, rest = train(model2, vocab, names, 4, initial_epoch=state["epoch"], opt=opt2)
    for k, v in model2.state_dict().items():
        np.testing.assert_array_equal(v, expected[k], err_msg=k)
    assert rest["loss"] == full["loss"][2:]
    assert "perplexity" in rest


def test_fit_evaluate_and_predict_take_a_dataset():
    dl.manual_seed(4)
    X, y = dl.data.make_moons(200, noise=0.1)
    data = dl.data.ArrayDataset(X, y)
    model = dl.nn.Sequential(dl.nn.Linear(2, 8), dl.nn.Tanh(), dl.nn.Linear(8, 1))
    h = dl.train.fit(model, "bce_logits", dl.optim.Adam(model.parameters(), lr=0.05), data,
                     epochs=20, batch_size=32, validation_data=data)
    assert h["accuracy"][-1] > 0.85
    assert dl.train.evaluate(model, "bce_logits", data)["accuracy"] > 0.85
    np.testing.assert_allclose(dl.train.predict(model, dl.data.ArrayDataset(X)),
                               dl.train.predict(model, X), rtol=1e-6)
