"""Widget panels, one builder per lesson; the only part of TinyLab that imports ipywidgets.

Each builder returns a fresh container (re-running a cell gives a fresh panel) whose
``controls`` dict names its widgets, so tests and curious students can drive it by setting
``.value`` and calling ``.click()``. Callback output and errors go to an ``Output`` in the
panel, where JupyterLab and Voila show them.
"""

from .board_explorer import board_explorer
from .capture_panel import capture_panel
from .doctor_view import doctor_view
from .drawing_pad import drawing_pad
from .huffman_explorer import huffman_explorer
from .prune_explorer import prune_explorer
from .quantize_explorer import quantize_explorer
from .sample_browser import sample_browser
from .temperature_explorer import temperature_explorer
from .train_panel import train_panel

__all__ = ["doctor_view", "sample_browser", "train_panel", "temperature_explorer", "prune_explorer",
           "quantize_explorer", "huffman_explorer", "board_explorer", "capture_panel", "drawing_pad"]
