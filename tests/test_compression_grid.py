"""The compression explorer's recorded grid: hand-checked bytes, a recomputed point, bad files."""

import json

import pytest

from tinylab import compression_grid as cg

#: A recomputed point must match the committed one within these: the test accuracy within 2
#: of the 270 test digits (TensorFlow's CPU kernels may sum in another order on another
#: machine, and a flipped weight near a pruning threshold moves a digit or two), the bytes
#: within 2%. A change to the route's settings, the byte counting or a grid recorded with
#: other code moves far more than that.
ACCURACY_TOLERANCE = 2 / 270
BYTES_TOLERANCE = 0.02


@pytest.fixture(scope="module")
def grid():
    return cg.load()


def _stage(point, name):
    return next(s for s in point["stages"] if s["stage"] == name)


def test_committed_grid_covers_its_axes(grid):
    axes = grid["axes"]
    assert None in axes["temperature"] and 0.0 in axes["sparsity"]
    assert len(grid["points"]) == (len(axes["temperature"]) * len(axes["sparsity"])
                                   * len(axes["bits"]))
    assert grid["provenance"]["command"].startswith("python -m tinylab.compression_grid")


def test_float32_bytes_by_hand(grid):
    # mlp300 = 64-300-100-10: (64*300 + 300) + (300*100 + 100) + (100*10 + 10) = 50,610
    # parameters, 4 bytes each; small16 = 64-16-10: 64*16 + 16 + 16*10 + 10 = 1,210.
    assert grid["teacher"]["bytes"] == 4 * 50_610 == 202_440
    point = cg.point(grid, 4.0, 0.0, 4)
    assert _stage(point, "distilled")["bytes"] == 4 * 1_210 == 4_840


def test_unpruned_sparse_storage_by_hand(grid):
    # Sparsity 0 keeps all 1,184 kernel weights of small16; no gap reaches 2**5, so no filler:
    # each entry is a float32 plus a 5-bit relative index, and the 26 biases stay float32.
    point = cg.point(grid, 4.0, 0.0, 4)
    assert _stage(point, "pruned (P)")["bytes"] == (1_184 * (32 + 5) + 26 * 32) // 8 == 5_580
    # P+Q: a 4-bit index instead of the float, plus two 15-entry float32 codebooks
    # (reserve_filler leaves one of the 16 indices free).
    assert _stage(point, "pruned + shared (P+Q)")["bytes"] == \
        -(-(1_184 * (4 + 5) + 2 * 15 * 32 + 26 * 32) // 8) == 1_556


def test_every_point_is_consistent(grid):
    for point in grid["points"]:
        stages = point["stages"]
        assert stages[0] == grid["teacher"]
        shared, coded = stages[-2], stages[-1]
        assert coded["test_accuracy"] == shared["test_accuracy"]  # Huffman is lossless
        for stage in stages:
            assert stage["ratio"] == pytest.approx(grid["teacher"]["bytes"] / stage["bytes"])
    # more pruning never stores more in the P stage, on either route
    for temperature in grid["axes"]["temperature"]:
        sizes = [_stage(cg.point(grid, temperature, s, 4), "pruned (P)")["bytes"]
                 for s in grid["axes"]["sparsity"]]
        assert sizes == sorted(sizes, reverse=True)


def test_board_fit_by_hand():
    uno = cg.board_fit("uno", 29_018)
    assert uno["flash_left_bytes"] == 32_256 - 3_238 == 29_018 and uno["fits"]
    assert not cg.board_fit("uno", 29_019)["fits"]
    nano = cg.board_fit("nano33ble", 202_440)
    assert nano["fits"] and nano["fixed_bytes"] is None and nano["flash_left_bytes"] == 983_040


def test_recomputed_point_matches_the_committed_one(grid):
    """The lesson route's point (distilled at T=4, 70% pruned, 4 bits), from scratch."""
    recorded = cg.point(grid, 4.0, 0.7, 4)
    fresh = cg.compute_point(4.0, 0.7, 4, settings=grid["settings"])
    assert [s["stage"] for s in fresh["stages"]] == [s["stage"] for s in recorded["stages"]]
    for mine, theirs in zip(fresh["stages"], recorded["stages"]):
        assert mine["test_accuracy"] == pytest.approx(theirs["test_accuracy"],
                                                      abs=ACCURACY_TOLERANCE), mine["stage"]
        assert mine["bytes"] == pytest.approx(theirs["bytes"], rel=BYTES_TOLERANCE), mine["stage"]


def test_bad_axes_are_refused_before_any_training():
    with pytest.raises(ValueError, match="temperature"):
        cg.compute_grid([0.0], [0.5], [4])
    with pytest.raises(ValueError, match="sparsity"):
        cg.compute_grid([None], [1.0], [4])
    with pytest.raises(ValueError, match="bits"):
        cg.compute_grid([None], [0.5], [1])
    with pytest.raises(ValueError, match="repeated"):
        cg.compute_grid([None], [0.5, 0.5], [4])
    with pytest.raises(ValueError, match="unknown settings"):
        cg.compute_grid([None], [0.5], [4], settings={"temprature": 3})


def test_point_not_on_the_grid(grid):
    with pytest.raises(ValueError, match="no grid point"):
        cg.point(grid, 3.0, 0.9, 4)


def test_load_refuses_bad_files(tmp_path, grid):
    with pytest.raises(ValueError, match="no compression grid"):
        cg.load(tmp_path / "absent.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ValueError, match="not JSON"):
        cg.load(broken)
    good = {k: v for k, v in grid.items() if not k.startswith("_")}
    cases = {
        "schema": dict(good, schema=99),
        "lacks 'points'": {k: v for k, v in good.items() if k != "points"},
        "cover the axes": dict(good, points=good["points"][:-1]),
        "stages must be": dict(good, points=[dict(good["points"][0], stages=[])]
                               + good["points"][1:]),
        "accuracy": dict(good, points=[dict(good["points"][0], stages=[
            dict(s, test_accuracy=1.5) for s in good["points"][0]["stages"]])]
            + good["points"][1:]),
    }
    for message, content in cases.items():
        path = tmp_path / "bad.json"
        path.write_text(json.dumps(content))
        with pytest.raises(ValueError, match=message):
            cg.load(path)
    path.write_text(json.dumps(good))
    assert len(cg.load(path)["points"]) == len(good["points"])
