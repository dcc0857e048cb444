"""One-shot recognition end to end: train an embedding with the triplet loss on some
identities, then verify and identify identities never seen in training from one stored
example each (the notes' face recognition, on data that needs no download).

The default data is a stand-in for faces that needs no download: synthetic faces of 200
identities, 20 of them kept out of training (``faces_one_shot``). scikit-learn's 8x8 digits
give another, with digits 0-6 for training and 7-9 as the "new people" (``digits_one_shot``);
with only seven training identities their embedding generalizes poorly (docs/faces.md). A
folder per identity (LFW's layout) works the same way (``split_identities``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dlkit.backend import generator, get_default_dtype
from dlkit.models.siamese import EmbeddingNet, conv_encoder
from dlkit.vision.triplet import IdentityBatches, TripletMiningLoss, TripletStep
from dlkit.vision.verification import (
    Gallery,
    auc,
    choose_threshold,
    make_pairs,
    roc_curve,
    sq_distances,
    verification_accuracy,
)

__all__ = ["OneShotData", "digits_one_shot", "evaluate_one_shot", "faces_one_shot",
           "lfw_people", "split_identities", "train_embedding"]


@dataclass
class OneShotData:
    """Training identities (``X_train``, ``y_train``), held-out examples of the same
    identities (``X_dev``, ``y_dev``: the threshold is chosen on their pairs), and the
    identities never seen in training (``X_new``, ``y_new``); ``names[label]`` names a label."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_dev: np.ndarray
    y_dev: np.ndarray
    X_new: np.ndarray
    y_new: np.ndarray
    names: list[str]

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.X_train.shape[1:])


def split_identities(X: np.ndarray, y: np.ndarray, names: Sequence[str],
                     new: Sequence[int] | float = 0.3, dev_size: float = 0.2) -> OneShotData:
    """Identities ``new`` (labels, or a fraction of the identities, drawn with dlkit's
    generator) are kept out of training; of the others' examples ``dev_size`` go to dev."""
    X, y = np.asarray(X), np.asarray(y).reshape(-1)
    labels = np.unique(y)
    if isinstance(new, float):
        k = max(1, int(round(new * len(labels))))
        if len(labels) - k < 2:
            raise ValueError(f"split_identities: {len(labels)} identities are too few: training "
                             f"needs at least 2 after keeping {k} out")
        new = generator().choice(labels, k, replace=False).tolist()
    unseen = np.isin(y, np.asarray(new))
    if not unseen.any() or unseen.all():
        raise ValueError(f"split_identities: expected some identities in training and some "
                         f"kept out, got new={list(new)} for labels {labels.tolist()}")
    seen_idx = np.flatnonzero(~unseen)
    order = generator().permutation(seen_idx)
    n_dev = int(round(dev_size * len(order)))
    dev, train = order[:n_dev], order[n_dev:]
    return OneShotData(X[train], y[train], X[dev], y[dev], X[unseen], y[unseen],
                       [str(n) for n in names])


def digits_one_shot(new: Sequence[int] = (7, 8, 9), dev_size: float = 0.2) -> OneShotData:
    """scikit-learn's digits as (8, 8, 1) images: ``new`` digits kept out of training."""
    from dlkit.data.sources import load_digits

    X, y = load_digits(as_images=True)
    return split_identities(X, y, [str(d) for d in range(10)], list(new), dev_size)


def faces_one_shot(n_identities: int = 200, per_identity: int = 10, size: int = 16,
                   new: float = 0.1, dev_size: float = 0.2) -> OneShotData:
    """Synthetic faces (``dlkit.vision.synthetic_faces.make_faces``): a fraction ``new`` of
    the identities (20 of 200 by default) kept out of training."""
    from dlkit.vision.synthetic_faces import make_faces

    X, y, names = make_faces(n_identities, per_identity, size)
    return split_identities(X, y, names, float(new), dev_size)


def lfw_people(min_faces_per_person: int = 20, resize: float = 0.4, size: int | None = None,
               data_home: str | None = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Labeled Faces in the Wild through scikit-learn's ``fetch_lfw_people``, only when its
    files are already in scikit-learn's cache (``download_if_missing=False``: dlkit never
    downloads): X (m, n_H, n_W, 1) gray faces in [0, 1] (``size``: resized to size x size),
    y (m,), the people's names."""
    from sklearn.datasets import fetch_lfw_people

    try:
        bunch = fetch_lfw_people(min_faces_per_person=min_faces_per_person, resize=resize,
                                 data_home=data_home, download_if_missing=False)
    except OSError as e:
        raise ValueError(f"lfw_people: LFW is not in scikit-learn's cache ({e}); fetch it "
                         f"once with sklearn.datasets.fetch_lfw_people() where the internet "
                         f"is reachable, or use a folder per identity") from None
    X = np.asarray(bunch.images, dtype=np.float64)
    X = X / 255.0 if X.max() > 1.0 else X
    if size is not None:
        from PIL import Image

        X = np.stack([np.asarray(Image.fromarray((x * 255).astype(np.uint8)).resize(
            (size, size), Image.BILINEAR), np.float64) / 255.0 for x in X])
    return (X[..., None].astype(get_default_dtype()), np.asarray(bunch.target, np.int64),
            [str(n) for n in bunch.target_names])


def train_embedding(X: np.ndarray, y: np.ndarray, embedding_dim: int = 32,
                    widths: Sequence[int] = (16, 32), alpha: float = 0.2,
                    strategy: str = "semi-hard", epochs: int = 2, batch_size: int = 64,
                    lr: float = 0.001, identities_per_batch: int | None = None,
                    callbacks: Sequence[Any] = (), verbose: int = 0
                    ) -> tuple[EmbeddingNet, Any]:
    """A ``conv_encoder`` trained with the triplet loss (mined in each batch) through
    ``dl.train.fit``; returns (encoder, history). ``identities_per_batch``: batches of that
    many identities x batch_size // identities examples (``IdentityBatches``); otherwise
    shuffled batches of ``batch_size`` (the default when there are at most
    ``batch_size // 4`` identities; with more, ``identities_per_batch = batch_size // 4``,
    4 examples each, so that every batch holds positives). The history logs ``loss`` and
    ``active_triplets`` (the share of mined triplets with a positive loss)."""
    from dlkit.optim.adam import Adam
    from dlkit.train.loop import fit

    encoder = conv_encoder(X.shape[1:], embedding_dim, widths)
    loss = TripletMiningLoss(alpha, strategy)
    optimizer = Adam(encoder.parameters(), lr=lr)
    step = TripletStep(loss)
    if identities_per_batch is None and len(np.unique(y)) > batch_size // 4:
        identities_per_batch = max(2, batch_size // 4)
    if identities_per_batch:
        per = max(2, batch_size // identities_per_batch)
        batches = IdentityBatches(X, y, identities_per_batch, per)
        history = fit(encoder, None, optimizer, batches, epochs=epochs, metrics=(), step=step,
                      callbacks=callbacks, verbose=verbose)
    else:
        history = fit(encoder, None, optimizer, X, y, epochs=epochs, batch_size=batch_size,
                      metrics=(), step=step, callbacks=callbacks, verbose=verbose)
    return encoder, history


def evaluate_one_shot(encoder: Any, data: OneShotData, n_pairs: int = 2000,
                      target_far: float | None = None) -> dict[str, Any]:
    """Verification and one-shot identification on the identities never seen in training.

    The threshold is chosen on pairs of the dev examples (seen identities), for the best
    accuracy or ``target_far``. Verification: balanced pairs of the new identities, decided
    by ``d < threshold``. Identification: a gallery of the first example of each new
    identity; every other example must be recognized (the nearest stored example; with the
    threshold, "not in the database" counts as an error)."""
    E_dev = encoder.embed(data.X_dev)
    i, j, same_dev = make_pairs(data.y_dev, n_pairs)
    d_dev = sq_distances(E_dev[i], E_dev[j])
    threshold = choose_threshold(d_dev, same_dev, target_far)
    E_new = encoder.embed(data.X_new)
    i, j, same = make_pairs(data.y_new, n_pairs)
    d = sq_distances(E_new[i], E_new[j])
    far, tar, _ = roc_curve(d, same)
    labels = np.unique(data.y_new)
    first = np.array([np.flatnonzero(data.y_new == k)[0] for k in labels])
    rest = np.setdiff1d(np.arange(len(data.y_new)), first)
    gallery = Gallery.from_examples(E_new[first], [data.names[k] for k in labels], threshold)
    names, _ = gallery.identify(E_new[rest])
    truth = [data.names[k] for k in data.y_new[rest]]
    G = E_new[first].astype(np.float64)
    nearest = ((E_new[rest][:, None].astype(np.float64) - G[None]) ** 2).sum(-1).argmin(1)
    return {
        "threshold": threshold,
        "dev_verification_accuracy": verification_accuracy(d_dev, same_dev, threshold),
        "verification_accuracy": verification_accuracy(d, same, threshold),
        "best_verification_accuracy": verification_accuracy(d, same,
                                                            choose_threshold(d, same)),
        "auc": auc(far, tar),
        "identification_accuracy": float(np.mean(labels[nearest] == data.y_new[rest])),
        "identification_accuracy_with_threshold": float(np.mean(
            [n == t for n, t in zip(names, truth)])),
        "new_identities": [data.names[k] for k in labels],
        "roc": (far, tar),
    }
