"""The one base class of every error mallwake reports to a person, and its exit code.

A command prints such an error as one line (``mallwake: <message>``) and exits with the
error's :attr:`MallwakeError.exit_code`; the mapping lives here and is applied once, in
:func:`analysis.application.cli.main`. Anything else that escapes a command is a bug and keeps its
traceback. The classes keep their standard bases too (``ValueError``, ``OSError``, ...), so
code that catches those still does.
"""

from __future__ import annotations

#: Exit codes of the commands.
EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


class MallwakeError(Exception):
    """An error a person can act on: bad input, a busy run folder, a full disk, an unreachable source."""

    #: 2: refused before any work (bad input: nothing written); 1: the work could not finish.
    exit_code = EXIT_BAD_INPUT


class ParameterError(MallwakeError, ValueError):
    """A parameter the notebooks do not declare, a value of the wrong type, or a bad date."""


class NotApplicable(ValueError):
    """An analysis these data cannot support (a report section shows why instead of a result).

    Raised (or returned, by the ``*_problem`` checks) by the statistics layer as a neutral reason: a
    ``code`` and the ``values`` it needs (numbers, dates, names), never a sentence. The presentation
    layer writes the sentence in the report's language (:func:`analysis.presentation.phrases.phrase_text`;
    :func:`analysis.presentation.report.section` and ``applies`` show it). Not a
    :class:`MallwakeError`: the run goes on without the section.
    """

    def __init__(self, code: str, **values):
        self.code, self.values = code, values
        shown = ", ".join(f"{k}={v}" for k, v in values.items())
        super().__init__(f"{code} ({shown})" if shown else code)

    def __reduce__(self):  # picklable with its values (kernels, worker processes)
        return (_not_applicable, (self.code, self.values))


def _not_applicable(code: str, values: dict) -> NotApplicable:
    return NotApplicable(code, **values)
