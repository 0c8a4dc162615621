"""The engine spec, its protocol and the golden executor: command decoding, every error path, the
exact +1/-2/+1 restore through commands, forward/update against the blocks' models, and a golden
ZO training run whose loss falls."""

import numpy as np
import pytest

from zoforge.golden import engine_protocol as P
from zoforge.golden.engine import RNG_PRESETS, EngineSpec
from zoforge.golden.engine_model import EngineModel, TruncatedCommand
from zoforge.golden.engine_protocol import Code, Op
from zoforge.golden.engine_sessions import random_session
from zoforge.golden.perturb import perturb_codes
from zoforge.golden.spec import SpecError, parse
from zoforge.golden.update import update_codes
from zoforge.device.client import EngineClient, EngineError, SpecMismatch
from zoforge.device.options import DeviceTrainOptions
from zoforge.device.trainer import ZOTrainer, make_task

PRESETS = ["engine-s", "engine-m", "engine-l"]


def code(rsp: bytes) -> int:
    return rsp[0] & 0x0F


# ---- spec ----

@pytest.mark.parametrize("name", PRESETS)
def test_presets_derive_every_sub_spec_from_one_place(name):
    spec = parse(name)
    rng = spec.rng_spec
    assert spec.lanes == rng.outputs_per_cycle == spec.perturb.lanes == spec.update.lanes == spec.mac.lanes
    assert (spec.perturb.z_bits, spec.perturb.z_frac) == (rng.out_format.bits, rng.out_format.frac)
    assert (spec.update.z_bits, spec.update.z_frac) == (rng.out_format.bits, rng.out_format.frac)
    assert spec.mac.rows == spec.batch and spec.mac.acc_bits % 8 == 0
    assert spec.mac.acc_bits >= spec.mac.needed_acc_bits
    assert len(spec.hash) == 8


def test_every_pezo_chain_has_a_gaussian_partner_at_equal_outputs_per_cycle():
    by_lanes = {}
    for name in RNG_PRESETS:
        spec = parse(name)
        by_lanes.setdefault(spec.outputs_per_cycle, set()).add(spec.KIND)
    assert {2, 4, 8} <= set(by_lanes)
    assert all(kinds == {"pezo", "gaussian", "sign"} for kinds in by_lanes.values())


def test_hash_follows_the_canonical_string():
    a, b = parse("engine-s"), parse("engine-s").replace(eps_shift=7)
    assert a.hash == parse(str(a)).hash and a.hash != b.hash


@pytest.mark.parametrize("text, words", [
    ("engine:w_bits=8,w_frac=8", ["w_frac=8", "w_bits=8"]),
    ("engine:c_frac=40", ["c_frac=40", "LFSR"]),
    ("engine:eps_shift=32", ["eps_shift=32"]),
    ("engine:rng=lfsr", ["rng='lfsr'", "pezo-pool"]),
])
def test_invalid_combinations_name_the_parameter(text, words):
    with pytest.raises(SpecError) as info:
        parse(text)
    assert "\n" not in str(info.value) and "engine" in str(info.value)
    for word in words:
        assert word in str(info.value), str(info.value)


# ---- protocol ----

def test_command_and_response_lengths():
    spec = parse("engine-m")          # 4 lanes, 16-bit weights, 8-bit activations, 4-byte sums, batch 2
    assert P.command_length(spec, bytes([Op.PING])) == 1
    assert P.command_length(spec, P.encode(spec, Op.LOAD, addr=0, count=3)) == 5 + 3 * 4 * 2
    assert P.command_length(spec, P.encode(spec, Op.FORWARD, base=0, rows=2, cols=5, n=3)) == 9 + 15
    assert P.command_length(spec, bytes([Op.SEED, 1, 2])) is None
    assert P.command_length(spec, bytes([0x99])) == 1
    fwd = P.encode(spec, Op.FORWARD, base=0, rows=2, cols=5, n=3)
    assert P.response_length(spec, fwd, 0) == 1 + 3 * 2 * 4
    assert P.response_length(spec, fwd, Code.BAD_ARGUMENT) == 1
    assert P.response_length(spec, P.read(spec, 0, 2), P.OVERFLOW_FLAG) == 1 + 2 * 4 * 2


def test_values_round_trip_through_bytes():
    v = np.array([-32768, -1, 0, 1, 32767])
    assert (P.from_bytes(P.to_bytes(v, 2), 2) == v).all()
    assert P.from_bytes(P.to_bytes([2 ** 40 - 1], 6), 6, signed=False)[0] == 2 ** 40 - 1


def test_forward_order_groups_batch_vectors():
    spec = parse("engine-m")          # batch 2
    assert P.forward_order(spec, 3, 2).tolist() == [[0, 0], [1, 0], [0, 1], [1, 1], [2, 0], [2, 1]]


# ---- command decoding ----

def test_ping_info_status_clear():
    spec = parse("engine-s").replace(rng="pezo-pool-norm-x2")      # a chain with START and SCALE
    e = EngineModel(spec)
    assert e.transact(bytes([Op.PING])) == b"\x00"
    rsp = e.transact(bytes([Op.INFO]))
    info = P.decode_info(rsp[1:])
    assert rsp[0] == 0 and info["hash"] == spec.hash and info["lanes"] == 2 and info["words"] == spec.words
    assert info["start"] and info["scale"] and info["version"] == P.VERSION
    e.transact(bytes([0x77]))
    rsp = e.transact(bytes([Op.STATUS]))
    assert P.decode_status(rsp[1:]) == {"commands": 4, "errors": 1, "perturb_overflows": 0, "update_overflows": 0}
    assert e.transact(bytes([Op.CLEAR])) == b"\x00"
    assert P.decode_status(e.transact(bytes([Op.STATUS]))[1:])["commands"] == 1


def test_load_read_round_trip_and_feed_in_any_split():
    spec = parse("engine-s")
    rng = np.random.default_rng(0)
    W = rng.integers(-32768, 32768, size=(7, 2))
    stream = P.load(spec, 5, W) + P.read(spec, 5, 7)
    whole = EngineModel(spec).transact(stream)
    e, pieces = EngineModel(spec), b""
    for i in range(0, len(stream), 3):
        pieces += e.feed(stream[i:i + 3])
    assert pieces == whole and whole[:2] == b"\x00\x00"
    assert (P.decode_words(spec, whole[2:]) == W).all()


@pytest.mark.parametrize("command, expected", [
    (lambda s: bytes([0x99]), Code.UNKNOWN_OPCODE),
    (lambda s: P.read(s, 0, 0), Code.BAD_ARGUMENT),
    (lambda s: P.read(s, s.words - 1, 2), Code.BAD_ARGUMENT),
    (lambda s: P.seed(s, 0), Code.BAD_ARGUMENT),
    (lambda s: P.seed(s, 1 << 32), Code.BAD_ARGUMENT),
    (lambda s: P.start(s, s.pool_rows), Code.BAD_ARGUMENT),
    (lambda s: P.scale(s, 0), Code.BAD_ARGUMENT),
    (lambda s: P.scale(s, 1 << 9), Code.BAD_ARGUMENT),
    (lambda s: P.perturb(s, 0, 4), Code.BAD_ARGUMENT),
    (lambda s: P.perturb(s, 2, 4), Code.BAD_ARGUMENT),
    (lambda s: P.perturb(s, 1, s.words + 1), Code.BAD_ARGUMENT),
    (lambda s: P.update(s, 5, 0), Code.BAD_ARGUMENT),
    (lambda s: P.forward(s, 0, 1, np.ones((1, s.max_cols + 1))), Code.BAD_ARGUMENT),
    (lambda s: P.forward(s, s.words - 1, 2, np.ones((1, 3))), Code.BAD_ARGUMENT),
    (lambda s: P.encode(s, Op.FORWARD, base=0, rows=0, cols=1, n=1) + b"\x01", Code.BAD_ARGUMENT),
])
def test_malformed_commands_get_an_error_and_the_stream_stays_in_step(command, expected):
    spec = parse("engine-s").replace(rng="pezo-pool-norm-x2")      # SCALE's argument checks need a scale register
    e = EngineModel(spec)
    rsp = e.transact(command(spec) + bytes([Op.PING]))
    assert rsp == bytes([expected, Code.OK])       # data of a rejected LOAD/FORWARD was consumed
    assert (e.weights == 0).all()


def test_bad_load_discards_its_data():
    spec = parse("engine-s")
    e = EngineModel(spec)
    assert e.transact(P.load(spec, spec.words, np.full((3, 2), 7)) + bytes([Op.PING])) == b"\x02\x00"
    assert (e.weights == 0).all()


@pytest.mark.parametrize("rng", ["clt4-x2", "pezo-uniform-x2", "pezo-rotate-x2"])
def test_start_and_scale_are_unsupported_without_a_pool_or_a_scale_register(rng):
    spec = parse(f"engine:rng={rng}")
    e = EngineModel(spec)
    assert code(e.transact(P.start(spec, 0))) == Code.UNSUPPORTED
    assert code(e.transact(P.scale(spec, 100))) == (Code.OK if spec.has_scale else Code.UNSUPPORTED)


def test_truncated_command_raises():
    spec = parse("engine-s")
    with pytest.raises(TruncatedCommand):
        EngineModel(spec).transact(P.load(spec, 0, np.zeros((2, 2)))[:-1])


# ---- semantics against the blocks' models ----

@pytest.mark.parametrize("name", ["engine-s", "engine:rng=clt4-x2", "engine:rng=pezo-rotate-x2", "engine:rng=icdf16-x4"])
def test_mezo_passes_restore_every_weight_and_use_the_chains_numbers(name):
    spec = parse(name)
    rng = np.random.default_rng(1)
    W0 = rng.integers(-8000, 8000, size=(40, spec.lanes))
    c = EngineClient(EngineModel(spec), spec)
    c.load(0, W0)
    c.seed(987654)
    z = spec.rng_spec.golden(40, seed=987654) if spec.rng_spec.KIND == "gaussian" else c.link.z(40)
    c.perturb(1, 40)
    assert (c.read(0, 40) == perturb_codes(spec.perturb, W0, z, 1)[0]).all()
    c.perturb(-2, 40)
    c.perturb(1, 40)
    assert (c.read(0, 40) == W0).all()
    assert c.status()["perturb_overflows"] == 0 and not c.overflow


def test_seed_replays_and_start_moves_through_the_pool():
    spec = parse("engine-s")
    e = EngineModel(spec)
    e.transact(P.seed(spec, 5))
    z5 = e.z(16)
    e.transact(P.seed(spec, 6))
    assert not (e.z(16) == z5).all()
    e.transact(P.seed(spec, 5))
    assert (e.z(16) == z5).all()
    e.transact(P.start(spec, 3))
    assert (e.z(13) == z5[3:16]).all()


def test_update_matches_the_update_unit_and_stochastic_rounding_continues():
    spec = parse("engine-s")
    rng = np.random.default_rng(2)
    W0 = rng.integers(-8000, 8000, size=(30, 2))
    e = EngineModel(spec)
    e.transact(P.load(spec, 0, W0))
    z = e.z(30)
    bits = spec.update.random_bits(50)
    e.transact(P.update(spec, 1234, 20) + P.update(spec, -99, 30))
    w1, _ = update_codes(spec.update, W0[:20], z[:20], 1234, 1, bits[:20])
    expected = W0.copy()
    expected[:20] = w1
    w2, _ = update_codes(spec.update, expected, z, -99, 1, bits[20:50])
    assert (e.weights[:30] == w2).all()


@pytest.mark.parametrize("name", ["engine-s", "engine-m", "engine-l"])
def test_forward_equals_the_matrix_product(name):
    spec = parse(name)
    rng = np.random.default_rng(3)
    rows, cols, n = 5, 2 * spec.lanes + 1, 2 * spec.batch + 1
    kw = -(-cols // spec.lanes)
    W = rng.integers(-30000, 30000, size=(rows, kw * spec.lanes))
    X = rng.integers(-100, 100, size=(n, cols))
    c = EngineClient(EngineModel(spec), spec)
    c.load(10, W.reshape(-1, spec.lanes))
    assert (c.forward(10, rows, X) == X @ W[:, :cols].T).all()


def test_overflows_are_flagged_counted_and_cleared():
    spec = parse("engine:eps_shift=0")
    e = EngineModel(spec)
    c = EngineClient(e, spec)
    c.load(0, np.full((8, 2), 32000))
    c.perturb(1, 8)
    assert c.overflow and c.status()["perturb_overflows"] > 0
    c.clear()
    assert not c.overflow and c.status()["perturb_overflows"] == 0


def test_client_refuses_an_engine_of_another_spec():
    spec = parse("engine-s")
    other = spec.replace(eps_shift=7)
    with pytest.raises(SpecMismatch):
        EngineClient(EngineModel(other), spec).check_spec()
    with pytest.raises(EngineError):
        EngineClient(EngineModel(spec), spec).read(0, 0)


def test_random_sessions_run_and_end_with_a_read_back():
    for name in PRESETS:
        spec = parse(name)
        cmds = random_session(spec, np.random.default_rng(4))
        rsp = EngineModel(spec).transact(b"".join(cmds))
        assert len(rsp) >= len(cmds)


# ---- training ----

def test_golden_zo_training_loss_falls():
    spec = parse("engine-s")
    task = make_task(seed=1, train=256, test=256)
    client = EngineClient(EngineModel(spec), spec)
    client.check_spec()
    history = ZOTrainer(client, task, DeviceTrainOptions(steps=150, lr=0.05, batch=32, eval_samples=256, eval_interval=150)).train()
    first, last = history[0], history[-1]
    assert last["loss"] < 0.6 * first["loss"] and last["test_accuracy"] > first["test_accuracy"] + 0.3
    assert client.status()["errors"] == 0
