"""Shared pytest set-up for TinyLab's tests (markers; fixtures as tests come to need them).

Every test runs against a throw-away workspace (``TINYLAB_WORKSPACE``) and a headless
matplotlib backend.
"""

import os

import pytest

# Before anything imports matplotlib: no window, no display needed.
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "binder: renders Binder's Dockerfile with repo2docker (no Docker engine needed; "
        "deselect with -m 'not binder')")
    config.addinivalue_line(
        "markers",
        "cross_cpu: float training compared with a recorded number, or with itself; `make "
        "test-isa` re-runs these under other oneDNN instruction sets (docs/reproducibility.md)")


@pytest.fixture(autouse=True)
def _isolated_workspace(tmp_path, monkeypatch):
    """Point TINYLAB_WORKSPACE at a fresh folder so no test reads or writes the real one."""
    workspace = tmp_path / "workspace"
    monkeypatch.setenv("TINYLAB_WORKSPACE", str(workspace))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.delenv("TINYLAB_HANDOFFS", raising=False)  # `make test` sets it for the lessons
    return workspace


@pytest.fixture(scope="session")
def digits():
    """The digits dataset with the default split and seed 0 (loaded once; treat as read-only)."""
    import tinylab.data

    return tinylab.data.load("digits", seed=0)


@pytest.fixture(scope="session")
def virtual_uno_tools():
    """The Uno toolchain and simavr, which the virtual Uno needs: a skip on a laptop without
    them, a failure under CI (where these tests must run)."""
    from tinylab import build, virtual

    missing = [f"{tool} ({build.AVR_APT_LINE})" for tool in build.missing_tools("uno")]
    missing += [f"{tool} ({virtual.SIMAVR_APT_LINE})" for tool in virtual.missing_tools()]
    if missing:
        message = "the virtual Uno needs: " + "; ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
