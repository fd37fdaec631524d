"""Knowledge distillation: a small student learns from a large teacher's soft targets.

The survey's section 1.2.5.1 (eq. (1)-(5)), after Hinton, Vinyals & Dean (2015), "Distilling
the knowledge in a neural network":

- eq. (1)-(2): the softmax at a temperature ``T``, ``q_i = exp(z_i / T) / sum_j exp(z_j / T)``;
  ``T > 1`` spreads the probability over the classes (:func:`softmax`);
- eq. (3): the *soft* loss between the teacher's soft targets ``p`` and the student's ``q``,
  both at temperature ``T`` (:func:`soft_loss`);
- eq. (4): the *hard* loss, cross-entropy with the true labels at ``T = 1`` (:func:`hard_loss`);
- eq. (5): ``alpha * soft + (1 - alpha) * hard`` (:func:`distillation_loss`).

Unlike the survey's eq. (5), the soft term here is multiplied by ``T**2`` (``scale=True``), as
Hinton et al. do: the soft loss's gradient with respect to the student's logits is
``(q - p) / T``, which shrinks as ``1/T**2`` once the logits are small against ``T``; the
factor keeps the two terms' gradients comparable whatever the temperature, so ``alpha`` means
the same thing at ``T = 2`` and at ``T = 20``.

The numpy functions are for lessons and tests; :class:`Distiller` computes the same loss on
tensors inside Keras' ``fit``, and :func:`distill` trains a student with it the way
:func:`tinylab.train.fit` trains a model.

Introduced in lesson ``03_distillation``.
"""

from __future__ import annotations

import numpy as np

from . import models, train, workspace
from ._tensorflow import keras

__all__ = ["softmax", "entropy", "soft_loss", "hard_loss", "distillation_loss", "runner_up",
           "Distiller", "distill", "distill_and_save", "alpha_temperature_grid", "FORMS",
           "check_temperature", "DISTILLED_RECIPE", "load_or_distill"]

#: The two forms of the soft loss. They differ by the teacher's entropy, a constant for the
#: student, so they give the same gradients and train the same student.
FORMS = ("cross_entropy", "kl")


# --------------------------------------------------------------------------- checks

def _check_number(value, name: str, rule: str, valid) -> float:
    """``float(value)`` if ``valid`` accepts it, else ValueError naming ``name`` and ``rule``."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not (np.isfinite(number) and valid(number)):
        raise ValueError(f"{name} must be {rule}; got {value!r}")
    return number


def check_temperature(temperature) -> float:
    """A softmax temperature checked: a finite number > 0 (lesson 03).

    Parameters
    ----------
    temperature : float
        1 is the ordinary softmax; 2-20 softens it.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If ``temperature`` is not a finite number > 0.
    """
    return _check_number(temperature, "temperature", "a finite number > 0 (1 is the ordinary "
                         "softmax, 2-20 softens it)", lambda t: t > 0)


def _check_alpha(alpha) -> float:
    return _check_number(alpha, "alpha", "a number in [0, 1], the weight of the soft loss: 1 "
                         "trains on the teacher's soft targets only, 0 on the true labels only",
                         lambda a: 0.0 <= a <= 1.0)


def _check_form(form) -> str:
    if form not in FORMS:
        raise ValueError(f"form must be one of {FORMS}, got {form!r}")
    return form


def _logits_pair(teacher_logits, student_logits):
    teacher_logits = np.asarray(teacher_logits, dtype=np.float64)
    student_logits = np.asarray(student_logits, dtype=np.float64)
    if teacher_logits.shape != student_logits.shape:
        raise ValueError(f"teacher and student logits must have the same shape (examples, "
                         f"classes), got {teacher_logits.shape} and {student_logits.shape}")
    return teacher_logits, student_logits


# --------------------------------------------------------------------------- numpy, eq. (1)-(5)

def _log_softmax(logits, temperature):
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    # Subtracting the largest logit changes nothing mathematically and keeps exp() <= 1,
    # so logits of 1000 do not overflow.
    shifted = scaled - scaled.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def softmax(logits, temperature: float = 1.0) -> np.ndarray:
    """Softmax at a temperature, eq. (2) of the survey (eq. (1) when ``temperature=1``).

    Parameters
    ----------
    logits : array_like of float, shape (..., n_classes)
        A model's outputs before the softmax; the last axis holds the classes.
    temperature : float, > 0
        ``T``; above 1 the probabilities spread out, towards ``1/n_classes`` as ``T`` grows.

    Returns
    -------
    ndarray of float64, the shape of ``logits``
        Probabilities that add up to 1 along the last axis. Stable for any logits (the largest
        is subtracted before ``exp``).
    """
    temperature = check_temperature(temperature)
    return np.exp(_log_softmax(logits, temperature))


def entropy(probabilities) -> np.ndarray:
    """Entropy ``-sum_i p_i ln p_i`` in nats along the last axis (``0 ln 0 = 0``)."""
    p = np.asarray(probabilities, dtype=np.float64)
    return -np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0), axis=-1)


def soft_loss(teacher_logits, student_logits, temperature: float, *, form: str = "cross_entropy",
              scale: bool = True) -> float:
    """The soft loss of eq. (3): teacher ``p`` against student ``q``, both at temperature ``T``.

    Parameters
    ----------
    teacher_logits, student_logits : array_like, shape (n_classes,) or (n, n_classes)
        The teacher's logits come **first**: ``p = softmax(teacher / T)`` is the target.
    temperature : float, > 0
    form : {"cross_entropy", "kl"}
        ``"cross_entropy"``: ``-sum_i p_i ln q_i``, eq. (3) as the survey writes it.
        ``"kl"``: ``sum_i p_i ln(p_i / q_i)``, the Kullback-Leibler divergence, which is the
        cross-entropy minus the teacher's entropy: 0 when the student matches the teacher.
    scale : bool
        Multiply by ``T**2`` (Hinton et al.) so the gradients do not shrink as ``1/T**2``.

    Returns
    -------
    float
        The mean over the examples, in nats.
    """
    temperature = check_temperature(temperature)
    form = _check_form(form)
    teacher_logits, student_logits = _logits_pair(teacher_logits, student_logits)
    log_p = _log_softmax(teacher_logits, temperature)
    log_q = _log_softmax(student_logits, temperature)
    p = np.exp(log_p)
    per_example = -np.sum(p * log_q, axis=-1)
    if form == "kl":
        per_example = per_example - entropy(p)
    factor = temperature ** 2 if scale else 1.0
    return float(factor * np.mean(per_example))


def hard_loss(labels, student_logits) -> float:
    """The hard loss of eq. (4): cross-entropy with the true labels at ``T = 1``, in nats.

    Parameters
    ----------
    labels : array_like of int, shape () or (n,)
        True class indices.
    student_logits : array_like of float, shape (n_classes,) or (n, n_classes)

    Returns
    -------
    float
        ``-ln q_y`` averaged over the examples.
    """
    log_q = _log_softmax(np.atleast_2d(student_logits), 1.0)
    labels = np.atleast_1d(np.asarray(labels))
    if labels.shape != log_q.shape[:1]:
        raise ValueError(f"need one label per example: {log_q.shape[0]} examples of logits but "
                         f"labels of shape {labels.shape}")
    if labels.min() < 0 or labels.max() >= log_q.shape[1]:
        raise ValueError(f"labels must be class indices 0..{log_q.shape[1] - 1}, got "
                         f"{labels.min()}..{labels.max()}")
    return float(-np.mean(log_q[np.arange(len(labels)), labels.astype(int)]))


def distillation_loss(labels, teacher_logits, student_logits, *, temperature: float,
                      alpha: float, form: str = "cross_entropy", scale: bool = True) -> float:
    """Eq. (5): ``alpha * soft_loss + (1 - alpha) * hard_loss``.

    ``alpha = 1`` trains on the teacher's soft targets only, ``alpha = 0`` on the labels only.
    See :func:`soft_loss` and :func:`hard_loss` for the parameters.
    """
    alpha = _check_alpha(alpha)
    soft = soft_loss(teacher_logits, student_logits, temperature, form=form, scale=scale)
    return alpha * soft + (1.0 - alpha) * hard_loss(labels, student_logits)


def runner_up(teacher_logits, labels, *, true_class=None, second_class=None) -> int:
    """The example whose *second* choice the teacher believes in most: dark knowledge.

    Among the examples the teacher classifies correctly (optionally only those of
    ``true_class``, and whose runner-up is ``second_class``), the index of the one with the
    largest second-highest probability at ``T = 1``. Lesson 03 uses it to find a real "2 that
    looks a bit like a 7" (the survey's example).

    Parameters
    ----------
    teacher_logits : array_like, shape (n, n_classes)
    labels : array_like of int, shape (n,)
    true_class, second_class : int, optional

    Raises
    ------
    ValueError
        No correctly classified example matches.
    """
    logits = np.asarray(teacher_logits, dtype=np.float64)
    labels = np.asarray(labels)
    if logits.ndim != 2 or len(logits) != len(labels):
        raise ValueError(f"need logits of shape (n, n_classes) and n labels, got {logits.shape} "
                         f"and {labels.shape}")
    p = softmax(logits)
    order = np.argsort(-p, axis=1)
    chosen = order[:, 0] == labels
    if true_class is not None:
        chosen &= labels == true_class
    if second_class is not None:
        chosen &= order[:, 1] == second_class
    if not chosen.any():
        raise ValueError(f"no correctly classified example with true class {true_class} and "
                         f"runner-up {second_class}; leave one of them as None")
    second = p[np.arange(len(p)), order[:, 1]]
    return int(np.flatnonzero(chosen)[np.argmax(second[chosen])])


# --------------------------------------------------------------------------- Keras

def _soft_loss_tensor(teacher_logits, student_logits, temperature, form, scale):
    """Tensor version of :func:`soft_loss` (mean over the batch), for the Distiller."""
    ops = keras.ops
    log_p = ops.log_softmax(teacher_logits / temperature, axis=-1)
    log_q = ops.log_softmax(student_logits / temperature, axis=-1)
    p = ops.exp(log_p)
    per_example = -ops.sum(p * log_q, axis=-1)
    if form == "kl":
        per_example = per_example + ops.sum(p * log_p, axis=-1)
    factor = temperature ** 2 if scale else 1.0
    return factor * ops.mean(per_example)


def _output_size(model) -> int:
    return int(model.output_shape[-1])


class Distiller(keras.Model):
    """A student trained on eq. (5) against a frozen teacher, with Keras' ``fit``.

    ``Distiller(student, teacher)``, then ``compile(optimizer, alpha=..., temperature=...)``
    and ``fit`` (progress bars and callbacks work as for any model). The distiller's output is
    the student's logits, so ``metrics=["accuracy"]`` measures the student; only the
    student's weights are trained (the teacher is frozen and runs in inference mode).
    Save the student (``distiller.student``), not the distiller.

    Parameters
    ----------
    student, teacher : keras.Model
        Both take the same inputs and return logits for the same classes. The student comes
        first, as in keras-io's example.
    allow_larger_student : bool
        A student with more parameters than its teacher is almost always the two swapped by
        mistake, so it is refused unless this is True.
    """

    def __init__(self, student, teacher, *, allow_larger_student: bool = False, **kwargs):
        kwargs.setdefault("name", f"distilled_{student.name}")
        super().__init__(**kwargs)
        if student is teacher:
            raise ValueError("student and teacher are the same model; distill a trained "
                             "teacher into a separate, smaller student")
        if _output_size(teacher) != _output_size(student):
            raise ValueError(f"the teacher {teacher.name!r} returns {_output_size(teacher)} logits "
                             f"but the student {student.name!r} returns {_output_size(student)}; "
                             f"both must have one logit per class of the same dataset")
        student_params, teacher_params = models.count_params(student), models.count_params(teacher)
        if student_params > teacher_params and not allow_larger_student:
            raise ValueError(f"the student {student.name!r} ({student_params:,} parameters) is "
                             f"larger than the teacher {teacher.name!r} ({teacher_params:,}): "
                             f"were they swapped? Call Distiller(student, teacher), student "
                             f"first; pass allow_larger_student=True if you mean it")
        self.student = student
        self.teacher = teacher
        self.teacher.trainable = False
        self.alpha, self.temperature, self.form, self.scale = 0.5, 1.0, "kl", True
        self.soft_loss_tracker = keras.metrics.Mean(name="soft_loss")
        self.hard_loss_tracker = keras.metrics.Mean(name="hard_loss")

    # fit() in tinylab.train checks these against the dataset
    @property
    def input_shape(self):
        return self.student.input_shape

    @property
    def output_shape(self):
        return self.student.output_shape

    def compile(self, optimizer="adam", metrics=("accuracy",), *, alpha: float = 0.5,
                temperature: float = 4.0, form: str = "kl", scale: bool = True, **kwargs):
        """Set the optimizer and eq. (5)'s knobs.

        Parameters
        ----------
        optimizer : keras optimizer or its name
        metrics : list
            Computed on the student's logits against the true labels.
        alpha : float in [0, 1]
            Weight of the soft loss; ``1 - alpha`` weighs the hard loss (eq. (5); note that
            keras-io's example uses ``alpha`` for the *hard* loss).
        temperature : float > 0
        form : {"kl", "cross_entropy"}
            Same gradients; ``"kl"`` reads 0 when the student matches the teacher.
        scale : bool
            Multiply the soft loss by ``T**2``.
        """
        self.alpha = _check_alpha(alpha)
        self.temperature = check_temperature(temperature)
        self.form = _check_form(form)
        self.scale = bool(scale)
        super().compile(optimizer=optimizer, metrics=list(metrics), **kwargs)

    def call(self, x, training=False):
        return self.student(x, training=training)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        teacher_logits = keras.ops.stop_gradient(self.teacher(x, training=False))
        soft = _soft_loss_tensor(teacher_logits, y_pred, self.temperature, self.form, self.scale)
        hard = keras.ops.mean(keras.losses.sparse_categorical_crossentropy(
            y, y_pred, from_logits=True))
        self.soft_loss_tracker.update_state(soft)
        self.hard_loss_tracker.update_state(hard)
        return self.alpha * soft + (1.0 - self.alpha) * hard


def distill(student, teacher, data, *, temperature: float = 4.0, alpha: float = 0.5,
            epochs: int = 30, batch_size: int = 32, learning_rate: float = 1e-3, seed: int = 0,
            form: str = "kl", scale: bool = True, progress: bool = True, callbacks=()):
    """Train ``student`` on eq. (5) against a trained ``teacher``, like :func:`tinylab.train.fit`.

    The teacher is frozen; the student's weights change in place. Training examples are
    shuffled with ``seed`` (:func:`tinylab.train.fit`'s seeded shuffle), and the validation
    split is evaluated after each epoch.

    Parameters
    ----------
    student, teacher : keras.Model
        Both take ``data.input_shape`` inputs and return ``data.n_classes`` logits.
    data : tinylab.data.Dataset
    temperature : float > 0
    alpha : float in [0, 1]
        Weight of the soft loss (eq. (5)).
    epochs, batch_size : int
    learning_rate : float
        Adam's step size.
    seed : int
    form, scale
        See :func:`soft_loss`.
    progress : bool
        Draw a :class:`tinylab.train.ProgressBar`.
    callbacks : sequence of keras.callbacks.Callback

    Returns
    -------
    keras.callbacks.History
        ``loss`` (eq. (5)), ``soft_loss``, ``hard_loss``, ``accuracy`` and their ``val_``
        counterparts per epoch.
    """
    if not learning_rate > 0:
        raise ValueError(f"learning_rate must be > 0, got {learning_rate}")
    distiller = Distiller(student, teacher)
    distiller.compile(keras.optimizers.Adam(learning_rate), alpha=alpha, temperature=temperature,
                      form=form, scale=scale)
    return train.fit(distiller, data, epochs=epochs, batch_size=batch_size, seed=seed,
                     progress=progress, callbacks=callbacks, compile=False)


def distill_and_save(student_name: str, teacher, data, *, temperature: float = 4.0,
                     alpha: float = 0.5, epochs: int | None = None, learning_rate: float = 1e-3,
                     seed: int = 0, progress: bool = True, save_as: str = "student_distilled"):
    """Build a named lesson student, distill ``teacher`` into it, save it to the workspace.

    Later lessons load it with ``tl.workspace.load_model(save_as)``; its card records the
    teacher, ``temperature``, ``alpha``, epochs, seed and test accuracy.

    Returns
    -------
    (student, history)
    """
    if student_name not in models.ARCHITECTURES:
        raise ValueError(f"unknown model {student_name!r}; choose one of {models.available()}")
    epochs = int(epochs or models.ARCHITECTURES[student_name]["epochs"])
    student = models.build(student_name, data.input_shape, data.n_classes, seed=seed)
    history = distill(student, teacher, data, temperature=temperature, alpha=alpha,
                      epochs=epochs, learning_rate=learning_rate, seed=seed, progress=progress)
    card = dict(train.model_card(student_name, data, epochs, seed), teacher=teacher.name,
                temperature=float(temperature), alpha=float(alpha),
                learning_rate=float(learning_rate),
                test_accuracy=train.accuracy(student, data.X_test, data.y_test),
                params=models.count_params(student))
    workspace.save_model(student, save_as, card)
    return student, history


def alpha_temperature_grid(student_name: str, teacher, data, *, alphas=(0.1, 0.5, 0.9),
                           temperatures=(1.0, 4.0, 10.0), epochs: int = 20,
                           learning_rate: float = 1e-3, seed: int = 0,
                           progress: bool = False) -> np.ndarray:
    """Validation accuracy of a distilled student for each ``alpha`` (rows) and ``T`` (columns).

    Every cell starts from the same initial student (``seed``) and trains ``epochs`` epochs;
    the accuracy is measured on the **validation** split, the one to choose ``alpha`` and
    ``T`` on (the test split stays unseen until the end).

    Returns
    -------
    ndarray of float, shape (len(alphas), len(temperatures))
    """
    accuracies = np.zeros((len(alphas), len(temperatures)))
    for i, alpha in enumerate(alphas):
        for j, temperature in enumerate(temperatures):
            student = models.build(student_name, data.input_shape, data.n_classes, seed=seed)
            distill(student, teacher, data, temperature=temperature, alpha=alpha, epochs=epochs,
                    learning_rate=learning_rate, seed=seed, progress=progress)
            accuracies[i, j] = train.accuracy(student, data.X_val, data.y_val)
    return accuracies


# --------------------------------------------------------------------------- the hand-off

#: How lesson 03 distills the lesson student it hands to the later lessons: the teacher
#: ``mlp300`` into ``student`` (64-32-10), from the same initial weights (seed) and with the
#: same epochs and learning rate as lesson 02 trains that student on the labels alone, so that
#: only the loss differs. ``temperature`` and ``alpha`` are chosen on validation data
#: (bench/kd.py).
DISTILLED_RECIPE = {"student": "student", "temperature": 4.0, "alpha": 0.9, "epochs": 40,
                    "learning_rate": 1e-3}


def _distilled_card(data, seed, recipe) -> dict:
    return dict(train.model_card(recipe["student"], data, int(recipe["epochs"]), seed),
                teacher="mlp300", temperature=float(recipe["temperature"]),
                alpha=float(recipe["alpha"]), learning_rate=float(recipe["learning_rate"]))


def load_or_distill(data, *, teacher=None, seed: int = 0, progress: bool = True):
    """Lesson 03's distilled student: from the workspace, else distilled again the same way.

    Distilling again means :func:`distill_and_save` with :data:`DISTILLED_RECIPE` from the
    teacher (``teacher``, or ``tl.train.load_or_train("mlp300", data)``), saved as
    ``student_distilled``.

    Returns
    -------
    keras.Model
    """
    recipe = DISTILLED_RECIPE
    if workspace.reuse("student_distilled", _distilled_card(data, seed, recipe)):
        return workspace.load_model("student_distilled")
    if teacher is None:
        teacher = train.load_or_train("mlp300", data, seed=seed, progress=progress)
    student, _ = distill_and_save(recipe["student"], teacher, data,
                                  temperature=recipe["temperature"], alpha=recipe["alpha"],
                                  epochs=recipe["epochs"], learning_rate=recipe["learning_rate"],
                                  seed=seed, progress=progress, save_as="student_distilled")
    return student
