"""Peak memory of Lanczos (``lk.hessian.top_eigenvalues``) against the size of one parameter vector.

A diagonal operator of P = 100k, 1M and 11M (ResNet-18 size) entries, float32, whose top eigenvalue
Lanczos finds in a few products: the basis grows with the products actually run, so the peak should
be a few vectors, not the 100 × P of a pre-allocated basis. Each size runs in a fresh process
(the peak is ``VmHWM``, reset before the call: see ``_memory.py``).

    python benchmarks/lanczos_memory.py

Results: ``benchmarks/out/lanczos_memory.json``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import sys, torch
from _memory import start, peak_gib
import landkit as lk
P = int(sys.argv[1])
class Diag:
    size, device, dtype = P, torch.device("cpu"), torch.float32
    def __init__(self):
        self.d = torch.ones(P); self.d[:3] = torch.tensor([10.0, 5.0, 2.0])
    def matvec(self, v):
        return self.d * v
op = Diag()
before = start()
top = lk.hessian.top_eigenvalues(op, k=1)
print(int((peak_gib() - before) * 2**20), top.iterations)
"""

ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}


def main():
    rows = []
    for P in (100_000, 1_000_000, 11_000_000):
        out = subprocess.run([sys.executable, "-c", CHILD, str(P)], capture_output=True, text=True, env=ENV,
                             check=True).stdout.split()  # fmt: skip
        peak_kib, hvps = int(out[0]), int(out[1])
        vec_kib = P * 4 / 1024
        rows.append({"P": P, "hvps": hvps, "peak_mib": round(peak_kib / 1024, 1),
                     "peak_in_vectors": round(peak_kib / vec_kib, 1)})  # fmt: skip
        print(rows[-1])
    path = Path(__file__).parent / "out" / "lanczos_memory.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
