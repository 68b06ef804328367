"""Runs ON THE REMOTE HOST, as a plain script (stdlib only, any Python 3.8+): it is uploaded next
to each job and executed as `python -S supervisor.py MODE PREFIX ...` (-S: no site-packages to scan,
so each status poll starts fast).

    start PREFIX CWD -- COMMAND...   detach COMMAND from the SSH session and print "started SUP CHILD"
    status PREFIX                    print JSON {state, exit_code, pid}
    signal PREFIX SIGNAME            signal COMMAND's process group, print status JSON

`start` reads extra environment variables as a JSON object on stdin: secrets such as HF_TOKEN travel
inside the encrypted SSH channel into this process's memory and then into COMMAND's environment only,
never onto a command line (visible in `ps`) or into a file. The supervisor double-forks into its own
session (so closing the connection sends no SIGHUP), runs COMMAND in a new process group with stdout and
stderr appended to PREFIX.log and PREFIX.err (kept apart so the log holds only what the
command prints on stdout, e.g. one JSON event per line), and writes PREFIX.pid ("SUPERVISOR_PID CHILD_PID") and, when COMMAND ends,
PREFIX.rc (its exit code; negative = killed by that signal). A missing .rc with a dead supervisor means
the job died with the host (reboot, OOM killer, runtime recycled).
"""

import json
import os
import signal
import subprocess
import sys

ALREADY_RUNNING = 3


def _read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def _write_atomic(path, text):
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def _pids(prefix):
    text = _read(prefix + ".pid")
    if not text:
        return None, None
    sup, child = text.split()
    return int(sup), int(child)


def _alive(pid, prefix):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    cmdline = f"/proc/{pid}/cmdline"
    if os.path.exists(cmdline):  # guards against a recycled pid (Linux)
        with open(cmdline, "rb") as f:
            return prefix.encode() in f.read()
    return True


def status(prefix):
    sup, child = _pids(prefix)
    rc = _read(prefix + ".rc")
    if rc is not None:
        return {"state": "exited", "exit_code": int(rc), "pid": child}
    if sup is None:
        return {"state": "absent", "exit_code": None, "pid": None}
    if _alive(sup, prefix):
        return {"state": "running", "exit_code": None, "pid": child}
    rc = _read(prefix + ".rc")  # it may have finished between the two reads
    if rc is not None:
        return {"state": "exited", "exit_code": int(rc), "pid": child}
    return {"state": "died", "exit_code": None, "pid": child}


def send_signal(prefix, name):
    current = status(prefix)
    if current["state"] == "running":
        try:
            os.killpg(current["pid"], getattr(signal, name))
        except ProcessLookupError:
            pass
    return status(prefix)


def start(prefix, cwd, command):
    extra_env = json.loads(sys.stdin.read() or "{}")
    current = status(prefix)
    if current["state"] == "running":
        print(f"already-running {current['pid']}")
        return ALREADY_RUNNING
    for suffix in (".rc", ".pid"):
        if os.path.exists(prefix + suffix):
            os.unlink(prefix + suffix)
    read_end, write_end = os.pipe()
    if os.fork() > 0:
        os.close(write_end)
        with os.fdopen(read_end) as report:
            message = report.read()
        print(message)
        return 0 if message.startswith("started") else 1
    os.close(read_end)
    os.setsid()
    if os.fork() > 0:  # the session leader exits, so the daemon can never regain a terminal
        os._exit(0)
    devnull = os.open(os.devnull, os.O_RDONLY)
    log = os.open(prefix + ".log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    err = os.open(prefix + ".err", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    for fd, target in ((0, devnull), (1, log), (2, err)):
        os.dup2(target, fd)
    env = dict(os.environ)
    env.update(extra_env)
    try:
        child = subprocess.Popen(command, cwd=cwd, env=env, stdin=devnull, stdout=log, stderr=err,
                                 start_new_session=True)
    except OSError as exc:
        os.write(write_end, f"error: cannot start {command[0]!r}: {exc}".encode())
        os._exit(0)
    del env, extra_env
    _write_atomic(prefix + ".pid", f"{os.getpid()} {child.pid}\n")
    os.write(write_end, f"started {os.getpid()} {child.pid}".encode())
    os.close(write_end)
    code = child.wait()
    _write_atomic(prefix + ".rc", f"{code}\n")
    os._exit(0)


def main(argv):
    mode, prefix = argv[0], argv[1]
    if mode == "start":
        if argv[3] != "--":
            raise SystemExit("usage: start PREFIX CWD -- COMMAND...")
        return start(prefix, argv[2], argv[4:])
    if mode == "status":
        print(json.dumps(status(prefix)))
        return 0
    if mode == "signal":
        print(json.dumps(send_signal(prefix, argv[2])))
        return 0
    raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
