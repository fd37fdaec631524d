"""Tests for tinylab.errors: one root for TinyLab's errors, handled in one place by the command."""

import importlib
import inspect
import pkgutil

import pytest

import tinylab
from tinylab import cli, errors
from tinylab.errors import TinyLabError

#: Modules that need TensorFlow or ipywidgets are imported too: the test must see every class.
MODULES = sorted(name for _, name, _ in pkgutil.walk_packages(tinylab.__path__, "tinylab."))


def _error_classes():
    found = {}
    for name in MODULES:
        module = importlib.import_module(name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, BaseException) and value.__module__ == name:
                found[f"{name}.{value.__name__}"] = value
    return found


def test_every_error_tinylab_defines_is_a_tinylab_error_and_is_documented():
    classes = _error_classes()
    assert len(classes) >= 15, sorted(classes)
    strays = [name for name, cls in classes.items() if not issubclass(cls, TinyLabError)]
    assert strays == [], f"not TinyLabErrors: {strays}"
    # each area's root is in the table of tinylab/errors.py's docstring
    roots = {cls.__name__ for cls in classes.values()
             if cls is not TinyLabError and TinyLabError in cls.__bases__}
    for root in roots:
        assert f"``{root}``" in errors.__doc__, f"{root} is missing from tinylab/errors.py's table"


def test_message_hint_and_exit_code():
    plain = TinyLabError("the board on /dev/ttyACM0 did not greet")
    assert str(plain) == "the board on /dev/ttyACM0 did not greet" and plain.hint is None
    hinted = TinyLabError("no arduino-cli", hint="install it from arduino.cc")
    assert str(hinted) == "no arduino-cli: install it from arduino.cc"
    assert hinted.exit_code == errors.EXIT_FAILED == 1
    assert isinstance(hinted, RuntimeError)  # `except RuntimeError` written earlier still works
    # the subclasses keep their own fields
    from tinylab import build, convert, flash

    upload = flash.FlashError("upload failed", "no-sync", "avrdude: not in sync")
    assert str(upload) == "upload failed" and upload.reason == "no-sync"
    missing = convert.MissingRuntimeError("pip install tflite-micro")
    assert isinstance(missing, ImportError) and isinstance(missing, TinyLabError)
    assert issubclass(build.DoesNotFit, TinyLabError)


@pytest.mark.parametrize("raised, code, words", [
    (TinyLabError("the virtual Uno stopped", hint="start it again"), 1,
     "tinylab doctor: the virtual Uno stopped: start it again\n"),
    (ValueError("bits must be 2-16, got 1"), 2, "tinylab doctor: bits must be 2-16, got 1\n"),
    (KeyboardInterrupt(), 130, "tinylab doctor: stopped with Ctrl-C\n"),
])
def test_the_command_handles_errors_in_one_place(monkeypatch, capsys, raised, code, words):
    def failing(args):
        raise raised

    failing.__name__ = "_cmd_doctor"
    monkeypatch.setattr(cli, "_cmd_doctor", failing)
    assert cli.main(["doctor"]) == code
    assert capsys.readouterr().err == words  # one line, no traceback


def test_a_programming_error_is_not_hidden(monkeypatch):
    def broken(args):
        return {}["missing"]

    monkeypatch.setattr(cli, "_cmd_doctor", broken)
    with pytest.raises(KeyError):
        cli.main(["doctor"])


def test_an_error_of_a_real_command_keeps_its_words(tmp_path, capsys):
    # deploy without --virtual or --port: a usage error, exit 2, the sentence unchanged
    assert cli.main(["deploy"]) == 2
    assert capsys.readouterr().err.startswith("tinylab deploy: give --virtual (the simulated Uno)")
