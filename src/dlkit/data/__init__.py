"""Datasets, mini-batches, splits, input normalization, one-hot labels, class-label checks
and encoding, data files and augmentation."""

from dlkit.data.encoding import from_one_hot, one_hot
from dlkit.data.files import load_csv, load_h5_images, load_npz
from dlkit.data.labels import (
    ClassInfo,
    LabelEncoder,
    LabelError,
    check_class_labels,
    check_labels_fit,
)
from dlkit.data.loader import DataLoader
from dlkit.data.normalize import Standardizer
from dlkit.data.planar import make_flower
from dlkit.data.registry import DATASETS, DatasetInfo, dataset_info, get_dataset
from dlkit.data.sources import load_breast_cancer, load_digits, make_circles, make_moons
from dlkit.data.split import (
    split,
    train_dev_split,
    train_dev_test_split,
    train_test_split,
    train_traindev_split,
)
from dlkit.data.transforms import (
    ColorShift,
    Compose,
    Normalize,
    PCAColorAugmentation,
    RandomApply,
    RandomCrop,
    RandomHorizontalFlip,
    RandomRotation,
    RandomShear,
    RandomVerticalFlip,
    Transform,
    transform_from_config,
)

__all__ = [
    "DATASETS", "DataLoader", "DatasetInfo", "Standardizer", "dataset_info", "from_one_hot",
    "get_dataset", "load_breast_cancer", "load_csv", "load_digits", "load_h5_images",
    "load_npz", "make_circles", "make_flower", "make_moons", "one_hot", "split",
    "train_dev_split", "train_dev_test_split", "train_test_split", "train_traindev_split",
    # augmentation
    "ColorShift", "Compose", "Normalize", "PCAColorAugmentation", "RandomApply", "RandomCrop",
    "RandomHorizontalFlip", "RandomRotation", "RandomShear", "RandomVerticalFlip", "Transform",
    "transform_from_config",
    # class labels
    "ClassInfo", "LabelEncoder", "LabelError", "check_class_labels", "check_labels_fit",
]
