"""Weights perturbed where they are used: the ZO passes applied per tensor, right before the forward
reads it, instead of one sweep over the whole vector before each forward.

A :class:`LazyWeights` holds a log of passes ``(query, Pass)`` that the weights are *due* to receive and,
for each unit of the perturbation source (a chunk of a tensor for PeZO, a Gaussian block for MeZO), how
many of them it has received. :meth:`ready` brings the units of the named tensors up to date -- every
outstanding pass in one sweep, so the restore and update of the last query and the +eps of the next one
cost one read and one write of the weights, while they are about to be read by the matmul anyway.
:meth:`settle` brings everything up to date (before anyone reads ``Params.data`` directly).

Every element receives exactly the passes of the log, in log order, with the arithmetic of
:func:`~.passes.apply_pass`, so the weights equal those of the separate passes bit for bit at every point
where they are read.
"""

from __future__ import annotations

import numpy as np

from .passes import Pass

__all__ = ["LazyWeights"]


class LazyWeights:
    def __init__(self, source, data: np.ndarray):
        self.source, self.data = source, data
        self.log: list[tuple[object, Pass]] = []
        self.done = np.zeros(len(source.units), np.int64)     # passes of the log each unit has received
        segs = source.layout.segments
        self._index = {s.name: k for k, s in enumerate(segs)}
        self._seg_units = source.segment_units
        self._threads = source.workers.threads
        self._order = self._use_order(segs)
        self._rank = {u: i for i, u in enumerate(self._order)}

    def _use_order(self, segs) -> list[int]:
        """Units in the order a forward first reads them (embeddings, then layer by layer)."""
        def when(s):
            name, _, layer = s.name.partition("[")
            return (0, 0, 0) if name in ("wte", "wpe") else (2, 0, 0) if not layer else (1, int(layer[:-1]), s.start)
        order = {}
        for s in sorted(segs, key=when):
            order.update(dict.fromkeys(self._seg_units[self._index[s.name]]))
        return list(order)

    def due(self, query, op: Pass) -> None:
        """The weights are due to receive ``op`` for ``query`` (applied when read, or by settle)."""
        self.log.append((query, op))

    @property
    def pending(self) -> bool:
        return bool(self.log) and bool((self.done < len(self.log)).any())

    def ready(self, *names: str) -> None:
        """Bring the tensors ``names`` (segment names: ``wte``, ``qkvw[3]`` ...) up to date."""
        if not self.log:
            return
        end = len(self.log)
        units = {u for name in names for u in self._seg_units[self._index[name]] if self.done[u] < end}
        if units and len(units) < self._threads:    # keep every thread busy: take the next units due
            for u in self._order[max(self._rank[u] for u in units) + 1:]:
                if len(units) >= self._threads:
                    break
                if self.done[u] < end:
                    units.add(u)
        self._apply(units, end)

    def embedding(self, table: np.ndarray, tokens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The embedding rows the model reads for ``tokens`` (``ready("wte")`` made them current)."""
        return table, tokens

    def settle(self) -> None:
        """Bring every weight up to date and empty the log."""
        if self.log:
            self._apply(range(len(self.done)), len(self.log))
        self.log.clear()
        self.done[:] = 0

    def _apply(self, units, end: int) -> None:
        by_start: dict[int, list[int]] = {}
        for u in units:
            if self.done[u] < end:
                by_start.setdefault(int(self.done[u]), []).append(u)
        for start, group in sorted(by_start.items()):
            self.source.apply_units(self.data, self.log[start:end], group)
            self.done[group] = end
        if len(self.done) and self.done.min() == end:     # everyone is current: the log can go
            self.log.clear()
            self.done[:] = 0
