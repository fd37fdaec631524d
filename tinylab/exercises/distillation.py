"""The exercise checker of lesson ``03_distillation``."""

from __future__ import annotations

import numpy as np

from . import solutions
from ._result import CheckResult, call_student

__all__ = ["check_soft_loss"]


def _soft_loss_variant(teacher_logits, student_logits, teacher_t, student_t, factor, *,
                       swap=False, kl=False, per_example=False):
    """The soft loss with a common mistake built in, to recognise it in a student's answer."""
    if swap:
        teacher_logits, student_logits = student_logits, teacher_logits

    def log_softmax(logits, temperature):
        z = np.asarray(logits, dtype=np.float64) / temperature
        z = z - z.max(axis=-1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))

    log_p = log_softmax(teacher_logits, teacher_t)
    values = -np.sum(np.exp(log_p) * (log_softmax(student_logits, student_t) - (log_p if kl else 0)),
                     axis=-1)
    return factor * (values.sum() if per_example else values.mean())


def check_soft_loss(soft_loss) -> CheckResult:
    """Lesson 03: ``soft_loss(teacher_logits, student_logits, temperature)``, eq. (3) times T**2.

    Probed with batches of logits of shape ``(n, 10)`` at several temperatures; a wrong answer
    is compared with the usual mistakes (temperature forgotten, ``T**2`` forgotten, teacher
    and student swapped, KL instead of cross-entropy, sum instead of mean) to give a hint.
    """
    name = "Soft loss"
    rng = np.random.default_rng(3)
    mistakes = (
        ("you did not divide the logits by T: both softmaxes need the temperature, eq. (2).",
         dict(teacher_t=1.0, student_t=1.0, factor=1.0)),
        ("you did not divide the logits by T (but kept T**2): both softmaxes need it, eq. (2).",
         dict(teacher_t=1.0, student_t=1.0, factor="T2")),
        ("only the teacher's softmax has the temperature: the student's q must use the same T.",
         dict(teacher_t="T", student_t=1.0, factor="T2")),
        ("the T**2 factor is missing: multiply by temperature**2 so the gradients keep their size.",
         dict(teacher_t="T", student_t="T", factor=1.0)),
        ("you multiplied by T, not T**2.", dict(teacher_t="T", student_t="T", factor="T")),
        ("teacher and student are swapped: p (the target) comes from the teacher's logits, the "
         "log from the student's q: -sum p log q.",
         dict(teacher_t="T", student_t="T", factor="T2", swap=True)),
        ("that is the KL divergence, the cross-entropy minus the teacher's entropy; this "
         "exercise asks for the cross-entropy -sum p log q of eq. (3).",
         dict(teacher_t="T", student_t="T", factor="T2", kl=True)),
        ("you summed over the examples: take the mean, so the loss does not grow with the batch.",
         dict(teacher_t="T", student_t="T", factor="T2", per_example=True)),
    )
    for temperature in (4.0, 1.0, 10.0):
        teacher = rng.normal(0.0, 4.0, size=(5, 10))
        student = rng.normal(0.0, 2.0, size=(5, 10))
        expected = solutions.soft_loss(teacher, student, temperature)
        got, failed = call_student(name, soft_loss, teacher.copy(), student.copy(), temperature,
                            returns="the loss")
        if failed is not None:
            return failed
        try:
            value = np.asarray(got, dtype=np.float64)
        except (TypeError, ValueError):
            return CheckResult(name, False, f"expected a number, got {got!r}.")
        if value.ndim != 0:
            return CheckResult(name, False, f"return one number, the mean over the {len(teacher)} "
                                            f"examples, not an array of shape {value.shape}.")
        if np.isclose(float(value), expected, rtol=1e-5, atol=1e-8):
            continue
        for hint, spec in mistakes:
            spec = dict(spec)
            for key in ("teacher_t", "student_t", "factor"):
                spec[key] = {"T": temperature, "T2": temperature ** 2}.get(spec[key], spec[key])
            if np.isclose(float(value), _soft_loss_variant(teacher, student, **spec), rtol=1e-5):
                return CheckResult(name, False, f"at T = {temperature:g} you returned "
                                                f"{float(value):.4f}, expected {expected:.4f}: {hint}")
        return CheckResult(name, False, f"at T = {temperature:g} you returned {float(value):.4f}, "
                                        f"expected {expected:.4f}. Hint: p = softmax(teacher / T), "
                                        f"q = softmax(student / T), then T**2 * mean(-sum(p * log q)) "
                                        f"over the classes (axis=-1).")
    return CheckResult(name, True, "T**2 times the cross-entropy of the student's soft "
                                   "predictions against the teacher's: the soft half of eq. (5).")
