"""Tests for tinylab.assignments (the lessons as nbgrader assignments) and its hidden tests
(tinylab.exercises.hidden_tests).

The fast tests check the notebook transformation and the hidden tests on their own. The slow
ones run `tinylab assignments` (nbgrader's real generate_assignment), then nbgrader's real
autograde on two students: one who typed the reference solutions into every lesson (full
marks everywhere), one with a wrong answer in lesson 04 and a copied answer in lesson 08 (those
exercises' points lost, the others kept). Autograding executes whole lessons: about as long
as running every lesson once (docs/instructors.md has the time).
"""

import inspect
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest

import tinylab as tl
from tinylab import assignments, cli
from tinylab.assignments import EXERCISES
from tinylab.exercises import hidden_tests, solutions
from tinylab.exercises.solutions import prune_mask as imported_reference

ROOT = Path(__file__).resolve().parents[1]
LESSONS = sorted({e.lesson for e in EXERCISES})
FUNCTIONS = [e for e in EXERCISES if e.solution in hidden_tests.CASES]


def _graded(notebook, solution=None):
    """{grade_id: cell} of a notebook's nbgrader cells (solution or test cells, or both)."""
    return {c.metadata["nbgrader"]["grade_id"]: c for c in notebook.cells
            if "nbgrader" in c.metadata
            and (solution is None or c.metadata["nbgrader"]["solution"] == solution)}


# --------------------------------------------------------------------------- the table

def test_the_table_has_every_exercise_of_the_lessons():
    """Every checker a lesson calls on a student's answer is graded, and nothing else."""
    in_lessons = set()
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code" and "tl.exercises.solutions" not in cell.source:
                in_lessons |= {(path.stem, name) for name in
                               re.findall(r"^tl\.exercises\.(check_\w+)\(", cell.source, re.M)}
    assert in_lessons == {(e.lesson, e.checker) for e in EXERCISES}
    assert len(EXERCISES) == 12 and len(LESSONS) == 11
    for exercise in EXERCISES:
        assert exercise.solution in solutions.__all__
        assert callable(getattr(tl.exercises, exercise.checker))
        assert exercise.points in (1, 2, 3)
    assert len({e.grade_id for e in EXERCISES}) == len(EXERCISES)
    assert len({e.seed for e in EXERCISES}) == len(EXERCISES)


# --------------------------------------------------------------------------- solution code

@pytest.mark.parametrize("exercise", FUNCTIONS, ids=lambda e: e.solution)
def test_the_solution_code_is_the_reference_written_out(exercise):
    """Docstring dropped, no call of the shipped solutions, and it passes the hidden tests
    (which compare it with the reference on fresh inputs and watch for calls of it)."""
    reference = getattr(solutions, exercise.solution)
    parameters = list(inspect.signature(reference).parameters)
    code = assignments.solution_code(exercise, parameters)
    assert inspect.getdoc(reference).splitlines()[0] not in code
    assert "solutions" not in code and "from ." not in code
    assert not code.startswith((" ", "\n"))
    defaults = [f"{name}={p.default!r}" if p.default is not p.empty else name
                for name, p in inspect.signature(reference).parameters.items()]
    namespace = {"np": np}
    exec(f"def typed({', '.join(defaults)}):\n{textwrap.indent(code, '    ')}\n", namespace)
    result = hidden_tests.check(exercise.solution, namespace["typed"], seed=1)
    assert result.passed, result.message


def test_a_value_exercise_gets_the_reference_value():
    welcome = EXERCISES[0]
    code = assignments.solution_code(welcome)
    assert code.splitlines()[-1].startswith("my_answer = ") and "return" not in code
    namespace = {}
    exec(code, namespace)
    assert namespace["my_answer"] == solutions.uno_weights() == 8064


def test_parameters_named_otherwise_in_the_lesson_are_renamed():
    prune = next(e for e in EXERCISES if e.solution == "prune_mask")
    code = assignments.solution_code(prune, ["w", "q"])
    assert "weights" not in code and "quality" not in code
    assert "w.std()" in code and "np.asarray(w, dtype=np.float64)" in code  # np.asarray kept
    namespace = {"np": np}
    exec("def mine(w, q):\n" + textwrap.indent(code, "    "), namespace)
    weights = np.random.default_rng(2).normal(size=(6, 7))
    assert np.array_equal(namespace["mine"](weights, 0.7), solutions.prune_mask(weights, 0.7))
    with pytest.raises(ValueError, match="takes 1 parameters"):
        assignments.solution_code(prune, ["w"])


# --------------------------------------------------------------------------- source notebooks

@pytest.mark.parametrize("lesson", LESSONS)
def test_the_source_version_marks_the_solution_and_the_graded_test(lesson):
    original = nbformat.read(ROOT / "notebooks" / f"{lesson}.ipynb", as_version=4)
    source = assignments.source_notebook(lesson)
    exercises = [e for e in EXERCISES if e.lesson == lesson]
    solution_cells, test_cells = _graded(source, solution=True), _graded(source, solution=False)
    assert set(solution_cells) == {e.grade_id for e in exercises}
    assert set(test_cells) == {f"{e.grade_id}_test" for e in exercises}
    for exercise in exercises:
        answer = solution_cells[exercise.grade_id]
        meta = answer.metadata["nbgrader"]
        assert meta["schema_version"] == 3 and not meta["grade"] and not meta["locked"]
        assert answer.source.count(assignments.BEGIN_SOLUTION) == 1
        assert answer.source.count(assignments.END_SOLUTION) == 1
        assert "solutions" not in answer.source and f"tl.exercises.{exercise.checker}(" in answer.source
        test = test_cells[f"{exercise.grade_id}_test"]
        meta = test.metadata["nbgrader"]
        assert meta["grade"] and meta["locked"] and not meta["solution"]
        assert meta["points"] == exercise.points and meta["schema_version"] == 3
        assert f"result = tl.exercises.{exercise.checker}(" in test.source
        assert "assert result.passed" in test.source
        hidden = assignments.BEGIN_HIDDEN in test.source
        assert hidden == (exercise in FUNCTIONS)
        if hidden:
            assert f"hidden_tests.check({exercise.solution!r}, {exercise.answer}," in test.source
        # the test comes right after the answer
        index = source.cells.index(answer)
        assert source.cells[index + 1] is test
    # the reference answers are gone; every other cell is the lesson's own
    assert not [c for c in source.cells if "show_solution(" in c.source]
    assert not [c for c in source.cells
                if re.search(r"check_\w+\(tl\.exercises\.solutions", c.source)]
    kept = [c.source for c in source.cells if "nbgrader" not in c.metadata]
    reference = [i for i, c in enumerate(original.cells)
                 if re.search(r"check_\w+\(tl\.exercises\.solutions", c.source)]
    lead_ins = [i - 1 for i in reference if original.cells[i - 1].cell_type == "markdown"]
    assert len(reference) == len(exercises) and len(lead_ins) == (lesson in ("00_welcome", "01_data"))
    lesson_cells = [assignments._link_lessons(c.source) for i, c in enumerate(original.cells)
                    if i not in reference + lead_ins and "tl.exercises.check_" not in c.source]
    assert kept == lesson_cells
    assert "nbgrader" not in str([c.metadata for c in original.cells])  # the lesson untouched


def test_links_to_other_lessons_point_at_their_assignments():
    source = assignments.source_notebook("00_welcome")
    text = "\n".join(c.source for c in source.cells)
    assert "](../01_data/01_data.ipynb)" in text and "](01_data.ipynb)" not in text


def test_lessons_are_named_or_numbered():
    assert [p.stem for p in assignments.lesson_paths(["04", "08_deploy", "04_pruning"])] == \
        ["04_pruning", "08_deploy"]
    assert len(assignments.lesson_paths()) == 11
    with pytest.raises(ValueError, match="no graded lesson '99'"):
        assignments.lesson_paths(["99"])


def test_without_nbgrader_the_error_names_the_fix(monkeypatch, tmp_path, capsys):
    real_find_spec = assignments.importlib.util.find_spec
    monkeypatch.setattr(assignments.importlib.util, "find_spec",
                        lambda name, *a: None if name == "nbgrader" else real_find_spec(name, *a))
    with pytest.raises(assignments.NbgraderMissing, match=r"pip install 'tinylab\[course\]'"):
        assignments.write_course(tmp_path / "course")
    assert not (tmp_path / "course").exists()
    assert cli.main(["assignments", "--out", str(tmp_path / "course")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("tinylab assignments: nbgrader is not installed") and "make assignments" in err


def test_an_unknown_lesson_is_a_usage_error(tmp_path, capsys):
    assert cli.main(["assignments", "--out", str(tmp_path), "42_nothing"]) == 2
    assert "no graded lesson '42_nothing'" in capsys.readouterr().err


def test_make_assignments_runs_the_command():
    dry = subprocess.run(["make", "-n", "assignments"], cwd=ROOT, capture_output=True, text=True)
    assert dry.returncode == 0, dry.stderr
    assert "tinylab assignments" in dry.stdout
    assert "make assignments" in subprocess.run(["make", "help"], cwd=ROOT, capture_output=True,
                                                text=True).stdout


# --------------------------------------------------------------------------- hidden tests

def _typed(solution):
    """A reference solution as a student would type it: the same code, not the same function."""
    exercise = next(e for e in FUNCTIONS if e.solution == solution)
    parameters = list(inspect.signature(getattr(solutions, solution)).parameters)
    namespace = {"np": np, "tl": tl}
    exec(f"def typed({', '.join(parameters)}):\n"
         + textwrap.indent(assignments.solution_code(exercise, parameters), "    "), namespace)
    return namespace["typed"]


def test_hidden_tests_pass_the_students_own_code_and_leave_no_profiler():
    assert hidden_tests.check("prune_mask", _typed("prune_mask"), seed=5).passed
    assert sys.getprofile() is None


def test_hidden_tests_catch_the_shipped_solutions_however_they_are_reached():
    from tinylab.exercises.solutions import prune_mask as imported_here

    def direct(weights, quality):
        return tl.exercises.solutions.prune_mask(weights, quality)

    def aliased(weights, quality):  # a global name for the reference
        return imported_reference(weights, quality)

    def closure(weights, quality):  # a local one: only the profiler sees it
        return imported_here(weights, quality)

    def hidden_name(weights, quality):  # no name in its code says "solutions"
        module = getattr(tl.exercises, "solu" + "tions")
        return vars(module)["prune" + "_mask"](weights, quality)

    def shown(weights, quality):
        namespace = {"np": np}
        exec(getattr(tl.exercises, "show_" + "solution")("prune_mask"), namespace)
        return namespace["prune_mask"](weights, quality)

    for copied, words in [(direct, "uses TinyLab's reference solutions (solutions)"),
                          (aliased, "imported_reference (= tl.exercises.solutions.prune_mask)"),
                          (closure, "called tl.exercises.solutions.prune_mask"),
                          (hidden_name, "called tl.exercises.solutions.prune_mask"),
                          (shown, "called tl.exercises.show_solution")]:
        assert tl.exercises.check_prune_mask(copied).passed  # the lesson's checker is satisfied
        result = hidden_tests.check("prune_mask", copied, seed=5)
        assert not result.passed and words in result.message, (copied.__name__, result.message)
    assert sys.getprofile() is None


def test_hidden_tests_catch_an_answer_fitted_to_the_checkers_probes():
    seen = {(64, 300): 19500, (300, 100): 30100, (100, 10): 1010, (3, 1): 4}

    def fitted(n_inputs, n_units):
        return seen[(n_inputs, n_units)]

    assert tl.exercises.check_dense_params(fitted).passed
    result = hidden_tests.check("dense_params", fitted, seed=7)
    assert not result.passed and "fresh inputs" in result.message and "KeyError" in result.message

    def almost(counts):  # right lengths on the checker's probes, one bit long elsewhere
        lengths = _typed("huffman_lengths")(counts)
        return lengths if len(counts) in (2, 4, 6, 12) else [n + 1 for n in lengths]

    assert tl.exercises.check_huffman_lengths(almost).passed
    assert not hidden_tests.check("huffman_lengths", almost, seed=7).passed


def test_hidden_tests_accept_what_the_checker_accepts():
    """Huffman ties broken the other way, a dict of lengths, float32 where float64 is given."""
    import heapq

    def other_ties(counts):  # at equal weights the *larger* symbol merges first
        lengths = [0] * len(counts)
        groups = [(count, -symbol, [symbol]) for symbol, count in enumerate(counts)]
        heapq.heapify(groups)
        while len(groups) > 1:
            (weight_a, key_a, a), (weight_b, key_b, b) = heapq.heappop(groups), heapq.heappop(groups)
            for symbol in a + b:
                lengths[symbol] += 1
            heapq.heappush(groups, (weight_a + weight_b, min(key_a, key_b), a + b))
        return dict(enumerate(lengths))

    assert other_ties([1, 1, 2, 2]) != dict(enumerate(solutions.huffman_lengths([1, 1, 2, 2])))
    assert hidden_tests.check("huffman_lengths", other_ties, seed=3).passed

    def float32(raw_pixels):
        return (np.asarray(raw_pixels) / 16).astype(np.float32)

    assert hidden_tests.check("normalize", float32, seed=3).passed
    with pytest.raises(ValueError, match="no hidden test for 'uno_weights'"):
        hidden_tests.check("uno_weights", lambda: 8064)


# --------------------------------------------------------------------------- nbgrader, for real

def _nbgrader(course, *args, workspace):
    """An nbgrader command in the course folder, as an instructor runs it."""
    env = {**assignments.nbgrader_environment(), "TINYLAB_WORKSPACE": str(workspace),
           "MPLBACKEND": "Agg"}
    done = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def _submit(course, student, lesson, edit=None):
    """The release of ``lesson`` with the reference typed into every answer cell, then
    ``edit(grade_id, source) -> source`` applied, as ``submitted/<student>/<lesson>/``."""
    release = nbformat.read(course / "release" / lesson / f"{lesson}.ipynb", as_version=4)
    typed = {grade_id: cell.source for grade_id, cell in
             _graded(nbformat.read(course / "source" / lesson / f"{lesson}.ipynb", as_version=4),
                     solution=True).items()}
    for grade_id, cell in _graded(release, solution=True).items():
        cell.source = typed[grade_id] if edit is None else edit(grade_id, typed[grade_id])
    folder = course / "submitted" / student / lesson
    folder.mkdir(parents=True)
    nbformat.write(release, folder / f"{lesson}.ipynb")


def _wrong_prune_mask(grade_id, source):
    wrong = source.replace("np.abs(weights) > threshold", "np.abs(weights) >= threshold")
    assert wrong != source
    return wrong


def _copied_int8_dense(grade_id, source):
    if grade_id != "int8_dense":
        return source
    return ("def int8_dense(x_int8, layer):\n"
            "    return tl.exercises.solutions.int8_dense(x_int8, layer)\n\n"
            "tl.exercises.check_int8_dense(int8_dense, student_mlp, data.X_test)")


WRONG = {"04_pruning": _wrong_prune_mask, "08_deploy": _copied_int8_dense}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """A course made by `tinylab assignments`, two students' work autograded by nbgrader.

    Returns ``(course folder, {(student, lesson): {grade_id: (score, max_score)}}, seconds)``.
    """
    from nbgrader.api import Gradebook

    course = tmp_path_factory.mktemp("course")
    workspace = tmp_path_factory.mktemp("workspace")
    assert cli.main(["assignments", "--out", str(course)]) == 0
    for lesson in LESSONS:
        _submit(course, "reference", lesson)
    for lesson, edit in WRONG.items():
        _submit(course, "wrong", lesson, edit)
    seconds = {}
    for lesson in LESSONS:  # in course order, one workspace: the lessons' hand-offs
        started = time.perf_counter()
        _nbgrader(course, "autograde", lesson, workspace=workspace)
        seconds[lesson] = time.perf_counter() - started
    print("\nautograde seconds:", {k: round(v, 1) for k, v in seconds.items()},
          "total", round(sum(seconds.values()), 1))
    scores = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for student in ("reference", "wrong"):
            for lesson in LESSONS:
                if student == "wrong" and lesson not in WRONG:
                    continue
                notebook = gradebook.find_submission_notebook(lesson, lesson, student)
                scores[student, lesson] = {g.name: (g.score, g.max_score) for g in notebook.grades}
    return course, scores, seconds


def test_the_release_has_no_solution_and_locked_tests(graded):
    course, _, _ = graded
    config = (course / "nbgrader_config.py").read_text()
    assert 'c.ClearSolutions.code_stub = {"python": ""}' in config
    assert "c.Execute.timeout = 600" in config
    for lesson in LESSONS:
        release = nbformat.read(course / "release" / lesson / f"{lesson}.ipynb", as_version=4)
        text = "\n".join(c.source for c in release.cells)
        assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text
        assert "hidden_tests" not in text and "show_solution(" not in text
        for exercise in (e for e in EXERCISES if e.lesson == lesson):
            reference = textwrap.dedent(assignments.solution_code(
                exercise, None if exercise not in FUNCTIONS else
                list(inspect.signature(getattr(solutions, exercise.solution)).parameters)))
            for line in reference.splitlines():
                if line.strip() and not line.strip().startswith(("#", "return", "from tinylab")):
                    assert line.strip() not in text, (lesson, line)
            answer = _graded(release, solution=True)[exercise.grade_id]
            assert f"def {exercise.answer}(" in answer.source or "my_answer = None" in answer.source
            test = _graded(release, solution=False)[f"{exercise.grade_id}_test"]
            assert test.metadata["editable"] is False and test.metadata["deletable"] is False
            assert test.metadata["nbgrader"]["points"] == exercise.points
        points = sum(c.metadata["nbgrader"]["points"] for c in _graded(release, False).values())
        assert points == sum(e.points for e in EXERCISES if e.lesson == lesson)


def test_the_reference_solutions_score_full_marks_in_every_lesson(graded):
    course, scores, _ = graded
    for lesson in LESSONS:
        expected = {f"{e.grade_id}_test": (e.points, e.points)
                    for e in EXERCISES if e.lesson == lesson}
        assert scores["reference", lesson] == expected, lesson
        # and the lesson ran from the course folder without an error anywhere
        autograded = nbformat.read(course / "autograded" / "reference" / lesson / f"{lesson}.ipynb",
                                   as_version=4)
        errors = [o for c in autograded.cells if c.cell_type == "code"
                  for o in c.outputs if o.output_type == "error"]
        assert errors == [], (lesson, [f"{o.ename}: {o.evalue}" for o in errors])


def test_a_wrong_answer_loses_that_exercises_points_and_no_more(graded):
    _, scores, _ = graded
    assert scores["wrong", "04_pruning"] == {"prune_mask_test": (0, 2)}
    # the copied answer passes the lesson's checker; the hidden test takes its 3 points
    assert scores["wrong", "08_deploy"] == {"int8_dense_test": (0, 3),
                                            "int8_flash_bytes_test": (1, 1)}
