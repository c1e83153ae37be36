"""The sandbox's child process: a small Python REPL driven over a pipe (JSON lines).

Run by ``onetwo.agents.sandbox.PythonSandbox`` as ``python -I -S -B _child.py``: it
imports nothing from onetwo (``-I`` leaves the script's folder off ``sys.path``).

Start-up, before any user code runs:

1. keep the protocol pipe (fds 0 and 1) on private descriptors; point 0 and 1 at
   ``/dev/null``;
2. read the ``init`` message; set the resource limits (CPU seconds, address space, file
   size, open files); ``chdir`` to the scratch folder; seed ``random``;
3. install the audit hook (``sys.addaudithook``, which cannot be removed): ``open``
   outside the scratch folder (reads of the standard library excepted, for imports),
   path operations outside it, processes, signals, sockets, ``ctypes`` and changing
   limits all raise ``PermissionError``.

Then it answers ``exec`` messages with ``result`` messages; a call of a host tool from
user code sends ``tool_call`` and waits for the host's ``tool_result``.
"""

import ast
import contextlib
import io
import json
import os
import random
import resource
import signal
import sys
import traceback
from typing import Any, NoReturn

_proto_in = os.fdopen(os.dup(0), "r", encoding="utf-8", newline="\n")
_proto_out = os.fdopen(os.dup(1), "w", encoding="utf-8", newline="\n")
_null = os.open(os.devnull, os.O_RDWR)
os.dup2(_null, 0)
os.dup2(_null, 1)
os.close(_null)

_BLOCKED_EVENTS = (
    "os.system",
    "os.exec",
    "os.posix_spawn",
    "os.spawn",
    "os.fork",
    "os.forkpty",
    "os.kill",
    "os.killpg",
    "os.chdir",
    "os.symlink",
    "os.link",
    "os.chroot",
    "os.startfile",
    "subprocess.Popen",
    "pty.spawn",
    "signal.pthread_kill",
    "resource.setrlimit",
    "resource.prlimit",
    "socket.",
    "ctypes.",
    "sys.addaudithook",
    "sys.setprofile",
    "sys.settrace",
    "winreg.",
)
# Events whose first argument (or first two) is a path the sandbox may touch.
_PATH_EVENTS: dict[str, tuple[int, ...]] = {
    **dict.fromkeys(
        (
            "os.listdir",
            "os.scandir",
            "os.remove",
            "os.rmdir",
            "os.mkdir",
            "os.truncate",
            "os.chmod",
            "os.chown",
            "os.chflags",
            "os.utime",
            "os.setxattr",
            "os.removexattr",
            "os.listxattr",
            "os.getxattr",
            "shutil.rmtree",
            "shutil.chown",
        ),
        (0,),
    ),
    **dict.fromkeys(
        (
            "os.rename",
            "os.replace",
            "shutil.copyfile",
            "shutil.copytree",
            "shutil.move",
        ),
        (0, 1),
    ),
}
# Listing the standard library's folders is how the import system finds modules.
_READ_EVENTS = frozenset({"os.listdir", "os.scandir", "os.listxattr", "os.getxattr"})
_BLOCKED_IMPORTS = frozenset(
    {"ctypes", "_ctypes", "socket", "_socket", "_posixsubprocess", "subprocess", "pty"}
    | {"multiprocessing", "_multiprocessing", "_xxsubinterpreters", "_testcapi"}
)
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def _send(message: dict[str, Any]) -> None:
    _proto_out.write(json.dumps(message, ensure_ascii=False) + "\n")
    _proto_out.flush()


def _receive() -> dict[str, Any]:
    line = _proto_in.readline()
    if not line:
        os._exit(0)  # the host is gone
    message: dict[str, Any] = json.loads(line)
    return message


def _set_limits(limits: dict[str, Any]) -> None:
    cpu, memory, fsize, nofile = (limits.get(k) for k in ("cpu", "memory", "fsize", "nofile"))
    if cpu:
        resource.setrlimit(resource.RLIMIT_CPU, (int(cpu), int(cpu) + 1))
    if memory:
        resource.setrlimit(resource.RLIMIT_AS, (int(memory), int(memory)))
    if fsize:
        resource.setrlimit(resource.RLIMIT_FSIZE, (int(fsize), int(fsize)))
    if nofile:
        resource.setrlimit(resource.RLIMIT_NOFILE, (int(nofile), int(nofile)))


def _install_hook(scratch: str) -> None:
    realpath, fsdecode, sep = os.path.realpath, os.fsdecode, os.sep
    stdlib = realpath(os.path.dirname(os.__file__))
    not_stdlib = tuple(os.path.join(stdlib, d) + sep for d in ("site-packages", "dist-packages"))
    scratch = realpath(scratch)

    def inside(path: str, root: str) -> bool:
        return path == root or path.startswith(root + sep)

    def readable(real: str) -> bool:  # the standard library, for imports
        return inside(real, stdlib) and not real.startswith(not_stdlib)

    def resolved(path: Any) -> str:
        if isinstance(path, int):
            raise PermissionError("sandbox: opening file descriptors is not allowed")
        return realpath(fsdecode(path))

    def refuse(what: str, path: Any) -> NoReturn:
        raise PermissionError(f"sandbox: {what} {path!r} is outside the scratch folder")

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event == "open":
            path, mode, flags = args
            if path is None:
                return
            real = resolved(path)
            if inside(real, scratch):
                return
            writing = (mode is not None and any(c in mode for c in "wax+")) or bool(
                (flags or 0) & _WRITE_FLAGS
            )
            if not writing and readable(real):
                return
            refuse("access to", fsdecode(path))
        elif event == "import":
            if args[0] in _BLOCKED_IMPORTS or args[0].split(".")[0] in _BLOCKED_IMPORTS:
                raise PermissionError(f"sandbox: importing {args[0]} is not allowed")
        elif event in _PATH_EVENTS:
            for i in _PATH_EVENTS[event]:
                if i < len(args) and args[i] is not None and not isinstance(args[i], int):
                    real = resolved(args[i])
                    if inside(real, scratch) or (event in _READ_EVENTS and readable(real)):
                        continue
                    refuse(event, fsdecode(args[i]))
        elif event.startswith(_BLOCKED_EVENTS):
            raise PermissionError(f"sandbox: {event} is not allowed")

    sys.addaudithook(hook)


class _Exit(BaseException):
    pass


class ToolCallError(Exception):
    """A host tool refused or failed the call (its message says why)."""


def _make_tool(name: str, state: dict[str, int]) -> Any:
    def call(*args: Any, **kwargs: Any) -> Any:
        state["calls"] += 1
        call_id = state["calls"]
        try:
            _send({"op": "tool_call", "id": call_id, "name": name, "args": args, "kwargs": kwargs})
        except (TypeError, ValueError) as e:
            message = f"{name}() arguments must be JSON data (str, numbers, lists...): {e}"
            raise TypeError(message) from None
        reply = _receive()
        if reply.get("status") == "ok":
            return reply.get("value")
        raise ToolCallError(reply.get("text", f"{name} failed"))

    call.__name__ = call.__qualname__ = name
    return call


def _describe_error(e: BaseException, filename: str) -> str:
    frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename == filename]
    where = f"line {frames[-1].lineno}: " if frames else ""
    if isinstance(e, SyntaxError) and e.filename == filename:
        where = f"line {e.lineno}: "
    return where + "".join(traceback.format_exception_only(type(e), e)).strip()


def _execute(
    code: str, namespace: dict[str, Any], state: dict[str, int], max_output: int
) -> dict[str, Any]:
    state["calls"] = 0
    state["cell"] += 1
    filename = f"<cell {state['cell']}>"
    out = io.StringIO()
    status, error, exited = "ok", "", False
    value: str | None = None
    try:
        tree = ast.parse(code, filename, "exec")
        last = None
        tail = tree.body[-1] if tree.body else None
        if isinstance(tail, ast.Expr):
            tree.body.pop()
            last = ast.Expression(tail.value)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            try:
                exec(compile(tree, filename, "exec"), namespace)
                if last is not None:
                    result = eval(compile(last, filename, "eval"), namespace)
                    if result is not None:
                        value = repr(result)
            except _Exit:
                exited = True
    except MemoryError:
        status, error = "memory_limit", "MemoryError: the code exceeded the sandbox's memory limit"
    except RecursionError as e:
        status, error = "error", _describe_error(e, filename)
    except BaseException as e:  # the code's failure is its result
        status, error = "error", _describe_error(e, filename)
    text = out.getvalue()
    if len(text) > max_output:
        text = text[:max_output] + f"\n[... output truncated at {max_output} characters]"
    return {"status": status, "stdout": text, "value": value, "error": error, "exited": exited}


def main() -> None:
    init = _receive()
    scratch = init["scratch"]
    _set_limits(init.get("limits", {}))
    os.chdir(scratch)
    random.seed(init.get("seed", 0))
    for module in init.get("preload", ()):
        __import__(module)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    state = {"calls": 0, "cell": 0}

    def exit_(*_: Any) -> NoReturn:
        raise _Exit

    namespace: dict[str, Any] = {
        "__name__": "__sandbox__",
        "__builtins__": __builtins__,
        "exit": exit_,
    }
    namespace["quit"] = exit_
    for name in init.get("tools", ()):
        namespace[name] = _make_tool(name, state)
    max_output = int(init.get("max_output", 20000))
    _install_hook(scratch)
    _send({"op": "ready", "pid": os.getpid()})
    while True:
        message = _receive()
        if message.get("op") != "exec":
            continue
        result = _execute(message["code"], namespace, state, max_output)
        result.update(op="result", id=message.get("id"))
        _send(result)


main()
