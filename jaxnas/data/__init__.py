"""Image datasets as arrays: loaders, the NB201 search split, augmentation and batch plans.

>>> from jaxnas import data
>>> train = data.load_dataset("fashion_mnist", split="train", image_size=32, channels=3)
>>> train.images.shape, train.labels.shape  # (60000, 32, 32, 3) float32, (60000,) int32
>>> idx = data.epoch_batches(jax.random.key(0), len(train), 256)   # int32[234, 256]
>>> batch = jax.device_put(train)[idx[0]]                          # gather inside a jitted step
>>> x = data.augment(key, batch.images, padding=4, pad_value=train.black)
"""

from jaxnas.data.augment import augment, random_crop, random_flip
from jaxnas.data.batching import epoch_batches, eval_batches, num_batches
from jaxnas.data.datasets import (DATASETS, SPLITS, Dataset, DatasetSpec, detect_formats, get_spec,
                                  load_dataset, normalize, resize, split_indices)

__all__ = [
    "DATASETS",
    "SPLITS",
    "Dataset",
    "DatasetSpec",
    "augment",
    "detect_formats",
    "epoch_batches",
    "eval_batches",
    "get_spec",
    "load_dataset",
    "normalize",
    "num_batches",
    "random_crop",
    "random_flip",
    "resize",
    "split_indices",
]
