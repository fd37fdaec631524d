"""TinyLab: a TinyML teaching workbench.

Use it as ``import tinylab as tl``; submodules load on first use, so ``tinylab doctor`` and
``import tinylab`` stay fast and TensorFlow is imported only by the modules that need it.

Modules
-------
data        datasets: registry, normalization, seeded stratified splits (lesson 01)
augment     IMU augmentations: jitter, scaling, time shift, window slicing (lesson 09)
crossval    k-fold cross-validation, per-fold standardization, t and Wilson intervals (09)
motion      lesson 09's recipe for IMU models: augment, train, int8, score a fold (09)
models      lesson model builders and their size in parameters and bytes (lesson 02)
train       training with progress bars, evaluation, load_or_train (lesson 02)
distill     knowledge distillation: softmax temperature, eq. (1)-(5), Distiller (lesson 03)
prune       magnitude pruning, masks, retraining, dead neurons, sparse storage (lesson 04)
quantize    affine quantization (lesson 05), k-means weight sharing and its fine-tuning (lesson 06)
qat         quantization-aware training: fake-quantized weights and activations, STE (lesson 05)
convert     Keras -> .tflite (float, dynamic, int8), run in tflite-micro and LiteRT (lesson 05)
huffman     canonical Huffman codes: encode, decode, code tables, entropy (lesson 07)
pipeline    train -> distill -> prune -> share -> Huffman in one call, Deep Compression's table (07)
compression_grid  the compression explorer app's recorded grid of the lesson 03-07 route
export      .tflite -> C array header, and back (08)
engine      the int8 MLP in integers: TFLM-exact numpy reference, generated C in 3 formats (08)
build       compile a sketch for a board (arduino-cli, arduino-builder or plain avr-gcc), flash/RAM, fits? (08)
virtual     the virtual Uno: the compiled firmware in simavr, its UART on a pty (08)
serial      the serial layer: ports (and their boards), lines, the banner handshake (01, 08)
device      the inference sketch's client: paced input lines, answers with latency (08)
capture     the capture sketch's client: record rows into a CSV, cut windows (01)
flash       arduino-cli board list, upload with arduino-cli or avrdude (08)
session     a firmware on a board (real or virtual, uploaded only when needed) and its link
board_server  one process running the apps' boards for every kernel: a few shared virtual Unos
deploy      model -> int8 -> C -> sketch -> board (real or virtual) -> test set over serial (08)
live        live sketches: a sliding IMU window classified on the chip, fed rows or its IMU (09)
energy      cycles per inference -> time, energy at datasheet currents, battery life (08)
deep_compressed  lesson 08's deep-compressed digit model, made once for the draw-a-digit app
workspace   the folder where lessons hand models to each other
errors      TinyLabError, the root of every error TinyLab raises, and the command's exit codes
machine     the CPU and instruction sets a recorded number was measured on
plot        the lessons' figures
boards      board profiles (flash, RAM, clock) and "does it fit?"
doctor      what this machine has: versions, board toolchains, serial ports (lesson 00)
exercises   checkers for the lessons' exercises
assignments  the lessons as graded nbgrader assignments: `tinylab assignments` (course)
widgets     one panel builder per lesson (the only place that imports ipywidgets)
app         `tinylab app`: the Voila command serving the apps
visitors    emulated visitors of a Voila app (page, widgets, a stroke or a slider) for load tests
cli         the `tinylab` command
"""

from __future__ import annotations

import importlib
import os

# TensorFlow's C++ start-up chatter (CUDA probes, CPU flags) reaches students as red text in
# every lesson; keep warnings and errors only. setdefault: a user's own setting wins.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"

_SUBMODULES = ("data", "augment", "crossval", "motion", "models", "train", "distill", "prune", "quantize", "qat", "convert", "huffman",
               "pipeline", "compression_grid", "export", "engine", "build", "virtual", "serial",
               "device", "capture", "flash", "session", "board_server", "deploy", "live", "energy", "deep_compressed", "workspace", "errors",
               "machine", "boards", "plot", "doctor", "exercises", "assignments", "widgets", "app", "visitors", "cli")
__all__ = ["__version__", *_SUBMODULES]


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'tinylab' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
