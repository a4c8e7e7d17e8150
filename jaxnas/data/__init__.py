"""Image datasets as arrays: loaders, the NB201 search split, augmentation and batch plans.

Typical use (host load once, device-resident arrays, batches gathered inside the jitted step)::

  train = data.load_dataset("cifar10", "/data/cifar-10-batches-py", "search_train", seed=0)
  train = jax.device_put(train)                       # Dataset(images f32[25000,32,32,3], ...)
  plan = data.epoch_batches(jax.random.fold_in(key, epoch), len(train), 64)  # int32[390, 64]
  batch = train[plan[step]]                           # inside jit / lax.scan over plan
  x = data.augment(k_aug, batch.images, padding=4, pad_value=train.black)
"""

from jaxnas.data.augment import augment, random_crop, random_flip
from jaxnas.data.batching import epoch_batches, eval_batches, num_batches
from jaxnas.data.datasets import (DATASETS, SPLITS, Dataset, DatasetSpec, detect_formats,
                                  get_spec, load_dataset, normalize, resize, split_indices)

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
