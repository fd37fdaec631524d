"""The deep-compressed digit model a board carries, made once and kept in the workspace.

Lesson 08 and ``bench/mcu.py`` build it on the way: the mlp300 teacher distilled into the
student, pruned to 70% and weight-shared with 4-bit codebooks (:func:`tinylab.pipeline.run`),
then converted to full int8 (:func:`tinylab.deploy.integer_model`). That takes about half a
minute of training and conversion; an app that shows the model on a board (the Voila app
``notebooks/apps/draw_digit.ipynb``) must not make every visitor wait for it. So
:func:`load_or_compress` saves the float model (``<name>.keras`` and its card) and its int8
``.tflite`` bytes with the float model's ``.tflite`` (``<name>_int8.npz``) in the workspace,
and later calls only read them back, as :func:`tinylab.train.load_or_train` does for a trained
model.

Read back, nothing here imports TensorFlow (about 700 MiB of a kernel): the board's model is
the int8 flatbuffer, read by the engine, and the float model's answer comes from LiteRT on the
float ``.tflite`` (:meth:`DeepCompressed.float_classes`). The Keras model is loaded only if
``.model`` is asked for. An app kernel (issue 18: a room of visitors) stays light.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from . import pipeline

__all__ = ["DISTILLED_ROUTE", "NAME", "DeepCompressed", "load_or_compress"]

#: The distilled route of ``bench/mcu.py`` and lesson 08 (``tl.pipeline.run`` settings):
#: :data:`tinylab.pipeline.ROUTES` ``["distilled"]``.
DISTILLED_ROUTE = pipeline.ROUTES["distilled"]
#: The workspace name of the default route's float model (its int8 bytes: ``NAME + "_int8"``).
NAME = "digits_deep_compressed"


@dataclass
class DeepCompressed:
    """A deep-compressed model, as float Keras and as the int8 integers a board runs.

    Attributes
    ----------
    model : keras.Model
        The float model (pruned, weight-shared), as ``tl.pipeline.run`` left it; read back from
        the workspace only when first asked for (it imports TensorFlow).
    mlp : tinylab.engine.IntegerModel
        Its full-int8 form (one weight scale per layer), what
        :func:`tinylab.engine.generate_c` writes.
    tflite : bytes
        The int8 ``.tflite`` flatbuffer ``mlp`` was read from.
    float_tflite : bytes
        The float model as a ``.tflite`` flatbuffer (LiteRT runs it: :meth:`float_classes`).
    card : dict
        How it was made (route, dataset, split, seed) and what it scored: ``test_accuracy``
        (float), ``int8_test_accuracy`` (the integer reference, :func:`tinylab.engine.run_int8`),
        ``stages`` (the pipeline's per-stage rows).
    cached : bool
        True when read back from the workspace, False when made by this call.
    """

    mlp: object = field(repr=False)
    tflite: bytes = field(repr=False)
    float_tflite: bytes = field(repr=False)
    card: dict
    cached: bool
    load_model: Callable = field(repr=False, default=None)
    _model: object = field(repr=False, default=None)

    @property
    def model(self):
        if self._model is None:
            self._model = self.load_model()
        return self._model

    def float_classes(self, X) -> np.ndarray:
        """The float model's class for each normalized example of ``X``, by LiteRT on
        :attr:`float_tflite` (no TensorFlow): the Keras model's answer."""
        from . import convert

        return convert.predict_classes(self.float_tflite, X, runtime="litert")


def _wanted_card(data, route: dict, seed: int) -> dict:
    return {"route": dict(route), "dataset": data.name,
            "split": list(data.split_sizes().values()), "data_seed": data.seed, "seed": int(seed),
            "weight_scales": "per layer"}


def load_or_compress(data=None, *, route: dict | None = None, seed: int = 0,
                     name: str = NAME, progress: bool = False, recompute: bool = False):
    """The deep-compressed model: from the workspace when it matches, else made and saved.

    Making it runs :func:`tinylab.pipeline.run` with ``route`` (teacher and student from the
    workspace when they match, :func:`tinylab.train.load_or_train`), then
    :func:`tinylab.deploy.integer_model`; about 30 s on two cores with nothing cached. A saved
    model is reused only if its card names the same route, dataset, split and seeds.
    Introduced for the app ``notebooks/apps/draw_digit.ipynb`` (lesson 08's model).

    Parameters
    ----------
    data : tinylab.data.Dataset, optional
        Default ``tl.data.load("digits", seed=0)``.
    route : dict, optional
        ``tl.pipeline.run`` keyword arguments; default :data:`DISTILLED_ROUTE`.
    seed : int
        Seeds every step of the pipeline and the int8 conversion.
    name : str
        Workspace name of the float model; the int8 bytes go to ``name + "_int8"``.
    progress : bool
        Progress bars while training.
    recompute : bool
        Make it again even if the workspace holds a matching one.

    Returns
    -------
    DeepCompressed
    """
    from . import data as datasets
    from . import deploy, engine, workspace

    data = data if data is not None else datasets.load("digits", seed=0)
    route = dict(DISTILLED_ROUTE if route is None else route)
    wanted = _wanted_card(data, route, seed)
    int8_name = f"{name}_int8"
    if not recompute and workspace.has_model(name) and workspace.has_arrays(int8_name):
        card = workspace.load_card(name)
        arrays = workspace.load_arrays(int8_name)
        # a save from before the float .tflite was kept is made again
        if all(card.get(key) == value for key, value in wanted.items()) and "float_tflite" in arrays:
            tflite = arrays["tflite"].tobytes()
            return DeepCompressed(mlp=engine.read_tflite(tflite), tflite=tflite,
                                  float_tflite=arrays["float_tflite"].tobytes(), card=card,
                                  cached=True, load_model=lambda: workspace.load_model(name))
    from . import convert

    result = pipeline.run(data, seed=seed, progress=progress, **route)
    # one weight scale per layer: the shared values stay few int8 values, which Huffman codes
    mlp, tflite = deploy.integer_model(result.model, data, seed=seed, per_channel=False)
    float_tflite = convert.to_tflite(result.model, "float")
    host = engine.run_int8(mlp, engine.quantize_inputs(mlp, data.X_test)).argmax(axis=1)
    card = dict(wanted, model_hash=mlp.model_hash, stages=result.stages,
                test_accuracy=result.stages[-1]["test_accuracy"],
                int8_test_accuracy=float(np.mean(host == np.asarray(data.y_test))))
    workspace.save_arrays(int8_name, tflite=np.frombuffer(tflite, dtype=np.uint8),
                          float_tflite=np.frombuffer(float_tflite, dtype=np.uint8))
    workspace.save_model(result.model, name, card)   # the card last: it marks a whole save
    return DeepCompressed(mlp=mlp, tflite=bytes(tflite), float_tflite=bytes(float_tflite),
                          card=workspace.load_card(name), cached=False, _model=result.model)
