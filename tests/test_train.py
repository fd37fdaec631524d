"""Tests for tinylab.train: fit, evaluation, confusion matrix, load_or_train, the progress bar."""

import io
from types import SimpleNamespace

import numpy as np
import pytest

from tinylab import models, train, workspace


def _identity_classifier():
    """A linear 2-class model whose logits are its 2 inputs: it predicts argmax(x)."""
    model = models.mlp(input_shape=(2,), n_classes=2, hidden_units=())
    model.get_layer("logits").set_weights([np.eye(2, dtype=np.float32), np.zeros(2, np.float32)])
    return model


# Hand-made golden case: predictions are [0, 1, 0, 1] for labels [0, 1, 1, 1].
GOLDEN_X = np.array([[1, 0], [0, 1], [1, 0], [0, 1]], dtype=np.float32)
GOLDEN_Y = np.array([0, 1, 1, 1])


def test_predict_classes_and_accuracy_golden():
    model = _identity_classifier()
    np.testing.assert_array_equal(train.predict_classes(model, GOLDEN_X), [0, 1, 0, 1])
    assert train.accuracy(model, GOLDEN_X, GOLDEN_Y) == 0.75


def test_logits_batches_agree_with_one_call_and_handle_empty_input():
    model = _identity_classifier()
    X = np.random.default_rng(0).normal(size=(7, 2)).astype(np.float32)
    # batch_size 3 splits 7 examples into 3 + 3 + 1; the identity model returns its inputs
    np.testing.assert_allclose(train.logits(model, X, batch_size=3), X, rtol=1e-6)
    assert train.logits(model, X[:0]).shape == (0, 2)


def test_confusion_matrix_golden():
    model = _identity_classifier()
    data = SimpleNamespace(X_test=GOLDEN_X, y_test=GOLDEN_Y, n_classes=2)
    # Rows are true classes, columns predictions: one 0 right; one 1 called 0, two 1s right.
    np.testing.assert_array_equal(train.confusion_matrix(model, data), [[1, 0], [1, 2]])


def test_accuracy_rejects_length_mismatch():
    with pytest.raises(ValueError, match="4 examples but y has 3"):
        train.accuracy(_identity_classifier(), GOLDEN_X, GOLDEN_Y[:3])


def test_confusion_matrix_rejects_unknown_part(digits):
    with pytest.raises(ValueError, match="part"):
        train.confusion_matrix(_identity_classifier(), digits, part="validation")


@pytest.fixture(scope="module")
def trained(digits):
    """A student-sized MLP trained for 3 epochs, with the val accuracy it had untrained."""
    model = models.mlp(digits.input_shape, digits.n_classes, hidden_units=(32,), seed=0)
    untrained_val = train.accuracy(model, digits.X_val, digits.y_val)
    history = train.fit(model, digits, epochs=3, seed=0, progress=False)
    return SimpleNamespace(model=model, history=history, untrained_val=untrained_val)


def test_fit_history_has_one_entry_per_epoch(trained):
    history = trained.history.history
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert len(history[key]) == 3, key


def test_fit_learns(trained, digits):
    history = trained.history.history
    assert history["loss"][-1] < history["loss"][0]
    trained_val = train.accuracy(trained.model, digits.X_val, digits.y_val)
    # Untrained is near chance (0.1); three epochs on the digits leave it far behind.
    assert trained_val > trained.untrained_val + 0.3
    # fit's reported val accuracy is the accuracy of the final model on X_val.
    assert history["val_accuracy"][-1] == pytest.approx(trained_val, abs=1e-6)


def test_confusion_matrix_on_digits_agrees_with_accuracy(trained, digits):
    matrix = train.confusion_matrix(trained.model, digits)
    assert matrix.shape == (10, 10)
    assert matrix.sum() == len(digits.y_test)
    np.testing.assert_array_equal(matrix.sum(axis=1), np.bincount(digits.y_test, minlength=10))
    assert np.trace(matrix) / matrix.sum() == pytest.approx(
        train.accuracy(trained.model, digits.X_test, digits.y_test))


def test_evaluate_covers_every_part(trained, digits):
    scores = train.evaluate(trained.model, digits)
    assert set(scores) == {"train", "val", "test"}
    assert scores["val"] == pytest.approx(train.accuracy(trained.model, digits.X_val, digits.y_val))
    assert all(0.0 <= s <= 1.0 for s in scores.values())


def test_fit_rejects_a_model_built_for_other_inputs(digits):
    model = models.mlp(input_shape=(4, 4, 1), n_classes=10, hidden_units=(4,))
    with pytest.raises(ValueError, match=r"\(4, 4, 1\).*\(8, 8, 1\)"):
        train.fit(model, digits, epochs=1, progress=False)


def test_fit_rejects_a_flat_model_for_image_inputs(digits):
    model = models.mlp(input_shape=(64,), n_classes=10, hidden_units=(4,))
    with pytest.raises(ValueError, match="input_shape=data.input_shape"):
        train.fit(model, digits, epochs=1, progress=False)


def test_fit_rejects_a_model_with_the_wrong_number_of_classes(digits):
    model = models.mlp(n_classes=3, hidden_units=(4,))
    with pytest.raises(ValueError, match="3 outputs .* 10 classes"):
        train.fit(model, digits, epochs=1, progress=False)


@pytest.mark.parametrize("epochs", [0, -1, 1.5])
def test_fit_rejects_bad_epochs(digits, epochs):
    with pytest.raises(ValueError, match="epochs"):
        train.fit(models.mlp(hidden_units=(4,)), digits, epochs=epochs, progress=False)


def test_fit_rejects_bad_batch_size(digits):
    with pytest.raises(ValueError, match="batch_size"):
        train.fit(models.mlp(hidden_units=(4,)), digits, epochs=1, batch_size=0, progress=False)


def test_compile_model_rejects_non_positive_learning_rate():
    with pytest.raises(ValueError, match="learning_rate"):
        train.compile_model(models.mlp(hidden_units=(4,)), learning_rate=0)


def test_progress_bar_writes_the_epoch_count(digits):
    out = io.StringIO()
    bar = train.ProgressBar(2, description="tiny run", file=out)
    train.fit(models.mlp(hidden_units=(4,)), digits, epochs=2, progress=False, callbacks=[bar])
    text = out.getvalue()
    assert "tiny run" in text
    assert "2/2" in text


def test_fit_progress_goes_to_stderr_by_default(digits, capsys):
    model = models.mlp(hidden_units=(4,), name="little")
    train.fit(model, digits, epochs=1, progress=True)
    err = capsys.readouterr().err
    assert "training little" in err and "1/1" in err


# --------------------------------------------------------------------------- load_or_train


class _FitSpy:
    """Wraps train.fit, counting calls (or refusing them)."""

    def __init__(self, real_fit, allowed=True):
        self.real_fit, self.allowed, self.calls = real_fit, allowed, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        if not self.allowed:
            raise AssertionError("load_or_train trained although a matching model was saved")
        return self.real_fit(*args, **kwargs)


def test_load_or_train_saves_then_loads_then_retrains_on_change(digits, monkeypatch,
                                                               _isolated_workspace):
    real_fit = train.fit
    first = train.load_or_train("tiny", digits, epochs=1, seed=0, progress=False)
    assert (_isolated_workspace / "tiny.keras").is_file()
    card = workspace.load_card("tiny")
    assert card["architecture"] == "tiny" and card["epochs"] == 1 and card["seed"] == 0
    assert card["dataset"] == "digits" and card["data_seed"] == digits.seed
    assert card["params"] == models.count_params(first)
    assert card["test_accuracy"] == pytest.approx(train.accuracy(first, digits.X_test, digits.y_test))

    monkeypatch.setattr(train, "fit", _FitSpy(real_fit, allowed=False))
    loaded = train.load_or_train("tiny", digits, epochs=1, seed=0, progress=False)
    for a, b in zip(first.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)

    for changes in ({"seed": 1}, {"epochs": 2}, {"retrain": True}):
        spy = _FitSpy(real_fit)
        monkeypatch.setattr(train, "fit", spy)
        kwargs = dict(epochs=1, seed=0, progress=False)
        kwargs.update(changes)
        train.load_or_train("tiny", digits, **kwargs)
        assert spy.calls == 1, changes
    assert workspace.load_card("tiny")["epochs"] == 1  # the last call saved epochs=1 again


def test_load_or_train_retrains_for_a_different_data_split(digits, monkeypatch):
    from tinylab import data as datasets

    train.load_or_train("tiny", digits, epochs=1, progress=False)
    spy = _FitSpy(train.fit)
    monkeypatch.setattr(train, "fit", spy)
    train.load_or_train("tiny", datasets.load("digits", seed=5), epochs=1, progress=False)
    assert spy.calls == 1
    assert workspace.load_card("tiny")["data_seed"] == 5


def test_load_or_train_rejects_unknown_architecture(digits):
    with pytest.raises(ValueError, match="mlp300"):
        train.load_or_train("resnet", digits)
