"""The interviewer's Textual app. Thin: screens show core state and send intents; the core
(through :class:`fieldscribe.services.Services`) does the work."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..services import Services


def run_app(vault_path: Path) -> None:
    # settings first: a bad FIELDSCRIBE_* variable is one sentence before the screen changes
    from .settings import Settings

    settings = Settings.from_env()

    from .app import FieldscribeApp

    def services() -> Services:  # made while the passphrase is typed (see FieldscribeApp.services)
        from ..services import Services

        return Services(vault_path)

    with c_stderr_silenced():
        app = FieldscribeApp(services, settings)  # made here: Textual keeps sys.__stderr__ as it is now
        try:
            app.run()
        finally:
            if app.services_made:
                app.services.close()
    if app.return_code:  # a crash: Textual has printed its traceback; say so to the shell too
        raise SystemExit(app.return_code)


@contextmanager
def c_stderr_silenced() -> Iterator[None]:
    """While the app runs, send what C libraries write to file descriptor 2 to /dev/null.

    ALSA, PortAudio, CTranslate2 and friends write to fd 2 directly ("ALSA lib pcm.c:...
    underrun occurred"); Textual only captures Python's ``sys.stderr``, so those lines were
    drawn over the screen. They go to /dev/null rather than a log file: a file would be
    plaintext outside the vault, and nothing in it would help the interviewer.

    Python's own ``sys.stderr`` (and ``sys.__stderr__``, where Textual prints a crash's
    traceback when it stops) moves to a duplicate of the terminal, so tracebacks are still
    seen; fd 2 is restored on the way out, whatever happened."""
    try:
        sys.stderr.flush()
        terminal = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no fd 2 (pythonw, closed): nothing to hide
        yield
        return
    saved = sys.stderr, sys.__stderr__
    python_stderr = None
    try:
        python_stderr = open(  # noqa: SIM115 - closed in the finally below
            os.dup(terminal),
            "w",
            encoding=getattr(sys.stderr, "encoding", None) or "utf-8",
            errors="backslashreplace",
            buffering=1,
        )
        sys.stderr = python_stderr
        setattr(sys, "__stderr__", python_stderr)  # noqa: B010 - typeshed calls it Final; Textual reads it
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 2)
        finally:
            os.close(devnull)
        yield
    finally:
        if python_stderr is not None:
            python_stderr.flush()
        os.dup2(terminal, 2)
        os.close(terminal)
        sys.stderr = saved[0]
        setattr(sys, "__stderr__", saved[1])  # noqa: B010
        if python_stderr is not None:
            python_stderr.close()
