"""Run under mpiexec -n 2: a loop of one's own, Horovod style (broadcast_parameters, each
rank's DistributedSampler shard, DistributedOptimizer), against one process on the whole
batch (rank 0); prints the largest parameter difference."""

import numpy as np

import dlkit as dl
from dlkit import nn
from dlkit.distributed import DistributedOptimizer, DistributedSampler, broadcast_parameters

dl.set_default_dtype("float64")
rng = np.random.default_rng(0)
X, y = rng.standard_normal((48, 6)), rng.integers(0, 3, 48)


def model_and_opt(seed):
    dl.manual_seed(seed)
    model = nn.Sequential(nn.Linear(6, 10), nn.ReLU(), nn.Linear(10, 3))
    return model, dl.optim.Momentum(model.parameters(), lr=0.1, beta=0.9)


world, rank = dl.distributed.world_size(), dl.distributed.rank()
model, opt = model_and_opt(seed=rank)      # different weights on each rank ...
broadcast_parameters(model)                # ... until rank 0's are broadcast
opt = DistributedOptimizer(opt)
sampler = DistributedSampler(len(X), world, rank, shuffle=True, seed=11)
for epoch in range(2):
    sampler.set_epoch(epoch)
    order = sampler.indices()
    for k in range(0, len(order), 12 // world):
        idx = order[k:k + 12 // world]
        opt.zero_grad()
        dl.cross_entropy(model(dl.tensor(X[idx])), dl.tensor(y[idx])).backward()
        opt.step()
if rank == 0:
    ref, ref_opt = model_and_opt(seed=0)
    whole = DistributedSampler(len(X), 1, 0, shuffle=True, seed=11)
    for epoch in range(2):
        whole.set_epoch(epoch)
        order = whole.indices()
        for k in range(0, len(order), 12):
            idx = order[k:k + 12]
            ref_opt.zero_grad()
            dl.cross_entropy(ref(dl.tensor(X[idx])), dl.tensor(y[idx])).backward()
            ref_opt.step()
    a, b = model.state_dict(), ref.state_dict()
    print("maxdiff", max(float(np.max(np.abs(a[k] - b[k]))) for k in a))
