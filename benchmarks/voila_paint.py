"""Time from opening the tour app (`make app`: Voilà, the landkit template) to what the visitor sees.

Starts Voilà on the full tour (``FAST = False``, one torch thread) with and without progressive
rendering and, in headless Chromium (Playwright), times from the request to: the title visible, the first
explorer visible, the last explorer visible. ``--load K`` keeps K busy background processes running.

    python benchmarks/voila_paint.py [--load 3]

Needs Debian's chromium (/usr/bin/chromium) and the test extra (playwright, voila).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
PROGRESSIVE = "--VoilaConfiguration.progressive_rendering=True"


def _port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@contextlib.contextmanager
def _serve(cmd, work: Path, env: dict, probe: str):
    """Run a server (its own process group) while the block runs, from when ``probe`` answers; stop
    it and what it started afterwards."""
    proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    try:
        while True:
            try:
                urllib.request.urlopen(probe, timeout=2)
                break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError(f"{cmd[2]} exited with {proc.returncode}") from None
                time.sleep(0.3)
        yield proc
    finally:
        os.killpg(proc.pid, 15)
        proc.wait()


def measure(progressive: bool, work: Path) -> dict:
    from playwright.sync_api import sync_playwright

    data = json.loads((ROOT / "notebooks/00_tour.ipynb").read_text())
    for c in data["cells"]:
        if "parameters" in c.get("metadata", {}).get("tags", []):
            c["source"] = "FAST = False"
    (work / "00_tour.ipynb").write_text(json.dumps(data))
    port = _port()
    env = {**os.environ, "JUPYTER_PATH": str(ROOT / "app"), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "voila", "00_tour.ipynb", "--template=landkit", "--no-browser",
           "--Voila.ip=127.0.0.1", f"--port={port}", *([PROGRESSIVE] if progressive else [])]  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    with _serve(cmd, work, env, f"{url}/voila/static/voila.js"):
        out = {}
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            page = browser.new_page(viewport={"width": 1366, "height": 768})
            t0 = time.monotonic()
            page.goto(url, timeout=600_000, wait_until="commit")
            page.get_by_text("The tour: five ways").first.wait_for(timeout=600_000)
            out["title_s"] = time.monotonic() - t0
            page.locator(".lk-spectrum-explorer").wait_for(timeout=600_000)
            out["first_explorer_s"] = time.monotonic() - t0
            page.locator(".lk-phase-explorer").wait_for(timeout=600_000)
            out["last_explorer_s"] = time.monotonic() - t0
            browser.close()
        return out


def _busy():
    while True:
        sum(range(100_000))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--load", type=int, default=0, help="busy background processes")
    args = ap.parse_args()
    import multiprocessing as mp

    procs = [mp.Process(target=_busy, daemon=True) for _ in range(args.load)]
    for p in procs:
        p.start()
    before = os.getloadavg()
    results = {"load": args.load, "loadavg_before": before}
    with tempfile.TemporaryDirectory() as d:
        for progressive in (False, True):
            r = measure(progressive, Path(d))
            results["progressive" if progressive else "plain"] = r
            print(("progressive" if progressive else "plain      "),
                  {k: round(v, 1) for k, v in r.items()}, flush=True)  # fmt: skip
    results["loadavg_after"] = os.getloadavg()
    for p in procs:
        p.terminate()
    out = ROOT / "benchmarks" / "out" / "voila_paint.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    print(f"load average before {before}, after {results['loadavg_after']}; written to {out}")


if __name__ == "__main__":
    main()
