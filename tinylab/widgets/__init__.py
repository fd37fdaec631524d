"""Widget panels, one builder per lesson; the only part of TinyLab that imports ipywidgets.

Each builder returns a fresh container (re-running a cell gives a fresh panel) whose
``controls`` dict names its widgets, so tests and curious students can drive it by setting
``.value`` and calling ``.click()``. Callback output and errors go to an ``Output`` in the
panel, where JupyterLab and Voila show them.

Each panel lives in a module of its own name (``tl.widgets.train_panel`` is the function in
``tinylab/widgets/train_panel.py``) and is imported on first use, as ``tinylab`` imports its
modules: a Voila app that shows one panel does not load TensorFlow because another panel
trains models (the compression explorer's kernel: about 115 MB instead of 700).
"""

import importlib
import sys
import types

#: Every panel; each is the function of the same name in the module of that name.
PANELS = ("doctor_view", "sample_browser", "train_panel", "temperature_explorer",
          "prune_explorer", "quantize_explorer", "huffman_explorer", "board_explorer",
          "capture_panel", "drawing_pad", "compression_explorer", "digit_on_board")
__all__ = list(PANELS)


def __getattr__(name):
    if name in PANELS:
        panel = getattr(importlib.import_module(f"{__name__}.{name}"), name)
        globals()[name] = panel
        return panel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(__all__)


class _PanelPackage(types.ModuleType):
    """Keeps each panel's name for the function when Python binds the submodule to it.

    Importing ``tinylab.widgets.train_panel`` makes Python set the package's attribute
    ``train_panel`` to that module; the eager ``from .train_panel import train_panel`` used to
    rebind it to the function. Here the module binding is refused (the module stays in
    ``sys.modules``), so ``tl.widgets.train_panel(...)`` is always the panel.
    """

    def __setattr__(self, name, value):
        if name in PANELS and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _PanelPackage
