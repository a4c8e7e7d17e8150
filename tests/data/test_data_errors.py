"""Every failure names the thing and the fix: unknown names, missing/incomplete/foreign folders,
corrupt files."""

from __future__ import annotations

import gzip
import os
import pickle

import numpy as np
import pytest

from jaxnas import data


def test_unknown_name_lists_valid_names():
  with pytest.raises(ValueError, match="unknown dataset 'svhn'.*cifar10, cifar100, imagenet16-120,"
                     " fashion_mnist, mnist"):
    data.load_dataset("svhn", "/nowhere")


def test_nb201_valid_name_points_to_search_split():
  with pytest.raises(ValueError, match="split='search_train'"):
    data.get_spec("cifar10-valid")
  assert data.get_spec("Fashion-MNIST").name == "fashion_mnist"
  assert data.get_spec("ImageNet16-120").name == "imagenet16-120"


def test_bad_arguments(cifar10_dir):
  folder = cifar10_dir[0]
  with pytest.raises(ValueError, match="unknown split 'val'.*search_valid"):
    data.load_dataset("cifar10", folder, "val")
  with pytest.raises(ValueError, match="max_examples"):
    data.load_dataset("cifar10", folder, max_examples=-1)
  with pytest.raises(ValueError, match="image_size"):
    data.load_dataset("cifar10", folder, image_size=(0, 3))
  with pytest.raises(ValueError, match="3 channels; cannot make 1"):
    data.load_dataset("cifar10", folder, channels=1)


def test_missing_path_says_what_and_how(tmp_path):
  missing = tmp_path / "nope"
  with pytest.raises(FileNotFoundError) as e:
    data.load_dataset("cifar10", missing)
  msg = str(e.value)
  for part in (str(missing), "does not exist", "data_batch_1..5", "cifar-10-python.tar.gz",
               "Krizhevsky", "data.path=", "cifar-10-batches-py"):
    assert part in msg, (part, msg)
  with pytest.raises(FileNotFoundError, match="ImageNet16.*train_data_batch_1..10"):
    data.load_dataset("imagenet16-120", missing)
  with pytest.raises(FileNotFoundError, match="t10k-images-idx3-ubyte.*fashion-mnist"):
    data.load_dataset("fashion_mnist", missing, "test")


def test_default_locations_are_listed(tmp_path, monkeypatch):
  monkeypatch.setenv("JAXNAS_SHARED_DATA", str(tmp_path / "shared"))
  monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
  with pytest.raises(FileNotFoundError) as e:
    data.load_dataset("cifar100")
  msg = str(e.value)
  assert "default locations" in msg and str(tmp_path / "torch" / "cifar.python") in msg
  assert "cifar-100-python.tar.gz" in msg


def test_empty_folder_names_folder_and_formats_tried(tmp_path):
  (tmp_path / "readme.txt").write_text("hi")
  with pytest.raises(FileNotFoundError) as e:
    data.load_dataset("cifar10", tmp_path)
  msg = str(e.value)
  assert str(tmp_path) in msg and "found none of the formats" in msg
  for fmt in ("CIFAR-10 python batches", "CIFAR-100 python", "ImageNet16 pickles", "IDX"):
    assert fmt in msg


def test_foreign_format_is_recognised(idx_dir, cifar10_dir):
  with pytest.raises(FileNotFoundError, match="found fashion_mnist or mnist data there instead"):
    data.load_dataset("cifar10", idx_dir[0])
  with pytest.raises(FileNotFoundError, match="found cifar10 data there instead"):
    data.load_dataset("cifar100", cifar10_dir[0])
  assert data.detect_formats(cifar10_dir[0]) == ["cifar10"]


def test_incomplete_folder_names_missing_files(cifar10_dir):
  folder = cifar10_dir[0]
  os.remove(folder / "data_batch_4")
  with pytest.raises(FileNotFoundError, match="incomplete CIFAR-10.*misses data_batch_4"):
    data.load_dataset("cifar10", folder)
  data.load_dataset("cifar10", folder, "test")  # the test split does not need it


def test_path_is_a_file(tmp_path):
  f = tmp_path / "cifar-10-python.tar.gz"
  f.write_bytes(b"x")
  with pytest.raises(FileNotFoundError, match="is a file.*extract"):
    data.load_dataset("cifar10", f)


@pytest.mark.parametrize("payload", [b"garbage", b"", pickle.dumps([1, 2, 3]),
                                     pickle.dumps({b"data": np.zeros((2, 5), np.uint8),
                                                   b"labels": [0, 1]}),
                                     pickle.dumps({b"data": np.zeros((2, 3072), np.uint8),
                                                   b"labels": [0]}),
                                     pickle.dumps({b"data": np.zeros((1, 3072), np.uint8),
                                                   b"labels": [10]}),
                                     pickle.dumps({b"labels": [0]})])
def test_corrupt_pickle_names_the_file(cifar10_dir, payload):
  folder = cifar10_dir[0]
  (folder / "test_batch").write_bytes(payload)
  with pytest.raises(ValueError, match="test_batch"):
    data.load_dataset("cifar10", folder, "test")


class _Evil:
  def __reduce__(self):
    return (os.system, ("echo pwned",))


def test_pickle_with_code_is_refused(cifar10_dir):
  folder = cifar10_dir[0]
  (folder / "test_batch").write_bytes(pickle.dumps({b"data": _Evil(), b"labels": []}))
  with pytest.raises(ValueError, match="refusing to load global.*system"):
    data.load_dataset("cifar10", folder, "test")


def test_imagenet16_bad_labels(imagenet16_dir):
  folder = imagenet16_dir[0]
  with open(folder / "val_data", "wb") as f:
    pickle.dump({"data": np.zeros((1, 768), np.uint8), "labels": [0]}, f)
  with pytest.raises(ValueError, match="val_data.*1..1000"):
    data.load_dataset("imagenet16-120", folder, "test")


def test_corrupt_idx_names_the_file(idx_dir):
  folder = idx_dir[0]
  good = gzip.decompress((folder / "train-images-idx3-ubyte.gz").read_bytes())
  cases = {
      "truncated": gzip.compress(good[:-10]),
      "bad magic": gzip.compress(b"\x01\x02" + good[2:]),
      "not gzip": b"plain bytes",
  }
  for why, payload in cases.items():
    (folder / "train-images-idx3-ubyte.gz").write_bytes(payload)
    with pytest.raises(ValueError, match="train-images-idx3-ubyte.gz"):
      data.load_dataset("mnist", folder)
  (folder / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(good))
  lab = (folder / "t10k-labels-idx1-ubyte").read_bytes()
  (folder / "t10k-labels-idx1-ubyte").write_bytes(lab[:8] + lab[8:][:-1])
  with pytest.raises(ValueError, match="t10k-labels-idx1-ubyte"):
    data.load_dataset("mnist", folder, "test")
