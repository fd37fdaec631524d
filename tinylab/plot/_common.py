"""What several figures share: images from arrays, the boards' flash as lines on an axis."""

from __future__ import annotations

import numpy as np

__all__ = ["as_images", "flash_lines"]


def as_images(X) -> np.ndarray:
    X = np.asarray(X, dtype=np.float32)
    if X.ndim == 4 and X.shape[-1] == 1:
        X = X[..., 0]
    if X.ndim == 2:  # flat vectors with a square number of values
        side = int(round(np.sqrt(X.shape[1])))
        if side * side != X.shape[1]:
            raise ValueError(f"cannot show vectors of length {X.shape[1]} as square images")
        X = X.reshape(-1, side, side)
    if X.ndim != 3:
        raise ValueError(f"expected images of shape (n, h, w) or (n, h, w, 1), got {X.shape}")
    return X


def flash_lines(ax, boards, *, right: float):
    """A labelled horizontal line at each board's usable flash (dashed, then dotted)."""
    from .. import boards as board_profiles

    for board_id, style in zip(boards, ("--", ":")):
        profile = board_profiles.load(board_id)
        ax.axhline(profile["flash_usable_bytes"], color="black", linestyle=style, linewidth=1)
        ax.text(right, profile["flash_usable_bytes"] * 1.12,
                f"{profile['name'].split(' (')[0]} flash", ha="right", fontsize=8)
