"""nextpnr's routed netlist made simulatable with the shipped cell models (YoWASP Yosys's
``cells_sim.v``): pads and global clock buffers become the wires they are, cells nextpnr rewired get
back the ports and parameters the models read, and every remaining cell must have a model.

Pads and buffers. nextpnr puts a pad on every top-level port and a global buffer on the clock, and
their models do not simulate in Icarus: iCE40's ``SB_IO`` computes its pin in ``always @*`` blocks,
which (cocotb compiles with ``-g2012``) never see a driver that keeps its declaration-initialised
power-on value, so an output bit reads X until it first toggles; ECP5's ``TRELLIS_IO`` pulls its
unconnected ``T`` down in an ``always @(*)`` that never runs, so every output is X; ECP5's ``DCCA``
has no model. For the pin types nextpnr gives plain ports each is a wire by its own model's
definition, and each is checked to be one, so replacing them changes no logic.

Rewired cells. nextpnr packs iCE40's ``SB_MAC16`` into ``ICESTORM_DSP`` with one port per bit and
leaves a constant input unconnected (high for ``CE``, low for any other; the model has no such
defaults), so it gets its buses and those constants back. On ECP5 a ``TRELLIS_FF`` not paired with
the LUT that feeds it takes its data on ``M`` with ``SD="0"`` (the model reads ``DI`` only), and an
unconnected ``LSR`` is the inactive level; a ``TRELLIS_COMB`` on a slice's second LUT (bel ``...K1``)
muxes ``FXA``/``FXB`` into ``OFX``, which the model does only with ``IS_Z1=1``, a parameter nextpnr
does not write; an unconnected LUT or carry input ``A``..``D`` is high, as in the slice (a carry
chain's feed-in cell depends on it). The iCE40 logic cells and RAM pull their unconnected inputs to
the same levels in their own models.

Members: :func:`make_simulatable` (the routed JSON, changed in place), :func:`unmodelled_cells`,
:class:`UnsimulatableNetlist`.
"""

from __future__ import annotations

import re

from ..errors import ToolError

__all__ = ["make_simulatable", "bypass_buffers", "unmodelled_cells", "UnsimulatableNetlist"]


class UnsimulatableNetlist(ToolError):
    """A netlist the shipped cell models cannot simulate; the one-line message says which cell and why."""


_ICE40_INPUT, _ICE40_OUTPUT = 0b000001, 0b011001      # SB_IO PIN_TYPE: plain input; plain output


def _ice40_io(cell):
    pin_type = int(cell["parameters"].get("PIN_TYPE", "0"), 2)
    if pin_type == _ICE40_INPUT:
        return "PACKAGE_PIN", "D_IN_0"
    if pin_type in (_ICE40_OUTPUT, _ICE40_OUTPUT & ~1):       # bit 0 is the (unused) input half
        return "D_OUT_0", "PACKAGE_PIN"
    return None


def _ecp5_io(cell):
    params = cell["parameters"]
    if any(params.get(mux, "PADDO") != "PADDO" for mux in ("DATAMUX_ODDR", "DATAMUX_MDDR")):
        return None
    return {"INPUT": ("B", "O"), "OUTPUT": ("I", "B")}.get(params.get("DIR"))


#: Per family and buffer type: ``cell -> (input port, output port)`` when the cell is a wire, else None.
_BUFFERS = {
    "ice40": {"SB_IO": _ice40_io, "SB_GB": lambda cell: ("USER_SIGNAL_TO_GLOBAL_BUFFER", "GLOBAL_BUFFER_OUTPUT")},
    "ecp5": {"TRELLIS_IO": _ecp5_io, "DCCA": lambda cell: ("CLKI", "CLKO")},
}


def make_simulatable(netlist: dict, family: str) -> None:
    """All of this module's changes to nextpnr's ``netlist`` (its JSON), in place."""
    bypass_buffers(netlist, family)
    for module in netlist["modules"].values():
        (_restore_ecp5_cells if family == "ecp5" else _restore_ice40_cells)(module)


def bypass_buffers(netlist: dict, family: str) -> int:
    """Replace the pads and clock buffers of every module in nextpnr's ``netlist`` (its JSON) by
    wires; returns how many. A buffer used in any other way (registered or tristate pad, clock
    enable) raises :class:`UnsimulatableNetlist`."""
    rules = _BUFFERS[family]
    count = 0
    for module in netlist["modules"].values():
        alias = {}                                         # bit -> the bit it is a wire of
        for name, cell in list(module["cells"].items()):
            rule = rules.get(cell["type"])
            if rule is None:
                continue
            ports = rule(cell)
            used = sorted(p for p, bits in cell["connections"].items() if bits)
            if ports is None or not set(used) <= set(ports):
                raise UnsimulatableNetlist(f"the routed netlist's {cell['type']} {name!r} is not a plain buffer "
                                         f"(parameters {cell['parameters']}, ports {'|'.join(used)}); "
                                         f"it cannot be simulated as a wire")
            source, sink = (cell["connections"].get(p, []) for p in ports)
            if sink:
                if not source:
                    raise UnsimulatableNetlist(f"the routed netlist's {cell['type']} {name!r} drives "
                                             f"{ports[1]} from an unconnected {ports[0]}")
                alias[sink[0]] = source[0]
            del module["cells"][name]
            count += 1
        _rename_bits(module, alias)
    return count


def _rename_bits(module: dict, alias: dict) -> None:
    def resolve(bit):
        while bit in alias:
            bit = alias[bit]
        return bit
    for holder in (*module["ports"].values(), *module["netnames"].values()):
        holder["bits"] = [resolve(b) for b in holder["bits"]]
    for cell in module["cells"].values():
        cell["connections"] = {p: [resolve(b) for b in bits] for p, bits in cell["connections"].items()}


#: SB_MAC16's buses, which nextpnr's ICESTORM_DSP has as one port per bit (``A_0`` ... ``O_31``).
_MAC16_BUSES = {"A": 16, "B": 16, "C": 16, "D": 16, "O": 32}


def _restore_ice40_cells(module: dict) -> None:
    """nextpnr's ICESTORM_DSP back to the SB_MAC16 it packed: buses regrouped, and every input it left
    unconnected tied to what nextpnr meant by that (CE high, any other input low)."""
    fresh = iter(range(1 + max((b for m in _all_bits(module) for b in m if isinstance(b, int)), default=1), 1 << 62))
    for cell in module["cells"].values():
        if cell["type"] != "ICESTORM_DSP":
            continue
        conn, directions = cell["connections"], cell.get("port_directions", {})
        ports, new_dirs = {}, {}
        for bus, width in _MAC16_BUSES.items():
            bits = [conn.pop(f"{bus}_{i}", []) for i in range(width)]
            output = directions.get(f"{bus}_0") == "output"
            ports[bus] = [b[0] if b else (next(fresh) if output else "0") for b in bits]
            new_dirs[bus] = "output" if output else "input"
        for port, bits in conn.items():
            output = directions.get(port) == "output"
            ports[port] = bits or ([] if output or port == "CLK" else ["1" if port == "CE" else "0"])
            new_dirs[port] = directions.get(port, "input")
        cell.update(type="SB_MAC16", connections=ports, port_directions=new_dirs)


def _all_bits(module: dict):
    yield from (holder["bits"] for holder in (*module["ports"].values(), *module["netnames"].values()))
    yield from (bits for cell in module["cells"].values() for bits in cell["connections"].values())


def _restore_ecp5_cells(module: dict) -> None:
    for name, cell in module["cells"].items():
        params, conn = cell["parameters"], cell["connections"]
        if cell["type"] == "TRELLIS_FF" and params.get("SD", "1").strip() == "0":
            if conn.get("DI") or params.get("LSRMODE", "LSR").strip() == "PRLD":
                raise UnsimulatableNetlist(f"the routed netlist's TRELLIS_FF {name!r} takes data on M (SD=0) "
                                         f"while DI or LSRMODE=PRLD also use it; the model cannot show that")
            conn["DI"] = conn.pop("M", [])
            if "port_directions" in cell:
                cell["port_directions"]["DI"] = cell["port_directions"].pop("M", "input")
        if cell["type"] == "TRELLIS_FF":
            params.pop("SD", None)
        if cell["type"] == "TRELLIS_FF" and not conn.get("LSR"):          # tied to its inactive level
            conn["LSR"] = ["1" if params.get("LSRMUX", "LSR").strip() == "INV" else "0"]
        if cell["type"] == "TRELLIS_COMB":
            if cell["attributes"].get("NEXTPNR_BEL", "").endswith("K1"):
                params["IS_Z1"] = "1"
            for port in "ABCD":                                         # the slice's inputs idle high
                conn[port] = conn.get(port) or ["1"]


_MODULE = re.compile(r"^\s*module\s+(\w+)(.*?)\bendmodule\b", re.M | re.S)
_COMMENT = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)
#: What a model with behaviour has: a continuous assignment, a process, or an instance of another cell
#: (named connections, ``(.A(``).
_BEHAVIOUR = re.compile(r"\b(assign|always|initial)\b|\(\s*\.\w+\s*\(")


def unmodelled_cells(netlist: dict, models: str) -> dict[str, str]:
    """Cell types in ``netlist``'s design modules (Yosys or nextpnr JSON) that the Verilog ``models``
    cannot simulate, each with why: "no model", or "a model without behaviour" (a shell that only
    declares ports and parameters, whose outputs would float)."""
    bodies = {name: body for name, body in _MODULE.findall(_COMMENT.sub("", models))}
    design = {name for name, m in netlist["modules"].items()
              if "1" not in str(m.get("attributes", {}).get("blackbox", ""))}     # cell libraries are blackboxes
    used = {c["type"] for name in design for c in netlist["modules"][name]["cells"].values()}
    used = {t for t in used if not t.startswith("$")} - design      # $...: Yosys's own cells, written as Verilog
    out = {}
    for name in sorted(used):
        if name not in bodies:
            out[name] = "no model"
        elif not _BEHAVIOUR.search(bodies[name]):
            out[name] = "a model without behaviour"
    return out
