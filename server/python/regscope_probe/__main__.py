"""`python -m regscope_probe --plan plan.json [--events PATH] -- train.py [script args]`

Runs the user's script as `__main__` with the probe hooks installed, and always ends with a
`done` event: a crash, a NaN, `sys.exit`, or a script that never steps becomes an `error` event
first. Exit status: 0 when the probe completed, 1 when it ended in an error, 2 for bad usage.
"""
from __future__ import annotations

import faulthandler
import os
import platform
import runpy
import signal
import sys
import time
import traceback
from typing import List, Optional

from . import HARNESS_VERSION
from .events import EventSink


class Cancelled(BaseException):
    """SIGTERM from the engine (cancel): unwind, report, exit."""


class TimedOut(BaseException):
    """The plan's time budget ran out (SIGALRM): unwind, report, exit."""


def _split_argv(argv: List[str]) -> tuple:
    if "--" not in argv:
        raise SystemExit("usage: python -m regscope_probe --plan PLAN [--events PATH] -- SCRIPT [ARGS...]")
    i = argv.index("--")
    own, rest = argv[:i], argv[i + 1:]
    if not rest:
        raise SystemExit("regscope_probe: no script after --")
    opts = {"--plan": None, "--events": "-"}
    it = iter(own)
    for flag in it:
        if flag not in opts:
            raise SystemExit(f"regscope_probe: unknown option {flag}")
        opts[flag] = next(it, None)
    if not opts["--plan"]:
        raise SystemExit("regscope_probe: --plan is required")
    return opts["--plan"], opts["--events"], rest[0], rest[1:]


def _rank() -> int:
    try:
        return int(os.environ.get("RANK", "0"))
    except ValueError:
        return 0


def _user_traceback(exc: BaseException) -> str:
    """The script's traceback without the harness frames above it."""
    tb = exc.__traceback__
    here = os.path.dirname(os.path.abspath(__file__))
    while tb is not None and os.path.abspath(tb.tb_frame.f_code.co_filename).startswith(here):
        tb = tb.tb_next
    runpy_files = {os.path.abspath(runpy.__file__), "<frozen runpy>"}
    while tb is not None and (tb.tb_frame.f_code.co_filename in runpy_files
                              or os.path.abspath(tb.tb_frame.f_code.co_filename) in runpy_files):
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))


def _is_oom(exc: BaseException) -> bool:
    name = type(exc).__name__
    return name == "OutOfMemoryError" or (isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower())


def main(argv: Optional[List[str]] = None) -> int:
    plan_path, events_path, script, script_args = _split_argv(list(sys.argv[1:] if argv is None else argv))
    sink = EventSink.take_stdout() if events_path == "-" else EventSink.to_file(events_path)
    sink.other_rank = _rank() != 0
    sink.enabled = sink.enabled and not sink.other_rank
    started = time.monotonic()

    def finish(status: str, steps: int, hvps: int = 0, passes: int = 0) -> int:
        sink.emit("done", status=status, steps=steps, seconds=round(time.monotonic() - started, 3),
                  cost={"hvps": hvps, "passes": passes})
        sink.close()
        return 0 if status == "ok" else 1

    try:
        import torch
    except Exception as e:  # the engine checks for torch first; this is the last line of defence
        sink.emit("error", kind="harness", message=f"cannot import torch in {sys.executable}: {e}")
        return finish("error", 0)

    try:
        from .plan import load_plan
        from .session import ProbeSession, StopProbe
    except Exception as e:  # a broken installation of the harness itself
        sink.emit("error", kind="harness", message=f"the probe harness failed to load: {type(e).__name__}: {e}",
                  traceback=traceback.format_exc())
        return finish("error", 0)

    try:
        plan = load_plan(plan_path, os.path.abspath(script), script_args)
    except Exception as e:
        sink.emit("error", kind="harness", message=f"cannot read the probe plan {plan_path}: {e}")
        return finish("error", 0)

    cuda = torch.cuda.is_available()
    sink.emit("hello", harness=HARNESS_VERSION, python=platform.python_version(), torch=torch.__version__,
              interpreter=sys.executable, pid=os.getpid(),
              device={"type": "cuda" if cuda else "cpu",
                      "name": torch.cuda.get_device_name(0) if cuda else platform.processor() or platform.machine(),
                      "count": torch.cuda.device_count() if cuda else 1},
              rank=_rank(), worldSize=int(os.environ.get("WORLD_SIZE", "1") or 1),
              hvpMethod="double-backward")
    # If the run hangs, Python prints where every thread is stuck to stderr (kept in stderr.log)
    # just before the timeout.
    faulthandler.dump_traceback_later(max(plan.timeout_seconds - 1, 0.5), exit=False)

    def on_term(_signum: int, _frame: object) -> None:
        raise Cancelled()

    signal.signal(signal.SIGTERM, on_term)
    if hasattr(signal, "setitimer"):
        # The harness keeps its own time so a timeout is reported as such, with the step it hung at;
        # the engine's kill a little later is the backstop for a hang inside C code.
        def on_alarm(_signum: int, _frame: object) -> None:
            raise TimedOut()

        signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, plan.timeout_seconds)

    session = ProbeSession(plan, sink)
    session.install()
    sys.argv = [plan.script, *plan.args]
    sys.path.insert(0, os.path.dirname(plan.script))
    status = "ok"
    try:
        runpy.run_path(plan.script, run_name="__main__")
        if not session.completed:
            status = "error"
            if session.step == 0:
                sink.emit("error", kind="no-steps",
                          message="the script finished without an optimizer step; a probe needs a training loop "
                                  "that calls optimizer.step()")
            else:
                sink.emit("error", kind="no-steps", step=session.step,
                          message=f"the script finished after {session.step} optimizer steps, before probe step "
                                  f"{plan.last_step}; probe fewer steps (--steps {max(1, session.step)})")
    except StopProbe:
        if session.stop_reason is not None:
            status = "error"
            kind, message = session.stop_reason
            sink.emit("error", kind=kind, message=message, step=session.step)
    except SystemExit as e:
        if session.completed:
            pass
        else:
            status = "error"
            sink.emit("error", kind="exit", step=session.step,
                      message=f"the script called sys.exit({e.code!r}) after {session.step} optimizer steps, "
                              f"before the probe finished")
    except Cancelled:
        status = "cancelled"
        sink.emit("error", kind="cancelled", step=session.step, message="the probe was stopped")
    except TimedOut:
        status = "error"
        sink.emit("error", kind="timeout", step=session.step,
                  message=f"the probe did not finish within {plan.timeout_seconds:g} s (stopped after "
                          f"{session.step} optimizer steps); the script's stack at that moment is in its output")
    except BaseException as e:  # noqa: B902 - every failure of the user's script is reported
        status = "error"
        kind = "oom" if _is_oom(e) else "script"
        sink.emit("error", kind=kind, step=session.step, message=f"{type(e).__name__}: {e}",
                  traceback=_user_traceback(e))
    finally:
        if hasattr(signal, "setitimer"):
            signal.setitimer(signal.ITIMER_REAL, 0)
        session.uninstall()
        faulthandler.cancel_dump_traceback_later()
    return finish(status, session.step, session.measure.hvps, session.measure.passes)


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip interpreter shutdown: the user's atexit handlers (loggers, uploaders) and non-daemon
    # threads belong to a real training run, not to a probe, and must not keep the process alive.
    os._exit(code)
