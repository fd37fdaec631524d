"""The lessons' figures.

Every function builds a :class:`matplotlib.figure.Figure` directly (not through pyplot) and
returns it: a notebook shows it as the cell's value, a widget panel shows it in its
``Output``, a script saves it. Nothing is kept in pyplot's figure list, so a panel that redraws
on every slider move does not leak figures, and nothing here sets global styles.

One module per lesson or topic (``plot/pruning.py`` for lesson 04, ...); every figure is also
here, as ``tl.plot.<name>``.
"""

from __future__ import annotations

from .data import digit, sample, image_grid, class_balance, pixel_stats, imu_windows
from .training import history, confusion_matrix, model_sizes
from .distillation import soft_targets, distillation_grid
from .pruning import weight_histogram, pruning_curve, sensitivity_curves, pruning_schedules
from .quantization import quantization_levels, accuracy_vs_bits, straight_through
from .huffman import huffman_tree, code_lengths, bits_per_symbol, compression_stages
from .boards import board_usage, board_answer, battery_life
from .compression import compression_waterfall
from .cnn import feature_map, model_comparison
from .motion import augmentations, cross_validation

__all__ = [
    "digit", "sample", "image_grid", "class_balance", "pixel_stats",
    "imu_windows", "history", "confusion_matrix", "model_sizes", "soft_targets",
    "distillation_grid", "weight_histogram", "pruning_curve", "sensitivity_curves",
    "pruning_schedules", "quantization_levels",
    "accuracy_vs_bits", "straight_through",
    "huffman_tree", "code_lengths", "bits_per_symbol", "compression_stages", "board_usage",
    "board_answer", "battery_life", "compression_waterfall", "feature_map", "model_comparison",
    "augmentations", "cross_validation",
]
