"""Import TensorFlow and Keras once, keeping their C++ start-up chatter out of the lessons.

On a machine without a GPU, TensorFlow's native libraries print half a dozen lines to the
C-level standard error as they load (CUDA probes, oneDNN and CPU-instruction notices, absl's
"log messages before InitializeLog"), which a student sees as red error text in every
notebook. ``TF_CPP_MIN_LOG_LEVEL`` cannot silence the ones printed before logging starts, so
this module loads TensorFlow with file descriptor 2 redirected to a temporary file, then
writes back every line that is not one of those known notices: a real error still shows.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile

#: Start-up notices that say nothing useful on a CPU-only machine.
NOISE = re.compile(
    r"absl::InitializeLog|oneDNN custom operations|cudart_stub|cuda_platform|cuInit|"
    r"cuda drivers|cpu_feature_guard|To enable the following instructions|"
    r"rebuild TensorFlow with the appropriate compiler flags|Unable to register cu(DNN|FFT|BLAS)|"
    r"TF-TRT Warning|computation placer already registered|absl::InitializeLog")


@contextlib.contextmanager
def native_stderr_filtered(noise=NOISE):
    """Capture fd 2 for the duration; afterwards re-emit the lines that ``noise`` does not match."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real fd 2 (embedded interpreters): nothing to filter
        yield
        return
    with tempfile.TemporaryFile(mode="w+b") as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            kept = [line for line in capture.read().decode(errors="replace").splitlines()
                    if line.strip() and not noise.search(line)]
            if kept:
                print("\n".join(kept), file=sys.stderr)


def _load():
    with native_stderr_filtered():
        import keras
        import tensorflow as tf

        tf.constant(0)  # the device probe (cuInit) happens on the first op, not at import
    return tf, keras


tf, keras = _load()
