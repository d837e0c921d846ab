import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import landkit as lk

ROOT = Path(__file__).parent.parent
CONDA_NAMES = {"torch": "pytorch"}


def _name(req: str) -> str:
    return re.split(r"[\s<>=!~;\[]", req, maxsplit=1)[0].lower()


def test_every_runtime_dependency_is_in_environment_yml():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    listed = set()
    for line in (ROOT / "environment.yml").read_text().splitlines():
        m = re.match(r"\s*-\s+([A-Za-z0-9_.\-]+)", line)
        if m:
            listed.add(m.group(1).lower())
    missing = []
    for req in deps:
        name = CONDA_NAMES.get(_name(req), _name(req))
        if name not in listed:
            missing.append(name)
        if "[distributed]" in req and "distributed" not in listed:
            missing.append("distributed")
    assert not missing, f"environment.yml lacks {missing}"


def _conda_deps(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        m = re.match(r"\s*-\s+([A-Za-z0-9_.\-]+)(\S*)", line)
        if m:
            out[m.group(1).lower()] = m.group(2)
    return out


def test_the_binder_image_has_the_environment_and_installs_landkit_after_it():
    """repo2docker builds binder/environment.yml before the repository is in the image, so it must
    not install the package (``-e .``), must name an exact Python, and must list what the root
    environment.yml lists; postBuild then installs landkit with no dependency resolution (a pip
    resolve would add a CUDA torch beside conda's), and start keeps torch to one thread."""
    root, binder = (
        _conda_deps(ROOT / "environment.yml"),
        _conda_deps(ROOT / "binder" / "environment.yml"),
    )
    assert "-e" not in binder and "-e" in root
    assert re.fullmatch(r"=\d+\.\d+", binder.pop("python"))
    root.pop("python"), root.pop("-e")
    assert binder == root
    assert (
        "pytorch"
        not in (ROOT / "binder" / "environment.yml")
        .read_text()
        .split("channels:")[1]
        .split("dependencies:")[0]
    )  # the retired pytorch channel: conda-forge's build instead
    post, start = ROOT / "binder" / "postBuild", ROOT / "binder" / "start"
    assert post.stat().st_mode & 0o111 and start.stat().st_mode & 0o111
    assert "pip install --no-deps" in post.read_text() and " -e ." in post.read_text()
    assert (
        'OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"' in start.read_text()
        and 'exec "$@"' in start.read_text()
    )
    out = subprocess.run([str(start), sys.executable, "-c", "import os; print(os.environ['OMP_NUM_THREADS'])"],
                         capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"}, check=True)  # fmt: skip
    assert out.stdout.strip() == "1"


def test_torch_is_pinned_for_every_pip_call():
    assert "torch==2.13.0" in (ROOT / "constraints.txt").read_text()
    makefile = (ROOT / "Makefile").read_text()
    assert "PIP_CONSTRAINT=$(CURDIR)/constraints.txt" in makefile
    installs = [
        ln
        for ln in makefile.splitlines()
        if re.search(r"\binstall\b", ln) and not ln.startswith((".PHONY", "install", "#"))
    ]
    assert installs and all("$(PIP) install" in ln for ln in installs), installs
    # the package itself asks only a floor, so a user's own CUDA build is kept
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert [d for d in deps if _name(d) == "torch"] == ["torch>=2.2"]


def test_no_pickle_loading_in_the_package():
    for py in (ROOT / "landkit").rglob("*.py"):
        # the one exception: sweep.py hands the user's own function to its worker processes
        text = py.read_text().replace("cloudpickle.loads(fn_bytes)", "")
        assert "pickle.load" not in text, py
        for m in re.finditer(r"torch\.load\(([^)]*)\)", text):
            assert "weights_only=True" in m.group(1), f"{py}: {m.group(0)}"


def test_cli_help():
    out = subprocess.run(
        [sys.executable, "-m", "landkit.cli", "--help"], capture_output=True, text=True, check=True
    )
    assert "tour" in out.stdout and "report" in out.stdout


@pytest.mark.slow
def test_the_wheelhouse_installs_with_the_network_off(tmp_path):
    """`make wheelhouse`'s command fills a folder with every wheel; a fresh venv installs landkit from it
    with --no-index and no pip configuration (so no mirror or find-links of this machine is used), and
    the installed copy has the shipped example runs (nothing recorded on first use)."""
    import os
    import venv

    makefile = (ROOT / "Makefile").read_text()
    assert "$(PIP) wheel -q . -w wheelhouse" in makefile
    wheels = tmp_path / "wheelhouse"
    env = {**os.environ, "PIP_CONSTRAINT": str(ROOT / "constraints.txt")}
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", str(ROOT), "-w", str(wheels)],
                   check=True, env=env, cwd=tmp_path)  # fmt: skip
    names = [p.name for p in wheels.glob("*.whl")]
    assert any(n.startswith("torch-2.13.0") for n in names), names
    venv.create(tmp_path / "env", with_pip=True)
    py = tmp_path / "env" / "bin" / "python"
    offline = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    offline.update(PIP_CONFIG_FILE=os.devnull, PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-index", "--find-links", str(wheels),
                    "landkit"], check=True, env=offline, cwd=tmp_path)  # fmt: skip
    code = (
        "import warnings; warnings.simplefilter('error');"
        "import landkit as lk, pathlib;"
        "d = lk.examples.data_dir(); assert 'site-packages' in str(d), d;"
        "runs = lk.examples.example_runs('digits-widths'); g = lk.examples.example_runs('grokking');"
        "print(len(runs), len(g), lk.teach.check('displacement', "
        "lambda W, tw, t: ((W[tw + t] - W[tw]) ** 2).mean()).passed)"
    )
    out = subprocess.run([str(py), "-c", code], capture_output=True, text=True, cwd=tmp_path,
                         env={**offline, "HOME": str(tmp_path)})  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    n_runs, n_grok, passed = out.stdout.split()
    assert int(n_runs) == len(lk.examples.example_runs("digits-widths")) and int(n_grok) > 0
    assert passed == "True"
