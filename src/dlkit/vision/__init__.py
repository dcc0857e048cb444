"""Computer vision applications of course 4: face verification and recognition (triplet loss,
galleries), neural style transfer, and what ConvNets learn."""

from dlkit.vision.images import (
    ImageError,
    image_grid,
    load_image,
    load_image_folder,
    sample_image,
    save_image,
)
from dlkit.vision.style import (
    StyleResult,
    StyleTransfer,
    content_cost,
    gram_matrix,
    layer_style_cost,
    random_vgg_features,
    style_cost,
    total_cost,
    vgg19_features,
    vgg_layer_names,
)
from dlkit.vision.triplet import (
    IdentityBatches,
    TripletMiningLoss,
    TripletStep,
    mine_triplets,
    pairwise_sq_distances,
    triplet_loss,
)
from dlkit.vision.verification import (
    Gallery,
    auc,
    choose_threshold,
    identify,
    make_pairs,
    model_fingerprint,
    pair_distances,
    plot_roc,
    roc_curve,
    verification_accuracy,
    verify,
)

__all__ = [
    "IdentityBatches", "TripletMiningLoss", "TripletStep", "mine_triplets",
    "pairwise_sq_distances", "triplet_loss",
    "Gallery", "auc", "choose_threshold", "identify", "make_pairs", "model_fingerprint",
    "pair_distances", "plot_roc", "roc_curve", "verification_accuracy", "verify",
    "ImageError", "image_grid", "load_image", "load_image_folder", "sample_image", "save_image",
    "StyleResult", "StyleTransfer", "content_cost", "gram_matrix", "layer_style_cost",
    "random_vgg_features", "style_cost", "total_cost", "vgg19_features", "vgg_layer_names",
]
