"""Exercises that check themselves (issue 15): every notebook solution passes, every stub and every
common mistake fails with the message that names it, and the student copies run."""

import json
from pathlib import Path

import numpy as np
import pytest

import landkit as lk
from landkit import teach

NOTEBOOKS = Path(__file__).parent.parent / "notebooks"


def _solutions():
    """(notebook, function name, solution source) of every cell tagged 'solution'."""
    out = []
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            if "solution" in cell.get("metadata", {}).get("tags", []):
                src = "".join(cell["source"])
                name = src.split("def ", 1)[1].split("(", 1)[0]
                out.append((path.name, name, src))
    return out


SOLUTIONS = _solutions()


def _define(src):
    ns = {"np": np, "lk": lk}
    exec(src, ns)
    return ns


def test_every_lesson_notebook_has_two_to_four_exercises():
    per = {}
    for nb, name, _ in SOLUTIONS:
        per.setdefault(nb, []).append(name)
    for prefix in ("02", "03", "04", "05", "06"):
        names = next(v for k, v in per.items() if k.startswith(prefix))
        assert 2 <= len(names) <= 4, (prefix, names)
    assert sorted(n for _, n, _ in SOLUTIONS) == sorted(teach.EXERCISES)  # each checked once


@pytest.mark.parametrize("nb, name, src", SOLUTIONS, ids=[n for _, n, _ in SOLUTIONS])
def test_solution_passes_stub_fails_and_pasting_back_passes(nb, name, src):
    solution = _define(src)[name]
    for seed in (0, 1, None):
        v = teach.check(name, solution, seed=seed)
        assert v.passed and bool(v), (nb, v)
    stub_ns = _define(teach.student_source(src))
    v = teach.check(name, stub_ns[name])
    assert not v and v.message.startswith("not written yet") and v.hint, v
    assert "✗" in str(v) and "fdecea" in v._repr_html_()
    exec(src, stub_ns)  # the learner pastes the solution back into the same kernel
    assert teach.check(name, stub_ns[name]).passed


def test_the_student_source_keeps_signature_and_docstring_only():
    src = (
        "import math\n\n\n@staticmethod\ndef f(x, y=2):\n"
        '    """Doc\n    on two lines."""\n    z = x * y\n    return math.sqrt(z)\n\n\nprint(f(1))\n'
    )
    stub = teach.student_source(src)
    assert stub.startswith("import math")
    assert "@staticmethod\ndef f(x, y=2):" in stub and "on two lines." in stub
    assert "return" not in stub and "print" not in stub and "z = x" not in stub
    assert 'raise NotImplementedError("write this function")' in stub


@pytest.mark.parametrize("name", sorted(teach.EXERCISES))
def test_each_common_mistake_is_named(name):
    ex = teach.EXERCISES[name]
    messages = {m for _, m in ex.mistakes}
    for wrong, message in ex.mistakes:
        got = [teach.check(name, wrong, seed=s) for s in range(10)]
        assert not any(v.passed for v in got), (name, message)
        assert all(v.message in messages for v in got), [v.message for v in got]
        # its own explanation in most cases (two mistakes can give the same answer on one input)
        assert sum(v.message == message for v in got) >= 5, (
            name,
            message,
            [v.message for v in got],
        )


def test_power_iteration_mistakes_are_diagnosed():
    def unnormalised(matvec, n):
        v = np.ones(n)
        for _ in range(400):
            v = matvec(v)
        return v @ matvec(v)

    def squared(matvec, n):
        v = np.random.default_rng(0).standard_normal(n)
        for _ in range(300):
            v = matvec(v)
            v /= np.linalg.norm(v)
        return matvec(v) @ matvec(v)

    def too_short(matvec, n):
        v = np.random.default_rng(0).standard_normal(n)
        for _ in range(2):
            v = matvec(v)
            v /= np.linalg.norm(v)
        return v @ matvec(v)

    def vector(matvec, n):
        v = np.ones(n)
        for _ in range(300):
            v = matvec(v)
            v /= np.linalg.norm(v)
        return v

    with np.errstate(over="ignore", invalid="ignore"):
        assert "not finite" in teach.check("top_eigenvalue", unnormalised, seed=0).message
    assert "λ²" in teach.check("top_eigenvalue", squared, seed=0).message
    assert "not converged" in teach.check("top_eigenvalue", too_short, seed=0).message
    assert "one number" in teach.check("top_eigenvalue", vector, seed=0).message


def test_answers_that_crash_return_nothing_or_change_their_input():
    def crashes(W, tw, t):
        return W[tw + t] - W[tw, :, 0]

    v = teach.check("displacement", crashes, seed=0)
    assert (
        "raised IndexError" in v.message
        and "line" in v.message
        and "W: array of shape" in v.message
    )

    def forgets(y):
        np.sort(y)

    assert "returned None" in teach.check("local_minima", forgets, seed=0).message

    def in_place(d, w):
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        return d * np.linalg.norm(w, axis=1, keepdims=True)

    assert "changed its input d in place" in teach.check("filter_normalise", in_place).message
    v = teach.check("linear_cka", lambda X, Y: 0.5, seed=0)  # a plain wrong number
    assert not v and "landkit's is" in v.message
    assert "give the function itself" in teach.check("wasserstein", 3).message
    with pytest.raises(lk.InvalidArgument, match="no exercise 'cka'"):
        teach.check("cka", lambda X, Y: 1.0)


def test_make_student_writes_stubs_and_keeps_everything_else(tmp_path):
    from landkit.cli import main

    main(["student", str(NOTEBOOKS), str(tmp_path)])
    written = sorted(p.name for p in tmp_path.glob("*.ipynb"))
    assert written == sorted({nb for nb, _, _ in SOLUTIONS})
    for name in written:
        src = json.loads((NOTEBOOKS / name).read_text())["cells"]
        dst = json.loads((tmp_path / name).read_text())["cells"]
        assert len(src) == len(dst)
        for a, b in zip(src, dst):
            if "solution" in a.get("metadata", {}).get("tags", []):
                assert (
                    "exercise" in b["metadata"]["tags"] and "solution" not in b["metadata"]["tags"]
                )
                stub = "".join(b["source"])
                assert "return" not in stub and "NotImplementedError" in stub, stub
            else:
                assert a == b


@pytest.mark.slow
def test_the_student_exercise_sections_run_and_every_check_says_not_yet(tmp_path):
    """Each student copy, up to the end of its exercises (section 0), executes in a real kernel; every
    check prints 'not written yet' instead of stopping the notebook."""
    import nbformat
    from nbclient import NotebookClient

    from landkit.cli import main

    main(["student", str(NOTEBOOKS), str(tmp_path)])
    for path in sorted(tmp_path.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        end = next(i for i, c in enumerate(nb.cells)
                   if c.cell_type == "markdown" and c.source.startswith("## 1"))  # fmt: skip
        nb.cells = nb.cells[:end]
        for c in nb.cells:
            if "parameters" in c.metadata.get("tags", []):
                c.source = "FAST = True"
        NotebookClient(
            nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
        ).execute()
        checks = [c for c in nb.cells if c.cell_type == "code" and "lk.teach.check" in c.source]
        assert len(checks) >= 2
        for c in checks:
            text = json.dumps(c.outputs)
            assert "not written yet" in text, (path.name, c.source, text[:300])


def test_past_its_exercises_a_student_copy_is_its_instructor_copy(tmp_path):
    """Why running each student copy up to the end of its exercises (above) is running it whole:
    every later cell is the instructor's cell unchanged (test_notebooks executes those), and none of
    them calls a function a stub defines, so an unfinished exercise cannot stop a later section."""
    import ast

    from landkit.cli import main

    main(["student", str(NOTEBOOKS), str(tmp_path)])
    for path in sorted(tmp_path.glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        original = json.loads((NOTEBOOKS / path.name).read_text())["cells"]
        stubs = set()
        for c in cells:
            if "exercise" in c["metadata"].get("tags", []):
                tree = ast.parse("".join(c["source"]))
                stubs |= {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
        assert stubs, path.name
        end = next(i for i, c in enumerate(cells)
                   if c["cell_type"] == "markdown" and "".join(c["source"]).startswith("## 1"))  # fmt: skip
        assert cells[end:] == original[end:], path.name
        for c in cells[end:]:
            if c["cell_type"] != "code":
                continue
            src = "".join(c["source"])
            body = "\n".join(
                line for line in src.splitlines() if not line.lstrip().startswith(("%", "!"))
            )
            used = {n.id for n in ast.walk(ast.parse(body)) if isinstance(n, ast.Name)}
            assert not used & stubs, (path.name, sorted(used & stubs), src[:200])


def test_the_teachers_guide_covers_every_notebook_and_exercise():
    guide = (NOTEBOOKS / "TEACHING.md").read_text()
    for path in NOTEBOOKS.glob("*.ipynb"):
        assert f"`{path.stem}`" in guide, path.stem
    for name in teach.EXERCISES:
        assert f"`{name}" in guide, name
