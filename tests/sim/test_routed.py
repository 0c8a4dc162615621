"""nextpnr's routed netlist made simulatable: pads and clock buffers become wires (only when they are
plain buffers), ECP5 cells nextpnr rewired get back the ports the models read, and a cell the shipped
models cannot simulate is named."""

from __future__ import annotations

import pytest

from zoforge.sim.netlist import flat_cell_models
from zoforge.sim.routed import UnsimulatableNetlist, bypass_buffers, make_simulatable, unmodelled_cells

_INPUT, _OUTPUT = "000001", "011001"


def _cell(kind, connections, parameters=None, attributes=None):
    return {"type": kind, "parameters": parameters or {}, "attributes": attributes or {},
            "connections": connections}


def _ice40_design(pin_type_out=_OUTPUT):
    """clk pin -> SB_IO -> SB_GB -> LC.CLK; d pin -> SB_IO -> LC.I0; LC.O -> SB_IO -> q pin."""
    cells = {
        "clk$sb_io": _cell("SB_IO", {"PACKAGE_PIN": [2], "D_IN_0": [10], "CLOCK_ENABLE": []}, {"PIN_TYPE": _INPUT}),
        "gb": _cell("SB_GB", {"USER_SIGNAL_TO_GLOBAL_BUFFER": [10], "GLOBAL_BUFFER_OUTPUT": [11]}),
        "d$sb_io": _cell("SB_IO", {"PACKAGE_PIN": [3], "D_IN_0": [12]}, {"PIN_TYPE": _INPUT}),
        "lc": _cell("ICESTORM_LC", {"CLK": [11], "I0": [12], "O": [13], "CIN": []}),
        "q$sb_io": _cell("SB_IO", {"PACKAGE_PIN": [4], "D_OUT_0": [13]}, {"PIN_TYPE": pin_type_out}),
    }
    ports = {"clk": {"direction": "input", "bits": [2]}, "d": {"direction": "input", "bits": [3]},
             "q": {"direction": "output", "bits": [4]}}
    netnames = {"q$SB_IO_OUT": {"bits": [13]}, "clk$glb": {"bits": [11]}}
    return {"modules": {"top": {"ports": ports, "cells": cells, "netnames": netnames}}}


def test_ice40_pads_and_global_buffer_become_wires():
    design = _ice40_design()
    assert bypass_buffers(design, "ice40") == 4
    top = design["modules"]["top"]
    assert list(top["cells"]) == ["lc"]
    assert top["cells"]["lc"]["connections"] == {"CLK": [2], "I0": [3], "O": [13], "CIN": []}
    assert top["ports"]["q"]["bits"] == [13]                    # the output port is the LUT's net
    assert top["netnames"]["clk$glb"]["bits"] == [2]


def test_a_registered_pad_is_not_a_wire():
    with pytest.raises(UnsimulatableNetlist, match=r"SB_IO 'q\$sb_io' is not a plain buffer"):
        bypass_buffers(_ice40_design(pin_type_out="010100"), "ice40")    # registered output


def test_a_pad_using_another_port_is_not_a_wire():
    design = _ice40_design()
    design["modules"]["top"]["cells"]["q$sb_io"]["connections"]["OUTPUT_ENABLE"] = [13]
    with pytest.raises(UnsimulatableNetlist, match="OUTPUT_ENABLE"):
        bypass_buffers(design, "ice40")


def _ecp5_design():
    cells = {
        "clk$tr_io": _cell("TRELLIS_IO", {"B": [2], "O": [10]}, {"DIR": "INPUT", "DATAMUX_ODDR": "PADDO"}),
        "dcc": _cell("DCCA", {"CLKI": [10], "CLKO": [11]}),
        "ff": _cell("TRELLIS_FF", {"CLK": [11], "M": [3], "Q": [12]}, {"SD": "0 ", "REGSET": "RESET"}),
        "lut1": _cell("TRELLIS_COMB", {"FXA": [12], "FXB": [3], "M": [2], "OFX": [13]}, {},
                      {"NEXTPNR_BEL": "X4/Y9/SLICEB.K1"}),
        "lut0": _cell("TRELLIS_COMB", {"A": [12], "F": [14]}, {}, {"NEXTPNR_BEL": "X4/Y9/SLICEB.K0"}),
        "q$tr_io": _cell("TRELLIS_IO", {"B": [4], "I": [13]}, {"DIR": "OUTPUT"}),
    }
    ports = {"clk": {"bits": [2]}, "d": {"bits": [3]}, "q": {"bits": [4]}}
    return {"modules": {"top": {"ports": ports, "cells": cells, "netnames": {}}}}


def test_ecp5_cells_get_the_ports_and_parameters_the_models_read():
    design = _ecp5_design()
    make_simulatable(design, "ecp5")
    cells = design["modules"]["top"]["cells"]
    assert sorted(cells) == ["ff", "lut0", "lut1"]
    assert cells["ff"]["connections"] == {"CLK": [2], "DI": [3], "Q": [12], "LSR": ["0"]}   # data on M with SD=0
    assert "SD" not in cells["ff"]["parameters"]
    assert cells["lut1"]["parameters"] == {"IS_Z1": "1"}                       # second LUT: FXA/FXB mux
    assert cells["lut0"]["parameters"] == {}
    assert [cells["lut0"]["connections"][p] for p in "ABCD"] == [[12], ["1"], ["1"], ["1"]]    # idle high
    assert design["modules"]["top"]["ports"]["q"]["bits"] == [13]


def test_an_ice40_dsp_becomes_the_mac16_it_was_with_its_constant_inputs():
    ports = {f"A_{i}": [100 + i] for i in range(16)} | {f"B_{i}": [] for i in range(16)}
    ports |= {f"O_{i}": [200 + i] for i in range(0, 32, 2)} | {"CLK": [2], "CE": [], "AHOLD": [], "CO": []}
    directions = {p: "output" if p.startswith("O_") or p == "CO" else "input" for p in ports}
    directions |= {f"O_{i}": "output" for i in range(32)}
    cell = _cell("ICESTORM_DSP", ports, {"A_SIGNED": "1"})
    cell["port_directions"] = directions
    design = {"modules": {"top": {"ports": {}, "cells": {"dsp": cell}, "netnames": {}}}}
    make_simulatable(design, "ice40")
    mac = design["modules"]["top"]["cells"]["dsp"]
    assert mac["type"] == "SB_MAC16" and mac["parameters"] == {"A_SIGNED": "1"}
    conn = mac["connections"]
    assert conn["A"] == list(range(100, 116)) and conn["B"] == ["0"] * 16 and conn["C"] == ["0"] * 16
    assert conn["CE"] == ["1"] and conn["AHOLD"] == ["0"] and conn["CLK"] == [2] and conn["CO"] == []
    assert conn["O"][::2] == list(range(200, 232, 2))
    used = {2, *range(100, 116), *range(200, 232, 2)}
    assert len(set(conn["O"][1::2])) == 16 and not set(conn["O"][1::2]) & used          # fresh nets
    assert mac["port_directions"]["O"] == "output" and mac["port_directions"]["A"] == "input"


def test_the_ecp5_carry_model_drives_its_fco_port():
    text = flat_cell_models("ecp5").read_text()
    assert "assign FCO = (~l4o & gated_lut2_0) | (l4o & FCI);" in text and "wire FCO" not in text


def test_cells_the_shipped_models_cannot_simulate_are_named():
    design = _ecp5_design()
    make_simulatable(design, "ecp5")
    models = flat_cell_models("ecp5").read_text()
    assert unmodelled_cells(design, models) == {}
    cells = design["modules"]["top"]["cells"]
    cells["ram"] = _cell("DP16KD", {})
    cells["mul"] = _cell("MULT18X18D", {})
    cells["yosys"] = _cell("$scopeinfo", {})
    assert unmodelled_cells(design, models) == {"DP16KD": "a model without behaviour", "MULT18X18D": "no model"}
