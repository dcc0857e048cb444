"""Computer vision applications of course 4: face verification and recognition (triplet loss,
galleries), neural style transfer, and what ConvNets learn."""

from dlkit.vision.triplet import (
    IdentityBatches,
    TripletMiningLoss,
    mine_triplets,
    pairwise_sq_distances,
    triplet_loss,
)
from dlkit.vision.verification import (
    Gallery,
    auc,
    choose_threshold,
    make_pairs,
    model_fingerprint,
    pair_distances,
    plot_roc,
    roc_curve,
    verification_accuracy,
    verify,
)

__all__ = [
    "IdentityBatches", "TripletMiningLoss", "mine_triplets", "pairwise_sq_distances",
    "triplet_loss",
    "Gallery", "auc", "choose_threshold", "make_pairs", "model_fingerprint", "pair_distances",
    "plot_roc", "roc_curve", "verification_accuracy", "verify",
]
