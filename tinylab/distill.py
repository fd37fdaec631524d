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

Two ways to give the student more to learn from than the training digits, measured by
``bench/kd.py`` (k-fold cross-validation over all 1,797 digits):

- **consistent teaching** (Beyer et al. 2022, "Knowledge distillation: A good teacher is
  patient and consistent"): teacher and student see the *same* augmented view of each
  example, drawn afresh every epoch (:func:`augment_digits`), for a long schedule
  (:func:`consistent_distill`);
- a **transfer set the teacher labels**: a fixed set of augmented copies of the training
  digits, computed once, whose labels and soft targets come from the teacher
  (:func:`transfer_set`), distilled on with :func:`distill`.

Introduced in lesson ``03_distillation``.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from . import models, train, workspace
from ._tensorflow import keras

__all__ = ["softmax", "entropy", "soft_loss", "hard_loss", "distillation_loss", "runner_up",
           "Distiller", "distill", "distill_and_save", "alpha_temperature_grid", "FORMS",
           "check_temperature", "augment_digits", "consistent_distill", "transfer_set",
           "DISTILLED_RECIPE", "make_distilled", "load_or_distill"]

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


# --------------------------------------------------------------------------- beyond eq. (5)

def _rng(seed):
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def augment_digits(X, *, seed=0, shift: int = 1, noise_std: float = 0.0,
                   mixup: float = 0.0) -> np.ndarray:
    """A random view of each image: shifted, optionally mixed with another, optionally noisy.

    Views to distill on (:func:`consistent_distill`, :func:`transfer_set`); the labels are
    not touched (a mixed view has no true label: the teacher gives it one).

    Parameters
    ----------
    X : ndarray of float, shape (n, height, width, channels)
        Normalized images, e.g. ``data.X_train`` of the digits (values in [0, 1]).
    seed : int or numpy.random.Generator
        Draws the shifts, partners, mixing weights and noise.
    shift : int >= 0
        Each image moves by ``(dy, dx)``, each drawn uniformly from ``-shift..shift`` pixels;
        what moves in from the border is 0 (blank paper).
    noise_std : float >= 0
        Standard deviation of Gaussian noise added to every pixel; the result is clipped to
        the range of ``X``.
    mixup : float in [0, 1]
        Each image becomes ``(1 - lam) * image + lam * partner``, the partner another image
        of ``X`` chosen at random and ``lam`` drawn uniformly from ``[0, mixup]`` (0: no
        mixing).

    Returns
    -------
    ndarray of float32, the shape of ``X``
    """
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 4:
        raise ValueError(f"X must be images of shape (n, height, width, channels), got {X.shape}")
    if int(shift) != shift or shift < 0 or shift >= min(X.shape[1:3]):
        raise ValueError(f"shift must be a whole number of pixels, 0 <= shift < "
                         f"{min(X.shape[1:3])}, got {shift!r}")
    noise_std = _check_number(noise_std, "noise_std", "a number >= 0 (0: no noise)",
                              lambda v: v >= 0)
    mixup = _check_number(mixup, "mixup", "a number in [0, 1], the largest share of the "
                          "partner image (0: no mixing)", lambda v: 0 <= v <= 1)
    rng, shift = _rng(seed), int(shift)
    n, height, width, _ = X.shape
    low, high = float(X.min(initial=0.0)), float(X.max(initial=1.0))
    views = X
    if shift:
        padded = np.pad(X, ((0, 0), (shift, shift), (shift, shift), (0, 0)))
        dy, dx = rng.integers(-shift, shift + 1, size=(2, n))
        # out[i, r, c] = X[i, r - dy, c - dx], read from the zero-padded images
        rows = (shift - dy)[:, None, None] + np.arange(height)[None, :, None]
        cols = (shift - dx)[:, None, None] + np.arange(width)[None, None, :]
        views = padded[np.arange(n)[:, None, None], rows, cols]
    if mixup:
        lam = rng.uniform(0.0, mixup, size=(n, 1, 1, 1)).astype(np.float32)
        views = (1 - lam) * views + lam * views[rng.permutation(n)]
    if noise_std:
        views = np.clip(views + rng.normal(0.0, noise_std, views.shape), low, high)
    return np.asarray(views, dtype=np.float32)


def consistent_distill(student, teacher, data, *, shift: int = 0, noise_std: float = 0.0,
                       mixup: float = 0.5, temperature: float = 1.0, alpha: float = 1.0,
                       epochs: int = 200, batch_size: int = 64, learning_rate: float = 1e-3,
                       cosine: bool = True, seed: int = 0, validate: bool = True,
                       progress: bool = True, callbacks=()):
    """Consistent teaching (Beyer et al. 2022): teacher and student see the same fresh view.

    Every epoch each training image is replaced by a new random view (:func:`augment_digits`)
    and the teacher's soft targets are computed on that same view, inside the training step
    (:class:`Distiller`): the student matches the teacher's *function* at points around the
    training digits, not the teacher's answers on the bare digits. Beyer et al. found this
    needs a long schedule ("patient"): ``epochs`` defaults to 200, five times lesson 02's.

    With ``teacher=None`` the same views train the student on the true labels alone: the
    control that tells what the views give without a teacher.

    Parameters
    ----------
    student : keras.Model
    teacher : keras.Model or None
    data : tinylab.data.Dataset
        Trains on ``data.X_train``; ``data.X_val`` is scored after each epoch when
        ``validate``.
    shift, noise_std, mixup
        The views, see :func:`augment_digits`. Mixed views have no true label, so
        ``mixup > 0`` needs ``alpha = 1`` (and a teacher). The defaults are ``bench/kd.py``'s
        choice on validation folds: mixing, no shift (the MLP is not translation-invariant,
        and one pixel is an eighth of a digit: shifted views were harder than they helped).
    temperature, alpha
        Eq. (5)'s knobs (Beyer et al. use ``alpha = 1``, the soft loss alone, at ``T = 1``).
    epochs, batch_size : int
    learning_rate : float
        Adam's initial step size.
    cosine : bool
        Decay the step size to 0 along a cosine over the whole schedule, as Beyer et al.
    seed : int
        Seeds the views and their order.
    validate, progress, callbacks
        As :func:`tinylab.train.fit`.

    Returns
    -------
    keras.callbacks.History
    """
    from ._tensorflow import tf

    if int(epochs) != epochs or epochs < 1:
        raise ValueError(f"epochs must be a whole number >= 1, got {epochs!r}")
    if int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"batch_size must be a whole number >= 1, got {batch_size!r}")
    if not learning_rate > 0:
        raise ValueError(f"learning_rate must be > 0, got {learning_rate}")
    alpha = _check_alpha(alpha)
    augment_digits(data.X_train[:2], shift=shift, noise_std=noise_std, mixup=mixup)  # checks
    if mixup and (teacher is None or alpha < 1):
        raise ValueError("a mixed view has no true label, so mixup > 0 needs a teacher and "
                         "alpha = 1 (the soft loss alone); use mixup=0 to train on labels")
    X, y = np.asarray(data.X_train, np.float32), np.asarray(data.y_train, np.int64)
    steps = math.ceil(len(y) / int(batch_size))
    rng = np.random.default_rng(seed)   # shared by every epoch: each one draws new views

    def all_epochs():
        for _ in range(int(epochs)):
            order = rng.permutation(len(y))
            views = augment_digits(X[order], seed=rng, shift=shift, noise_std=noise_std,
                                   mixup=mixup)
            for start in range(0, len(y), int(batch_size)):
                batch = order[start:start + int(batch_size)]
                yield views[start:start + int(batch_size)], y[batch]

    signature = (tf.TensorSpec((None,) + tuple(X.shape[1:]), tf.float32),
                 tf.TensorSpec((None,), tf.int64))
    # One stream for the whole schedule, cut into epochs by steps_per_epoch (Keras keeps
    # reading the same iterator), prefetched while the step before trains.
    stream = tf.data.Dataset.from_generator(all_epochs, output_signature=signature).prefetch(4)
    rate = (keras.optimizers.schedules.CosineDecay(learning_rate, int(epochs) * steps)
            if cosine else learning_rate)
    if teacher is None:
        model = student
        model.compile(optimizer=keras.optimizers.Adam(rate),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"])
    else:
        model = Distiller(student, teacher)
        model.compile(keras.optimizers.Adam(rate), alpha=alpha, temperature=temperature)
    all_callbacks = list(callbacks)
    if progress:
        all_callbacks.append(train.ProgressBar(int(epochs),
                                               description=f"views for {student.name}"))
    validation = (train.batches(data.X_val, data.y_val, 256, seed, shuffle=False)
                  if validate else None)
    return model.fit(stream, epochs=int(epochs), steps_per_epoch=steps, shuffle=False,
                     validation_data=validation, verbose=0, callbacks=all_callbacks)


def transfer_set(teacher, data, *, copies: int = 4, shift: int = 1, noise_std: float = 0.0,
                 mixup: float = 0.0, seed: int = 0):
    """``data`` with a larger training part: the digits plus augmented copies the teacher labels.

    The copies are drawn once (:func:`augment_digits`), unlike :func:`consistent_distill`'s
    fresh views; each copy's label is the teacher's answer (its arg-max), the soft targets
    come from the teacher during :func:`distill` as for any example. The original digits
    keep their true labels. The validation and test parts are unchanged.

    Parameters
    ----------
    teacher : keras.Model
    data : tinylab.data.Dataset
    copies : int >= 1
        Augmented copies of each training digit.
    shift, noise_std, mixup, seed
        See :func:`augment_digits`.

    Returns
    -------
    tinylab.data.Dataset
        ``X_train`` of ``(1 + copies) * n`` examples; ``extra["teacher_labelled"]`` is a
        boolean mask of the copies.
    """
    if int(copies) != copies or copies < 1:
        raise ValueError(f"copies must be a whole number >= 1, got {copies!r}")
    rng = np.random.default_rng(seed)
    X = np.asarray(data.X_train, np.float32)
    views = np.concatenate([augment_digits(X, seed=rng, shift=shift, noise_std=noise_std,
                                           mixup=mixup) for _ in range(int(copies))])
    labels = train.predict_classes(teacher, views)
    labelled = np.concatenate([np.zeros(len(X), bool), np.ones(len(views), bool)])
    return dataclasses.replace(data, X_train=np.concatenate([X, views]),
                               y_train=np.concatenate([data.y_train, labels]).astype(np.int64),
                               extra=dict(data.extra, teacher_labelled=labelled))


# --------------------------------------------------------------------------- the hand-off

#: How lesson 03 distills the lesson student it hands to the later lessons: the teacher
#: ``mlp300`` into ``student`` (64-32-10), from the same initial weights (seed) and with the
#: same epochs and learning rate as lesson 02 trains that student on the labels alone, on the
#: training digits plus a **transfer set** the teacher labels (``transfer``:
#: :func:`transfer_set`'s settings, 4 mixed copies of each training digit). ``temperature``
#: and ``alpha`` were checked on validation data (bench/kd.py's docstring: on the digits
#: split, seeds 0-2, every T in {2, 4, 8} x alpha in {0.5, 0.9} within one validation digit of
#: the others, so T = 4, alpha = 0.9 were kept); the transfer set's settings were chosen on
#: the validation parts of bench/kd.py's folds (``--select``). In bench/kd.py's 5-fold runs
#: the same recipe on the training digits alone left the student *worse* than the labels alone
#: (-29% of the gap), with the transfer set it closed 60% (docs/benchmarks.md). The
#: compression grid (tinylab.compression_grid.SETTINGS) repeats these values.
DISTILLED_RECIPE = {"student": "student", "temperature": 4.0, "alpha": 0.9, "epochs": 40,
                    "learning_rate": 1e-3,
                    "transfer": {"copies": 4, "shift": 0, "noise_std": 0.0, "mixup": 0.5}}


def _distilled_card(data, seed, recipe) -> dict:
    return dict(train.model_card(recipe["student"], data, int(recipe["epochs"]), seed),
                teacher="mlp300", temperature=float(recipe["temperature"]),
                alpha=float(recipe["alpha"]), learning_rate=float(recipe["learning_rate"]),
                transfer=dict(recipe["transfer"]))


def make_distilled(data, teacher, *, seed: int = 0, progress: bool = True):
    """Distill and save lesson 03's student with :data:`DISTILLED_RECIPE` (lesson 03 calls it).

    The recipe's student, built from ``seed``'s initial weights, is distilled (:func:`distill`
    at the recipe's temperature, alpha, epochs and learning rate) on ``data``'s training digits
    plus the transfer set ``teacher`` labels (:func:`transfer_set` with the recipe's
    ``transfer`` settings), and saved as ``student_distilled`` with a card made from ``data``
    and the recipe: the model :func:`load_or_distill` reuses.

    Returns
    -------
    (student, history)
    """
    recipe = DISTILLED_RECIPE
    student = models.build(recipe["student"], data.input_shape, data.n_classes, seed=seed)
    transfer = transfer_set(teacher, data, seed=seed, **recipe["transfer"])
    history = distill(student, teacher, transfer, temperature=recipe["temperature"],
                      alpha=recipe["alpha"], epochs=int(recipe["epochs"]),
                      learning_rate=recipe["learning_rate"], seed=seed, progress=progress)
    card = dict(_distilled_card(data, seed, recipe),
                test_accuracy=train.accuracy(student, data.X_test, data.y_test),
                params=models.count_params(student))
    workspace.save_model(student, "student_distilled", card)
    return student, history


def load_or_distill(data, *, teacher=None, seed: int = 0, progress: bool = True):
    """Lesson 03's distilled student: from the workspace, else distilled again the same way.

    Distilling again means :func:`make_distilled` (:data:`DISTILLED_RECIPE`, on the
    training digits and a transfer set the teacher labels) from the teacher (``teacher``, or
    ``tl.train.load_or_train("mlp300", data)``), saved as ``student_distilled``.

    Returns
    -------
    keras.Model
    """
    if workspace.reuse("student_distilled", _distilled_card(data, seed, DISTILLED_RECIPE)):
        return workspace.load_model("student_distilled")
    if teacher is None:
        teacher = train.load_or_train("mlp300", data, seed=seed, progress=progress)
    student, _ = make_distilled(data, teacher, seed=seed, progress=progress)
    return student
