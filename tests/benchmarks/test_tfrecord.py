"""The TensorFlow-free tfrecord reader: framing, CRC32C, protobuf wire decoding, NAS-Bench-101 rows.

Real files: EC-NAS-Bench's NB101 tfrecords (``$JAXNAS_SHARED_DATA/nb101/ec_nas``, skipped when
absent). The official schema: a small file written here in the official format.
"""

from __future__ import annotations

import base64
import json
import os
import pathlib
import struct

import numpy as np
import pytest

from jaxnas.benchmarks import nb101_build as nb
from jaxnas.benchmarks import tfrecord as tr

DATA = pathlib.Path(os.environ.get("JAXNAS_SHARED_DATA",
                                   pathlib.Path(__file__).parents[2] / ".." / "shared" / "data"))
EC_NAS = DATA / "nb101" / "ec_nas"
FILES = {"energy_4V9E.tfrecord": 1092, "energy_4V9E_estimate.tfrecord": 364,
         "energy_5V9E.tfrecord": 2532}


def _need_ec_nas():
  if not all((EC_NAS / f).is_file() for f in FILES):
    pytest.skip(f"EC-NAS NB101 tfrecords not found under {EC_NAS} (set JAXNAS_SHARED_DATA)")


def official_metrics(evals, params: int, total_time: float) -> bytes:
  """A ModelMetrics message in the official schema (checkpoint_path a string in field 6), with
  an unknown field 99 that the reader must skip."""
  fields = []
  for e in evals:
    fields.append((1, tr.LEN, tr.encode_message([
        (1, tr.I64, e[0]), (2, tr.I64, e[1]), (3, tr.I64, e[2]), (4, tr.I64, e[3]),
        (5, tr.I64, e[4]), (6, tr.LEN, f"gs://bucket/model.ckpt-{int(e[0])}")])))
  fields += [(2, tr.VARINT, params), (3, tr.I64, total_time), (99, tr.VARINT, 7)]
  return tr.encode_message(fields)


def official_row(h, epochs, matrix, ops, metrics: bytes) -> bytes:
  adj = "".join(str(int(x)) for x in np.asarray(matrix).ravel())
  b64 = base64.encodebytes(metrics).decode()  # MIME style: a newline every 76 characters
  return json.dumps([h, epochs, adj, ",".join(ops), b64]).encode()


INCEPTION = (np.array([[0, 1, 1, 1, 0, 1, 0], [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 1],
                       [0, 0, 0, 0, 1, 0, 0], [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 1],
                       [0, 0, 0, 0, 0, 0, 0]]),
             ["input", "conv1x1-bn-relu", "conv3x3-bn-relu", "conv3x3-bn-relu", "conv3x3-bn-relu",
              "maxpool3x3", "output"])


@pytest.fixture(scope="module")
def official_file(tmp_path_factory):
  """Two records of the Inception-like cell (budget 108, 2 repeats) and one 2-vertex cell."""
  path = tmp_path_factory.mktemp("nb101") / "official.tfrecord"
  rows = [
      official_row("28cfc7874f6d200472e1a9dcd8650aa0", 108, *INCEPTION, official_metrics(
          [(0.0, 0.0, 0.1, 0.1, 0.1), (54.0, 1500.5, 0.9, 0.88, 0.87),
           (108.0, 3000.25, 1.0, 0.9505, 0.9401)], 2694282, 3100.0)),
      official_row("28cfc7874f6d200472e1a9dcd8650aa0", 108, *INCEPTION, official_metrics(
          [(0.0, 0.0, 0.1, 0.1, 0.1), (54.0, 1490.0, 0.91, 0.89, 0.88),
           (108.0, 2990.0, 1.0, 0.9495, 0.9399)], 2694282, 3090.0)),
      official_row("0" * 32, 4, np.array([[0, 1], [0, 0]]), ["input", "output"], official_metrics(
          [(0.0, 0.0, 0.1, 0.1, 0.1), (2.0, 10.0, 0.2, 0.2, 0.2), (4.0, 20.0, 0.3, 0.3, 0.3)],
          5130, 25.0)),
  ]
  tr.write_records(path, rows)
  return path


def test_crc32c_known_values():
  assert tr.crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value
  assert tr.crc32c(b"") == 0
  rng = np.random.default_rng(0)
  blobs = [rng.integers(0, 256, n, dtype=np.uint8).tobytes() for n in (0, 1, 7, 8, 100, 333)]
  buf = np.frombuffer(b"".join(blobs), np.uint8)
  lens = np.array([len(b) for b in blobs])
  starts = np.r_[0, np.cumsum(lens)[:-1]]
  np.testing.assert_array_equal(tr.crc32c_batch(buf, starts, lens),
                                [tr.crc32c(b) for b in blobs])


def test_protobuf_wire_types():
  msg = tr.encode_message([(1, tr.VARINT, 300), (2, tr.I64, 2.5), (3, tr.LEN, "hé"),
                           (4, tr.I32, 1.5), (5, tr.VARINT, -2), (2000, tr.VARINT, 1),
                           (6, tr.LEN, tr.encode_message([(1, tr.I64, 7.0)]))])
  fields = tr.decode_message(msg)
  assert [(f, w) for f, w, _ in fields] == [(1, 0), (2, 1), (3, 2), (4, 5), (5, 0), (2000, 0),
                                            (6, 2)]
  schema = {(1, 0): ("a", "int"), (2, 1): ("b", "double"), (3, 2): ("c", "string"),
            (4, 5): ("d", "float"), (5, 0): ("e", "int"),
            (6, 2): ("n", ("repeated", {(1, 1): ("x", "double")}))}
  assert tr.decode_fields(msg, schema) == {"a": 300, "b": 2.5, "c": "hé", "d": 1.5, "e": -2,
                                           "n": [{"x": 7.0}]}
  with pytest.raises(ValueError, match="truncated"):
    tr.decode_message(msg[:-3])


def test_ec_nas_files(tmp_path):
  _need_ec_nas()
  total = 0
  for name, n in FILES.items():
    recs = list(nb.read_nb101(EC_NAS / name))
    assert len(recs) == n
    total += n
    for r in recs:  # every record fully decoded: 3 evaluations, params, the energy fields
      ev = r.metrics["evaluation_data"]
      assert len(ev) == 3 and r.metrics["trainable_parameters"] > 0
      assert ev[-1]["current_epoch"] == r.epochs and 0 <= ev[-1]["test_accuracy"] <= 1
      assert "energy" in ev[-1] and "total_energy" in r.metrics
      assert "checkpoint_path" not in ev[-1]  # field 6 is EC-NAS's energy (a double) here
  assert total == 3988
  first = next(nb.read_nb101(EC_NAS / "energy_4V9E.tfrecord"))
  assert first.offset == 0
  assert first.module_hash == "5529e1779433733d1145e20de5d8604e" and first.epochs == 36
  assert first.adjacency == "0110001100010000"
  assert first.ops == ("input", "conv1x1-bn-relu", "conv3x3-bn-relu", "output")
  m = first.metrics
  assert m["trainable_parameters"] == 3468426 and m["total_time"] == 746.1661584377289
  assert m["total_energy"] == 0.11943 and m["total_co2eq"] == 13.495563
  assert [e["current_epoch"] for e in m["evaluation_data"]] == [0.0, 1.0, 36.0]
  final = m["evaluation_data"][-1]
  assert final["test_accuracy"] == 0.9093549847602844
  assert final["validation_accuracy"] == 0.9174679517745972
  assert final["training_time"] == 668.5900268554688 and final["energy"] == 0.113109
  assert final["start_time"] == "2022-05-29 06:05:10" and final["predicted_time"] == 1112.0


def test_official_schema_file(official_file):
  recs = list(nb.read_nb101(official_file))
  assert len(recs) == 3
  r = recs[0]
  assert r.module_hash == "28cfc7874f6d200472e1a9dcd8650aa0" and r.epochs == 108
  np.testing.assert_array_equal(r.matrix, INCEPTION[0])
  assert list(r.ops) == INCEPTION[1]
  assert r.metrics["trainable_parameters"] == 2694282 and r.metrics["total_time"] == 3100.0
  ev = r.metrics["evaluation_data"]
  assert [e["current_epoch"] for e in ev] == [0.0, 54.0, 108.0]
  assert ev[-1]["test_accuracy"] == 0.9401 and ev[-1]["checkpoint_path"] == "gs://bucket/model.ckpt-108"
  assert "energy" not in ev[-1]
  assert recs[2].offset == sum(12 + len(p) + 4 for _, p in list(tr.read_records(official_file))[:2])


def test_corrupt_and_truncated(official_file, tmp_path):
  raw = official_file.read_bytes()
  (n0,) = struct.unpack_from("<Q", raw, 0)
  second = 12 + n0 + 4
  bad = bytearray(raw)
  bad[second + 12 + 20] ^= 0x01  # a payload byte of the second record
  p = tmp_path / "bad_data.tfrecord"
  p.write_bytes(bytes(bad))
  with pytest.raises(ValueError, match=rf"bad_data.tfrecord: record at byte {second}: data CRC"):
    list(tr.read_records(p))
  bad = bytearray(raw)
  bad[second] ^= 0x01  # its length: the length CRC catches it
  p.write_bytes(bytes(bad))
  with pytest.raises(ValueError, match=rf"record at byte {second}: length CRC"):
    list(tr.read_records(p))
  p = tmp_path / "cut.tfrecord"
  p.write_bytes(raw[:second + 40])
  with pytest.raises(ValueError, match=rf"cut.tfrecord: record at byte {second} is truncated"):
    list(tr.read_records(p))
  p.write_bytes(raw[:second + 5])  # inside the header
  with pytest.raises(ValueError, match=rf"record at byte {second} is truncated"):
    list(tr.read_records(p))
  with pytest.raises(FileNotFoundError, match="nope.tfrecord"):
    list(tr.read_records(tmp_path / "nope.tfrecord"))
  p = tmp_path / "notjson.tfrecord"
  tr.write_records(p, [b"[1, 2"])
  with pytest.raises(ValueError, match="notjson.tfrecord: record at byte 0 is not a NAS-Bench-101"):
    list(nb.read_nb101(p))
