"""Design-space exploration: ``zoforge sweep`` evaluates perturbation sources on Ray.

For every point (a spec string from a grid, a SPEC-RANGE or a list): synthesis per FPGA family, the
RNG power proxy and ZO fine-tuning quality over several seeds, next to the CLT-4 Gaussian (hardware)
and MeZO / AdamW (quality) measured in the same sweep; results cached per measurement; the Pareto
front of LUT ratio against final loss per family in ``pareto.md`` and ``pareto.png``.

Modules: :mod:`.grid` (points and options), :mod:`.measure` (one measurement, a Ray task),
:mod:`.quality` (one fine-tuning run), :mod:`.cache`, :mod:`.run` (Ray, progress), :mod:`.results`
(rows, statistics, verdicts), :mod:`.pareto`, :mod:`.plot`; the command line is :mod:`zoforge.cli.sweep`.
"""
