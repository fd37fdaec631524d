"""The environment is declared in several files; these tests keep them saying the same thing.

- Python packages: pyproject.toml's [project] dependencies, and the ``pip:`` lists of
  environment.yml (conda users) and binder/environment.yml (Binder) — same requirements.
- Board toolchain (apt): binder/apt.txt is the one list; tinylab.doctor.APT_PACKAGES must match
  it and the Makefile must read it rather than keep its own copy.
- binder/postBuild stops on the first error; .ci/run runs ``make test``.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from tinylab import doctor

ROOT = Path(__file__).resolve().parents[1]
ENVIRONMENT_FILES = ["environment.yml", "binder/environment.yml"]


# --- helpers -------------------------------------------------------------------------------

def pyproject_dependencies() -> list[str]:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]["dependencies"]


def load_environment(relative: str) -> dict:
    path = ROOT / relative
    assert path.is_file(), f"{relative} is missing (conda/Binder environment; see pyproject.toml)"
    with open(path) as f:
        env = yaml.safe_load(f)
    assert isinstance(env, dict), f"{relative}: not a YAML mapping"
    return env


def conda_dependencies(env: dict) -> list[str]:
    return [d for d in env.get("dependencies") or [] if isinstance(d, str)]


def pip_dependencies(env: dict, relative: str) -> list[str]:
    pip_lists = [d["pip"] for d in env.get("dependencies") or [] if isinstance(d, dict) and "pip" in d]
    assert len(pip_lists) == 1, f"{relative}: expected exactly one 'pip:' list under dependencies"
    return [str(r) for r in pip_lists[0]]


def normalize(requirements: list[str], where: str) -> dict[str, tuple]:
    """{canonical name: (specifier set, extras, marker)}, failing on duplicates."""
    out: dict[str, tuple] = {}
    for text in requirements:
        req = Requirement(text)
        name = canonicalize_name(req.name)
        assert name not in out, f"{where}: {req.name} is listed twice"
        out[name] = (req.specifier, frozenset(req.extras), str(req.marker) if req.marker else None)
    return out


def describe(entry: tuple) -> str:
    specifier, extras, marker = entry
    text = (f"[{','.join(sorted(extras))}]" if extras else "") + (str(specifier) or "(any version)")
    return text + (f" ; {marker}" if marker else "")


def apt_txt_packages() -> list[str]:
    """Packages of binder/apt.txt, read the way repo2docker reads it (``#`` starts a comment)."""
    packages = []
    for line in (ROOT / "binder" / "apt.txt").read_text().splitlines():
        packages.extend(line.partition("#")[0].split())
    return packages


# --- Python packages -----------------------------------------------------------------------

@pytest.mark.parametrize("relative", ENVIRONMENT_FILES)
def test_environment_pip_list_matches_pyproject(relative):
    expected = normalize(pyproject_dependencies(), "pyproject.toml")
    actual = normalize(pip_dependencies(load_environment(relative), relative), relative)
    problems = []
    for name in sorted(expected.keys() - actual.keys()):
        problems.append(f"{relative} lacks {name}{describe(expected[name])} (pyproject.toml has it)")
    for name in sorted(actual.keys() - expected.keys()):
        problems.append(f"{relative} has {name}{describe(actual[name])}, "
                        "which pyproject.toml's [project] dependencies lack")
    for name in sorted(expected.keys() & actual.keys()):
        if expected[name] != actual[name]:
            problems.append(f"{name}: pyproject.toml says {describe(expected[name])}, "
                            f"{relative} says {describe(actual[name])}")
    assert not problems, ("Python requirements disagree; copy pyproject.toml's [project] "
                          "dependencies into the pip: list:\n  " + "\n  ".join(problems))


@pytest.mark.parametrize("relative", ENVIRONMENT_FILES)
def test_environment_conda_part(relative):
    env = load_environment(relative)
    assert env.get("name") == "tinylab", f"{relative}: name should be tinylab, not {env.get('name')!r}"
    assert env.get("channels") == ["conda-forge"], \
        f"{relative}: channels should be [conda-forge], not {env.get('channels')!r}"
    conda = conda_dependencies(env)
    assert "pip" in conda, f"{relative}: 'pip' must be a conda dependency for the pip: list to install"
    pythons = [d for d in conda if re.match(r"python\b", d)]
    assert len(pythons) == 1, f"{relative}: expected one python=X.Y dependency, found {pythons}"
    version = re.fullmatch(r"python\s*=+\s*(\d+\.\d+)(\.\*)?", pythons[0])
    assert version, f"{relative}: pin Python as python=X.Y, not {pythons[0]!r}"
    with open(ROOT / "pyproject.toml", "rb") as f:
        requires_python = SpecifierSet(tomllib.load(f)["project"]["requires-python"])
    assert requires_python.contains(version.group(1)), \
        f"{relative}: python={version.group(1)} is outside pyproject.toml's requires-python {requires_python}"


def test_both_environment_files_agree():
    root_env, binder_env = (load_environment(r) for r in ENVIRONMENT_FILES)
    assert root_env == binder_env, (
        "environment.yml and binder/environment.yml differ (Binder reads only the binder/ one): "
        f"\n  environment.yml:        {root_env}\n  binder/environment.yml: {binder_env}")


# --- board toolchain (apt) -------------------------------------------------------------------

def test_apt_txt_matches_doctor():
    listed = apt_txt_packages()
    duplicates = sorted({p for p in listed if listed.count(p) > 1})
    assert not duplicates, f"binder/apt.txt lists {duplicates} more than once"
    in_apt, in_doctor = set(listed), set(doctor.APT_PACKAGES)
    assert in_apt == in_doctor, (
        "binder/apt.txt and tinylab.doctor.APT_PACKAGES disagree: "
        f"only in binder/apt.txt: {sorted(in_apt - in_doctor)}; "
        f"only in tinylab/doctor.py TOOLCHAIN: {sorted(in_doctor - in_apt)}")


def make_dry_run(directory: Path) -> str:
    make = shutil.which("make")
    assert make, "make is not installed (sudo apt-get install -y make)"
    done = subprocess.run([make, "-pn", "toolchain"], cwd=directory, capture_output=True,
                          text=True, timeout=60, env={**os.environ, "MAKEFLAGS": "", "MAKELEVEL": ""})
    assert done.returncode == 0, f"make -pn toolchain failed in {directory}:\n{done.stderr}"
    return done.stdout


def makefile_apt_packages(database: str) -> list[str]:
    match = re.search(r"^APT_PACKAGES :?= ?(.*)$", database, re.MULTILINE)
    assert match, "the Makefile defines no APT_PACKAGES (make -pn toolchain shows none)"
    return match.group(1).split()


def test_makefile_installs_the_apt_txt_list():
    """``make toolchain`` checks/installs exactly binder/apt.txt's packages."""
    database = make_dry_run(ROOT)
    in_make, in_apt = makefile_apt_packages(database), apt_txt_packages()
    assert in_make == in_apt, (
        f"the Makefile's APT_PACKAGES {in_make} is not binder/apt.txt's list {in_apt} "
        "(the Makefile drops whole comment lines only: keep comments off package lines)")
    # the expanded recipe (not the apt_ensure macro's text, which loops over "$(2)")
    loops = re.findall(r"for p in ([^;$]*); do", database)
    assert loops, "make -n toolchain no longer loops over the apt packages"
    assert [packages.split() for packages in loops] == [apt_txt_packages()], \
        "make toolchain does not go through binder/apt.txt's packages"


def test_makefile_reads_apt_txt_rather_than_a_copy(tmp_path):
    """With another binder/apt.txt beside the same Makefile, make's list follows the file:
    the list lives only in binder/apt.txt."""
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    (tmp_path / "binder").mkdir()
    (tmp_path / "binder" / "apt.txt").write_text("# a comment\nsentinel-one\n  # indented\nsentinel-two\n")
    assert makefile_apt_packages(make_dry_run(tmp_path)) == ["sentinel-one", "sentinel-two"], (
        "the Makefile does not take its apt packages from binder/apt.txt "
        "(it should: APT_PACKAGES := $(shell grep -v '^[[:space:]]*\\#' binder/apt.txt))")



def test_toolchain_without_root_prints_the_install_line_and_goes_on(tmp_path):
    """As a normal user, `make toolchain` names what is missing and the exact apt line, exit 0."""
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    (tmp_path / "binder").mkdir()
    (tmp_path / "binder" / "apt.txt").write_text("tinylab-no-such-package\n")
    tmp_path.chmod(0o755)
    command = [shutil.which("make"), "--no-print-directory", "toolchain"]
    if os.geteuid() == 0:  # drop to an unprivileged user, as on a student's machine
        setpriv = shutil.which("setpriv")
        assert setpriv, "setpriv (util-linux) is needed to run make as a normal user"
        command = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", *command]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"make toolchain should go on without root:\n{done.stdout}{done.stderr}"
    assert "Board toolchain missing: tinylab-no-such-package" in done.stdout, done.stdout
    assert "sudo apt-get install -y tinylab-no-such-package" in done.stdout, done.stdout

# --- scripts ---------------------------------------------------------------------------------

def test_postbuild_fails_on_errors_and_is_executable():
    path = ROOT / "binder" / "postBuild"
    assert path.is_file(), "binder/postBuild is missing"
    lines = path.read_text().splitlines()
    assert lines and lines[0].startswith("#!") and "bash" in lines[0], \
        f"binder/postBuild should start with a bash shebang, not {lines[:1]}"
    code = [l.strip() for l in lines[1:] if l.strip() and not l.strip().startswith("#")]
    assert code and re.fullmatch(r"set\s+-[a-z]*e[a-z]*(\s+-?o\s+pipefail|\s+.*)?", code[0]), \
        "binder/postBuild's first command must be `set -e` (or `set -euo pipefail`) so a failing step fails the Binder build"
    assert path.stat().st_mode & stat.S_IXUSR, "binder/postBuild is not executable (chmod +x binder/postBuild)"
    assert any(re.search(r"pip install .*(-e \.|\s\.)(\s|$)", l) for l in code), \
        "binder/postBuild does not pip-install TinyLab from the repository"


def test_ci_runs_make_test():
    path = ROOT / ".ci" / "run"
    assert path.is_file(), ".ci/run is missing"
    assert path.stat().st_mode & stat.S_IXUSR, ".ci/run is not executable (chmod +x .ci/run)"
    code = [l.strip() for l in path.read_text().splitlines() if l.strip() and not l.strip().startswith("#")]
    assert any(re.fullmatch(r"(exec\s+)?make(\s+-\S+)*\s+test", l) for l in code), \
        f".ci/run should run `make test` (the README's test command); its commands are {code}"
