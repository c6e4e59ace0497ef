"""Local process runtime, for machines without Docker.

A container is a process group: the command starts in a new session (its own process group),
with the config's environment and working dir, stdout and stderr appended to one log file,
and the memory limit applied as RLIMIT_AS before exec. Stop is SIGTERM to the group, SIGKILL
after the timeout. CPU is not limited (no cgroups here), only measured.

The handle is ``"<pid>:<start time>:<log path>"``: the start time guards against pid reuse,
so any process on this host can check, stop or read the logs of a container another one
started. Exit codes are known only to the process that started it (the parent reaps it);
elsewhere an exit is reported with an unknown code.
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from pathlib import Path
from typing import Any

import psutil

from coordination.container.errors import ContainerRuntimeError
from coordination.container.models import ResourceUsage
from coordination.container.runtime.base import ContainerRuntime, RuntimeSpec, RuntimeState

_CPU_SAMPLE_S = 0.1


def _signal_exit(code: int) -> int:
    """Popen reports death by signal N as -N; report 128+N as a shell (and Docker) does."""
    return 128 - code if code < 0 else code


def resolve_command(command: list[str]) -> list[str]:
    """Find a bare program name on PATH, else beside this Python (a venv's ``coord``)."""
    program = command[0]
    if os.sep in program or shutil.which(program):
        return command
    beside = Path(sys.executable).parent / program
    if beside.is_file() and os.access(beside, os.X_OK):
        return [str(beside), *command[1:]]
    return command


class ProcessHandle:
    def __init__(self, pid: int, started: float, log_path: str):
        self.pid, self.started, self.log_path = pid, started, log_path

    @classmethod
    def parse(cls, handle: str) -> ProcessHandle:
        try:
            pid, started, log_path = handle.split(":", 2)
            return cls(int(pid), float(started), log_path)
        except ValueError:
            raise ContainerRuntimeError("process", f"malformed handle {handle!r}") from None

    def __str__(self) -> str:
        return f"{self.pid}:{self.started:.3f}:{self.log_path}"


class ProcessRuntime(ContainerRuntime):
    name = "process"

    def __init__(self) -> None:
        self._children: dict[int, subprocess.Popen[bytes]] = {}
        self._host = socket.gethostname()

    @property
    def node(self) -> str:
        return f"host:{self._host}"

    def create(self, spec: RuntimeSpec) -> str:
        if not spec.command:
            raise ContainerRuntimeError("process", "needs a command (it cannot run images)")
        log_path = Path(spec.log_path or f"/tmp/coordination-{spec.container_id}.log")
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.touch()
        return str(ProcessHandle(0, 0.0, str(log_path)))

    def start(self, handle: str, spec: RuntimeSpec) -> str:
        ref = ProcessHandle.parse(handle)
        if self._process(ref) is not None:
            raise ContainerRuntimeError("process", f"pid {ref.pid} is already running")
        if not spec.command:
            raise ContainerRuntimeError("process", "needs a command (it cannot run images)")
        memory = spec.resources.get("memory", 0)
        env = {**os.environ, **spec.environment}
        try:
            with open(ref.log_path, "ab") as log:
                child = subprocess.Popen(
                    resolve_command(list(spec.command)),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=spec.working_dir,
                    env=env,
                    start_new_session=True,  # own process group: stop/kill reach all of it
                    preexec_fn=(lambda: _limit_memory(memory)) if memory else None,
                )
        except OSError as exc:
            raise ContainerRuntimeError(
                "process", f"cannot start {spec.command[0]!r}: {exc}"
            ) from exc
        self._children.pop(ref.pid, None)  # the previous run, already reaped
        self._children[child.pid] = child
        try:
            started = psutil.Process(child.pid).create_time()
        except psutil.NoSuchProcess:
            started = 0.0  # exited at once; state() reports the exit
        return str(ProcessHandle(child.pid, started, ref.log_path))

    def _process(self, ref: ProcessHandle) -> psutil.Process | None:
        """The live process behind the handle, or None (exited, reaped or pid reused)."""
        if ref.pid <= 0:
            return None
        child = self._children.get(ref.pid)
        if child is not None and child.poll() is not None:
            return None
        try:
            proc = psutil.Process(ref.pid)
            if ref.started and abs(proc.create_time() - ref.started) > 0.05:
                return None
            if proc.status() == psutil.STATUS_ZOMBIE:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(ref.pid, os.WNOHANG)
                return None
        except psutil.NoSuchProcess:
            return None
        return proc

    def _exit_code(self, ref: ProcessHandle) -> int | None:
        child = self._children.get(ref.pid)
        if child is None or child.returncode is None:
            return None
        return _signal_exit(child.returncode)

    def state(self, handle: str) -> RuntimeState:
        ref = ProcessHandle.parse(handle)
        proc = self._process(ref)
        if proc is None:
            code = self._exit_code(ref)
            detail = "never started" if ref.pid <= 0 else f"pid {ref.pid} exited"
            return RuntimeState(exists=True, running=False, exit_code=code, detail=detail)
        paused = proc.status() == psutil.STATUS_STOPPED
        return RuntimeState(exists=True, running=True, detail="paused" if paused else "running")

    def _signal_group(self, ref: ProcessHandle, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(ref.pid, sig)

    def _wait(self, ref: ProcessHandle, proc: psutil.Process, timeout: float) -> bool:
        """Wait for the group leader to exit; True if it did within ``timeout``."""
        child = self._children.get(ref.pid)
        try:
            if child is not None:
                child.wait(timeout)
            else:
                proc.wait(timeout)
        except (subprocess.TimeoutExpired, psutil.TimeoutExpired):
            return False
        return True

    def stop(self, handle: str, timeout: float) -> int | None:
        ref = ProcessHandle.parse(handle)
        proc = self._process(ref)
        if proc is None:
            return self._exit_code(ref)
        self._signal_group(ref, signal.SIGCONT)  # a paused group cannot act on SIGTERM
        self._signal_group(ref, signal.SIGTERM)
        if not self._wait(ref, proc, timeout):
            self._signal_group(ref, signal.SIGKILL)
            self._wait(ref, proc, 10.0)
        self._signal_group(ref, signal.SIGKILL)  # stragglers left in the group
        return self._exit_code(ref)

    def kill(self, handle: str) -> int | None:
        ref = ProcessHandle.parse(handle)
        proc = self._process(ref)
        if proc is None:
            return self._exit_code(ref)
        self._signal_group(ref, signal.SIGKILL)
        self._wait(ref, proc, 10.0)
        return self._exit_code(ref)

    def pause(self, handle: str) -> None:
        ref = ProcessHandle.parse(handle)
        if self._process(ref) is None:
            raise ContainerRuntimeError("process", f"pid {ref.pid} is not running")
        self._signal_group(ref, signal.SIGSTOP)

    def unpause(self, handle: str) -> None:
        self._signal_group(ProcessHandle.parse(handle), signal.SIGCONT)

    def remove(self, handle: str) -> None:
        ref = ProcessHandle.parse(handle)
        self.kill(handle)
        self._children.pop(ref.pid, None)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(ref.log_path)

    def logs(self, handle: str, lines: int = 100) -> str:
        ref = ProcessHandle.parse(handle)
        try:
            with open(ref.log_path, encoding="utf-8", errors="replace") as log:
                return "".join(deque(log, maxlen=lines))
        except FileNotFoundError:
            return ""

    def usage(self, handle: str) -> ResourceUsage:
        ref = ProcessHandle.parse(handle)
        proc = self._process(ref)
        if proc is None:
            return ResourceUsage(running=False)
        group = _group(proc)
        for member in group:
            with contextlib.suppress(psutil.Error):
                member.cpu_percent(None)
        time.sleep(_CPU_SAMPLE_S)  # cpu_percent needs a measuring interval
        cpu, rss = 0.0, 0
        for member in group:
            with contextlib.suppress(psutil.Error):
                cpu += member.cpu_percent(None)
                rss += member.memory_info().rss
        return ResourceUsage(
            cpu_percent=cpu,
            memory_used=rss,
            memory_limit=_memory_limit(proc),
            pids=len(group),
            running=True,
        )

    def inspect(self, handle: str) -> dict[str, Any]:
        ref = ProcessHandle.parse(handle)
        proc = self._process(ref)
        info: dict[str, Any] = {"pid": ref.pid, "log_path": ref.log_path, "running": False}
        if proc is None:
            info["exit_code"] = self._exit_code(ref)
            return info
        with proc.oneshot():
            info.update(
                running=True,
                status=proc.status(),
                pgid=os.getpgid(ref.pid),
                cmdline=proc.cmdline(),
                cwd=proc.cwd(),
                create_time=proc.create_time(),
                memory_limit=_memory_limit(proc),
                host=self._host,
            )
        return info


def _limit_memory(limit: int) -> None:
    """Runs in the child between fork and exec."""
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _group(proc: psutil.Process) -> list[psutil.Process]:
    try:
        return [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return [proc]


def _memory_limit(proc: psutil.Process) -> int | None:
    try:
        soft, _hard = proc.rlimit(psutil.RLIMIT_AS)
    except psutil.Error:
        return None
    return None if soft == resource.RLIM_INFINITY else int(soft)
