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


@pytest.fixture(scope="session")
def random_mlp():
    """Makes a small int8 model (64 -> 32 -> 10) from random weights: ``random_mlp(seed)``.

    Its ``model_hash`` is ``5eed`` and the seed in hex, so two seeds are two models a board's
    banner tells apart. Cheap: no training, for tests of boards and links.
    """
    return _random_mlp


def _random_mlp(seed=0):
    """64 inputs -> 32 ReLU units -> 10 scores, random int8 weights, TFLM's requantization."""
    import numpy as np

    from tinylab import engine

    rng = np.random.default_rng(seed)
    hidden = engine.FullyConnected.from_scales(
        rng.integers(-127, 128, (32, 64)), rng.integers(-3000, 3000, 32), input_scale=0.03,
        input_zero_point=-5, weight_scales=rng.uniform(0.002, 0.006, 32), output_scale=0.08,
        output_zero_point=-128, activation="RELU")
    logits = engine.FullyConnected.from_scales(
        rng.integers(-127, 128, (10, 32)), rng.integers(-500, 500, 10), input_scale=0.08,
        input_zero_point=-128, weight_scales=rng.uniform(0.002, 0.006, 10), output_scale=0.15,
        output_zero_point=3)
    return engine.IntegerModel(ops=(hidden, logits), input_shape=(64,), output_shape=(10,),
                               input_scale=0.03, input_zero_point=-5, output_scale=0.15,
                               output_zero_point=3, model_hash=f"5eed{seed:04x}")


@pytest.fixture(scope="session")
def quick_route():
    """A short deep-compression route for the draw-a-digit model: seconds to make, not the
    app's minutes."""
    return {"model": "student", "sparsity": 0.7, "bits": 4, "steps": 2, "epochs_per_step": 2,
            "fine_tune_epochs": 1}


@pytest.fixture(scope="session")
def compressed_in_workspace(tmp_path_factory, digits, quick_route):
    """The draw-a-digit model on ``quick_route``, made once in a workspace of its own:
    ``(made, workspace)`` (``made`` is what the first ``load_or_compress`` returned)."""
    from tinylab import deep_compressed

    workspace = tmp_path_factory.mktemp("draw-digit-workspace")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TINYLAB_WORKSPACE", str(workspace))
        made = deep_compressed.load_or_compress(digits, route=quick_route)
    return made, workspace


@pytest.fixture(scope="session")
def old_sketch(virtual_uno_tools, random_mlp):
    """An Uno firmware to find on a board before an upload: ``(mlp, build)`` of random_mlp(1)."""
    from tinylab import build, deploy

    mlp = random_mlp(1)
    return mlp, build.check_fits(deploy.build_firmware(mlp, "int8", "uno"))


@pytest.fixture(scope="session")
def new_sketch(virtual_uno_tools, random_mlp, digits):
    """An Uno firmware to upload, and six test digits with the host's scores for them:
    ``(mlp, build, x_int8, host_scores)`` of random_mlp(2)."""
    from tinylab import build, deploy, engine

    mlp = random_mlp(2)
    x_int8 = engine.quantize_inputs(mlp, digits.X_test[:6].reshape(6, -1))
    return (mlp, build.check_fits(deploy.build_firmware(mlp, "int8", "uno")), x_int8,
            engine.run_int8(mlp, x_int8))
