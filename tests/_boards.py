"""Helpers shared by the tests that upload to a board (avrdude, the browser's programmer)."""

from __future__ import annotations

import numpy as np

from tinylab.device import Device


def check_runs(port: str, mlp, x_int8=None, host=None) -> None:
    """Open the board on ``port`` expecting ``mlp``'s banner (a wrong or missing sketch
    raises); with inputs, check its answers equal ``host`` bit for bit."""
    with Device(port, expect_model=mlp.model_hash) as link:
        if x_int8 is not None:
            run = link.infer_many(x_int8, progress=False)
            np.testing.assert_array_equal(run.scores, host)
