// PeZO's pool perturbation of the GEMM's B operand inside the core (zoforge.npu.perturb).
//
// Two kernels, called by the core body that zoforge/npu/iron.py emits for a design with perturb=:
//   pezo_pool_fill(pool, state, rtp)   once per run, after the run-time-parameter barrier: runs the
//                                      pool's LFSR chain from the lane seeds the host wrote and resets
//                                      the core's position (tile, k step) to the run's first tile;
//   pezo_perturb_b(b, pool, state, rtp) before every matmul: b <- RNE_bf16(b + float(z * a)), z the
//                                      pool values of the B object's elements, then advances the position.
// The numbers are those of zoforge.npu.perturb (tile_z, perturb_tile), which the emulator runs and the
// tests prove equal to the host's unfused path. This file is compiled like mm.cc (Peano clang++ with the
// aie_api headers and the -D values of zoforge.npu.iron.perturb_compile_command).
//
// Compile-time values (-D): DIM_K, DIM_N (the B object, k x n, stored as t x s blocks of B^T),
// MAC_S, MAC_T (the micro-kernel's s and t), POOL, LANES, BITS, SFRAC, LSB_EXP (z = code * 2^-LSB_EXP),
// LFSR_WIDTH, LFSR_STEP, LFSR_TAPS (the Galois polynomial without its x^0 term, poly >> 1).
//
// This is the scalar reference form; the cycle model (zoforge.npu.perturb.VECTOR_OPS) assumes the inner
// loop vectorised 16 elements at a time with aie::vector loads of the pool and fp32 accumulator adds.

#include <stdint.h>

#include <aie_api/aie.hpp>

namespace {

// run-time parameter words after the matmul's three (ready, k iterations, tiles): LANES lane seeds,
// then the words named in zoforge.npu.perturb.RTP_NAMES, in that order
constexpr int RTP_SEEDS = 3;
constexpr int RTP_START_LO = RTP_SEEDS + LANES, RTP_START_HI = RTP_START_LO + 1, RTP_Q = RTP_START_LO + 2,
              RTP_A = RTP_START_LO + 3, RTP_COL_BLOCKS = RTP_START_LO + 4, RTP_K = RTP_START_LO + 5,
              RTP_N_VALID = RTP_START_LO + 6, RTP_FIRST_TILE = RTP_START_LO + 7, RTP_COL_N0 = RTP_START_LO + 8,
              RTP_BLOCK_N = RTP_START_LO + 9;

inline uint32_t lfsr_step(uint32_t x) {
  for (int i = 0; i < LFSR_STEP; ++i)  // one leap of LFSR_STEP single Galois steps
    x = (x >> 1) ^ ((x & 1u) ? (uint32_t)LFSR_TAPS : 0u);
  return x;
}

// fp32 -> bf16 bits, round to nearest, ties to even; NaN stays a quiet NaN (zoforge.npu.numerics)
inline uint16_t to_bf16_rne(float f) {
  uint32_t u;
  __builtin_memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return (uint16_t)(u >> 16);
}

inline float from_bf16(uint16_t h) {
  uint32_t u = (uint32_t)h << 16;
  float f;
  __builtin_memcpy(&f, &u, 4);
  return f;
}

}  // namespace

extern "C" {

void pezo_pool_fill(int16_t *pool, int32_t *state, const int32_t *rtp) {
  uint32_t lane[LANES];
  for (int l = 0; l < LANES; ++l) lane[l] = (uint32_t)rtp[RTP_SEEDS + l];
  for (int row = 0; row < POOL / LANES; ++row)
    for (int l = 0; l < LANES; ++l) {
      // the top BITS bits of the LFSR_WIDTH-bit word, two's complement (golden uniform.words_to_codes)
      int32_t top = (int32_t)(lane[l] >> (LFSR_WIDTH - BITS));
      pool[row * LANES + l] = (int16_t)(top - ((top >> (BITS - 1)) << BITS));
      lane[l] = lfsr_step(lane[l]);
    }
  state[0] = rtp[RTP_FIRST_TILE];  // tile number in the shape (row-major over C's blocks)
  state[1] = 0;                    // k step within the tile
}

void pezo_perturb_b(bfloat16 *b, const int16_t *pool, int32_t *state, const int32_t *rtp) {
  const int64_t start = (int64_t)(uint32_t)rtp[RTP_START_LO] | ((int64_t)rtp[RTP_START_HI] << 32);
  const int32_t q = rtp[RTP_Q], K = rtp[RTP_K], n_valid = rtp[RTP_N_VALID];
  float a;
  __builtin_memcpy(&a, &rtp[RTP_A], 4);
  const int32_t tile = state[0], step = state[1];
  const int32_t n0 = (tile % rtp[RTP_COL_BLOCKS]) * rtp[RTP_BLOCK_N] + rtp[RTP_COL_N0];
  const int32_t k0 = step * DIM_K;
  const float lsb = 1.0f / (float)(1 << LSB_EXP);
  uint16_t *bits = reinterpret_cast<uint16_t *>(b);
  for (int nn = 0; nn < DIM_N && n0 + nn < n_valid; ++nn) {
    const int64_t row = start + (int64_t)(n0 + nn) * K + k0;  // stream position of W[n0+nn, k0]
    for (int kk = 0; kk < DIM_K; ++kk) {
      int32_t code = pool[(row + kk) % POOL];
      code = (code * q + (1 << SFRAC)) >> (SFRAC + 1);       // golden scale.scale_inplace
      const float t = (float)code * lsb * a;                   // z * a, rounded to fp32 once (z is exact)
      const int at = ((nn / MAC_T) * (DIM_K / MAC_S) + kk / MAC_S) * (MAC_T * MAC_S) + (nn % MAC_T) * MAC_S + kk % MAC_S;
      bits[at] = to_bf16_rne(from_bf16(bits[at]) + t);
    }
  }
  if (++state[1] * DIM_K == K) {  // the tile's last k step: next tile
    state[1] = 0;
    state[0] = tile + 1;
  }
}

}  // extern "C"
