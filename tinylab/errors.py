"""One error model for TinyLab, in click's manner: a base with a message, a hint and an exit code.

Every error TinyLab raises on purpose for something outside the caller's arguments (a board,
a tool, a file, a download) is a :class:`TinyLabError`; each area has its own subclass, and
subclasses of those say more:

==========================================  =================  ==============================
class                                       module             what went wrong
==========================================  =================  ==============================
``SerialError``                             ``serial.errors``  a serial link (port lost, no banner)
``WebLinkError`` (``WebUploadError``)       ``serial.web``     the browser's board link: no page,
                                                               no port picked, the port lost, the
                                                               page silent; an upload the page's
                                                               programmer could not do
``DeviceError``, ``CaptureError``,          ``device``,        a sketch's client: the board did
``LiveError``                               ``capture``,       not answer as its protocol says
                                            ``live``
``FlashError``                              ``flash``          an upload or a port search
``BuildError`` (``ToolchainMissing``,       ``build``          compiling a sketch
``CompileError``, ``DoesNotFit``)
``VirtualBoardError``, ``HarnessBuildError`` ``virtual``       the virtual Uno
``BootloaderError``                         ``_bootloader``    the virtual Uno's Optiboot: not
                                                               installed, or does not fit
``HexError``                                ``_ihex``          a .hex file that is not valid
                                                               Intel HEX (uploads turn it into a
                                                               ``FlashError``)
``BoardServerError``                        ``board_server``   the apps' board server: not
                                                               reachable, or busy too long
``VisitError``                              ``visitors``       an emulated visitor of an app
                                                               (recorded, never raised out)
``DatasetUnavailableError``                 ``data``           a dataset this machine cannot load
``UnsupportedModelError``,                  ``convert``        an interpreter cannot run a model,
``MissingRuntimeError``                                        or is not installed
``HandoffError``                            ``workspace``      a lesson run in order found no
                                                               model from the lesson before it
``AssignmentError`` (``NbgraderMissing``)   ``assignments``    the graded releases: nbgrader
                                                               missing, or refusing a lesson
==========================================  =================  ==============================

Bad arguments are not TinyLab errors: they raise ``ValueError`` or ``TypeError`` saying what
was wrong and what would be right (STYLE.md, habit 9).

The message of every TinyLab error says what happened and what to do, in plain words; a
``hint`` given apart from it is appended. ``tinylab`` (the command) handles them all in one
place, :func:`tinylab.cli.main`, with these exit codes:

====  =====================================================================================
0     done
1     the work failed: a :class:`TinyLabError` (its ``exit_code``), or a recording that ended
      badly (the board went silent, was unplugged, changed)
2     bad usage: an unknown option or value, an argument TinyLab refuses (``ValueError``),
      an unknown benchmark, a command that needs a TinyLab checkout run without one
130   stopped with Ctrl-C
====  =====================================================================================

>>> error = TinyLabError("no board on /dev/ttyACM0", hint="plug it in")
>>> str(error), error.exit_code
('no board on /dev/ttyACM0: plug it in', 1)
"""

from __future__ import annotations

import sys

__all__ = ["TinyLabError", "EXIT_OK", "EXIT_FAILED", "EXIT_USAGE", "EXIT_INTERRUPTED"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class TinyLabError(RuntimeError):
    """The root of TinyLab's errors.

    Parameters
    ----------
    message : str
        What went wrong and, where it fits the sentence, what to do.
    hint : str, optional
        What to do, when it reads better apart (appended after a colon).

    A ``RuntimeError``, so code written before this class (``except RuntimeError``) still
    catches every TinyLab error.
    """

    #: What ``tinylab`` exits with when this error ends a command.
    exit_code = EXIT_FAILED

    def __init__(self, message: str, *args, hint: str | None = None):
        super().__init__(message, *args)
        self.message, self.hint = message, hint

    def __str__(self) -> str:
        return f"{self.message}: {self.hint}" if self.hint else self.message

    def show(self, prog: str = "tinylab", file=None) -> None:
        """Print ``prog: message`` on standard error (or ``file``), as the command does."""
        print(f"{prog}: {self}", file=file or sys.stderr)
