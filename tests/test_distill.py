"""Knowledge distillation (tinylab.distill, lesson 03): eq. (1)-(5) by hand, the Distiller, the
swap guard, bad input, the soft-loss exercise and the temperature explorer."""

import re

import numpy as np
import pytest

import tinylab as tl
from tinylab import distill
from tinylab._tensorflow import keras, tf

LN2 = np.log(2.0)


# --------------------------------------------------------------------------- softmax, eq. (1)-(2)

def test_softmax_by_hand_at_t1():
    # e^2, e^1, e^0.1 = 7.389, 2.718, 1.105; sum 11.212
    np.testing.assert_allclose(distill.softmax([2.0, 1.0, 0.1]), [0.659, 0.242, 0.099], atol=1e-3)


def test_softmax_by_hand_at_higher_temperatures():
    # T = 2: e^1, e^0.5, e^0.05 = 2.718, 1.649, 1.051; sum 5.418
    np.testing.assert_allclose(distill.softmax([2.0, 1.0, 0.1], 2.0), [0.502, 0.304, 0.194],
                               atol=1e-3)
    # logits (ln 4, 0) at T = 2 -> e^(ln 2), 1 = (2, 1) -> (2/3, 1/3)
    np.testing.assert_allclose(distill.softmax([np.log(4.0), 0.0], 2.0), [2 / 3, 1 / 3])
    # very high T: nearly uniform
    np.testing.assert_allclose(distill.softmax([2.0, 1.0, 0.1], 1e6), [1 / 3] * 3, atol=1e-6)


def test_softmax_of_a_small_temperature_approaches_one_hot():
    np.testing.assert_allclose(distill.softmax([2.0, 1.0, 0.1], 0.01), [1.0, 0.0, 0.0], atol=1e-12)


@pytest.mark.parametrize("temperature", [0.5, 1.0, 20.0])
def test_softmax_is_stable_for_huge_logits(temperature):
    p = distill.softmax([[1000.0, 999.0, -1000.0], [-1e5, -1e5, -1e5]], temperature)
    assert np.all(np.isfinite(p))
    np.testing.assert_allclose(p.sum(axis=-1), 1.0)
    np.testing.assert_allclose(p[1], [1 / 3] * 3)
    # only the difference of logits matters: (1000, 999) behaves like (1, 0)
    np.testing.assert_allclose(p[0, :2] / p[0, :2].sum(), distill.softmax([1.0, 0.0], temperature))


def test_softmax_keeps_shape_and_works_row_by_row():
    logits = np.arange(12.0).reshape(2, 2, 3)
    p = distill.softmax(logits, 3.0)
    assert p.shape == logits.shape
    np.testing.assert_allclose(p[1, 0], distill.softmax(logits[1, 0], 3.0))


# --------------------------------------------------------------------------- losses, eq. (3)-(5)

def test_soft_loss_by_hand_and_argument_order():
    teacher, student = [np.log(3.0), 0.0], [0.0, 0.0]   # p = (3/4, 1/4), q = (1/2, 1/2)
    assert distill.soft_loss(teacher, student, 1.0) == pytest.approx(LN2)
    # swapped: -(1/2 ln 3/4 + 1/2 ln 1/4) = 0.8370, a different number
    swapped = -(0.5 * np.log(0.75) + 0.5 * np.log(0.25))
    assert distill.soft_loss(student, teacher, 1.0) == pytest.approx(swapped)
    assert swapped == pytest.approx(0.8370, abs=1e-4)


def test_soft_loss_is_scaled_by_t_squared():
    teacher, student = [np.log(9.0), 0.0], [0.0, 0.0]   # at T = 2: p = (3/4, 1/4)
    assert distill.soft_loss(teacher, student, 2.0, scale=False) == pytest.approx(LN2)
    assert distill.soft_loss(teacher, student, 2.0) == pytest.approx(4 * LN2)


def test_cross_entropy_and_kl_differ_by_the_teachers_entropy():
    rng = np.random.default_rng(0)
    teacher, student = rng.normal(0, 3, (6, 10)), rng.normal(0, 3, (6, 10))
    for temperature in (1.0, 4.0):
        ce = distill.soft_loss(teacher, student, temperature, form="cross_entropy", scale=False)
        kl = distill.soft_loss(teacher, student, temperature, form="kl", scale=False)
        h = distill.entropy(distill.softmax(teacher, temperature)).mean()
        assert ce - kl == pytest.approx(h, rel=1e-9)
        assert kl > 0
    # the difference does not depend on the student
    other = rng.normal(0, 3, (6, 10))
    gaps = [distill.soft_loss(teacher, s, 4.0) - distill.soft_loss(teacher, s, 4.0, form="kl")
            for s in (student, other)]
    assert gaps[0] == pytest.approx(gaps[1])
    # KL is 0 when the student matches the teacher
    assert distill.soft_loss(teacher, teacher, 4.0, form="kl") == pytest.approx(0.0, abs=1e-12)


def test_entropy_by_hand():
    assert distill.entropy([0.5, 0.5]) == pytest.approx(LN2)
    assert distill.entropy([1.0, 0.0]) == 0.0


def _numeric_gradient(f, z, step=1e-6):
    grad = np.zeros_like(z)
    for i in range(len(z)):
        up, down = z.copy(), z.copy()
        up[i] += step
        down[i] -= step
        grad[i] = (f(up) - f(down)) / (2 * step)
    return grad


@pytest.mark.parametrize("temperature", [1.0, 3.0, 10.0])
def test_gradient_of_the_scaled_soft_loss_is_t_times_q_minus_p(temperature):
    teacher = np.array([5.0, 1.0, -2.0, 0.5])
    student = np.array([0.3, 2.0, -1.0, 0.0])
    grad = _numeric_gradient(lambda z: distill.soft_loss(teacher, z, temperature), student)
    p, q = distill.softmax(teacher, temperature), distill.softmax(student, temperature)
    np.testing.assert_allclose(grad, temperature * (q - p), atol=1e-6)


def test_t_squared_keeps_gradients_the_size_they_have_at_t1():
    rng = np.random.default_rng(1)
    teacher, student = rng.normal(0, 2, 10), rng.normal(0, 2, 10)

    def size(temperature, scale):
        grad = _numeric_gradient(lambda z: distill.soft_loss(teacher, z, temperature, scale=scale),
                                 student)
        return np.abs(grad).sum()

    at_1 = size(1.0, True)
    assert 0.1 < size(20.0, True) / at_1 < 10           # same order of magnitude
    assert size(20.0, False) / at_1 < 0.01               # unscaled: about 1/T^2 smaller


def test_hard_loss_by_hand():
    assert distill.hard_loss(0, [2.0, 1.0, 0.1]) == pytest.approx(0.417, abs=1e-3)
    assert distill.hard_loss([1, 0], [[0.0, 0.0], [np.log(3.0), 0.0]]) == pytest.approx(
        (LN2 - np.log(0.75)) / 2)


def test_alpha_0_is_the_hard_loss_and_alpha_1_the_soft():
    rng = np.random.default_rng(2)
    labels = np.array([0, 3, 2])
    teacher, student = rng.normal(0, 3, (3, 4)), rng.normal(0, 3, (3, 4))
    hard = distill.hard_loss(labels, student)
    soft = distill.soft_loss(teacher, student, 5.0)
    assert distill.distillation_loss(labels, teacher, student, temperature=5.0, alpha=0.0) == \
        pytest.approx(hard)
    assert distill.distillation_loss(labels, teacher, student, temperature=5.0, alpha=1.0) == \
        pytest.approx(soft)
    assert distill.distillation_loss(labels, teacher, student, temperature=5.0, alpha=0.25) == \
        pytest.approx(0.25 * soft + 0.75 * hard)


@pytest.mark.parametrize("form", distill.FORMS)
def test_tensor_soft_loss_matches_numpy(form):
    rng = np.random.default_rng(4)
    teacher, student = rng.normal(0, 3, (5, 10)), rng.normal(0, 3, (5, 10))
    got = distill._soft_loss_tensor(tf.constant(teacher), tf.constant(student), 4.0, form, True)
    assert float(got) == pytest.approx(distill.soft_loss(teacher, student, 4.0, form=form))


# --------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("temperature", [0, -1.0, float("nan"), float("inf"), "hot"])
def test_bad_temperature_is_a_value_error(temperature):
    with pytest.raises(ValueError, match="temperature must be"):
        distill.softmax([1.0, 2.0], temperature)
    with pytest.raises(ValueError, match="temperature must be"):
        distill.soft_loss([1.0, 2.0], [1.0, 2.0], temperature)


@pytest.mark.parametrize("alpha", [-0.1, 1.5, "half"])
def test_bad_alpha_is_a_value_error(alpha):
    with pytest.raises(ValueError, match=r"alpha must .*\[0, 1\]"):
        distill.distillation_loss([0], [[1.0, 2.0]], [[1.0, 2.0]], temperature=2.0, alpha=alpha)


def test_mismatched_logits_and_unknown_form():
    with pytest.raises(ValueError, match="same shape"):
        distill.soft_loss([[1.0, 2.0, 3.0]], [[1.0, 2.0]], 2.0)
    with pytest.raises(ValueError, match="form must be one of"):
        distill.soft_loss([1.0, 2.0], [1.0, 2.0], 2.0, form="mse")


# --------------------------------------------------------------------------- the Distiller

@pytest.fixture(scope="module")
def teacher(digits):
    model = tl.models.mlp(digits.input_shape, digits.n_classes, (64,), seed=0, name="teacher64")
    tl.train.fit(model, digits, epochs=8, progress=False)
    return model


def _student(digits, seed=0):
    return tl.models.mlp(digits.input_shape, digits.n_classes, (8,), seed=seed, name="student8")


def test_distill_trains_the_student_and_leaves_the_teacher_alone(digits, teacher):
    student = _student(digits)
    before = tl.train.accuracy(student, digits.X_val, digits.y_val)
    teacher_weights = [w.copy() for w in teacher.get_weights()]
    student_weights = [w.copy() for w in student.get_weights()]
    history = distill.distill(student, teacher, digits, temperature=4.0, alpha=0.7, epochs=2,
                              learning_rate=1e-2, progress=False)
    after = tl.train.accuracy(student, digits.X_val, digits.y_val)
    assert after > before + 0.2, (before, after)
    assert all(np.array_equal(a, b) for a, b in zip(teacher_weights, teacher.get_weights()))
    assert not all(np.array_equal(a, b) for a, b in zip(student_weights, student.get_weights()))
    for key in ("loss", "soft_loss", "hard_loss", "accuracy", "val_loss", "val_accuracy"):
        assert len(history.history[key]) == 2, key


def test_only_the_students_weights_get_gradients(digits, teacher):
    student = _student(digits)
    distiller = distill.Distiller(student, teacher)
    distiller.compile("adam", alpha=0.5, temperature=4.0)
    trainable = {id(v) for v in distiller.trainable_weights}
    assert trainable == {id(v) for v in student.trainable_weights}
    x, y = tf.constant(digits.X_train[:16]), tf.constant(digits.y_train[:16])
    variables = student.trainable_weights + teacher.weights
    with tf.GradientTape() as tape:
        loss = distiller.compute_loss(x, y, distiller(x, training=True))
    grads = tape.gradient(loss, variables)
    assert all(g is not None for g in grads[:len(student.trainable_weights)])
    assert all(g is None for g in grads[len(student.trainable_weights):])


def test_distiller_loss_is_eq5_on_the_students_logits(digits, teacher):
    student = _student(digits)
    distiller = distill.Distiller(student, teacher)
    distiller.compile("adam", alpha=0.3, temperature=5.0, form="cross_entropy")
    x, y = digits.X_val[:32], digits.y_val[:32]
    got = float(distiller.compute_loss(tf.constant(x), tf.constant(y), distiller(x)))
    expected = distill.distillation_loss(y, teacher(x).numpy(), student(x).numpy(),
                                         temperature=5.0, alpha=0.3)
    assert got == pytest.approx(expected, rel=1e-4)


def test_distiller_works_with_callbacks_and_the_progress_bar(digits, teacher):
    import io

    seen = []
    stream = io.StringIO()
    distiller = distill.Distiller(_student(digits), teacher)
    distiller.compile(keras.optimizers.Adam(1e-3), alpha=0.5, temperature=2.0)
    tl.train.fit(distiller, digits, epochs=2, compile=False, progress=False, callbacks=[
        keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(logs)),
        tl.train.ProgressBar(2, file=stream)])
    assert len(seen) == 2 and "soft_loss" in seen[0]
    assert "2/2" in stream.getvalue()


def test_swapped_teacher_and_student_is_refused(digits, teacher):
    student = _student(digits)
    with pytest.raises(ValueError, match="swapped"):
        distill.Distiller(teacher, student)
    with pytest.raises(ValueError, match="same model"):
        distill.Distiller(student, student)
    distill.Distiller(_student(digits), _student(digits, seed=1), allow_larger_student=True)


def test_teacher_with_other_classes_is_refused(digits, teacher):
    other = tl.models.mlp(digits.input_shape, 3, (64,), name="three_classes")
    with pytest.raises(ValueError, match="10 logits but the student 'three_classes' returns 3"):
        distill.Distiller(tl.models.mlp(digits.input_shape, 3, (8,), name="three_classes"), teacher)
    with pytest.raises(ValueError, match="same dataset"):
        distill.Distiller(_student(digits), other)


def test_distiller_compile_checks_its_knobs(digits, teacher):
    distiller = distill.Distiller(_student(digits), teacher)
    with pytest.raises(ValueError, match="temperature"):
        distiller.compile("adam", temperature=0)
    with pytest.raises(ValueError, match="alpha"):
        distiller.compile("adam", alpha=1.2)


def test_distill_and_save_writes_a_student_with_its_card(digits, teacher):
    student, history = distill.distill_and_save("tiny", teacher, digits, temperature=3.0,
                                                alpha=0.6, epochs=1, progress=False,
                                                save_as="kd_test")
    card = tl.workspace.load_card("kd_test")
    assert card["teacher"] == "teacher64" and card["temperature"] == 3.0 and card["alpha"] == 0.6
    loaded = tl.workspace.load_model("kd_test")
    np.testing.assert_allclose(loaded.predict(digits.X_test[:5], verbose=0),
                               student.predict(digits.X_test[:5], verbose=0), rtol=1e-5)


# --------------------------------------------------------------------------- views, consistent
# teaching, transfer set (bench/kd.py measures them; lesson 03 cites it)

def _dot(position=(3, 4), size=8):
    image = np.zeros((1, size, size, 1), np.float32)
    image[0, position[0], position[1], 0] = 1.0
    return image


def test_a_shift_moves_a_pixel_by_at_most_one_and_reaches_all_nine_places():
    places = set()
    for seed in range(60):
        view = distill.augment_digits(_dot(), seed=seed, shift=1)
        (row, col), = np.argwhere(view[0, ..., 0] == 1.0)
        assert abs(row - 3) <= 1 and abs(col - 4) <= 1
        assert view.sum() == 1.0              # moved, not smeared
        places.add((int(row), int(col)))
    assert len(places) == 9


def test_a_shift_fills_the_border_with_blank_paper():
    corner = _dot((0, 0))
    views = [distill.augment_digits(corner, seed=seed, shift=1) for seed in range(40)]
    sums = {float(v.sum()) for v in views}
    assert sums == {0.0, 1.0}                 # moved out of the image, or kept, never wrapped
    assert all(v[0, 7, 7, 0] == 0.0 for v in views)


def test_no_augmentation_is_the_identity_and_a_seed_repeats_its_views(digits):
    X = digits.X_train[:20]
    np.testing.assert_array_equal(distill.augment_digits(X, seed=3, shift=0), X)
    a = distill.augment_digits(X, seed=3, mixup=0.5, noise_std=0.1)
    np.testing.assert_array_equal(a, distill.augment_digits(X, seed=3, mixup=0.5, noise_std=0.1))
    rng = np.random.default_rng(3)            # one generator: every call draws new views
    first, second = (distill.augment_digits(X, seed=rng, mixup=0.5) for _ in range(2))
    assert not np.array_equal(first, second)


def test_mixup_by_hand():
    # two flat images, 0 and 1: a mix with up to 40% of the partner lies in [0, 0.4] or [0.6, 1]
    X = np.stack([np.zeros((8, 8, 1)), np.ones((8, 8, 1))]).astype(np.float32)
    for seed in range(20):
        view = distill.augment_digits(X, seed=seed, shift=0, mixup=0.4)
        for image in view:
            assert np.ptp(image) == pytest.approx(0.0, abs=1e-7)   # a flat mix stays flat
        assert 0.0 <= view[0].max() <= 0.4 + 1e-6 and 0.6 - 1e-6 <= view[1].min() <= 1.0


def test_noise_stays_in_the_pixel_range(digits):
    view = distill.augment_digits(digits.X_train[:50], seed=0, shift=0, noise_std=0.5)
    assert view.min() >= 0.0 and view.max() <= 1.0
    assert np.std(view - digits.X_train[:50]) > 0.2


@pytest.mark.parametrize("bad, match", [({"shift": 8}, "shift"), ({"shift": 0.5}, "shift"),
                                        ({"noise_std": -1}, "noise_std"),
                                        ({"mixup": 1.5}, "mixup")])
def test_bad_views_are_value_errors(bad, match):
    with pytest.raises(ValueError, match=match):
        distill.augment_digits(_dot(), **bad)
    with pytest.raises(ValueError, match="images"):
        distill.augment_digits(np.zeros((4, 64)))


def test_consistent_distill_teaches_the_student_and_leaves_the_teacher_alone(digits, teacher):
    student = _student(digits)
    before = tl.train.accuracy(student, digits.X_val, digits.y_val)
    teacher_weights = [w.copy() for w in teacher.get_weights()]
    history = distill.consistent_distill(student, teacher, digits, mixup=0.5, epochs=3,
                                         learning_rate=1e-2, progress=False)
    # measured: 0.10 before, 0.75-0.85 after 3 epochs (8 hidden units, seed 0)
    assert len(history.history["val_accuracy"]) == 3
    assert tl.train.accuracy(student, digits.X_val, digits.y_val) > before + 0.2
    assert all(np.array_equal(a, b) for a, b in zip(teacher_weights, teacher.get_weights()))


def test_consistent_distill_without_views_is_training_on_labels(digits):
    # no shift, noise or mixup, no teacher, no decay: the same steps as tl.train.fit's
    # (same initial weights, Adam, batch size), only the order of the examples differs
    student = _student(digits)
    distill.consistent_distill(student, None, digits, mixup=0.0, epochs=3, batch_size=32,
                               learning_rate=1e-2, cosine=False, validate=False, progress=False)
    reference = _student(digits)
    tl.train.fit(reference, digits, epochs=3, learning_rate=1e-2, progress=False)
    ours, theirs = (tl.train.accuracy(m, digits.X_val, digits.y_val) for m in (student, reference))
    # measured: 0.86-0.89 for both on seed 0; the tolerance allows the shuffle's difference
    assert ours > 0.8 and abs(ours - theirs) < 0.06, (ours, theirs)


def test_mixed_views_need_the_teachers_answer(digits, teacher):
    with pytest.raises(ValueError, match="mixup"):
        distill.consistent_distill(_student(digits), teacher, digits, mixup=0.5, alpha=0.5,
                                   epochs=1, progress=False)
    with pytest.raises(ValueError, match="mixup"):
        distill.consistent_distill(_student(digits), None, digits, epochs=1, progress=False)


def test_transfer_set_adds_copies_the_teacher_labels(digits, teacher):
    transfer = distill.transfer_set(teacher, digits, copies=2, mixup=0.5, seed=1)
    n = len(digits.y_train)
    assert transfer.X_train.shape == (3 * n,) + digits.X_train.shape[1:]
    np.testing.assert_array_equal(transfer.X_train[:n], digits.X_train)
    np.testing.assert_array_equal(transfer.y_train[:n], digits.y_train)
    copies = transfer.X_train[n:]
    assert not np.array_equal(copies[:n], digits.X_train)
    np.testing.assert_array_equal(transfer.y_train[n:], tl.train.predict_classes(teacher, copies))
    assert transfer.extra["teacher_labelled"].sum() == 2 * n
    np.testing.assert_array_equal(transfer.X_test, digits.X_test)   # val and test untouched
    np.testing.assert_array_equal(transfer.y_val, digits.y_val)
    with pytest.raises(ValueError, match="copies"):
        distill.transfer_set(teacher, digits, copies=0)


def test_make_distilled_saves_what_load_or_distill_reuses(digits, monkeypatch):
    monkeypatch.setitem(distill.DISTILLED_RECIPE, "epochs", 1)
    # a small stand-in for lesson 02's teacher, named as the hand-off's card expects
    teacher = tl.models.mlp(digits.input_shape, digits.n_classes, (64,), seed=0, name="mlp300")
    tl.train.fit(teacher, digits, epochs=2, progress=False)
    made, history = distill.make_distilled(digits, teacher, progress=False)
    card = tl.workspace.load_card("student_distilled")
    recipe = distill.DISTILLED_RECIPE
    assert card["architecture"] == recipe["student"] == "student"
    assert (card["temperature"], card["alpha"], card["epochs"], card["learning_rate"]) == (
        recipe["temperature"], recipe["alpha"], 1, recipe["learning_rate"])
    # the card names the transfer set, and the split of the data, not of the transfer set
    assert card["transfer"] == recipe["transfer"] and recipe["transfer"]["copies"] >= 1
    assert card["split"] == list(digits.split_sizes().values())
    monkeypatch.setenv("TINYLAB_HANDOFFS", "strict")      # reused, not made again
    loaded = distill.load_or_distill(digits, teacher=teacher, progress=False)
    np.testing.assert_allclose(tl.train.logits(loaded, digits.X_test[:5]),
                               tl.train.logits(made, digits.X_test[:5]), rtol=1e-5)


def test_runner_up_finds_the_most_ambiguous_correct_example():
    logits = np.log(np.array([[0.9, 0.1, 0.0 + 1e-9], [0.6, 0.0 + 1e-9, 0.4], [0.2, 0.8, 1e-9],
                              [0.3, 0.7, 1e-9]]))
    labels = np.array([0, 0, 1, 0])   # the last one is wrong
    assert distill.runner_up(logits, labels) == 1
    assert distill.runner_up(logits, labels, true_class=1) == 2
    assert distill.runner_up(logits, labels, second_class=1) == 0
    with pytest.raises(ValueError, match="no correctly classified"):
        distill.runner_up(logits, labels, true_class=2)


# --------------------------------------------------------------------------- exercise

def test_soft_loss_checker_accepts_the_reference_and_the_package():
    assert tl.exercises.check_soft_loss(tl.exercises.solutions.soft_loss)
    assert tl.exercises.check_soft_loss(lambda t, s, T: distill.soft_loss(t, s, T))
    assert "T**2" in tl.exercises.show_solution("soft_loss")


def _naive(t, s, T, teacher_t=None, student_t=None, factor=None, swap=False, reduce=np.mean):
    if swap:
        t, s = s, t
    p = distill.softmax(t, T if teacher_t is None else teacher_t)
    q = distill.softmax(s, T if student_t is None else student_t)
    return (T ** 2 if factor is None else factor) * reduce(-np.sum(p * np.log(q), axis=-1))


@pytest.mark.parametrize("mistake, hint", [
    (lambda t, s, T: _naive(t, s, T, teacher_t=1, student_t=1, factor=1), "did not divide"),
    (lambda t, s, T: _naive(t, s, T, factor=1), "T\\*\\*2 factor is missing"),
    (lambda t, s, T: _naive(t, s, T, swap=True), "swapped"),
    (lambda t, s, T: _naive(t, s, T, student_t=1), "only the teacher"),
    (lambda t, s, T: distill.soft_loss(t, s, T, form="kl"), "KL divergence"),
    (lambda t, s, T: _naive(t, s, T, reduce=np.sum), "summed over the examples"),
    (lambda t, s, T: _naive(t, s, T, reduce=lambda v: v), "return one number"),
    (lambda t, s, T: None, "returned None"),
    (lambda t, s, T: 1 / 0, "ZeroDivisionError"),
    (lambda t, s, T: 0.5, "Hint"),
])
def test_soft_loss_checker_rejects_common_mistakes_with_hints(mistake, hint):
    result = tl.exercises.check_soft_loss(mistake)
    assert not result
    assert re.search(hint, result.message), result.message


def test_soft_loss_checker_needs_a_function():
    assert "pass your function" in tl.exercises.check_soft_loss(0.5).message


# --------------------------------------------------------------------------- widget

def test_temperature_explorer_follows_the_sliders(digits, teacher):
    panel = tl.widgets.temperature_explorer(digits, teacher, index=3)
    c = panel.controls
    assert panel.state["index"] == 3 and panel.state["temperature"] == 1.0
    cold = panel.state["entropy_nats"]
    c["temperature"].value = 20.0
    hot = panel.state["entropy_nats"]
    assert hot > cold
    assert hot <= np.log(10) + 1e-9
    logits = teacher.predict(digits.X_test[3:4], verbose=0)[0]
    np.testing.assert_allclose(panel.state["soft_targets"], distill.softmax(logits, 20.0))
    assert "T = 20" in c["info"].value and "entropy" in c["info"].value
    c["index"].value = 7
    assert panel.state["index"] == 7
    assert f"true class <b>{digits.class_names[digits.y_test[7]]}</b>" in c["info"].value
    assert c["temperature"].min == 1.0 and c["temperature"].max == 20.0


def test_temperature_explorer_rejects_a_bad_part(digits, teacher):
    with pytest.raises(ValueError, match="part must be"):
        tl.widgets.temperature_explorer(digits, teacher, part="all")
