"""GEMM tiles for AMD Ryzen AI NPUs: design spec (:mod:`.design`), hardware rules (:mod:`.validate`),
dataflow plan (:mod:`.plan`), IRON lowering (:mod:`.iron`), performance model (:mod:`.perf`).
The emulator that runs a plan lives in :mod:`zoforge.sim.npu_emu`."""
