import os
import pathlib
import sys

os.environ.setdefault("AMARANTH_USE_YOSYS", "builtin")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
