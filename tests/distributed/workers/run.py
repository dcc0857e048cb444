"""A small float64 MLP trained through fit, for the distributed tests.

    python run.py OUT MODE [EPOCHS]
MODE full: train EPOCHS epochs (shuffled, global batch 8) with a checkpoint per epoch
(OUT/ckpt-{epoch}.st) and save the weights to OUT/final.npz (rank 0).
MODE resume: load OUT/ckpt-2.st and train on to EPOCHS with distributed=True, save
OUT/resumed.npz. MODE raise / kill: like full, but rank 1 raises / is killed with SIGKILL
in epoch 3. MODE stop: rank 1 alone stops training in epoch 2 (every rank must stop).
"""

import os
import signal
import sys

import numpy as np

import dlkit as dl
from dlkit import nn

out, mode = sys.argv[1], sys.argv[2]
epochs = int(sys.argv[3]) if len(sys.argv) > 3 else 4
dl.set_default_dtype("float64")
dl.manual_seed(5)
model = nn.Sequential(nn.Linear(4, 12), nn.Tanh(), nn.Linear(12, 3))
opt = dl.optim.Adam(model.parameters(), lr=0.01)
rng = np.random.default_rng(1)
X, y = rng.standard_normal((64, 4)), rng.integers(0, 3, 64)


class Fault(dl.train.Callback):
    def on_batch_end(self, batch, logs):
        if mode == "stop":
            if self.trainer.epoch == 1 and batch == 2 and dl.distributed.rank() == 1:
                self.trainer.stop_training = True
            return
        if self.trainer.epoch == 2 and batch == 3 and dl.distributed.rank() == 1:
            if mode == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            raise RuntimeError("an error on purpose")


callbacks = [dl.train.ModelCheckpoint(os.path.join(out, "ckpt-{epoch}.st"))]
initial = 0
if mode in ("raise", "kill", "stop"):
    callbacks.append(Fault())
if mode == "resume":
    initial = dl.io.load_checkpoint(os.path.join(out, "ckpt-2.st"), model, opt)["epoch"]
    callbacks = []
history = dl.train.fit(model, "cross_entropy", opt, X, y, epochs=epochs, batch_size=8,
                       callbacks=callbacks, initial_epoch=initial,
                       distributed=True if mode == "resume" else None)
if dl.distributed.is_main():
    np.savez(os.path.join(out, "final.npz" if mode != "resume" else "resumed.npz"),
             **model.state_dict(), loss=np.array(history["loss"]))
