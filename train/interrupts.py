"""Ctrl-C during training: finish the step in flight, then stop at a clean boundary.

A training step interrupted half-way (some micro-batches' gradients accumulated, the optimizer
not yet stepped) cannot be checkpointed exactly. So the first Ctrl-C only sets a flag that the
loop reads between steps (`train/pretrain.py` then writes a checkpoint and re-raises); a
second Ctrl-C raises at once, for a user who really wants out. The handler is installed only
in the main thread (signals can be handled nowhere else) and the caller's handler is restored
on exit.

SIGTERM, how schedulers, `docker stop` and `kill` end a job, is treated as Ctrl-C by every
`minibert` command (`sigterm_as_ctrl_c`, installed by `train/cli/__init__.py`): it calls
whatever SIGINT handler is current, so a pretraining run checkpoints and a fine-tuning run
keeps its best epoch exactly as they do on Ctrl-C.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator


class Interrupts:
    """First Ctrl-C: ask the loop to stop after the current step. Second: stop now."""

    def __init__(self):
        self.requested = False
        self._previous = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("\ninterrupt: finishing this step and writing a checkpoint "
              "(Ctrl-C again to quit now)")

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False


def _as_ctrl_c(signum, frame):
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler):
        handler(signal.SIGINT, frame)
    else:  # SIGINT ignored (a background job) or default: stop as Python's Ctrl-C does
        raise KeyboardInterrupt


@contextlib.contextmanager
def sigterm_as_ctrl_c() -> Iterator[None]:
    """While inside, SIGTERM does what Ctrl-C does at that moment (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _as_ctrl_c)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
