"""Switching activity from a simulation's VCD file: bit toggles of every net, per window of clock
cycles (a power proxy; dynamic power is about the sum over nets of toggles x capacitance).

Nets, not names: Amaranth traces one variable per signal and per scope, plus one per element or field
of a layout view, and a port and the signal it is wired to are separate signals carrying the same
value. So views (``x[3]``, ``x.f`` when ``x`` is traced in the same scope) are dropped, and variables
whose whole waveform is identical (same value at every change time) count as one net. Suffixed names
without a traced prefix (``pool[17]``) are memory rows, flagged ``memory``.

Limits, by construction: these are RTL nets, not the synthesized netlist (a wide adder is one net
here, many LUT outputs there); the simulator has no glitches (zero delay); a memory row toggles when
written, a read toggles only the read-port data.

Members
-------
Net                    names, width, toggles per window, memory (a memory row)
vcd_activity(path, windows, clock="clk") -> (list[Net], cycles per window)
    ``windows``: cycle indices [c0, c1, ...]; window i counts changes in cycles [c_i, c_{i+1}), cycle k
    being the time from the k-th rising clock edge (counted from 0) to the next.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Net", "vcd_activity"]


@dataclass
class Net:
    names: list[str]
    width: int
    toggles: list[int] = field(default_factory=list)
    memory: bool = False


def vcd_activity(path, windows: list[int], clock: str = "clk") -> tuple[list[Net], list[int]]:
    nwin = len(windows) - 1
    nets: dict[str, Net] = {}
    clock_ids, scope, in_scope = set(), [], {}
    with open(path) as f:
        for line in f:                                          # header
            parts = line.split()
            if not parts:
                continue
            if parts[0] == "$scope":
                scope.append(parts[2])
            elif parts[0] == "$upscope":
                scope.pop()
            elif parts[0] == "$var":
                width, ident, name = int(parts[2]), parts[3], parts[4].lstrip("\\")
                if name == clock:
                    clock_ids.add(ident)
                    continue
                in_scope.setdefault(tuple(scope), {})[name] = ident
                nets.setdefault(ident, Net([], width, [0] * nwin)).names.append(".".join(scope + [name]))
            elif parts[0] == "$enddefinitions":
                break
        views, rows = set(), set()
        for names in in_scope.values():
            for name, ident in names.items():
                cuts = [i for i, ch in enumerate(name) if ch in "[." and i > 0]
                if not cuts:
                    continue
                # A part of a traced value (layout element or field) is a view; a suffixed name whose
                # prefixes are not traced is a memory row.
                (views if any(name[:i] in names for i in cuts) else rows).add(ident)
        for ident in rows - views:
            nets[ident].memory = True
        last: dict[str, int] = {}
        trace: dict[str, int] = {}                                # running hash of each waveform
        time, cycle, win, clk = 0, -1, -1, 0
        for line in f:                                            # value changes
            if not line.strip():
                continue
            c = line[0]
            if c == "#":
                time = int(line[1:])
                continue
            if c == "$":
                continue
            if c == "b":
                value, ident = line[1:].split()
                v = int(value.replace("x", "0").replace("z", "0"), 2)
            else:
                ident, v = line[1:].strip(), 1 if c == "1" else 0
            if ident in clock_ids:
                if v and not clk:
                    cycle += 1
                    while win + 1 < len(windows) and cycle >= windows[win + 1]:
                        win += 1
                clk = v
                continue
            if ident in views or ident not in nets:
                continue
            trace[ident] = hash((trace.get(ident, 0), time, v))
            old = last.get(ident)
            last[ident] = v
            if old is not None and 0 <= win < nwin and cycle >= windows[0]:
                nets[ident].toggles[win] += (old ^ v).bit_count()
    merged: dict[tuple, Net] = {}
    for ident, net in nets.items():
        if ident in views:
            continue
        key = (net.width, net.memory, trace.get(ident, 0))
        if key in merged:
            merged[key].names += net.names
        else:
            merged[key] = net
    return list(merged.values()), [windows[i + 1] - windows[i] for i in range(nwin)]
