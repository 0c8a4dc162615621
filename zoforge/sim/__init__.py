"""Running generated hardware without hardware: Amaranth's simulator and cocotb (Icarus, Verilator)."""
