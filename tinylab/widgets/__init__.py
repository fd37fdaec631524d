"""Widget panels, one builder per lesson; the only part of TinyLab that imports ipywidgets.

Each builder returns a fresh container (re-running a cell gives a fresh panel) whose
``controls`` dict names its widgets, so tests and curious students can drive it by setting
``.value`` and calling ``.click()``. Callback output and errors go to an ``Output`` in the
panel, where JupyterLab and Voila show them.

Each panel is the function of its name in the private module of the same name with a leading
underscore (``tl.widgets.train_panel`` is the function in ``tinylab/widgets/_train_panel.py``;
``_panel.py`` holds what panels share), imported on first use, as ``tinylab`` imports its
modules: a Voila app that shows one panel does not load TensorFlow because another panel
trains models (the compression explorer's kernel: about 115 MB instead of 700). The module
names differ from the functions', so importing a module never hides its panel.

One widget is a class, not a panel builder: :class:`BoardLink` (``_board_link.py``, imported
on first use too), the "Connect a board" button that lets a kernel on a server (a hub, Binder)
reach the board on the student's own computer through the browser (Web Serial). Its ``port``
opens like a local one (``tl.device.Device(link.port)``); the board dropdowns of the capture
panel and the draw-a-digit app offer it by themselves.
"""

import importlib

#: Every panel; each is the function of that name in the module ``_<name>``.
PANELS = ("doctor_view", "sample_browser", "train_panel", "temperature_explorer",
          "prune_explorer", "quantize_explorer", "huffman_explorer", "board_explorer",
          "capture_panel", "drawing_pad", "compression_explorer", "digit_on_board",
          "conv_explorer", "window_explorer", "energy_explorer")
#: Widget classes, each in the module named here.
WIDGETS = {"BoardLink": "_board_link"}
__all__ = list(PANELS) + list(WIDGETS)


def __getattr__(name):
    if name in PANELS or name in WIDGETS:
        module = WIDGETS.get(name, f"_{name}")
        value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
