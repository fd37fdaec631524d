"""What Binder will build, checked without building it.

repo2docker (what mybinder.org runs) renders its Dockerfile with
``jupyter-repo2docker --no-build --no-run REPO``: no Docker engine is contacted, so this runs
anywhere (here DOCKER_HOST even points at a socket that does not exist, to keep it so).
``--user-id 1000 --user-name jovyan`` are what Binder passes; without them repo2docker uses the
current user, which under root renders a different (root-owned) image.

These tests are marked ``binder``. They never skip: a missing repo2docker is a failure that
says how to install it.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 120

pytestmark = pytest.mark.binder


def repo2docker_executable() -> str:
    here = Path(sys.executable).parent
    for name in ("jupyter-repo2docker", "repo2docker"):
        if (here / name).exists():
            return str(here / name)
    found = shutil.which("jupyter-repo2docker")
    if found:
        return found
    pytest.fail("jupyter-repo2docker is not installed next to this Python "
                f"({here}): install the dev extras with  pip install -e '.[dev]'  (or: make test)")


def apt_txt_packages() -> list[str]:
    packages = []
    for line in (ROOT / "binder" / "apt.txt").read_text().splitlines():
        packages.extend(line.partition("#")[0].split())
    return packages


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """(Dockerfile, repo2docker's log) for the repository root, as Binder would build it."""
    command = [repo2docker_executable(), "--no-build", "--debug", "--no-run",
               "--user-id", "1000", "--user-name", "jovyan", str(ROOT)]
    env = {**os.environ, "DOCKER_HOST": "unix:///nonexistent/docker.sock"}
    # An empty working directory: repo2docker looks for a repo2docker_config.py there.
    cwd = tmp_path_factory.mktemp("repo2docker")
    try:
        done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"repo2docker did not render within {TIMEOUT} s: {shlex.join(command)}")
    log = done.stderr
    assert done.returncode == 0, f"{shlex.join(command)} failed ({done.returncode}):\n{log}"
    dockerfile = done.stdout if "FROM " in done.stdout else done.stderr
    assert re.search(r"^FROM ", dockerfile, re.MULTILINE), \
        f"repo2docker printed no Dockerfile:\nstdout:\n{done.stdout}\nstderr:\n{log}"
    assert f"Using local repo {ROOT}" in log, \
        f"repo2docker did not render this repository ({ROOT}):\n{log}"
    return dockerfile, log


def run_commands(dockerfile: str) -> list[str]:
    """The RUN instructions, continuation lines joined."""
    joined = re.sub(r"\\\n", " ", dockerfile)
    return [line[4:] for line in joined.splitlines() if line.startswith("RUN ")]


def test_binder_base_image_is_ubuntu_24_04(rendered):
    dockerfile, _ = rendered
    base = re.search(r"^FROM (\S+)", dockerfile, re.MULTILINE).group(1)
    assert base.endswith(":24.04"), (
        f"repo2docker now builds on {base}, not Ubuntu 24.04: check that every package of "
        "binder/apt.txt exists there (apt-cache policy NAME on that release)")


def test_binder_installs_the_apt_txt_packages(rendered):
    dockerfile, _ = rendered
    installed = set()
    for command in run_commands(dockerfile):
        for match in re.finditer(r"apt-get (?:-\S+ )*install ([^&|;]*)", command):
            installed.update(t for t in match.group(1).split() if not t.startswith("-"))
    missing = sorted(set(apt_txt_packages()) - installed)
    assert not missing, (f"Binder's Dockerfile does not apt-get install {missing} from binder/apt.txt; "
                         f"it installs {sorted(installed)}")


def test_binder_uses_binder_environment_yml(rendered):
    dockerfile, log = rendered
    assert re.search(r"^COPY .*\bsrc/binder/environment\.yml ", dockerfile, re.MULTILINE), \
        "Binder's Dockerfile does not copy binder/environment.yml"
    updates = [c for c in run_commands(dockerfile) if re.search(r"env update .*--file\s+\"?binder/environment\.yml", c)]
    assert updates, "Binder's Dockerfile does not install binder/environment.yml (mamba env update --file ...)"
    assert "Building conda environment for python=3.11" in log, \
        f"repo2docker did not take Python 3.11 from binder/environment.yml:\n{log}"


def test_binder_runs_postbuild(rendered):
    dockerfile, _ = rendered
    commands = run_commands(dockerfile)
    assert "./binder/postBuild" in commands, \
        "Binder's Dockerfile does not run binder/postBuild; its RUN lines are:\n" + "\n".join(commands)
    # postBuild must come after the repository is copied and the environment installed.
    copy = dockerfile.index("COPY --chown=1000:1000 src/ ${REPO_DIR}/")
    env_update = dockerfile.index("binder/environment.yml\"")
    assert env_update < copy < dockerfile.index("RUN ./binder/postBuild"), \
        "Binder runs postBuild before the repository and its environment are in place"
