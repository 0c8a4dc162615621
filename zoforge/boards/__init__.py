"""Dev kits: the board registry, the board top (UART link + engine + LEDs), bitstream builds with open
tools, and flashing."""
