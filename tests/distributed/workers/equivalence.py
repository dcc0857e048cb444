"""Run under mpiexec -n 2: train an MLP, a CNN with SyncBatchNorm and an LSTM for 10 steps of
global batch 8 through fit (distributed automatically), then, on rank 0, the same models in
one process (plain BatchNorm2d, distributed=False); write the largest parameter difference
of each to the JSON file argv[1]."""

import json
import sys

import numpy as np

import dlkit as dl
from dlkit import nn

dl.set_default_dtype("float64")
B, STEPS = 8, 10


class LastStep(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(3, 6)
        self.fc = nn.Linear(6, 4)

    def forward(self, x):
        return self.fc(self.lstm(x))


def mlp():
    return nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 8), nn.ReLU(),
                         nn.Linear(8, 4))


def cnn():
    return nn.Sequential(nn.Conv2d(2, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 3 * 3, 4))


def data(kind):
    rng = np.random.default_rng(7)
    shape = {"mlp": (5,), "mlp_loader": (5,), "cnn": (6, 6, 2), "lstm": (5, 3)}[kind]
    X = rng.standard_normal((B * STEPS, *shape))
    return X, rng.integers(0, 4, B * STEPS)


def train(kind, distributed, sync_bn):
    dl.manual_seed(3)
    model = {"mlp": mlp, "mlp_loader": mlp, "cnn": cnn, "lstm": LastStep}[kind]()
    if sync_bn:
        dl.distributed.SyncBatchNorm.convert(model)
    opt = dl.optim.Adam(model.parameters(), lr=0.01)
    X, y = data(kind)
    if kind == "mlp_loader":   # a DataLoader without a sampler: fit shards it
        loader = dl.data.DataLoader(X, y, batch_size=B, shuffle=False)
        dl.train.fit(model, "cross_entropy", opt, loader, epochs=1, distributed=distributed,
                     metrics=())
        return model.state_dict()
    dl.train.fit(model, "cross_entropy", opt, X, y, epochs=1, batch_size=B, shuffle=False,
                 distributed=distributed, metrics=())
    return model.state_dict()


out = {}
for kind in ("mlp", "mlp_loader", "cnn", "lstm"):
    dist_state = train(kind, None, kind == "cnn")   # distributed by itself under mpiexec
    if dl.distributed.is_main():
        one = train(kind, False, False)
        out[kind] = max(float(np.max(np.abs(dist_state[k] - one[k]))) for k in one)
        out[kind + "_keys"] = sorted(one) == sorted(dist_state)
if dl.distributed.is_main():
    out["world"] = dl.distributed.world_size()
    with open(sys.argv[1], "w") as f:
        json.dump(out, f)
