"""The engine's byte-level command protocol: opcodes, argument layouts, lengths, encoders, decoders.

A command is an opcode byte, fixed-size little-endian arguments and, for LOAD and FORWARD, data
bytes whose number the arguments fix. Every command gets a response that begins with a status byte.
Sizes that depend on the spec: W = ``w_bytes`` (1|2), A = ``a_bytes`` (1|2), R = ``acc_bytes``,
C = ``c_bytes`` (2|3|4), L = ``lanes``. Values are two's complement where signed.

======  =======  =============================  ====================  ==========================================
opcode  name     arguments (bytes)              then, host -> engine  response
======  =======  =============================  ====================  ==========================================
0x00    PING     -                              -                     status
0x01    INFO     -                              -                     status, 22 bytes: spec hash[8], version u8,
                                                                      words u16, lanes u8, batch u8, max_cols u16,
                                                                      w_bits u8, w_frac u8, a_bits u8,
                                                                      acc_bytes u8, c_bits u8, c_frac u8,
                                                                      features u8 (bit0 START, bit1 SCALE)
0x02    STATUS   -                              -                     status, commands u32, errors u32,
                                                                      perturb overflows u32, update overflows u32
0x03    CLEAR    -                              -                     status (after zeroing the four counters)
0x10    LOAD     addr u16, count u16            count*L weights, W    status (after the last data byte)
0x11    READ     addr u16, count u16            -                     status, count*L weights, W each
0x20    SEED     seed u64                       -                     status
0x21    START    row u32                        -                     status            (pool chains only)
0x22    SCALE    q u16                          -                     status            (scale=norm chains only)
0x30    PERTURB  s i8 (1|-1|-2), count u16      -                     status (after the pass)
0x31    UPDATE   c (C bytes, signed), count u16 -                     status (after the pass)
0x40    FORWARD  base u16, rows u16, cols u16,  n*cols activations,   status, n*rows accumulators, R each, in
                 n u16                          A each, vector after  the order (group, row, vector in group);
                                                vector                groups are ``batch`` consecutive vectors
======  =======  =============================  ====================  ==========================================

Status byte: bits 0-3 the code (0 OK, 1 unknown opcode, 2 bad argument, 3 not supported by this
spec's RNG chain, 4 timeout: the command's bytes stopped arriving and it was abandoned), bit 7 set
while an overflow counter is non-zero (sticky until CLEAR). On an error the response is the status
byte alone; LOAD and FORWARD still consume their data bytes. A command whose response carries data
(INFO, STATUS, READ, FORWARD) sends its status first; the others send it when they are complete, so
the status of PERTURB and UPDATE includes the pass's overflows.

Semantics (the golden executor :class:`zoforge.golden.engine_model.EngineModel` is the definition):

* Arguments are valid when: LOAD/READ ``count >= 1`` and ``addr + count <= words``; SEED ``1 <= seed
  < 2**width`` of the chain's LFSR; START ``row < pool rows``; SCALE ``1 <= q < 2**(sfrac+1)``;
  PERTURB ``s`` in {1, -1, -2} and ``1 <= count <= words``; UPDATE ``1 <= count <= words``; FORWARD
  ``rows, n >= 1``, ``1 <= cols <= max_cols`` and ``base + rows*ceil(cols/L) <= words``.
* SEED derives the chain's seed vector from the seed (``rng_spec.seed_vector(seed)``, computed by the
  gateware with the lane jump matrix), loads it (a pool refills) and sets the start row to 0. After
  reset the chain runs from the spec's own seed. START sets the pool row the next passes begin at
  (PeZO's "the next perturbation starts where the last one stopped" is the host's choice of row).
  SCALE sets the scale numerator q of a norm chain (reset value ``rng_spec.reset_scale``).
* PERTURB and UPDATE restart the chain (seed vector, or pool start row) and stream weight words
  ``0 .. count-1``: word i meets the chain's word i, so every pass of a step sees the same z.
* Counters: ``commands`` counts opcodes received (this STATUS included), ``errors`` the commands
  answered with an error code, the overflow counters the weights flagged by the perturbation and
  update units (saturating at 2**32-1). CLEAR zeroes all four.
* Weights in LOAD and read-back are ``w_bits`` codes; activations ``a_bits`` integers; FORWARD
  returns the exact sums ``sum_k W[m, k] * x[k]`` (``w_frac`` fraction bits when x is integer).

Members: :class:`Op`, :class:`Code`, :data:`OVERFLOW_FLAG`, :data:`VERSION`, :func:`arg_fields`,
:func:`arg_bytes`, :func:`decode_args`, :func:`data_bytes`, :func:`command_length`,
:func:`response_length`, :func:`info_payload`, encoders ``encode`` / ``load`` / ``forward`` / ...,
decoders :func:`decode_words`, :func:`decode_forward`, :func:`decode_status`, :func:`decode_info`.
"""

from __future__ import annotations

import enum

import numpy as np

__all__ = ["Op", "Code", "OVERFLOW_FLAG", "VERSION", "INFO_BYTES", "STATUS_BYTES", "arg_fields", "arg_bytes",
           "decode_args", "data_bytes", "command_length", "response_length", "info_payload", "encode",
           "to_bytes", "from_bytes", "load", "read", "forward", "perturb", "update", "seed", "start", "scale",
           "decode_words", "decode_forward", "decode_status", "decode_info", "forward_order"]

VERSION = 1
OVERFLOW_FLAG = 0x80
INFO_BYTES = 22
STATUS_BYTES = 16


class Op(enum.IntEnum):
    PING = 0x00
    INFO = 0x01
    STATUS = 0x02
    CLEAR = 0x03
    LOAD = 0x10
    READ = 0x11
    SEED = 0x20
    START = 0x21
    SCALE = 0x22
    PERTURB = 0x30
    UPDATE = 0x31
    FORWARD = 0x40


class Code(enum.IntEnum):
    OK = 0
    UNKNOWN_OPCODE = 1
    BAD_ARGUMENT = 2
    UNSUPPORTED = 3
    TIMEOUT = 4


def arg_fields(spec, op: int) -> list[tuple[str, int, bool]]:
    """(name, bytes, signed) of each argument of ``op``, in order; [] for unknown opcodes."""
    table = {
        Op.LOAD: [("addr", 2, False), ("count", 2, False)],
        Op.READ: [("addr", 2, False), ("count", 2, False)],
        Op.SEED: [("seed", 8, False)],
        Op.START: [("row", 4, False)],
        Op.SCALE: [("q", 2, False)],
        Op.PERTURB: [("s", 1, True), ("count", 2, False)],
        Op.UPDATE: [("c", spec.c_bytes, True), ("count", 2, False)],
        Op.FORWARD: [("base", 2, False), ("rows", 2, False), ("cols", 2, False), ("n", 2, False)],
    }
    return table.get(op, [])


def arg_bytes(spec, op: int) -> int:
    return sum(n for _, n, _ in arg_fields(spec, op))


def decode_args(spec, op: int, raw: bytes) -> dict:
    out, at = {}, 0
    for name, n, signed in arg_fields(spec, op):
        out[name] = int.from_bytes(raw[at:at + n], "little", signed=signed)
        at += n
    return out


def data_bytes(spec, op: int, args: dict) -> int:
    """Data bytes following the arguments (consumed even when the arguments are invalid)."""
    if op == Op.LOAD:
        return args["count"] * spec.lanes * spec.w_bytes
    if op == Op.FORWARD:
        return args["n"] * args["cols"] * spec.a_bytes
    return 0


def command_length(spec, buf: bytes) -> int | None:
    """Length of the command at the start of ``buf``, or None while its arguments are incomplete."""
    if not buf:
        return None
    head = 1 + arg_bytes(spec, buf[0])
    if len(buf) < head:
        return None
    return head + data_bytes(spec, buf[0], decode_args(spec, buf[0], buf[1:head]))


def response_length(spec, command: bytes, status: int) -> int:
    """Bytes of the response to ``command`` whose first (status) byte is ``status``."""
    if status & 0x0F != Code.OK:
        return 1
    op = command[0]
    args = decode_args(spec, op, command[1:1 + arg_bytes(spec, op)])
    return 1 + {
        Op.INFO: INFO_BYTES,
        Op.STATUS: STATUS_BYTES,
        Op.READ: args.get("count", 0) * spec.lanes * spec.w_bytes,
        Op.FORWARD: args.get("n", 0) * args.get("rows", 0) * spec.acc_bytes,
    }.get(op, 0)


def info_payload(spec) -> bytes:
    """The 22 data bytes of INFO (the gateware sends this constant)."""
    fields = [(spec.hash, None), (VERSION, 1), (spec.words, 2), (spec.lanes, 1), (spec.batch, 1),
              (spec.max_cols, 2), (spec.w_bits, 1), (spec.w_frac, 1), (spec.a_bits, 1), (spec.acc_bytes, 1),
              (spec.c_bits, 1), (spec.c_frac, 1), (int(spec.has_pool) | int(spec.has_scale) << 1, 1)]
    out = b"".join(v if n is None else v.to_bytes(n, "little") for v, n in fields)
    assert len(out) == INFO_BYTES
    return out


# ---- encoders (host side) -------------------------------------------------------------------------

def to_bytes(values, nbytes: int) -> bytes:
    """Little-endian two's-complement bytes of integer ``values`` (nbytes each)."""
    v = np.asarray(values, dtype=np.int64).reshape(-1)
    u = v.astype(np.uint64) & np.uint64((1 << (8 * nbytes)) - 1 if nbytes < 8 else (1 << 64) - 1)
    return u.astype("<u8").view(np.uint8).reshape(-1, 8)[:, :nbytes].tobytes()


def from_bytes(data: bytes, nbytes: int, signed: bool = True) -> np.ndarray:
    """The inverse of :func:`to_bytes`: int64 values."""
    raw = np.frombuffer(data, dtype=np.uint8).reshape(-1, nbytes).astype(np.int64)
    v = (raw << (8 * np.arange(nbytes, dtype=np.int64))).sum(axis=1)
    if signed and nbytes < 8:
        v = v - ((v >> (8 * nbytes - 1)) << (8 * nbytes))
    return v


def encode(spec, op: int, **args) -> bytes:
    """Opcode and arguments (no data)."""
    out = bytes([op])
    for name, n, signed in arg_fields(spec, op):
        out += int(args[name]).to_bytes(n, "little", signed=signed)
    return out


def load(spec, addr: int, words) -> bytes:
    """LOAD of weight codes ``words`` (count, lanes) at word ``addr``."""
    words = np.asarray(words, dtype=np.int64).reshape(-1, spec.lanes)
    return encode(spec, Op.LOAD, addr=addr, count=len(words)) + to_bytes(words, spec.w_bytes)


def read(spec, addr: int, count: int) -> bytes:
    return encode(spec, Op.READ, addr=addr, count=count)


def forward(spec, base: int, rows: int, X) -> bytes:
    """FORWARD of the vectors ``X`` (n, cols) against the rows x cols matrix at word ``base``."""
    X = np.asarray(X, dtype=np.int64)
    X = X[None, :] if X.ndim == 1 else X
    return encode(spec, Op.FORWARD, base=base, rows=rows, cols=X.shape[1], n=X.shape[0]) + \
        to_bytes(X, spec.a_bytes)


def perturb(spec, s: int, count: int) -> bytes:
    return encode(spec, Op.PERTURB, s=s, count=count)


def update(spec, c: int, count: int) -> bytes:
    return encode(spec, Op.UPDATE, c=c, count=count)


def seed(spec, value: int) -> bytes:
    return encode(spec, Op.SEED, seed=value)


def start(spec, row: int) -> bytes:
    return encode(spec, Op.START, row=row)


def scale(spec, q: int) -> bytes:
    return encode(spec, Op.SCALE, q=q)


# ---- decoders (of the data after the status byte) ---------------------------------------------------

def decode_words(spec, data: bytes) -> np.ndarray:
    """READ data as weight codes (count, lanes)."""
    return from_bytes(data, spec.w_bytes).reshape(-1, spec.lanes)


def forward_order(spec, n: int, rows: int) -> np.ndarray:
    """(vector, row) of each accumulator of a FORWARD response, in the order they are sent."""
    order = []
    for g in range(0, n, spec.batch):
        for m in range(rows):
            order += [(v, m) for v in range(g, min(n, g + spec.batch))]
    return np.array(order, dtype=np.int64).reshape(-1, 2)


def decode_forward(spec, data: bytes, n: int, rows: int) -> np.ndarray:
    """FORWARD data as the (n, rows) matrix of sums."""
    values = from_bytes(data, spec.acc_bytes)
    out = np.zeros((n, rows), dtype=np.int64)
    order = forward_order(spec, n, rows)
    out[order[:, 0], order[:, 1]] = values
    return out


def decode_status(data: bytes) -> dict:
    v = from_bytes(data, 4, signed=False)
    return {"commands": int(v[0]), "errors": int(v[1]), "perturb_overflows": int(v[2]),
            "update_overflows": int(v[3])}


def decode_info(data: bytes) -> dict:
    def u(a: int, n: int) -> int:
        return int.from_bytes(data[a:a + n], "little")
    return {"hash": bytes(data[:8]), "version": u(8, 1), "words": u(9, 2), "lanes": u(11, 1), "batch": u(12, 1),
            "max_cols": u(13, 2), "w_bits": u(15, 1), "w_frac": u(16, 1), "a_bits": u(17, 1),
            "acc_bytes": u(18, 1), "c_bits": u(19, 1), "c_frac": u(20, 1),
            "start": bool(data[21] & 1), "scale": bool(data[21] & 2)}
