"""Regenerate the example runs in this folder (``make data``): deterministic, a few MB in all.

python data/make_data.py [--out data] [--sets digits-widths,omd-ogd,...]

The grokking set takes about 20 CPU-minutes (60 transformer runs at the paper's size), the grokking
curve 75 (one run trained until it groks, 18 400 steps); the others a few minutes.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import landkit as lk


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(Path(__file__).parent))
    ap.add_argument("--sets", default=",".join(lk.examples.EXAMPLE_SETS))
    args = ap.parse_args()
    out = Path(args.out)
    sets = tuple(args.sets.split(","))
    for name in ("digits-widths", "taxonomy-fast"):
        if name in sets:
            shutil.rmtree(out / name, ignore_errors=True)
    lk.examples.make_example_data(out, sets=sets, progress=True)
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    print(f"example runs written to {out} ({size / 2**20:.1f} MiB)")


if __name__ == "__main__":
    main()
