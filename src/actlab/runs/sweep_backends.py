"""Where a sweep's runs execute: worker processes here (``local``) or a Ray cluster (``ray``).

Both backends run the same task, :func:`execute_run`, and have the same small interface
(``submit``, ``wait``, ``outcome``, ``restart``, ``close``, ``slots``); the driver in
:mod:`actlab.runs.sweep` writes every file. A worker that dies is a
:class:`WorkerLost` from ``outcome``.
"""

from __future__ import annotations

import importlib
import os
import socket
import sys
import threading
import time
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from .._env import env_seconds
from ..data.errors import DataError

__all__ = ["BACKENDS", "SweepError", "WorkerLost", "execute_run", "start_backend", "ray_timeout",
           "RAY_CONNECT_TIMEOUT_S"]

BACKENDS = ("local", "ray")

#: How long joining a Ray cluster may take before it is "cannot reach the Ray cluster at ADDR"
#: (seconds; ``$ACTLAB_RAY_TIMEOUT`` changes it).
RAY_CONNECT_TIMEOUT_S = 30.0


class SweepError(ValueError):
    """A sweep that cannot start or go on: the message says why and what to do."""


def execute_run(module_name: str, config: Any, plugins: tuple[str, ...] = ()) -> dict[str, Any]:
    """Run one config of a claim here; the task both backends run.

    Returns ``{"status": "ok", "result": Result.to_dict()}`` or, if the claim raised,
    ``{"status": "error", "type", "message", "traceback", "data_error"}``: an exception
    is an outcome of the run, not of the worker.
    """
    import torch

    torch.set_num_threads(1)  # one thread per run, whatever the backend and the worker count
    try:
        if plugins:  # --plugin files (a Ray worker is not started by our pool's initializer)
            from ..activations.plugins import load_plugin_files

            load_plugin_files(plugins)
        module = importlib.import_module(module_name)
        return {"status": "ok", "result": module.run(config).to_dict()}
    except Exception as exc:  # reported to the driver, traceback and all
        return {"status": "error", "type": type(exc).__name__, "message": str(exc),
                "traceback": traceback.format_exc(), "data_error": isinstance(exc, DataError)}


def _init_local_worker(driver_alive: Any, plugins: tuple[str, ...] = ()) -> None:
    """A local worker ignores Ctrl-C (the driver's to handle) and ends when the driver does.

    ``driver_alive`` is the read end of a pipe whose only write end the driver holds: it
    reads end-of-file the moment the driver dies, however (SIGKILL leaves no one to stop
    the workers, and a fork server's workers are not the driver's children).
    """
    import signal

    from ..activations import REGISTRY
    from ..activations.plugins import load_plugin_files

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    REGISTRY.load_plugins(report=False)  # a broken plugin: the driver has said so once
    load_plugin_files(plugins)  # --plugin files the driver loaded (a fork server's workers start without them)

    def watch() -> None:
        try:
            driver_alive.recv()  # blocks: the driver never sends
        except (EOFError, OSError):
            pass
        os._exit(1)

    threading.Thread(target=watch, name="actlab-driver-watch", daemon=True).start()


# --- backends -------------------------------------------------------------------------


class WorkerLost(Exception):
    """The process running a task died (killed, out of memory, crashed in C code)."""


def _worker_context():
    """``forkserver`` where there is one (POSIX), else ``spawn``; never plain ``fork``.

    Both start workers from a clean process, safe with PyTorch's thread pools. The fork
    server imports torch and actlab once; each worker (and each pool restarted after a
    crash) is then a fork of it, ready in milliseconds instead of seconds.
    """
    import multiprocessing

    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])  # no effect once the server runs
    return context


def _start_server_deaf_to_ctrl_c(context: Any) -> None:
    """Start the fork server with SIGINT ignored: it and every worker it forks inherit that.

    Ctrl-C goes to the whole process group. The driver alone handles it (it kills the
    workers); a fork server still importing torch, or a worker still unpickling its task
    before its initializer runs, would otherwise print a ``KeyboardInterrupt`` traceback
    (``SemLock._rebuild``, ``forkserver``). An ignored signal stays ignored across exec, and the
    server gives each child it forks its own (ignored) disposition.
    """
    import signal

    if context.get_start_method() != "forkserver" or threading.current_thread() is not threading.main_thread():
        return
    from multiprocessing import forkserver, resource_tracker

    resource_tracker.ensure_running()  # (it ignores SIGINT itself) outside the window below
    # For the few milliseconds the server takes to spawn, a Ctrl-C here is noted and raised after.
    pressed = []
    handler = signal.signal(signal.SIGINT, lambda *_: pressed.append(1))
    try:
        # exec keeps an ignored signal ignored but resets a handled one to its default: the
        # server must be spawned under SIG_IGN, so it is set around the spawn alone
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        forkserver.ensure_running()
    finally:
        signal.signal(signal.SIGINT, handler)
    if pressed:
        raise KeyboardInterrupt


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (Linux: read from /proc; elsewhere none)."""
    found = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return found
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:  # gone meanwhile, or not ours to read
            continue
        fields = stat[stat.rfind(b")") + 2:].split()  # after "pid (comm) ": state, ppid, ...
        if len(fields) > 1 and fields[1] == str(pid).encode():
            found.append(int(entry))
    return found


def _stop_fork_server() -> None:
    """Kill the fork server (it is started again, by ``ensure_running``, when a pool next needs it).

    On Ctrl-C or SIGTERM it would otherwise go on forking the workers the pool asked for, which
    then fail to find the pool's semaphores (a ``SemLock._rebuild`` traceback) and keep the
    resource tracker waiting (a "leaked semaphore" warning)."""
    import signal

    try:
        from multiprocessing import forkserver

        server = getattr(forkserver, "_forkserver", None)
        pid = getattr(server, "_forkserver_pid", None)
        if pid:
            # A worker the server forked a moment ago may not be in the pool's list yet (its
            # Process.start() still running in another thread): once the pool's semaphores are
            # gone it prints a SemLock._rebuild traceback. Freeze the server (no more forks),
            # kill its children, then the server.
            os.kill(pid, signal.SIGSTOP)
            for child in _children(pid):
                try:
                    os.kill(child, signal.SIGKILL)
                except OSError:
                    pass
            os.kill(pid, signal.SIGKILL)
            # forget it, so that the next pool in this process starts a fresh one (a dead server's
            # socket would answer the next pool with EOFError): reaps it and removes its socket
            stop = getattr(server, "_stop", None)
            if callable(stop):
                stop()
    except (ImportError, OSError):
        pass


#: True once a Ray join timed out: its thread is still blocked inside Ray's C++ client, and an
#: ordinary interpreter exit would tear that client down under it (``std::bad_alloc``, abort).
RAY_JOIN_STUCK = False


class _LocalBackend:
    """``concurrent.futures.ProcessPoolExecutor``: worker processes on this machine."""

    name = "local"
    # A dead worker breaks the whole pool: every task in flight fails with it.
    crash_takes_all = True

    def __init__(self, workers: int) -> None:
        self.slots = workers
        self._context = _worker_context()
        _start_server_deaf_to_ctrl_c(self._context)
        self._alive_r, self._alive_w = self._context.Pipe(duplex=False)
        self._pool = self._new_pool()

    def _new_pool(self):
        from concurrent.futures import ProcessPoolExecutor

        from ..activations.plugins import loaded_plugin_files

        return ProcessPoolExecutor(max_workers=self.slots, mp_context=self._context,
                                   initializer=_init_local_worker, initargs=(self._alive_r, loaded_plugin_files()))

    def submit(self, module_name: str, config: Any):
        from concurrent.futures.process import BrokenProcessPool

        from ..training.workers import submit_watched

        try:
            # watched: a worker that dies is noticed at once, not when a sibling's run ends
            return submit_watched(self._pool, execute_run, module_name, config)
        except BrokenProcessPool as exc:
            raise WorkerLost(f"a worker process died ({exc})") from None

    def wait(self, handles: Sequence[Any]) -> list[Any]:
        from concurrent.futures import FIRST_COMPLETED, wait

        done, _ = wait(handles, return_when=FIRST_COMPLETED)
        return list(done)

    def outcome(self, handle: Any) -> dict[str, Any]:
        from concurrent.futures.process import BrokenProcessPool

        try:
            return handle.result()
        except BrokenProcessPool as exc:
            raise WorkerLost(f"a worker process died ({exc})") from None

    def restart(self) -> None:
        self._pool.shutdown(wait=False)
        self._pool = self._new_pool()

    def close(self, cancel: bool = False, handles: Sequence[Any] = ()) -> None:
        if cancel:
            # No public way to stop a running task: kill the workers (private but stable
            # attribute; Python 3.14 adds ProcessPoolExecutor.kill_workers()).
            _stop_fork_server()  # first: no worker is forked after this
            for proc in list((getattr(self._pool, "_processes", None) or {}).values()):
                proc.kill()
        # Not waiting: workers finish exiting in the background (the pool joins them at exit).
        self._pool.shutdown(wait=False, cancel_futures=cancel)
        self._alive_w.close()  # idle workers see end-of-file and exit
        self._alive_r.close()


class _RayBackend:
    """Ray tasks (``num_cpus=1``, no retries: the driver retries a lost run itself)."""

    name = "ray"
    crash_takes_all = False

    def __init__(self, workers: int, address: str | None) -> None:
        try:
            import ray
        except ImportError:
            raise SweepError("--backend ray needs Ray, which is not installed here: "
                             "pip install 'actlab[ray]'") from None
        import logging

        self._ray = ray
        self._owner = False
        if not ray.is_initialized():
            address = address or os.environ.get("RAY_ADDRESS") or None
            if address and address not in ("auto", "local"):
                _join_cluster(ray, address, ray_timeout())
            else:
                try:  # a local Ray instance for this sweep (or "auto": the one this machine runs)
                    kwargs = {"address": address} if address else {"num_cpus": workers or None,
                                                                  "include_dashboard": False}
                    ray.init(**kwargs, logging_level=logging.ERROR, log_to_driver=False)
                except Exception as exc:  # ConnectionError, RuntimeError, ValueError...
                    where = f"the Ray cluster at {address}" if address else "a local Ray instance"
                    raise SweepError(f"cannot start or reach {where}: {_first_line(exc)}") from None
            self._owner = True
        self.slots = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        self._task = ray.remote(num_cpus=1, max_retries=0)(execute_run)
        from ..activations.plugins import loaded_plugin_files

        self._plugins = loaded_plugin_files()  # paths on this machine: a remote node needs the same path

    def submit(self, module_name: str, config: Any):
        if str(getattr(config, "device", "cpu")).startswith("cuda"):
            # A GPU run goes to a node with a free GPU (Ray sets CUDA_VISIBLE_DEVICES to it).
            return self._task.options(num_gpus=1).remote(module_name, config, self._plugins)
        return self._task.remote(module_name, config, self._plugins)

    def wait(self, handles: Sequence[Any]) -> list[Any]:
        ready, _ = self._ray.wait(list(handles), num_returns=1)
        return ready

    def outcome(self, handle: Any) -> dict[str, Any]:
        try:
            return self._ray.get(handle)
        except self._ray.exceptions.RayError as exc:  # worker or node died, out of memory, ...
            raise WorkerLost(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None

    def restart(self) -> None:
        pass

    def close(self, cancel: bool = False, handles: Sequence[Any] = ()) -> None:
        if cancel:
            for handle in handles:  # force: a claim's run does not look for cancellation
                try:
                    self._ray.cancel(handle, force=True)
                except Exception:  # best effort while stopping
                    pass
        if self._owner:
            self._ray.shutdown()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def ray_timeout() -> float:
    """Seconds that joining a Ray cluster may take: ``$ACTLAB_RAY_TIMEOUT``, else :data:`RAY_CONNECT_TIMEOUT_S`."""
    return env_seconds("ACTLAB_RAY_TIMEOUT", RAY_CONNECT_TIMEOUT_S, 3600, SweepError)


def _host_port(address: str) -> tuple[str, int] | None:
    """``host:port`` (or ``ray://host:port``) -> (host, port); None if it is not of that form."""
    rest = address.split("://", 1)[1] if "://" in address else address
    host, sep, port = rest.rpartition(":")
    if not sep or not port.isascii() or not port.isdigit():
        return None
    return host.strip("[]") or "127.0.0.1", int(port)


def _join_cluster(ray: Any, address: str, timeout: float) -> None:
    """``ray.init(address=...)``, given up after ``timeout`` seconds with one line (Ray itself retries forever).

    First a plain TCP connection (a refused or unroutable address fails here at once), then
    ``ray.init`` in a helper thread, waited for ``timeout`` seconds in all.
    """
    import logging

    fail = f"cannot reach the Ray cluster at {address}"
    start = time.monotonic()
    target = _host_port(address)
    if target is not None:
        try:
            socket.create_connection(target, timeout=min(timeout, 10.0)).close()
        except OSError as exc:
            raise SweepError(f"{fail} ({exc.strerror or _first_line(exc)}); check the address (ray status "
                             "on the head node prints it) or drop --ray-address for a local Ray") from None
    outcome: dict[str, BaseException | None] = {}

    def join() -> None:
        try:
            ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False)
            outcome["error"] = None
        except BaseException as exc:  # reported by the waiting thread
            outcome["error"] = exc

    # Ray's C++ client logs to the process's stderr (gcs_client.cc, "Source Location Trace") while
    # it retries: quiet below fatal unless the user set a level, and its lines kept off the terminal
    # while the join is waited for (the one-line SweepError says what happened).
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
    helper = threading.Thread(target=join, name="actlab-ray-init", daemon=True)
    with _stderr_aside():
        helper.start()
        helper.join(max(0.1, timeout - (time.monotonic() - start)))
    if "error" not in outcome:
        global RAY_JOIN_STUCK
        RAY_JOIN_STUCK = True  # its thread is still inside Ray's C++ client: the CLI leaves with os._exit
        raise SweepError(f"{fail}: no answer within {timeout:g}s (ACTLAB_RAY_TIMEOUT sets the limit); is a Ray "
                         "head running there (ray start --head)?")
    if outcome["error"] is not None:
        raise SweepError(f"{fail}: {_first_line(outcome['error'])}")


@contextmanager
def _stderr_aside() -> Iterator[None]:
    """File descriptor 2 goes to /dev/null for the block (C++ libraries write there directly)."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
    except (OSError, ValueError, AttributeError):  # no real stderr (captured): nothing to set aside
        yield
        return
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def start_backend(backend: str, workers: int, n_tasks: int, ray_address: str | None):
    if backend == "local":
        from ..training.workers import default_workers

        return _LocalBackend(workers or default_workers(n_tasks))
    if backend == "ray":
        return _RayBackend(workers, ray_address)
    raise SweepError(f"backend {backend!r} must be one of {', '.join(BACKENDS)}")


