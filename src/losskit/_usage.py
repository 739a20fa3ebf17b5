"""How the ``losskit`` command line reports bad input and ends: the one home of its errors, codes and signals.

Every user-facing problem of the CLI and the compare job (a bad flag, a bad
file, an option out of range, an ``--out`` that cannot be written) is a
:class:`UsageError`: one line on stderr, exit code :data:`EXIT_USAGE`.
Ctrl-C (SIGINT) and SIGTERM end the process with :data:`EXIT_INTERRUPTED` and
:data:`EXIT_TERMINATED` and the one line :data:`INTERRUPTED`, at any moment,
start-up included.

This module imports only the standard library, so ``losskit/__init__`` can call
:func:`guard_cli_startup` before torch loads: a signal that arrives while a
``losskit`` process is still importing ends it cleanly instead of with a
``KeyboardInterrupt`` traceback.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType

__all__ = [
    "EXIT_BROKEN_PIPE",
    "EXIT_INTERRUPTED",
    "EXIT_TERMINATED",
    "EXIT_USAGE",
    "INTERRUPTED",
    "Terminated",
    "UsageError",
    "exit_code_for",
    "guard_cli_startup",
    "ignore_signals",
    "install_signal_handlers",
    "one_line",
    "os_error_message",
    "silence_stdout",
]

EXIT_USAGE = 2  # bad input, or an output that cannot be written
EXIT_INTERRUPTED = 130  # 128 + SIGINT
EXIT_TERMINATED = 143  # 128 + SIGTERM
EXIT_BROKEN_PIPE = 1  # the reader of stdout went away (`losskit list | head -1`); rich exits so too
INTERRUPTED = "interrupted; run the same command again to continue"


class UsageError(ValueError):
    """Bad input from the user: the message is one line that names the problem and the fix.

    ``prog`` is the (sub)command the error belongs to (``"losskit compare"``), when known.
    """

    def __init__(self, message: str, prog: str | None = None) -> None:
        super().__init__(message)
        self.prog = prog


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so the compare job saves its progress on the way out."""


def one_line(text: object) -> str:
    """``text`` with every run of whitespace (newlines included) collapsed to one space."""
    return " ".join(str(text).split())


def silence_stdout() -> None:
    """Point stdout at /dev/null, so flushing it at exit does not raise a second BrokenPipeError."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def exit_code_for(stop: BaseException) -> int:
    return EXIT_TERMINATED if isinstance(stop, Terminated) else EXIT_INTERRUPTED


def os_error_message(err: OSError) -> str:
    """A one-line description of a failed read or write: what, where, and what to do."""
    where = err.filename if err.filename is not None else "a file"
    reason = err.strerror or type(err).__name__
    return (f"cannot write {where}: {reason}. Finished work is kept; fix the cause (free space, a writable "
            "--out) and run the same command again to continue.")


# ------------------------------------------------------------------ signals


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated


def _exit_now(signum: int, frame: FrameType | None) -> None:
    """End the process at once with the interrupt line: used where there is nothing to save."""
    code = EXIT_TERMINATED if signum == signal.SIGTERM else EXIT_INTERRUPTED
    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        pass
    os.write(2, f"losskit: {INTERRUPTED}.\n".encode())
    os._exit(code)


def _ours(signum: int) -> bool:
    """Whether losskit may take over ``signum``: not when the parent asked to ignore it (nohup, ``&``)."""
    return signal.getsignal(signum) is not signal.SIG_IGN


def _install(on_int: Callable[..., None], on_term: Callable[..., None]) -> dict[int, object]:
    previous: dict[int, object] = {}
    for signum, handler in ((signal.SIGINT, on_int), (signal.SIGTERM, on_term)):
        if _ours(signum):
            previous[signum] = signal.signal(signum, handler)
    return previous


def install_signal_handlers() -> Callable[[bool], None]:
    """SIGINT raises KeyboardInterrupt and SIGTERM :class:`Terminated` (so work in progress is saved).

    Returns ``restore(process)``: with ``process=False`` it puts the previous handlers back
    (``main()`` called from Python); with ``process=True`` a signal that arrives after the
    command has finished ends the process at once with the interrupt line (``main()`` is the process).
    """
    if not _is_main_thread():
        return lambda process: None
    previous = _install(_raise_interrupt, _raise_terminated)

    def restore(process: bool) -> None:
        if process:
            _install(_exit_now, _exit_now)
            return
        for signum, handler in previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]

    return restore


def ignore_signals() -> None:
    """While the interrupt line is being printed, a second Ctrl-C must not raise inside the handler."""
    if _is_main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            if _ours(signum):
                signal.signal(signum, signal.SIG_IGN)


def _is_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _is_cli_process() -> bool:
    """Whether this process is the ``losskit`` command (``python -m losskit`` or the console script)."""
    argv = list(getattr(sys, "orig_argv", sys.argv))
    if "-m" in argv:
        i = argv.index("-m")
        return argv[i + 1 : i + 2] == ["losskit"]
    main = sys.modules.get("__main__")
    name = Path(getattr(main, "__file__", None) or "").name.lower()
    return name in ("losskit", "losskit.exe", "losskit-script.py")


def guard_cli_startup() -> None:
    """In the ``losskit`` process only: a signal during start-up (importing torch) exits 130/143 with one line.

    ``main()`` replaces these handlers with ones that save progress; a library import changes nothing.
    """
    if _is_cli_process() and _is_main_thread():
        _install(_exit_now, _exit_now)


# importing this module (losskit/__init__ does it first) guards the start-up of the `losskit` command
guard_cli_startup()
