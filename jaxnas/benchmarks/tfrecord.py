"""TFRecord files and protobuf messages without TensorFlow: framing, CRC32C, wire-type decoding.

A TFRecord file is a sequence of records, each framed as::

  uint64 length (little-endian) | uint32 masked_crc32c(length bytes) | data | uint32 masked_crc32c(data)

with CRC32C the Castagnoli CRC (reflected polynomial 0x82F63B78, init and xor-out 0xFFFFFFFF) and
``mask(c) = ((c >> 15) | (c << 17)) + 0xA282EAD8 (mod 2**32)``. :func:`read_records` streams the
payloads of one file, checking every CRC; a bad CRC or a truncated record is a one-line
``ValueError`` naming the file and the byte offset of the record.

CRC speed: a byte-at-a-time CRC in Python runs at about 5 MB/s, too slow for the 0.5-2 GB
NAS-Bench-101 files. :func:`crc32c_batch` runs the same table-driven recurrence over a *batch of
records at once*, one numpy step per byte column (the records of a chunk padded to a common
length; a record only advances while its column is inside it), so the Python loop runs
``max(length)`` times per chunk instead of ``sum(length)`` times. ``python -m jaxnas.bench nb101``
reports the measured rate.

Protobuf: :func:`decode_message` splits a serialized message into ``(field number, wire type,
value)`` triples by wire type (0 varint, 1 64-bit, 2 length-delimited, 5 32-bit; the group wire
types 3/4 are refused), with no schema; :func:`decode_fields` maps them to names by a
``{(field, wire type): (name, kind)}`` schema and skips fields the schema does not know, so a
newer or extended message (EC-NAS's energy fields) still decodes. The matching encoders
(:func:`encode_message`, :func:`write_records`) write files in the official format (tests craft
fixtures with them).
"""

from __future__ import annotations

import pathlib
import struct
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

_POLY = 0x82F63B78
_MASK_DELTA = 0xA282EAD8
HEADER_BYTES = 12  # uint64 length + uint32 masked CRC of it
FOOTER_BYTES = 4  # uint32 masked CRC of the data


def _table() -> np.ndarray:
  t = np.arange(256, dtype=np.uint32)
  for _ in range(8):
    t = np.where(t & 1, (t >> 1) ^ np.uint32(_POLY), t >> 1).astype(np.uint32)
  return t


CRC_TABLE = _table()  # [256] uint32, the byte-wise CRC32C table
_TABLE_LIST = [int(x) for x in CRC_TABLE]


def crc32c(data: bytes) -> int:
  """CRC32C of ``data`` (pure Python, table-driven; for short inputs)."""
  c = 0xFFFFFFFF
  t = _TABLE_LIST
  for b in data:
    c = t[(c ^ b) & 0xFF] ^ (c >> 8)
  return c ^ 0xFFFFFFFF


def crc32c_batch(buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
  """``uint32[R]``: CRC32C of ``buf[starts[r]:starts[r] + lengths[r]]`` for every record ``r``
  at once (vectorised over records: one numpy step per byte column, ``max(lengths)`` steps).

  Args:
    buf: ``uint8[B]``, the bytes holding every record.
    starts, lengths: ``int[R]``, where each record's bytes are.
  """
  starts = np.asarray(starts, np.int64)
  lengths = np.asarray(lengths, np.int64)
  crc = np.full(starts.shape, 0xFFFFFFFF, np.uint32)
  if starts.size == 0:
    return crc
  # process records longest first, so each column only touches the records still running
  order = np.argsort(-lengths, kind="stable")
  s, n = starts[order], lengths[order]
  c = crc[order]
  live = len(n)
  last = len(buf) - 1
  for j in range(int(n[0]) if len(n) else 0):
    while live and n[live - 1] <= j:
      live -= 1
    b = buf[np.minimum(s[:live] + j, last)]
    cc = c[:live]
    c[:live] = CRC_TABLE[(cc ^ b) & 0xFF] ^ (cc >> 8)
  out = np.empty_like(crc)
  out[order] = c ^ np.uint32(0xFFFFFFFF)
  return out


def mask(crc) -> Any:
  """TFRecord's masked CRC (works on Python ints and ``uint32`` arrays)."""
  if isinstance(crc, np.ndarray):
    c = crc.astype(np.uint32)
    return (((c >> np.uint32(15)) | (c << np.uint32(17))) + np.uint32(_MASK_DELTA)).astype(np.uint32)
  crc &= 0xFFFFFFFF
  return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def read_records(path, *, chunk_bytes: int = 1 << 24, check_crc: bool = True
                 ) -> Iterator[tuple[int, bytes]]:
  """Streams ``(byte offset, payload)`` of every record of the TFRecord file ``path``.

  Reads ``chunk_bytes`` at a time (memory: about twice that, whatever the file size), splits the
  chunk into records (checking each length CRC before trusting the length), checks the data CRCs
  of the chunk's records together (:func:`crc32c_batch`), then yields them.

  Raises:
    FileNotFoundError: no such file.
    ValueError: one line naming the file and the record's byte offset: a bad length or data CRC,
      a truncated header or payload, or an impossible length.
  """
  path = pathlib.Path(path)
  if not path.is_file():
    raise FileNotFoundError(f"tfrecord file {path} not found")
  size = path.stat().st_size
  with open(path, "rb") as f:
    base = 0  # file offset of buf[0]
    buf = b""
    while True:
      more = f.read(chunk_bytes)
      buf = buf + more
      recs = []  # (offset in buf, length)
      pos = 0
      while True:
        if len(buf) - pos < HEADER_BYTES:
          break
        (n,) = struct.unpack_from("<Q", buf, pos)
        if check_crc:  # before trusting the length (8 bytes: cheap in Python)
          _check_header_crc(path, buf, pos, base)
        if n > size:
          raise ValueError(f"{path}: record at byte {base + pos} declares length {n}, more than "
                           f"the file's {size} bytes: corrupt file")
        if len(buf) - pos < HEADER_BYTES + n + FOOTER_BYTES:
          break
        recs.append((pos, n))
        pos += HEADER_BYTES + n + FOOTER_BYTES
      if recs:
        if check_crc:
          _check_crcs(path, buf, recs, base)
        for p, n in recs:
          yield base + p, buf[p + HEADER_BYTES:p + HEADER_BYTES + n]
      buf = buf[pos:]
      base += pos
      if not more:
        if buf:
          if len(buf) >= HEADER_BYTES:
            _check_header_crc(path, buf, 0, base)
          what = "header" if len(buf) < HEADER_BYTES else "payload"
          raise ValueError(f"{path}: record at byte {base} is truncated ({len(buf)} bytes left, "
                           f"incomplete {what}): the file is cut short")
        return
      if not recs and len(buf) > 4 * chunk_bytes:  # one huge record: read on until it fits
        chunk_bytes *= 2


def _check_header_crc(path, buf: bytes, pos: int, base: int) -> None:
  want = struct.unpack_from("<I", buf, pos + 8)[0]
  if mask(crc32c(buf[pos:pos + 8])) != want:
    raise ValueError(f"{path}: record at byte {base + pos}: length CRC mismatch (corrupt file)")


def _check_crcs(path, buf: bytes, recs: Sequence[tuple[int, int]], base: int) -> None:
  """Checks the data CRCs of a chunk's records together (their length CRCs were checked as
  their headers were read)."""
  arr = np.frombuffer(buf, np.uint8)
  p = np.array([r[0] for r in recs], np.int64)
  n = np.array([r[1] for r in recs], np.int64)
  end = p + HEADER_BYTES + n
  want = arr[end[:, None] + np.arange(4)].astype(np.uint32)
  want = want[:, 0] | want[:, 1] << 8 | want[:, 2] << 16 | want[:, 3] << 24
  got = mask(crc32c_batch(arr, p + HEADER_BYTES, n))
  bad = np.nonzero(got != want)[0]
  if bad.size:
    raise ValueError(f"{path}: record at byte {base + int(p[bad[0]])}: data CRC mismatch "
                     "(corrupt file)")


def frame(payload: bytes) -> bytes:
  """One record in TFRecord framing."""
  n = struct.pack("<Q", len(payload))
  return (n + struct.pack("<I", mask(crc32c(n))) + payload
          + struct.pack("<I", mask(crc32c(payload))))


def write_records(path, payloads) -> pathlib.Path:
  """Writes ``payloads`` (bytes) as a TFRecord file."""
  path = pathlib.Path(path)
  with open(path, "wb") as f:
    for p in payloads:
      f.write(frame(p))
  return path


# ---------------------------------------------------------------------------------------------
# protobuf wire format

VARINT, I64, LEN, I32 = 0, 1, 2, 5


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
  result = shift = 0
  while True:
    if pos >= len(buf):
      raise ValueError("truncated varint")
    b = buf[pos]
    pos += 1
    result |= (b & 0x7F) << shift
    if not b & 0x80:
      return result, pos
    shift += 7
    if shift > 63:
      raise ValueError("varint longer than 10 bytes")


def decode_message(buf: bytes) -> list[tuple[int, int, Any]]:
  """``[(field number, wire type, value), ...]`` of a serialized protobuf message, in order.

  Values: an ``int`` for varints (unsigned; see :func:`signed`), ``bytes`` of 8 / 4 for the
  64-/32-bit wire types (read them with :func:`as_double`, ``struct``...), ``bytes`` for
  length-delimited fields (a string, bytes or a nested message: the schema says which).

  Raises:
    ValueError: a truncated field, a group or unknown wire type, field number 0.
  """
  out = []
  pos, n = 0, len(buf)
  while pos < n:
    key = buf[pos]
    if key < 0x80:
      pos += 1
    else:
      key, pos = _varint(buf, pos)
    field, wt = key >> 3, key & 7
    if field == 0:
      raise ValueError(f"field number 0 at byte {pos}")
    if wt == VARINT:
      v, pos = _varint(buf, pos)
    elif wt == I64:
      if pos + 8 > n:
        raise ValueError(f"truncated 64-bit field {field}")
      v, pos = buf[pos:pos + 8], pos + 8
    elif wt == LEN:
      m, pos = _varint(buf, pos)
      if pos + m > n:
        raise ValueError(f"truncated length-delimited field {field}")
      v, pos = buf[pos:pos + m], pos + m
    elif wt == I32:
      if pos + 4 > n:
        raise ValueError(f"truncated 32-bit field {field}")
      v, pos = buf[pos:pos + 4], pos + 4
    else:
      raise ValueError(f"unsupported wire type {wt} (field {field})")
    out.append((field, wt, v))
  return out


_D = struct.Struct("<d")
_F = struct.Struct("<f")


def as_double(v: bytes) -> float:
  return _D.unpack(v)[0]


def as_float(v: bytes) -> float:
  return _F.unpack(v)[0]


def signed(v: int, bits: int = 64) -> int:
  """A varint read as a two's-complement signed integer (int32/int64 fields)."""
  return v - (1 << bits) if v >> (bits - 1) else v


# schema value kinds: how a (field, wire type) becomes a Python value
_KINDS = {
    "double": (I64, as_double), "float": (I32, as_float),
    "int": (VARINT, signed), "uint": (VARINT, int), "bool": (VARINT, bool),
    "string": (LEN, lambda b: bytes(b).decode("utf-8", "replace")), "bytes": (LEN, bytes),
}


def compile_schema(schema: Mapping[tuple[int, int], tuple[str, Any]]) -> dict:
  """``{(field, wire type): (name, decode function or compiled nested schema, repeated)}``."""
  out = {}
  for fw, (name, kind) in schema.items():
    repeated = isinstance(kind, tuple) and kind[0] == "repeated"
    if repeated:
      kind = kind[1]
    out[fw] = (name, compile_schema(kind) if isinstance(kind, dict) else _KINDS[kind][1], repeated)
  return out


_COMPILED: dict[int, tuple[Any, dict]] = {}  # id(schema) -> (schema kept alive, compiled)


def decode_fields(buf: bytes, schema: Mapping[tuple[int, int], tuple[str, Any]]) -> dict:
  """A message as ``{name: value}`` by ``schema``: ``{(field, wire type): (name, kind)}``, with
  ``kind`` a scalar kind (``"double"``, ``"int"``, ``"string"``, ...), a nested schema (a dict:
  the value is decoded recursively), or ``("repeated", kind)`` (a list of values). Fields the
  schema does not know, or knows under another wire type, are skipped: one field number can mean
  different things in two variants of a message when their wire types differ."""
  hit = _COMPILED.get(id(schema))
  if hit is None or hit[0] is not schema:
    hit = _COMPILED[id(schema)] = (schema, compile_schema(schema))
  return _decode(buf, hit[1])


def _decode(buf: bytes, compiled: dict) -> dict:
  """:func:`decode_message` fused with the schema lookup (the reader's hot path: no intermediate
  list, doubles unpacked in place, unknown fields skipped without a copy)."""
  out: dict = {}
  pos, n = 0, len(buf)
  unpack_d = _D.unpack_from
  while pos < n:
    key = buf[pos]
    if key < 0x80:
      pos += 1
    else:
      key, pos = _varint(buf, pos)
    field, wt = key >> 3, key & 7
    if field == 0:
      raise ValueError(f"field number 0 at byte {pos}")
    spec = compiled.get((field, wt))
    if wt == I64:
      if pos + 8 > n:
        raise ValueError(f"truncated 64-bit field {field}")
      if spec is not None and spec[1] is as_double:
        val = unpack_d(buf, pos)[0]
        pos += 8
        if spec[2]:
          out.setdefault(spec[0], []).append(val)
        else:
          out[spec[0]] = val
        continue
      v, pos = buf[pos:pos + 8] if spec is not None else None, pos + 8
    elif wt == VARINT:
      v, pos = _varint(buf, pos)
    elif wt == LEN:
      m, pos = _varint(buf, pos)
      if pos + m > n:
        raise ValueError(f"truncated length-delimited field {field}")
      v, pos = buf[pos:pos + m] if spec is not None else None, pos + m
    elif wt == I32:
      if pos + 4 > n:
        raise ValueError(f"truncated 32-bit field {field}")
      v, pos = buf[pos:pos + 4] if spec is not None else None, pos + 4
    else:
      raise ValueError(f"unsupported wire type {wt} (field {field})")
    if spec is None:
      continue
    name, fn, repeated = spec
    val = _decode(v, fn) if type(fn) is dict else fn(v)  # pylint: disable=unidiomatic-typecheck
    if repeated:
      out.setdefault(name, []).append(val)
    else:
      out[name] = val  # proto semantics: the last value wins
  return out


def _enc_varint(v: int) -> bytes:
  v &= (1 << 64) - 1
  out = bytearray()
  while True:
    b = v & 0x7F
    v >>= 7
    if v:
      out.append(b | 0x80)
    else:
      out.append(b)
      return bytes(out)


def encode_message(fields: Sequence[tuple[int, int, Any]]) -> bytes:
  """Serializes ``[(field, wire type, value), ...]``: an int for varints, a float (or 8 bytes)
  for 64-bit, a float (or 4 bytes) for 32-bit, ``bytes``/``str`` for length-delimited."""
  out = bytearray()
  for field, wt, v in fields:
    out += _enc_varint(field << 3 | wt)
    if wt == VARINT:
      out += _enc_varint(int(v))
    elif wt == I64:
      out += v if isinstance(v, bytes) else struct.pack("<d", float(v))
    elif wt == I32:
      out += v if isinstance(v, bytes) else struct.pack("<f", float(v))
    elif wt == LEN:
      b = v.encode("utf-8") if isinstance(v, str) else bytes(v)
      out += _enc_varint(len(b)) + b
    else:
      raise ValueError(f"unsupported wire type {wt}")
  return bytes(out)
