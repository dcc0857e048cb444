"""Computer vision applications of course 4: face verification and recognition (triplet loss,
galleries), neural style transfer, and what ConvNets learn."""

from dlkit.vision.triplet import (
    IdentityBatches,
    TripletMiningLoss,
    mine_triplets,
    pairwise_sq_distances,
    triplet_loss,
)

__all__ = [
    "IdentityBatches", "TripletMiningLoss", "mine_triplets", "pairwise_sq_distances",
    "triplet_loss",
]
