"""Every preset of the golden block kinds, in one table: name, spec string, description.

Registered by :mod:`zoforge.golden.catalogue` (``zoforge list`` shows them in this order); the engine
reads the perturbation-source rows for its ``rng`` choices. Pure data: importing it registers nothing.
"""

__all__ = ["PRESETS"]

PRESETS: tuple[tuple[str, str, str], ...] = (
    # LFSRs
    ('prbs-lfsr32', 'lfsr:width=32,lanes=1,form=galois',
     'one 32-bit Galois LFSR word per cycle'),
    # uniform generators
    ('uniform16', 'uniform:bits=16,lanes=8,width=32',
     '8 lanes of 16-bit uniforms from 32-bit LFSRs'),
    # Gaussian approximators (the baselines PeZO replaces)
    ('clt4', 'gaussian:method=clt,n=4,lanes=8,bits=16',
     'CLT Gaussian: sum of 4 uniforms, 8 lanes, Q3.12'),
    ('clt12', 'gaussian:method=clt,n=12,lanes=8,bits=16',
     'CLT Gaussian: sum of 12 uniforms, 8 lanes, Q3.12'),
    ('icdf16', 'gaussian:method=icdf,lanes=8,bits=16',
     'inverse-CDF Gaussian: 32-bit uniform, octave + 16 sub-segments, degree-1 ROM, 8 lanes, Q3.12'),
    ('clt4-x2', 'gaussian:method=clt,n=4,lanes=2,bits=16',
     'CLT Gaussian: sum of 4 uniforms, 2 lanes, Q3.12'),
    ('clt12-x2', 'gaussian:method=clt,n=12,lanes=2,bits=16',
     'CLT Gaussian: sum of 12 uniforms, 2 lanes, Q3.12'),
    ('icdf16-x2', 'gaussian:method=icdf,lanes=2,bits=16',
     'inverse-CDF Gaussian, 2 lanes, Q3.12'),
    ('clt4-x4', 'gaussian:method=clt,n=4,lanes=4,bits=16',
     'CLT Gaussian: sum of 4 uniforms, 4 lanes, Q3.12'),
    ('clt12-x4', 'gaussian:method=clt,n=12,lanes=4,bits=16',
     'CLT Gaussian: sum of 12 uniforms, 4 lanes, Q3.12'),
    ('icdf16-x4', 'gaussian:method=icdf,lanes=4,bits=16',
     'inverse-CDF Gaussian, 4 lanes, Q3.12'),
    # PeZO chains (8 lanes; -x2 / -x4: 2 and 4 lanes, for the small engines)
    ('pezo-pool', 'pezo:reuse=pool,pool=4096,lanes=8,bits=16,scale=fold,refresh=4',
     'the default PeZO chain: 4096 uniforms refilled every 4 queries, 8 lanes, sqrt(3) shift-and-add, '
     'per-tensor norm factor folded into the host scalars'),
    ('pezo-pool-norm', 'pezo:reuse=pool,pool=4096,lanes=8,bits=16,scale=norm',
     'the former default: 4096 uniforms never refilled, 8 lanes, runtime norm scaling register'),
    ('pezo-pool-r1', 'pezo:reuse=pool,pool=4096,lanes=8,bits=16,scale=norm,refresh=1',
     'PeZO pool reuse as pezo-pool-norm, the pool reseeded (refilled) for every query'),
    ('pezo-pool-fold', 'pezo:reuse=pool,pool=4096,lanes=8,bits=16,scale=fold',
     "PeZO pool reuse, sqrt(3) shift-and-add in gateware, per-tensor norm factor folded into the host's scalars"),
    ('pezo-pool-fold-r1', 'pezo:reuse=pool,pool=4096,lanes=8,bits=16,scale=fold,refresh=1',
     'PeZO pool reuse with folded scaling, the pool reseeded (refilled) for every query'),
    ('pezo-rotate', 'pezo:reuse=rotate,gens=8,hold=8,lanes=8,bits=16,scale=norm',
     'PeZO on-the-fly reuse: 8 generators held 8 cycles, rotating lanes, 16-bit, norm scaling'),
    ('pezo-uniform', 'pezo:reuse=none,lanes=8,bits=16,scale=sqrt3',
     'uniforms scaled by sqrt(3) (unit variance), 8 lanes, 16-bit sQ1.14, no reuse'),
    ('pezo-pool-x2', 'pezo:reuse=pool,pool=1024,lanes=2,bits=16,scale=fold,refresh=4',
     'the default PeZO chain: 1024 uniforms refilled every 4 queries, 2 lanes, sqrt(3) shift-and-add, '
     'per-tensor norm factor folded into the host scalars'),
    ('pezo-pool-norm-x2', 'pezo:reuse=pool,pool=1024,lanes=2,bits=16,scale=norm',
     'the former default: 1024 uniforms never refilled, 2 lanes, runtime norm scaling register'),
    ('pezo-pool-r1-x2', 'pezo:reuse=pool,pool=1024,lanes=2,bits=16,scale=norm,refresh=1',
     'PeZO pool reuse as pezo-pool-norm-x2, the pool reseeded (refilled) for every query'),
    ('pezo-pool-fold-x2', 'pezo:reuse=pool,pool=1024,lanes=2,bits=16,scale=fold',
     'PeZO pool reuse, 2 lanes, sqrt(3) shift-and-add, norm factor folded into the update scalar'),
    ('pezo-pool-fold-r1-x2', 'pezo:reuse=pool,pool=1024,lanes=2,bits=16,scale=fold,refresh=1',
     'PeZO pool reuse with folded scaling, 2 lanes, the pool reseeded for every query'),
    ('pezo-rotate-x2', 'pezo:reuse=rotate,gens=2,hold=8,lanes=2,bits=16,scale=norm',
     'PeZO on-the-fly reuse: 2 generators held 8 cycles, rotating lanes, norm scaling'),
    ('pezo-uniform-x2', 'pezo:reuse=none,lanes=2,bits=16,scale=sqrt3',
     'uniforms scaled by sqrt(3), 2 lanes, 16-bit sQ1.14, no reuse'),
    ('pezo-pool-x4', 'pezo:reuse=pool,pool=2048,lanes=4,bits=16,scale=fold,refresh=4',
     'the default PeZO chain: 2048 uniforms refilled every 4 queries, 4 lanes, sqrt(3) shift-and-add, '
     'per-tensor norm factor folded into the host scalars'),
    ('pezo-pool-norm-x4', 'pezo:reuse=pool,pool=2048,lanes=4,bits=16,scale=norm',
     'the former default: 2048 uniforms never refilled, 4 lanes, runtime norm scaling register'),
    ('pezo-pool-r1-x4', 'pezo:reuse=pool,pool=2048,lanes=4,bits=16,scale=norm,refresh=1',
     'PeZO pool reuse as pezo-pool-norm-x4, the pool reseeded (refilled) for every query'),
    ('pezo-pool-fold-x4', 'pezo:reuse=pool,pool=2048,lanes=4,bits=16,scale=fold',
     'PeZO pool reuse, 4 lanes, sqrt(3) shift-and-add, norm factor folded into the update scalar'),
    ('pezo-pool-fold-r1-x4', 'pezo:reuse=pool,pool=2048,lanes=4,bits=16,scale=fold,refresh=1',
     'PeZO pool reuse with folded scaling, 4 lanes, the pool reseeded for every query'),
    ('pezo-rotate-x4', 'pezo:reuse=rotate,gens=4,hold=8,lanes=4,bits=16,scale=norm',
     'PeZO on-the-fly reuse: 4 generators held 8 cycles, rotating lanes, norm scaling'),
    ('pezo-uniform-x4', 'pezo:reuse=none,lanes=4,bits=16,scale=sqrt3',
     'uniforms scaled by sqrt(3), 4 lanes, 16-bit sQ1.14, no reuse'),
    # Rademacher signs, dense and sparse
    ('sign', 'sign:lanes=8,bits=16',
     'Rademacher signs +-1, 8 lanes, 16-bit sQ1.14, one 32-bit LFSR'),
    ('sign-sparse', 'sign:lanes=8,bits=16,sparse=2',
     'sparse signs: +-2 with probability 1/4, else 0 (variance 1), 8 lanes, 16-bit sQ2.13'),
    ('sign-x2', 'sign:lanes=2,bits=16',
     'Rademacher signs +-1, 2 lanes, 16-bit sQ1.14, one 32-bit LFSR'),
    ('sign-sparse-x2', 'sign:lanes=2,bits=16,sparse=2',
     'sparse signs: +-2 with probability 1/4, else 0, 2 lanes, 16-bit sQ2.13'),
    ('sign-x4', 'sign:lanes=4,bits=16',
     'Rademacher signs +-1, 4 lanes, 16-bit sQ1.14, one 32-bit LFSR'),
    ('sign-sparse-x4', 'sign:lanes=4,bits=16,sparse=2',
     'sparse signs: +-2 with probability 1/4, else 0, 4 lanes, 16-bit sQ2.13'),
    # perturbation units
    ('perturb-pezo16', 'perturb:lanes=8,w_bits=16,w_frac=12,z_bits=16,z_frac=14,eps_shift=8',
     '16-bit weights sQ3.12, PeZO perturbations sQ1.14, eps = 2**-8'),
    ('perturb-gauss16', 'perturb:lanes=8,w_bits=16,w_frac=12,z_bits=16,z_frac=12,eps_shift=8',
     '16-bit weights sQ3.12, Gaussian perturbations sQ3.12, eps = 2**-8'),
    ('perturb-mul', 'perturb:lanes=4,w_bits=16,w_frac=14,z_bits=12,z_frac=10,eps_mul=33,eps_shift=15',
     'eps = 33 * 2**-15 (about 1e-3) by a constant multiplier'),
    # update units
    ('update16', 'update:lanes=8,w_bits=16,w_frac=12,z_bits=16,z_frac=14,c_bits=16,c_frac=20',
     '16-bit weights sQ3.12, PeZO z sQ1.14, c = lr*g in sQ-5.20, nearest-even'),
    ('update16-sr', 'update:lanes=8,w_bits=16,w_frac=12,z_bits=16,z_frac=14,c_bits=16,'
     'c_frac=20,rounding=stochastic,rng_width=32',
     'update16 with LFSR stochastic rounding'),
    ('update16-wd', 'update:lanes=8,w_bits=16,w_frac=12,z_bits=16,z_frac=14,c_bits=16,'
     'c_frac=20,decay_mul=1,decay_shift=16',
     'update16 with weight decay lr*wd = 2**-16 (a shift)'),
    # MAC arrays
    ('mac-int8', 'mac:rows=4,lanes=8,row_bits=8,bcast_bits=8,acc_bits=32,max_len=65536',
     '32 int8 multipliers (4 rows x 8 lanes), 32-bit accumulators'),
    ('mac-int16', 'mac:rows=4,lanes=4,row_bits=16,bcast_bits=16,acc_bits=48,max_len=65536',
     '16 int16 multipliers (4 rows x 4 lanes), 48-bit accumulators'),
    # engines (one per board size)
    ('engine-s', 'engine:rng=pezo-pool-x2,words=512,w_bits=16,w_frac=12,a_bits=8,'
     'batch=1,max_cols=64,eps_shift=6,c_bits=16,c_frac=14,rounding=stochastic',
     'small engine for an iCE40UP5K (iCEBreaker): 2 lanes, 1024 weights, PeZO pool'),
    ('engine-m', 'engine:rng=pezo-pool-x4,words=4096,w_bits=16,w_frac=12,a_bits=8,'
     'batch=2,max_cols=256,eps_shift=6,c_bits=16,c_frac=14,rounding=stochastic',
     'medium engine for an ECP5-85F (ULX3S): 4 lanes, 16384 weights, 2 vectors per pass, PeZO pool'),
    ('engine-l', 'engine:rng=pezo-pool,words=16384,w_bits=16,w_frac=12,a_bits=16,'
     'batch=4,max_cols=1024,eps_shift=6,c_bits=24,c_frac=20,rounding=stochastic',
     'large engine (ECP5-85F, xc7): 8 lanes, 131072 weights, 4 vectors per pass, int16 activations'),
)
