"""The lessons as graded assignments for nbgrader: ``tinylab assignments``, ``make assignments``.

A course grades its labs with nbgrader (JupyterLab 4, JupyterHub). The lessons stay the one
source: this module writes nbgrader's *source* version of each lesson from the notebook as it
is, then runs nbgrader's own ``generate_assignment`` on it to make the students' release.

In the source version each exercise of :data:`EXERCISES` changes in two places:

- the student's cell (``def prune_mask(...)`` or ``my_answer = None``) becomes an nbgrader
  solution cell: the reference solution's body (from :mod:`tinylab.exercises.solutions`, its
  docstring dropped, its imports made absolute, its parameters named as in the lesson) between
  ``### BEGIN SOLUTION`` and ``### END SOLUTION``. The lesson's stub stays around it, so the
  release nbgrader makes shows the lesson's cell with an empty line where the code goes
  (``ClearSolutions.code_stub`` is empty in the course's ``nbgrader_config.py``);
- the lesson's "reference answer" cell (the checker run on the reference, which gives the
  answer away) is replaced by a locked, autograded test cell worth the exercise's points: the
  lesson's checker call, asserted, then nbgrader's hidden tests
  (:func:`tinylab.exercises.hidden_tests.check`: the student's own code, right on fresh inputs).

Everything else of the lesson is kept. The course folder holds ``nbgrader_config.py``,
``source/<lesson>/<lesson>.ipynb`` and, after ``generate_assignment``, ``release/`` and the
gradebook (``gradebook.db``): the folder an instructor gives to nbgrader (docs/instructors.md).
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import io
import os
import re
import subprocess
import sys
import textwrap
import tokenize
import zlib
from dataclasses import dataclass
from pathlib import Path

from . import _paths
from .errors import TinyLabError

__all__ = ["Exercise", "EXERCISES", "AssignmentError", "NbgraderMissing", "Course",
           "lesson_paths", "solution_code", "source_notebook", "write_course", "CONFIG",
           "autograde_preprocessors", "nbgrader_environment"]


@dataclass(frozen=True)
class Exercise:
    """One graded exercise of a lesson.

    Attributes
    ----------
    lesson : str
        The lesson notebook's name without ``.ipynb`` (``"04_pruning"``); also the assignment's.
    answer : str
        What the student writes in the lesson: a function (``def prune_mask(...)``) or a
        variable (``my_answer = ...``).
    checker : str
        The checker in :mod:`tinylab.exercises` the lesson calls (``"check_prune_mask"``).
    solution : str
        The reference solution in :mod:`tinylab.exercises.solutions` (``"prune_mask"``).
    points : int
        What the exercise is worth: 1 a count or one formula, 2 an array computation with a
        trap in it, 3 an algorithm or bit-exact integer arithmetic.
    """

    lesson: str
    answer: str
    checker: str
    solution: str
    points: int

    @property
    def grade_id(self) -> str:
        """nbgrader's id of the solution cell (the reference's name, unique in the course);
        the test cell's is ``<grade_id>_test``."""
        return self.solution

    @property
    def seed(self) -> int:
        """The hidden tests' seed: fixed per exercise, so grading again gives the same marks."""
        return zlib.crc32(f"{self.lesson}/{self.answer}".encode()) % 10_000


#: Every graded exercise, in lesson order: the one table of what is graded and for how much.
EXERCISES = (
    Exercise("00_welcome", "my_answer", "check_uno_weights", "uno_weights", 1),
    Exercise("01_data", "normalize", "check_normalize", "normalize", 1),
    Exercise("02_train", "dense_params", "check_dense_params", "dense_params", 1),
    Exercise("03_distillation", "soft_loss", "check_soft_loss", "soft_loss", 3),
    Exercise("04_pruning", "prune_mask", "check_prune_mask", "prune_mask", 2),
    Exercise("05_quantization", "quantize", "check_quantize", "quantize", 2),
    Exercise("06_sharing", "share_linear", "check_share_linear", "share_linear", 3),
    Exercise("07_huffman", "code_lengths", "check_huffman_lengths", "huffman_lengths", 3),
    Exercise("08_deploy", "int8_dense", "check_int8_dense", "int8_dense", 3),
    Exercise("08_deploy", "int8_flash_bytes", "check_fits_uno", "int8_flash_bytes", 1),
    Exercise("09_gestures", "standardize_channels", "check_standardize_channels",
             "standardize_channels", 2),
    Exercise("10_cnn", "conv2d_macs", "check_conv_macs", "conv2d_macs", 2),
)

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"

#: The course's ``nbgrader_config.py``, rewritten by every ``tinylab assignments``.
CONFIG = '''\
# Written by `tinylab assignments` (TinyLab's tinylab/assignments.py), which rewrites it.
# Put your own settings (CourseDirectory.course_id, CourseDirectory.root, the exchange) in
# ~/.jupyter/nbgrader_config.py or /etc/jupyter/nbgrader_config.py: nbgrader reads those too.
c = get_config()  # noqa: F821 (nbgrader defines it)

# A solution region becomes one empty line: the release shows the lesson's own stub
# (`# your code here` ... `return None`, `my_answer = None`) as the lesson has it.
c.ClearSolutions.code_stub = {"python": ""}

# Autograding runs whole lessons (training included). A lesson's slowest cell takes well under
# a minute on 2 cores (docs/benchmarks.md, lessons); 10 minutes per cell leaves room for a
# busy grading server and still ends a submission stuck in a loop.
c.Execute.timeout = 600

# nbgrader's Execute without nbclient's Output-widget emulation, whose messages back to the
# kernel now and then leave a widget cell waiting out the whole timeout (see the function).
from tinylab.assignments import autograde_preprocessors  # noqa: E402
c.Autograde.autograde_preprocessors = autograde_preprocessors()
'''


def autograde_preprocessors() -> list:
    """nbgrader's autograde steps, its ``Execute`` without nbclient's Output-widget emulation.

    nbclient (0.11, under nbgrader 0.9.6 and nbconvert 7.17) imitates a browser for every
    ``Output`` widget: each output drawn into one is sent back to the kernel as a comm
    message on the shell channel, from the task that reads IOPub, while the cell's reply is
    awaited on the same channel. Now and then (seen 4 times here, at lesson 04's pruning
    explorer and 07's Huffman explorer, not every run) the reply is then never seen: the kernel is idle,
    nbgrader waits out the whole cell timeout, 10 minutes per widget cell. Without the
    emulation a widget's outputs land in the cell's outputs and nothing is sent back; the
    notebook runs in one event loop as ``NotebookClient.execute`` runs it, with nbgrader's
    hooks kept (errors recorded per cell, execution going on after an error). Grading reads
    only the test cells, so nothing graded changes.
    """
    from nbclient import NotebookClient
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import Execute

    class ExecuteWithoutWidgetEcho(Execute):
        def preprocess(self, nb, resources=None, km=None):
            NotebookClient.__init__(self, nb, km)
            self.widget_registry = {}  # no Output-widget emulation (above)
            self.reset_execution_trackers()
            self._check_assign_resources(resources)
            self.execute()
            return self.nb, self.resources

    steps = Autograde.class_traits()["autograde_preprocessors"].default()
    return [ExecuteWithoutWidgetEcho if step is Execute else step for step in steps]


class AssignmentError(TinyLabError):
    """Writing the graded releases failed: nbgrader is missing, or refused a lesson."""


class NbgraderMissing(AssignmentError):
    """nbgrader is not installed in TinyLab's Python."""

    def __init__(self):
        super().__init__("nbgrader is not installed, and the graded releases are made by its "
                         "generate_assignment",
                         hint="pip install 'tinylab[course]' (or `make assignments`, which sets "
                              "up the checkout's .venv with it)")


# --------------------------------------------------------------------------- the solution code

def _parameters(source: str) -> list:
    """The parameter names of the first function defined in ``source``."""
    function = ast.parse(textwrap.dedent(source)).body[0]
    arguments = function.args
    return [a.arg for a in arguments.posonlyargs + arguments.args + arguments.kwonlyargs]


def _rename(code: str, names: dict) -> str:
    """``code`` with the variables in ``names`` renamed (attributes and comments untouched)."""
    if not names:
        return code
    lines = code.splitlines(keepends=True)
    tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    previous = None
    edits = []
    for token in tokens:
        if token.type == tokenize.NAME and token.string in names and previous != ".":
            edits.append(token)
        if token.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT,
                              tokenize.INDENT, tokenize.DEDENT):
            previous = token.string
    for token in reversed(edits):  # right to left, so earlier columns stay valid
        row, start = token.start
        _, end = token.end
        line = lines[row - 1]
        lines[row - 1] = line[:start] + names[token.string] + line[end:]
    return "".join(lines)


def _absolute_imports(code: str) -> str:
    """``from ..engine import x`` (relative to tinylab.exercises) -> ``from tinylab.engine import x``."""
    package = ["tinylab", "exercises"]

    def absolute(match):
        dots, rest = len(match.group(2)), match.group(3)
        base = ".".join(package[:len(package) - dots + 1])
        return f"{match.group(1)}from {base}{'.' + rest if rest else ''} import"

    return re.sub(r"^(\s*)from (\.+)([\w.]*) import", absolute, code, flags=re.M)


def solution_code(exercise: Exercise, parameters=None) -> str:
    """The reference solution as the code of the student's cell, at indentation 0.

    For a function: the body of ``tl.exercises.solutions.<solution>`` without its docstring,
    its relative imports made absolute and its parameters renamed to ``parameters`` (the
    lesson's names, in order) where they differ. For a variable: the same body with its final
    ``return EXPR`` turned into ``<answer> = EXPR``. The code never calls
    ``tl.exercises.solutions``: it *is* the solution, so the grader's release can clear it.
    """
    from .exercises import solutions

    source = textwrap.dedent(inspect.getsource(getattr(solutions, exercise.solution)))
    function = ast.parse(source).body[0]
    documented = ast.get_docstring(function) is not None
    body = function.body[1:] if documented else function.body
    start = function.body[0].end_lineno + 1 if documented else body[0].lineno  # 1-based
    code = textwrap.dedent("".join(source.splitlines(keepends=True)[start - 1:]))
    code = _absolute_imports(code)
    if parameters is not None:
        ours = _parameters(source)
        if len(ours) != len(parameters):
            raise ValueError(f"the lesson's {exercise.answer} takes {len(parameters)} "
                             f"parameters ({', '.join(parameters)}); the reference "
                             f"{exercise.solution} takes {len(ours)} ({', '.join(ours)})")
        code = _rename(code, {old: new for old, new in zip(ours, parameters) if old != new})
    else:
        last = body[-1]
        if not isinstance(last, ast.Return):
            raise ValueError(f"the reference {exercise.solution} must end with `return ...` to "
                             f"become the value of {exercise.answer}")
        lines = code.splitlines(keepends=True)
        row = last.lineno - start  # the return's line within the dedented body
        lines[row] = re.sub(r"^return\b ?", f"{exercise.answer} = ", lines[row])
        code = "".join(lines)
    if "solutions" in code or "show_solution" in code:
        raise ValueError(f"the reference {exercise.solution} calls the solutions itself; "
                         f"write its code out in tinylab/exercises/solutions.py")
    return code.rstrip("\n")


# --------------------------------------------------------------------------- the notebooks

def _checker_call(cell_source: str, exercise: Exercise) -> str:
    """The lesson's call of the checker, as the lesson writes it (its arguments included)."""
    match = re.search(rf"^tl\.exercises\.{exercise.checker}\(.*\)\s*$", cell_source, flags=re.M)
    if match is None:
        raise ValueError(f"{exercise.lesson}: the exercise cell of {exercise.answer} does not "
                         f"end with a call of tl.exercises.{exercise.checker}(...)")
    return match.group(0).strip()


def _find_exercise(cells, exercise: Exercise) -> int:
    found = [index for index, cell in enumerate(cells) if cell.cell_type == "code"
             and f"tl.exercises.{exercise.checker}(" in cell.source
             and "tl.exercises.solutions" not in cell.source
             and re.search(rf"^(def {exercise.answer}\(|{exercise.answer} = )", cell.source,
                           flags=re.M)]
    if len(found) != 1:
        raise ValueError(f"{exercise.lesson}: expected one exercise cell defining "
                         f"{exercise.answer} and calling tl.exercises.{exercise.checker}, "
                         f"found {len(found)}")
    return found[0]


def _with_solution(cell_source: str, exercise: Exercise, code: str) -> str:
    """The student's cell with the solution region in it, the lesson's stub around it."""
    lines = cell_source.split("\n")
    define = next((i for i, line in enumerate(lines)
                   if line.startswith(f"def {exercise.answer}(")), None)
    if define is None:  # a variable: the lesson's line, then the solution overrides it
        assign = next(i for i, line in enumerate(lines) if line.startswith(f"{exercise.answer} = "))
        region = [BEGIN_SOLUTION, *code.split("\n"), END_SOLUTION]
        return "\n".join(lines[:assign + 1] + region + lines[assign + 1:])
    end = define + 1
    while end < len(lines) and (lines[end].startswith((" ", "\t")) or not lines[end].strip()):
        end += 1
    while not lines[end - 1].strip():
        end -= 1
    body = lines[define + 1:end]
    indent = re.match(r"\s*", body[0]).group(0)
    comments = [line for line in body if line.strip().startswith("#")]
    stub = [line for line in body if not line.strip().startswith("#")]
    region = [indent + BEGIN_SOLUTION, *(indent + line if line else line
                                         for line in code.split("\n")), indent + END_SOLUTION]
    return "\n".join(lines[:define + 1] + comments + region + stub + lines[end:])


def _test_source(exercise: Exercise, checker_call: str) -> str:
    lines = [f"# Graded, {_points(exercise.points)}: the checker above, as the grader runs it.",
             f"result = {checker_call}",
             "print(result)",
             "assert result.passed, result.message"]
    if callable_exercise(exercise):
        lines += [BEGIN_HIDDEN,
                  "from tinylab.exercises import hidden_tests",
                  f"hidden = hidden_tests.check({exercise.solution!r}, {exercise.answer}, "
                  f"seed={exercise.seed})",
                  "print(hidden)",
                  "assert hidden.passed, hidden.message",
                  END_HIDDEN]
    return "\n".join(lines)


def callable_exercise(exercise: Exercise) -> bool:
    """Whether the student writes a function (hidden tests) rather than a value."""
    from .exercises import hidden_tests

    return exercise.solution in hidden_tests.CASES


def _metadata(grade_id: str, *, solution: bool, points: int = 0) -> dict:
    """nbgrader's cell metadata (schema 3): an autograded answer, or an autograded test."""
    meta = {"grade": not solution, "grade_id": grade_id, "locked": not solution,
            "schema_version": 3, "solution": solution, "task": False}
    if not solution:
        meta["points"] = points
    return {"nbgrader": meta}


def _is_reference_cell(cell, exercise: Exercise) -> bool:
    """The lesson's "reference answer" cell: the checker on the reference, show_solution."""
    return (cell.cell_type == "code" and f"solutions.{exercise.solution}" in cell.source
            and f"show_solution(\"{exercise.solution}\")" in cell.source)


def _link_lessons(source: str) -> str:
    """A markdown link to another lesson, ``(01_data.ipynb)``, to its assignment's folder."""
    return re.sub(r"\]\((\d\d_\w+)\.ipynb\)", r"](../\1/\1.ipynb)", source)


def source_notebook(lesson):
    """nbgrader's source version of a lesson (a path or a name such as ``04_pruning``).

    Returns a new notebook; the lesson's file is not changed. Raises ``ValueError`` when the
    lesson has no exercise in :data:`EXERCISES`, or its cells are not where they are expected.
    """
    import nbformat

    path = _lesson_path(lesson)
    notebook = nbformat.read(path, as_version=4)
    exercises = [e for e in EXERCISES if e.lesson == path.stem]
    if not exercises:
        raise ValueError(f"{path.stem} has no graded exercise; lessons with one: "
                         f"{sorted({e.lesson for e in EXERCISES})}")
    cells = notebook.cells
    for exercise in exercises:
        index = _find_exercise(cells, exercise)
        cell = cells[index]
        checker_call = _checker_call(cell.source, exercise)
        parameters = None
        if re.search(rf"^def {exercise.answer}\(", cell.source, flags=re.M):
            parameters = _parameters(cell.source[cell.source.index(f"def {exercise.answer}("):]
                                     .split("\n\n")[0])
        cell.source = _with_solution(cell.source, exercise, solution_code(exercise, parameters))
        cell.metadata.update(_metadata(exercise.grade_id, solution=True))
        # the reference answer (and a markdown line leading to it) goes; the test takes its place
        after = index + 1
        while after < len(cells) and cells[after].cell_type == "markdown" \
                and "reference" in cells[after].source.lower():
            after += 1
        if after < len(cells) and _is_reference_cell(cells[after], exercise):
            del cells[index + 1:after + 1]
        test = nbformat.v4.new_code_cell(_test_source(exercise, checker_call))
        test.metadata.update(_metadata(f"{exercise.grade_id}_test", solution=False,
                                       points=exercise.points))
        cells.insert(index + 1, test)
    for cell in cells:
        if cell.cell_type == "markdown":
            cell.source = _link_lessons(cell.source)
    return notebook


# --------------------------------------------------------------------------- the course folder

def _lesson_path(lesson) -> Path:
    path = Path(lesson)
    if path.suffix == ".ipynb" and path.is_file():
        return path
    return lesson_paths([str(lesson)])[0]


def lesson_paths(lessons=None) -> list:
    """The graded lessons' notebooks in the checkout: all, or those named (``04_pruning``, ``04``)."""
    if _paths.checkout() is None:
        raise ValueError("the assignments are made from the lessons in a TinyLab checkout's "
                         "notebooks/ folder, which this installation does not have: git clone "
                         "TinyLab and run `make assignments` there")
    graded = sorted({e.lesson for e in EXERCISES})
    if not lessons:
        return [_paths.NOTEBOOKS_DIR / f"{name}.ipynb" for name in graded]
    chosen = []
    for lesson in lessons:
        stem = Path(lesson).name.removesuffix(".ipynb")
        matches = [name for name in graded if name == stem or name.split("_")[0] == stem]
        if len(matches) != 1:
            raise ValueError(f"no graded lesson {lesson!r}; choose from {graded} (or their "
                             f"numbers, e.g. 04)")
        chosen.append(_paths.NOTEBOOKS_DIR / f"{matches[0]}.ipynb")
    return list(dict.fromkeys(chosen))


def default_folder() -> Path:
    """``assignments/`` in the checkout (git-ignored), else in the current folder."""
    return (_paths.checkout() or Path.cwd()) / "assignments"


def _require_nbgrader() -> None:
    if importlib.util.find_spec("nbgrader") is None:
        raise NbgraderMissing()


def _points(number: int) -> str:
    return f"{number} point{'' if number == 1 else 's'}"


@dataclass
class Course:
    """What :func:`write_course` wrote: the course folder and each assignment's points."""

    folder: Path
    assignments: dict  # assignment name -> [(exercise answer, points), ...]

    @property
    def points(self) -> int:
        return sum(points for rows in self.assignments.values() for _, points in rows)

    def to_text(self) -> str:
        rows = [f"  {name:<16} {_points(sum(p for _, p in items)):>9}  "
                f"{', '.join(f'{answer} ({p})' for answer, p in items)}"
                for name, items in self.assignments.items()]
        return "\n".join([f"nbgrader course folder: {self.folder}",
                          f"  source/ (with solutions) and release/ (for the students), "
                          f"{len(self.assignments)} assignment{'' if len(self.assignments) == 1 else 's'}, "
                          f"{_points(self.points)}:",
                          *rows,
                          "Next: docs/instructors.md, 'Assignments and grading (nbgrader)' "
                          "(nbgrader release_assignment, or the Formgrader)."])


def write_course(folder=None, lessons=None, *, release: bool = True) -> Course:
    """Write the course folder: ``nbgrader_config.py``, ``source/``, and the students' ``release/``.

    Parameters
    ----------
    folder : path, optional
        The course folder (default :func:`default_folder`); kept if it exists: the gradebook,
        submissions and grades in it stay, each lesson's source and release are rewritten.
    lessons : list of str, optional
        Lesson names or numbers (``["04_pruning", "08"]``); default every graded lesson.
    release : bool
        Run nbgrader's ``generate_assignment`` for each (the release and the gradebook); False
        writes the source versions only.

    Raises
    ------
    NbgraderMissing
        ``release`` and nbgrader is not installed.
    AssignmentError
        nbgrader refused a lesson (its own words are in the message).
    """
    import nbformat

    if release:
        _require_nbgrader()
    paths = lesson_paths(lessons)
    folder = Path(folder) if folder is not None else default_folder()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "nbgrader_config.py").write_text(CONFIG)
    assignments = {}
    for path in paths:
        target = folder / "source" / path.stem / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(source_notebook(path), target)
        assignments[path.stem] = [(e.answer, e.points) for e in EXERCISES if e.lesson == path.stem]
    if release:
        for name in assignments:
            _generate_assignment(folder, name)
    return Course(folder=folder.resolve(), assignments=assignments)


def nbgrader_environment() -> dict:
    """The environment to run nbgrader in: this Python's scripts first on ``PATH``.

    nbgrader runs the ``alembic`` command to create a gradebook; from a virtual environment
    that is not activated (``.venv/bin/tinylab``) it would not be found.
    """
    scripts = str(Path(sys.executable).parent)
    return {**os.environ, "PATH": os.pathsep.join([scripts, os.environ.get("PATH", "")])}


def _generate_assignment(folder: Path, name: str) -> None:
    """``nbgrader generate_assignment NAME --force`` in the course folder, as an instructor runs it."""
    done = subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", name,
                           "--force"], cwd=folder, capture_output=True, text=True,
                          env=nbgrader_environment())
    if done.returncode != 0 or not (folder / "release" / name / f"{name}.ipynb").is_file():
        said = [line for line in (done.stderr + done.stdout).splitlines() if "ERROR" in line]
        raise AssignmentError(f"nbgrader generate_assignment {name} failed in {folder}: "
                              f"{' '.join(said[-3:]) or done.stderr.strip()[-500:]}")
