"""One time budget for handling a user's density: parse, normalise, derive, match.

SymPy's integrals and simplifications, and mpmath's quadrature, cannot be interrupted from
inside, and on some inputs they run for minutes. So the calls that can run long go to a child
process (``run_in_child``) that is killed when the budget runs out; everything else checks the
deadline where one stage ends and the next begins (``stage``). A child is started by ``fork``
where the platform has it (fast) and by ``spawn`` elsewhere (Windows, macOS' default);
``SYMLIK_START_METHOD=spawn`` forces spawn, which the tests use to check that path on Linux.

``symlik.custom`` runs its normalisation check this way, ``symlik.derive`` of a custom density
its whole derivation (the Derivation comes back through symlik.core.pickling), and the CLI the
whole handling of ``--density``.

The budget is ``SYMLIK_TIME_BUDGET`` seconds (default 30; 0 = no limit), or the ``seconds``
given to ``time_budget``. When it runs out the user gets one line naming the stage:
``the time budget of 30 s ran out while checking that the density integrates to 1``.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import multiprocessing
import os
import pickle
import signal
import time

from symlik.core.errors import SymlikError

ENV = "SYMLIK_TIME_BUDGET"
START_METHOD_ENV = "SYMLIK_START_METHOD"
DEFAULT_SECONDS = 30.0


class BudgetExceeded(SymlikError):
    """The time budget for a user's density ran out; the message names the stage."""


# (deadline on time.monotonic(), the budget in seconds) of the innermost budget, if any.
_budget: contextvars.ContextVar = contextvars.ContextVar("symlik_time_budget", default=None)
_stage: contextvars.ContextVar = contextvars.ContextVar("symlik_stage", default="starting")
_report = None  # in a child: sends each stage's name to the parent, so a kill can name it


def seconds_from(value, source: str) -> float:
    """A budget in seconds from ``value`` (text or a number): finite and >= 0; 0 means none."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = math.nan
    if isinstance(value, bool) or not math.isfinite(seconds) or seconds < 0:
        raise SymlikError(f"{source} must be a finite number of seconds >= 0 (0 = no limit); got {value!r}")
    return seconds


def configured_seconds() -> float:
    text = os.environ.get(ENV)
    return DEFAULT_SECONDS if text is None or not text.strip() else seconds_from(text, ENV)


@contextlib.contextmanager
def time_budget(seconds=None):
    """Run the block under a budget (``seconds``, else ``SYMLIK_TIME_BUDGET``, else 30 s).
    Inside an enclosing budget that ends sooner, the enclosing one rules."""
    seconds = configured_seconds() if seconds is None else seconds_from(seconds, "time_budget")
    deadline = time.monotonic() + seconds if seconds else math.inf
    outer = _budget.get()
    if outer is not None and outer[0] <= deadline:
        yield
        return
    token = _budget.set((deadline, seconds))
    try:
        yield
    finally:
        _budget.reset(token)


def remaining() -> float:
    """Seconds left in the current budget (inf without one)."""
    current = _budget.get()
    return math.inf if current is None else current[0] - time.monotonic()


def exceeded(stage: str | None = None) -> BudgetExceeded:
    current = _budget.get()
    total = f"{current[1]:g} s" if current else "time"
    return BudgetExceeded(
        f"the time budget of {total} ran out while {stage or _stage.get()} "
        f"(allow more with {ENV}=SECONDS or time_budget=SECONDS)"
    )


def check() -> None:
    if remaining() <= 0:
        raise exceeded()


@contextlib.contextmanager
def stage(name: str):
    """Mark the block as the stage ``name`` (a phrase after "while"); the deadline is checked
    on entry and on exit."""
    token = _stage.set(name)
    if _report is not None:
        _report(name)
    try:
        check()
        yield
        check()
    finally:
        _stage.reset(token)


def stopped_from_outside() -> bool:
    """True in a child of ``run_in_child``: its parent stops it at the deadline, so work here
    needs no child of its own to be bounded."""
    return _report is not None


def start_method() -> str:
    method = os.environ.get(START_METHOD_ENV) or ("fork" if hasattr(os, "fork") else "spawn")
    if method not in multiprocessing.get_all_start_methods():
        raise SymlikError(f"{START_METHOD_ENV} must be one of {', '.join(multiprocessing.get_all_start_methods())}; got {method!r}")
    return method


class TimedOut(Exception):
    """``run_in_child`` ran out of its limit (not the budget: the caller decides what that means)."""


def _child(connection, fn, args, seconds, stage_name, new_group):
    """The child's side: compute under the parent's remaining budget, report stages, send back
    ("ok", value) or ("error", exception)."""
    global _report
    if new_group and hasattr(os, "setpgrp"):  # a group of its own: stopping it stops all it started
        os.setpgrp()
    _report = lambda name: connection.send(("stage", name))  # noqa: E731
    _stage.set(stage_name)
    try:
        with time_budget(seconds):
            result = ("ok", fn(*args))
    except BaseException as exc:  # noqa: BLE001 - every outcome goes back to the parent
        result = ("error", exc)
    try:
        pickle.loads(pickle.dumps(result))  # what cannot make the round trip goes back as text
    except Exception as exc:  # noqa: BLE001
        error = result[1] if result[0] == "error" else exc
        result = ("error", SymlikError(str(error) or type(error).__name__))
    with contextlib.suppress(OSError):  # the parent stopped waiting: nobody to tell
        connection.send(("done", result))
        connection.close()


def _stop(process) -> None:
    """Kill the child and, where it has a process group of its own, everything it started."""
    if hasattr(os, "killpg") and _report is None:  # (a nested child shares its parent's group)
        try:
            os.killpg(process.pid, signal.SIGKILL)  # the child is not reaped yet: its pid is still its group's
            return
        except (ProcessLookupError, PermissionError):  # it had not made its group yet
            pass
    process.kill()


def run_in_child(fn, *args, limit: float = math.inf):
    """``fn(*args)`` in a child process, killed after ``limit`` seconds or when the budget ends,
    whichever is sooner. Returns its value or raises its exception; raises ``exceeded()`` (naming
    the child's last stage) when the budget ran out, ``TimedOut`` when only ``limit`` did.
    With spawn, ``fn`` and ``args`` must be picklable (``fn`` a module-level function)."""
    context = multiprocessing.get_context(start_method())
    receive, send = context.Pipe(duplex=False)
    left = remaining()
    child_budget = 0.0 if math.isinf(left) else max(left, 1e-3)
    process = context.Process(target=_child, args=(send, fn, args, child_budget, _stage.get(), _report is None))
    started = time.monotonic()
    process.start()
    send.close()
    last_stage, outcome = _stage.get(), None
    try:
        while outcome is None:
            wait = min(remaining(), limit - (time.monotonic() - started))
            if wait <= 0 or not receive.poll(min(wait, 3600.0)):
                if receive.poll(0):  # it answered as time ran out
                    continue
                break
            try:
                kind, value = receive.recv()
            except (EOFError, OSError, pickle.UnpicklingError, TypeError, AttributeError):
                outcome = ("error", SymlikError("the worker process ended without an answer"))
                break
            if kind == "stage":
                last_stage = value
            else:
                outcome = value
    finally:
        receive.close()
        if process.is_alive():
            _stop(process)
        process.join()
    if outcome is None:
        if remaining() <= 0:
            raise exceeded(last_stage)
        raise TimedOut()
    status, value = outcome
    if status == "error":
        raise value
    return value
