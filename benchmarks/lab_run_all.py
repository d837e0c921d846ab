"""Time Run All on the tour in JupyterLab, as a workshop would do it (`make lab`: one torch thread).

Starts JupyterLab on a copy of the tour (``FAST = False`` unless ``--fast``), opens it in headless
Chromium (Playwright) at 1366×768, presses Run > Run All Cells once the kernel is up and times, from the
press: every cell run (no ``[*]`` prompt, the kernel idle) and every explorer of the tour on the page.
``--load K`` keeps K busy background processes running (a student's busy laptop); ``--repeats N``.

    python benchmarks/lab_run_all.py [--load 2] [--repeats 3] [--fast]

Needs Debian's chromium (/usr/bin/chromium) and the test extra (playwright, jupyterlab).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from voila_paint import ARGS, CHROMIUM, ROOT, _busy, _port, _serve

EXPLORERS = (".lk-atlas", ".lk-spectrum-explorer", ".lk-landscape-explorer", ".lk-mapper-explorer",
             ".lk-morse-explorer", ".lk-aging-explorer", ".lk-phase-explorer")  # fmt: skip


def _kernels(url, token):
    try:
        with urllib.request.urlopen(f"{url}/api/kernels?token={token}", timeout=5) as r:
            return json.loads(r.read())
    except OSError:  # a kernel still being set up answers HTTP 500 for a moment
        return []


def measure(work: Path, fast: bool) -> dict:
    from playwright.sync_api import sync_playwright

    data = json.loads((ROOT / "notebooks/00_tour.ipynb").read_text())
    for c in data["cells"]:
        if "parameters" in c.get("metadata", {}).get("tags", []):
            c["source"] = f"FAST = {fast}"
    (work / "00_tour.ipynb").write_text(json.dumps(data))
    settings = work / "settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True, exist_ok=True)  # render every cell, not only those in view
    (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    port, token = _port(), secrets.token_hex(16)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "JUPYTERLAB_SETTINGS_DIR": str(work / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(work / f"workspaces-{port}")}  # fmt: skip
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
           f"--ServerApp.port={port}", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={work}",
           "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
           *(["--allow-root"] if os.geteuid() == 0 else [])]  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    with _serve(cmd, work, env, f"{url}/api/status?token={token}"):
        out = {}
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            page = browser.new_page(viewport={"width": 1366, "height": 768})
            page.goto(f"{url}/lab/tree/00_tour.ipynb?reset&token={token}", timeout=600_000)
            page.locator(".jp-Notebook .jp-Cell").first.wait_for(state="attached", timeout=600_000)
            while not any(k["execution_state"] == "idle" for k in _kernels(url, token)):
                time.sleep(0.3)
            prompts = page.locator(".jp-CodeCell .jp-InputPrompt")
            page.get_by_role("menuitem", name="Run", exact=True).click()
            page.get_by_text("Run All Cells", exact=True).click()
            t0 = time.monotonic()
            while not any(re.search(r"\[(\*|\d+)\]", t) for t in prompts.all_inner_texts()):
                time.sleep(0.1)
            seen = set()
            while True:
                for css in EXPLORERS:
                    if css not in seen and page.locator(css).count():
                        seen.add(css)
                        if len(seen) == 1:
                            out["first_explorer_s"] = time.monotonic() - t0
                        if len(seen) == len(EXPLORERS):
                            out["last_explorer_s"] = time.monotonic() - t0
                texts = prompts.all_inner_texts()
                if (len(seen) == len(EXPLORERS) and not any("[*]" in t for t in texts)
                        and all(k["execution_state"] == "idle" for k in _kernels(url, token))):  # fmt: skip
                    out["all_cells_s"] = time.monotonic() - t0
                    break
                if time.monotonic() - t0 > 900:
                    raise RuntimeError(f"Run All did not finish in 900 s; explorers seen: {seen}")
                time.sleep(0.2)
            browser.close()
        return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--load", type=int, default=0, help="busy background processes")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--fast", action="store_true", help="the tour in FAST mode")
    args = ap.parse_args()
    import multiprocessing as mp

    procs = [mp.Process(target=_busy, daemon=True) for _ in range(args.load)]
    for p in procs:
        p.start()
    results = {"load": args.load, "fast": args.fast, "loadavg_before": os.getloadavg(), "runs": []}
    with tempfile.TemporaryDirectory() as d:
        for _ in range(args.repeats):
            r = measure(Path(d), args.fast)
            results["runs"].append(r)
            print({k: round(v, 1) for k, v in r.items()}, flush=True)
    results["loadavg_after"] = os.getloadavg()
    for p in procs:
        p.terminate()
    out = ROOT / "benchmarks" / "out" / f"lab_run_all{'_fast' if args.fast else ''}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    print(f"load average before {results['loadavg_before']}, after {results['loadavg_after']}; "
          f"written to {out}")  # fmt: skip


if __name__ == "__main__":
    main()
