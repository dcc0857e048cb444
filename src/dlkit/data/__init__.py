"""Datasets, mini-batches, splits, input normalization, one-hot labels, class-label checks
and encoding, data files and augmentation."""

from dlkit.data.audio_clips import AudioClipDataset, read_wav
from dlkit.data.collate import Collate, PaddedSequence, default_collate
from dlkit.data.dataset import (
    ArrayDataset,
    ConcatDataset,
    Dataset,
    IterableDataset,
    Subset,
    random_split,
)
from dlkit.data.detection import COCODetection, VOCDetection
from dlkit.data.encoding import from_one_hot, one_hot
from dlkit.data.files import load_csv, load_h5_images, load_npz
from dlkit.data.image_folder import FolderLoaders, ImageFolder, image_folder_loaders
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
from dlkit.data.sampler import DistributedSampler, RandomSampler, Sampler, SequentialSampler
from dlkit.data.sources import load_breast_cancer, load_digits, make_circles, make_moons
from dlkit.data.split import (
    split,
    train_dev_split,
    train_dev_test_split,
    train_test_split,
    train_traindev_split,
)
from dlkit.data.text_lines import TextLineDataset
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
from dlkit.data.workers import WorkerError, get_worker_info

__all__ = [
    "DATASETS", "DataLoader", "DatasetInfo", "Standardizer", "dataset_info", "from_one_hot",
    "get_dataset", "load_breast_cancer", "load_csv", "load_digits", "load_h5_images",
    "load_npz", "make_circles", "make_flower", "make_moons", "one_hot", "split",
    "train_dev_split", "train_dev_test_split", "train_test_split", "train_traindev_split",
    # datasets, collation, samplers
    "ArrayDataset", "Collate", "ConcatDataset", "Dataset", "DistributedSampler",
    "IterableDataset", "PaddedSequence", "RandomSampler", "Sampler", "SequentialSampler",
    "Subset", "default_collate", "random_split",
    "AudioClipDataset", "COCODetection", "ImageFolder", "TextLineDataset", "VOCDetection",
    "read_wav", "WorkerError", "get_worker_info", "FolderLoaders", "image_folder_loaders",
    # augmentation
    "ColorShift", "Compose", "Normalize", "PCAColorAugmentation", "RandomApply", "RandomCrop",
    "RandomHorizontalFlip", "RandomRotation", "RandomShear", "RandomVerticalFlip", "Transform",
    "transform_from_config",
    # class labels
    "ClassInfo", "LabelEncoder", "LabelError", "check_class_labels", "check_labels_fit",
]
