"""Data augmentation (course 4, "Data augmentation"): mirroring, random cropping, color
shifting, PCA color augmentation, rotations and shears, on batches of channels-last images
``(m, n_H, n_W, n_C)``, vectorized over the batch and drawn from the dlkit generator.

>>> augment = Compose([RandomCrop(32, padding=4), RandomHorizontalFlip(), ColorShift(0.05)])
>>> loader = DataLoader(X_train, y_train, batch_size=64, transform=augment)
"""

from dlkit.data.transforms._base import Compose, RandomApply, Transform, transform_from_config
from dlkit.data.transforms.affine import RandomRotation, RandomShear, affine_warp
from dlkit.data.transforms.color import ColorShift, Normalize, PCAColorAugmentation
from dlkit.data.transforms.crop import RandomCrop
from dlkit.data.transforms.flip import RandomHorizontalFlip, RandomVerticalFlip

TRANSFORMS: dict[str, type[Transform]] = {
    t.__name__: t for t in (
        ColorShift, Compose, Normalize, PCAColorAugmentation, RandomApply, RandomCrop,
        RandomHorizontalFlip, RandomRotation, RandomShear, RandomVerticalFlip,
    )
}

__all__ = [
    "TRANSFORMS", "ColorShift", "Compose", "Normalize", "PCAColorAugmentation", "RandomApply",
    "RandomCrop", "RandomHorizontalFlip", "RandomRotation", "RandomShear", "RandomVerticalFlip",
    "Transform", "affine_warp", "transform_from_config",
]
