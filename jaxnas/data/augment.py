"""Training-time augmentation as pure functions of ``(key, images)``: random crop and flip.

These are the NB201 / DARTS CIFAR augmentations (``RandomCrop(32, padding=4)``,
``RandomHorizontalFlip()``; ImageNet16-120 uses ``padding=2``), written for a batch
``images: f32[B, H, W, C]`` already on the device. They are jittable (shapes are static; the random
offsets are data) and vmappable (e.g. over seeds, with one key per seed), and draw one independent
crop / flip per image from ``key``.

Padding value: torchvision pads the *raw* image with black before normalising, i.e. with
``-mean / std`` in normalised units; pass ``pad_value=data.black`` (see
:attr:`jaxnas.data.Dataset.black`) to match NB201 exactly. The default ``0.0`` pads with the
dataset mean, which is the common choice for already-normalised arrays.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def _check_batch(images: jax.Array, fn: str) -> None:
  if images.ndim != 4:
    raise ValueError(f"{fn} needs images of shape [B, H, W, C], got {list(images.shape)}")


def random_crop(key: jax.Array, images: jax.Array, padding: int = 4,
                pad_value=0.0) -> jax.Array:
  """Pads each image by ``padding`` pixels on every side and crops a random ``H x W`` window.

  Args:
    key: a ``jax.random`` key.
    images: ``[B, H, W, C]``.
    padding: pixels added on each side (static); offsets are uniform in ``[0, 2 * padding]``.
    pad_value: scalar or per-channel ``[C]`` value of the padded border.

  Returns:
    ``[B, H, W, C]``, same dtype: each image shifted by at most ``padding`` pixels per axis.
  """
  _check_batch(images, "random_crop")
  if padding == 0:
    return images
  b, h, w, c = images.shape
  canvas = jnp.broadcast_to(jnp.asarray(pad_value, images.dtype), (b, h + 2 * padding,
                                                                   w + 2 * padding, c))
  padded = jax.lax.dynamic_update_slice(canvas, images, (0, padding, padding, 0))
  offsets = jax.random.randint(key, (b, 2), 0, 2 * padding + 1)  # [B, 2] (dy, dx)

  def crop(image, off):
    return jax.lax.dynamic_slice(image, (off[0], off[1], 0), (h, w, c))

  return jax.vmap(crop)(padded, offsets)


def random_flip(key: jax.Array, images: jax.Array, prob: float = 0.5) -> jax.Array:
  """Mirrors each image left-right with probability ``prob``.

  Args:
    key: a ``jax.random`` key.
    images: ``[B, H, W, C]``.
    prob: flip probability.

  Returns:
    ``[B, H, W, C]``, same dtype.
  """
  _check_batch(images, "random_flip")
  flip = jax.random.bernoulli(key, prob, (images.shape[0],))  # [B]
  return jnp.where(flip[:, None, None, None], images[:, :, ::-1, :], images)


def augment(key: jax.Array, images: jax.Array, *, padding: int = 4, flip: bool = True,
            pad_value=0.0) -> jax.Array:
  """NB201's training augmentation: random horizontal flip, then random crop with padding.

  Args:
    key: a ``jax.random`` key (split into a flip key and a crop key).
    images: ``[B, H, W, C]``.
    padding: crop padding (4 for CIFAR, 2 for ImageNet16-120; 0 disables the crop).
    flip: whether to flip.
    pad_value: scalar or per-channel pad value (``data.black`` matches torchvision).

  Returns:
    ``[B, H, W, C]``, same dtype.
  """
  k_flip, k_crop = jax.random.split(key)
  if flip:
    images = random_flip(k_flip, images)
  return random_crop(k_crop, images, padding, pad_value)
