"""Run one child command as this process's whole job, and stop all of it on a signal.

`mt-assets dev` (the child is `dagster dev`) and `mt-assets demo` (the child is
`python -m mt_assets.demo`) both go through `Supervisor`:

- Inside `with Supervisor(...)`, SIGINT, SIGTERM and SIGHUP request a stop. The handlers are
  installed whatever this process inherited: a non-interactive shell's `&` starts background
  commands with SIGINT ignored, and Python then never raises KeyboardInterrupt. The three are
  also unblocked in the signal mask. One exception: SIGHUP inherited as ignored (`nohup`) stays
  ignored, because surviving a hangup is what nohup asks for; SIGTERM still stops it.
- `run` starts the child in its own session, so a terminal's Ctrl-C (SIGINT to the foreground
  process group) reaches only this process, which forwards it once. A stop sends SIGINT to the
  child (what `dagster dev` and Python handle as Ctrl-C), waits up to `grace` seconds, then
  kills whatever is left. A second signal stops the waiting at once.
- When the child has exited (stopped or not), every process left of its tree is stopped
  (SIGTERM, then SIGKILL): the webserver, daemon and code servers of a `dagster dev` that died
  alone, and processes that left the child's session (the local launcher starts training in
  its own session). On Linux this process is a child subreaper, so such orphans re-parent to
  it rather than to init and are found by walking its descendants.
- The handlers stay in place until the block exits, so the caller's cleanup after `run` (the
  embedded server's stop) is not cut short by a second signal.

A stop requested before `run` (while the caller starts the database) skips the child.
"""

from __future__ import annotations

import ctypes
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence

import psutil

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
GRACE_SECONDS = 90.0  # `dagster dev` itself waits up to 60 s for its webserver and its daemon
LEFTOVER_SECONDS = 10.0  # SIGTERM to SIGKILL for processes left once the child has exited
_PR_SET_CHILD_SUBREAPER = 36  # linux/prctl.h


class Supervisor:
    def __init__(self, name: str, grace: float = GRACE_SECONDS):
        self.name = name
        self.grace = grace
        self.stopped_by: int | None = None  # the first stop signal received
        self._deadline: float | None = None
        self._child: subprocess.Popen | None = None
        self._previous: dict[int, object] = {}

    def __enter__(self) -> Supervisor:
        for signum in STOP_SIGNALS:
            inherited = signal.getsignal(signum)
            if signum == signal.SIGHUP and inherited == signal.SIG_IGN:
                continue  # nohup
            self._previous[signum] = inherited
            signal.signal(signum, self._on_signal)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, list(self._previous))
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def run(self, command: Sequence[str], env: Mapping[str, str] | None = None) -> int:
        """Run the child until it exits or a stop; leave no process of its tree behind.
        Returns its exit status (128 + N when signal N ended it)."""
        if self.stopped_by is not None:
            return 128 + self.stopped_by
        _become_subreaper()
        # Our handlers are reset to the default by exec, so the child sees SIGINT again even
        # where this process inherited it ignored.
        self._child = child = subprocess.Popen(list(command), env=env, start_new_session=True)
        try:
            if self.stopped_by is not None:  # a signal came while the child was being started
                self._forward()
            while True:
                try:
                    child.wait(timeout=0.5)
                    break
                except subprocess.TimeoutExpired:
                    if self._deadline is not None and time.monotonic() >= self._deadline:
                        print(f"{self.name}: still running after the stop; killing it", file=sys.stderr)
                        _signal_tree(psutil.Process(child.pid), signal.SIGKILL)
        finally:
            if child.poll() is None:  # an exception in this process: never leave the child behind
                _signal_tree(psutil.Process(child.pid), signal.SIGKILL)
                child.wait()
            _stop_leftovers()
        code = child.returncode
        return 128 - code if code < 0 else code

    def _on_signal(self, signum: int, _frame) -> None:
        if self.stopped_by is None:
            self.stopped_by = signum
            print(f"\n{self.name}: {signal.Signals(signum).name} received, stopping", file=sys.stderr, flush=True)
            self._deadline = time.monotonic() + self.grace
            self._forward()
        else:
            self._deadline = time.monotonic()  # asked again: do not wait any longer

    def _forward(self) -> None:
        if self._child is not None and self._child.poll() is None:
            self._child.send_signal(signal.SIGINT)


def _become_subreaper() -> None:
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _signal_tree(root: psutil.Process, signum: int) -> None:
    try:
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return
    for proc in procs:
        try:
            proc.send_signal(signum)
        except psutil.NoSuchProcess:
            pass


def _stop_leftovers() -> None:
    """SIGTERM, then SIGKILL, to every descendant of this process still alive (and reap them)."""
    left = psutil.Process().children(recursive=True)
    for proc in left:
        try:
            proc.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(left, timeout=LEFTOVER_SECONDS)
    for proc in alive:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=LEFTOVER_SECONDS)

