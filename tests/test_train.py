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
