"""GEMM tiles for AMD Ryzen AI NPUs: design spec (:mod:`.design`), hardware rules (:mod:`.validate`),
dataflow plan (:mod:`.plan`), IRON lowering (:mod:`.iron`), performance model (:mod:`.perf`) and a
dataflow emulator with the NPU's numerics (:mod:`.emulator`)."""
