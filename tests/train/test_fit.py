"""fit / evaluate / predict and learning."""

import numpy as np
import pytest

import dlkit as dl
from dlkit import nn


def flower_model(hidden=4):
    return nn.Sequential(nn.Linear(2, hidden, init="xavier"), nn.Tanh(),
                         nn.Linear(hidden, 1, init="xavier"))


def test_flower_with_four_tanh_units_reaches_course_accuracy():
    """The course: 4 tanh hidden units, lr 1.2, full-batch gradient descent -> ~90%."""
    dl.manual_seed(1)
    X, y = dl.data.make_flower(400)
    model = flower_model(4)
    opt = dl.optim.SGD(model.parameters(), lr=1.2)
    history = dl.train.fit(model, "binary_cross_entropy_with_logits", opt, X, y,
                           epochs=2000, batch_size=400, shuffle=False)
    assert history["loss"][-1] < history["loss"][0] / 2
    assert dl.train.evaluate(model, "bce_logits", X, y)["accuracy"] >= 0.88


def test_softmax_regression_learns_three_blobs():
    rng = np.random.default_rng(0)
    centers = np.array([[0, 4], [4, 0], [-4, -4]], dtype=np.float32)
    y = rng.integers(0, 3, 300)
    X = (centers[y] + rng.standard_normal((300, 2))).astype(np.float32)
    dl.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 3))
    history = dl.train.fit(model, "cross_entropy", dl.optim.Adam(model.parameters(), lr=0.05),
                           X, y, epochs=30, batch_size=32, validation_data=(X, y))
    assert history["val_accuracy"][-1] > 0.95 and "val_loss" in history
    assert dl.train.predict(model, X).shape == (300, 3)


def test_fit_is_reproducible_with_seed():
    def run():
        dl.manual_seed(7)
        X, y = dl.data.make_flower(200)
        model = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Dropout(0.2), nn.Linear(8, 1))
        dl.train.fit(model, "bce_logits", dl.optim.Adam(model.parameters(), lr=0.01), X, y,
                     epochs=3, batch_size=32)
        return model.state_dict()

    a, b = run(), run()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


def test_callbacks_see_epochs_and_can_stop():
    class StopAfterTwo(dl.train.Callback):
        def __init__(self):
            self.epochs = []

        def on_epoch_end(self, epoch, logs):
            self.epochs.append((epoch, round(logs["loss"], 6)))
            if epoch == 1:
                self.trainer.stop_training = True

    dl.manual_seed(0)
    X, y = dl.data.make_flower(100)
    model = flower_model()
    cb = StopAfterTwo()
    history = dl.train.fit(model, "bce_logits", dl.optim.SGD(model.parameters(), lr=0.1), X, y,
                           epochs=10, callbacks=[cb])
    assert [e for e, _ in cb.epochs] == [0, 1] and len(history["loss"]) == 2


def test_fit_rejects_unknown_loss_and_metric():
    model = flower_model()
    opt = dl.optim.SGD(model.parameters(), lr=0.1)
    X, y = np.zeros((4, 2), np.float32), np.zeros((4, 1), np.float32)
    with pytest.raises(ValueError, match="unknown loss"):
        dl.train.fit(model, "hinge-ish", opt, X, y)
    with pytest.raises(ValueError, match="unknown metric"):
        dl.train.fit(model, "bce_logits", opt, X, y, metrics=["auc-ish"])


def linear_problem(seed=0):
    """float64 regression on one full batch, so one epoch is one step."""
    rng = np.random.default_rng(seed)
    X, y = rng.standard_normal((20, 3)), rng.standard_normal((20, 2))
    dl.set_default_dtype("float64")
    dl.manual_seed(seed)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    dl.set_default_dtype("float32")
    return model, X, y


def gradients(model, X, y, lambd=0.0):
    model.zero_grad()
    cost = dl.mse_loss(model(dl.tensor(X)), dl.tensor(y))
    if lambd:
        cost = cost + dl.nn.l2_penalty(model, lambd, len(X))
    cost.backward()
    return {name: p.grad.copy() for name, p in model.named_parameters()}


def test_l2_penalty_value_and_gradient_equal_weight_decay():
    model, X, y = linear_problem()
    lambd, m = 0.7, len(X)
    weights = [model[0].weight.data, model[2].weight.data]
    expected = lambd / (2 * m) * sum((w**2).sum() for w in weights)
    penalty = dl.nn.l2_penalty(model, lambd, m)
    assert isinstance(penalty, dl.Tensor) and penalty.item() == pytest.approx(expected)
    plain, regularized = gradients(model, X, y), gradients(model, X, y, lambd)
    for name, p in model.named_parameters():
        decay = lambd / m * p.data if p.ndim >= 2 else 0.0  # biases are not regularized
        np.testing.assert_allclose(regularized[name], plain[name] + decay, rtol=1e-12)
    with pytest.raises(ValueError, match="l2_penalty: expected m"):
        dl.nn.l2_penalty(model, 0.1, 0)


def test_fit_l2_takes_the_weight_decay_step():
    lambd = 0.5
    model_a, X, y = linear_problem()
    model_b, _, _ = linear_problem()
    history = dl.train.fit(model_a, "mse", dl.optim.SGD(model_a.parameters(), lr=0.1), X, y,
                           epochs=1, batch_size=len(X), shuffle=False, metrics=(), l2=lambd)
    opt = dl.optim.SGD(model_b.parameters(), lr=0.1, weight_decay=lambd / len(X))
    plain = dl.train.fit(model_b, "mse", opt, X, y, epochs=1, batch_size=len(X), shuffle=False,
                         metrics=())
    for (name, a), b in zip(model_a.state_dict().items(), model_b.state_dict().values()):
        np.testing.assert_allclose(a, b, rtol=1e-12, err_msg=name)
    assert history["loss"][0] > plain["loss"][0]  # the logged cost includes the penalty


def test_fit_clips_gradients_before_the_step():
    model, X, y = linear_problem()
    before = {k: v.copy() for k, v in model.state_dict().items()}
    grads = gradients(model, X, y)
    dl.train.fit(model, "mse", dl.optim.SGD(model.parameters(), lr=1.0), X, y, epochs=1,
                 batch_size=len(X), shuffle=False, metrics=(), clip_value=0.01)
    for name, g in grads.items():
        np.testing.assert_allclose(before[name] - model.state_dict()[name],
                                   np.clip(g, -0.01, 0.01), rtol=1e-10, atol=1e-15)
    model, X, y = linear_problem()
    before = model.state_dict()
    dl.train.fit(model, "mse", dl.optim.SGD(model.parameters(), lr=1.0), X, y, epochs=1,
                 batch_size=len(X), shuffle=False, metrics=(), clip_norm=0.05)
    step = np.sqrt(sum(((before[k] - v) ** 2).sum() for k, v in model.state_dict().items()))
    assert np.sqrt(sum((g**2).sum() for g in grads.values())) > 0.05
    assert step == pytest.approx(0.05, rel=1e-4)
    with pytest.raises(ValueError, match="fit: expected clip_norm > 0"):
        dl.train.fit(model, "mse", dl.optim.SGD(model.parameters(), lr=1.0), X, y, clip_norm=0)


def test_initial_epoch_runs_the_remaining_epochs():
    dl.manual_seed(0)
    X, y = dl.data.make_flower(40)
    model = flower_model()
    opt = dl.optim.SGD(model.parameters(), lr=0.1)
    history = dl.train.fit(model, "bce_logits", opt, X, y, epochs=5, initial_epoch=3)
    assert history.epochs == [3, 4]
    assert len(dl.train.fit(model, "bce_logits", opt, X, y, epochs=3, initial_epoch=3)) == 0
    with pytest.raises(ValueError, match="epochs is the epoch to stop before.*initial_epoch=5, "
                                         "epochs=10"):
        dl.train.fit(model, "bce_logits", opt, X, y, epochs=2, initial_epoch=5)


def test_stop_training_in_a_batch_ends_the_epoch():
    class StopAtBatchOne(dl.train.Callback):
        def on_batch_end(self, batch, logs):
            self.trainer.stop_training = batch == 1

    dl.manual_seed(0)
    X, y = dl.data.make_flower(64)
    model = flower_model()
    opt = dl.optim.SGD(model.parameters(), lr=0.1)
    history = dl.train.fit(model, "bce_logits", opt, X, y, epochs=3, batch_size=16,
                           callbacks=[StopAtBatchOne()])
    assert len(history) == 1 and opt.step_count == 2


def test_history_csv_round_trip(tmp_path):
    history = dl.train.History()
    history.append(0, {"loss": 0.1 + 0.2, "accuracy": 1 / 3})
    history.append(1, {"loss": 1e-17, "accuracy": 0.5})
    history.to_csv(tmp_path / "h.csv")
    back = dl.train.History.from_csv(tmp_path / "h.csv")
    assert back.epochs == [0, 1] and back.history == history.history  # exact floats
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        dl.train.History.from_csv(tmp_path / "nope.csv")
    (tmp_path / "bad.csv").write_text("loss\n1.0\n")
    with pytest.raises(ValueError, match="no header starting with 'epoch'"):
        dl.train.History.from_csv(tmp_path / "bad.csv")
