"""Every notebook executes, with FAST = True injected after its parameters cell (papermill)."""

import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))


def test_notebooks_exist_and_are_clean():
    assert NOTEBOOKS, "no notebooks found"
    for nb in NOTEBOOKS:
        cells = json.loads(nb.read_text())["cells"]
        code = [c for c in cells if c["cell_type"] == "code"]
        assert not any(c.get("outputs") or c.get("execution_count") for c in code), (
            f"{nb.name} has outputs"
        )
        tagged = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(tagged) == 1 and "FAST = False" in "".join(tagged[0]["source"]), (
            f"{nb.name}: parameters cell"
        )


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_executes(path, tmp_path, monkeypatch):
    import papermill as pm

    monkeypatch.chdir(tmp_path)  # the notebook's runs/ and ckpt/ land in a scratch directory
    pm.execute_notebook(str(path), str(tmp_path / path.name), parameters={"FAST": True},
                        kernel_name="python3", cwd=str(tmp_path), progress_bar=False)  # fmt: skip
