"""The PeZO perturbation fused into the GEMM tile (gemm:...,perturb=PRESET): the cores' z equals the
golden stream at every tile's offset, the emulated fused GEMM equals the unfused path (host-perturbed
bf16 weights, then the GEMM) bit for bit, and the validator charges the pool to L1."""

import numpy as np
import pytest

from zoforge.golden.pezo import perturbation_values
from zoforge.golden.spec import SpecError, parse
from zoforge.npu.design import GemmSpec
from zoforge.npu.emulator import EmulationError, NpuEmulator
from zoforge.npu.numerics import from_bf16, to_bf16
from zoforge.npu.perturb import PerturbCall, core_pool, host_perturbed, l1_bytes, tile_z

SPEC = GemmSpec(cols=2, rows=2, m=64, k=64, n=32, perturb="pezo-pool-norm")   # block 128 x 128 x 64


def test_spec_text_round_trips_and_none_is_not_shown():
    spec = parse("npu1-gpt2-pezo")
    assert spec.perturb == "pezo-pool-norm" and parse(str(spec)) == spec
    assert "perturb" not in str(parse("npu1-gpt2"))
    with pytest.raises(SpecError, match=r"perturb='pezo-rotate' is not allowed; perturb must be one of none\|"):
        parse("gemm:perturb=pezo-rotate")


def test_tile_z_is_the_golden_stream_at_the_tile_offset():
    pezo, call = SPEC.pezo, PerturbCall(seed=7, start=12345, q=300, a=1e-3)
    K, N = 192, 96
    pool = core_pool(pezo, call.seed)
    whole = perturbation_values(pezo, call.start, N * K, seed=call.seed, q=call.q).reshape(N, K)
    for k0, n0, k, n in ((0, 0, 64, 32), (64, 32, 64, 32), (128, 64, 64, 32), (5, 7, 9, 11)):
        assert np.array_equal(tile_z(pezo, pool, call, K, k0, n0, k, n), whole[n0:n0 + n, k0:k0 + k].T)


CALLS = [PerturbCall(seed=None, start=0, q=None, a=1e-2),
         PerturbCall(seed=3, start=4093, q=311, a=-2e-2),
         PerturbCall(seed=9, start=777, q=128, a=0.37, n_valid=100)]


@pytest.mark.parametrize("call", CALLS, ids=["reset-pool", "seeded-minus-2eps", "n_valid"])
@pytest.mark.parametrize("spec,shape", [(SPEC, (128, 128, 128)), (SPEC, (256, 256, 192)),
                                        (parse("npu1-gpt2-pezo"), (256, 128, 256))])
def test_fused_gemm_equals_host_perturbed_weights_bit_for_bit(spec, shape, call):
    M, K, N = shape
    rng = np.random.default_rng(1)
    a = rng.standard_normal((M, K), dtype=np.float32)
    w = from_bf16(to_bf16(rng.standard_normal((N, K), dtype=np.float32) * 0.02))   # device-resident bf16
    emu = NpuEmulator(spec)
    fused, stats = emu.run(a, w.T, perturb=call)
    unfused, _ = emu.run(a, host_perturbed(spec.pezo, call, w).T)
    plain, _ = emu.run(a, w.T)
    assert np.array_equal(fused.view(np.uint32), unfused.view(np.uint32))
    assert not np.array_equal(fused, plain)                  # the perturbation is there
    if call.n_valid is not None:                             # columns past n_valid are the plain GEMM's
        assert np.array_equal(fused[:, call.n_valid:], plain[:, call.n_valid:])
    assert stats.kernel_calls == M * N * K // (spec.m * spec.n * spec.k)


def test_a_perturbation_needs_a_design_with_perturb():
    emu = NpuEmulator(GemmSpec(cols=2, rows=2))
    with pytest.raises(EmulationError, match="perturb=none"):
        emu.run(np.zeros((128, 128), np.float32), np.zeros((128, 64), np.float32), perturb=CALLS[0])


def test_validator_charges_the_pool_to_l1():
    fits = GemmSpec(m=64, k=112, n=32)                       # 62,732 B of L1 without the pool
    assert fits.perturb == "none"
    assert l1_bytes(parse("pezo-pool")) == 8192
    with pytest.raises(SpecError, match=r"l1_capacity|L1 of core .* pezo pool 8,192"):
        GemmSpec(m=64, k=112, n=32, perturb="pezo-pool-norm")


@pytest.mark.parametrize("text,why", [("in=i16,out=i32,b_layout=row", "needs in=bf16"),
                                      ("b_layout=row", "needs b_layout=col")])
def test_perturb_needs_bf16_weights_stored_as_bt(text, why):
    with pytest.raises(SpecError, match=why):
        parse(f"gemm:{text},perturb=pezo-pool-norm")
