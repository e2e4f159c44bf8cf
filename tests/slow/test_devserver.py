"""`python -m anka_assets.devserver`: `dagster dev` / `dg dev` that stop within 5 s on SIGINT or SIGTERM,
however they were started, and leave no process behind (issue 17, item 9)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request

import pytest

from anka_assets.devserver import dev_command, stop_group

STOP_WITHIN_S = 5.0


def session_processes(sid: int) -> list[str]:
    """Every process of a session, zombies included (``ps -s``)."""
    out = subprocess.run(["ps", "-ww", "-o", "pid=,stat=,args=", "-s", str(sid)], capture_output=True, text=True).stdout
    return [line.strip() for line in out.splitlines() if line.strip()]


def test_dev_command_prefers_this_environment(tmp_path, monkeypatch):
    venv, elsewhere = tmp_path / "venv", tmp_path / "elsewhere"
    for folder in (venv, elsewhere):
        folder.mkdir()
    (venv / "dg").write_text("")
    (elsewhere / "dagster").write_text("")
    (elsewhere / "dagster").chmod(0o755)
    monkeypatch.setenv("PATH", str(elsewhere))
    assert dev_command(True, ["--port", "1"], bin_dir=venv) == [str(venv / "dg"), "dev", "--port", "1"]
    assert dev_command(False, [], bin_dir=venv) == [str(elsewhere / "dagster"), "dev"]  # not in venv: PATH's
    monkeypatch.setenv("PATH", str(venv))
    with pytest.raises(SystemExit, match="`dagster` is not installed"):
        dev_command(False, [], bin_dir=venv)


def test_stop_group_kills_a_tree_that_ignores_sigint_and_leaves_no_process(tmp_path):
    """A leader and a grandchild that both ignore SIGINT (what `dagster dev` does when started as a
    background job): SIGKILL after the grace, nothing left, the whole stop within the budget."""
    script = textwrap.dedent("""
        import signal, subprocess, sys, time
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        subprocess.Popen([sys.executable, "-c", "import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); "
                          "print('up', flush=True); time.sleep(600)"])
        time.sleep(600)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], start_new_session=True, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "up"
        started = time.monotonic()
        assert stop_group(proc, grace_s=0.5) is False  # it had to be killed
        assert time.monotonic() - started < 0.5 + 1.5
        assert proc.returncode == -signal.SIGKILL
        time.sleep(0.2)
        # the killed grandchild may linger a moment as a zombie of init (the launcher reaps its own)
        assert [p for p in session_processes(proc.pid) if not p.split()[1].startswith("Z")] == []
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_stop_group_is_clean_when_the_tree_stops_on_sigint():
    proc = subprocess.Popen([sys.executable, "-c", "import time\nprint('up', flush=True)\ntime.sleep(600)"],
                            start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout.readline().strip() == "up"
    assert stop_group(proc, grace_s=5.0) is True and proc.returncode != 0


# -- for real: the Dagster UI, daemon and code server ---------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_serving(port: int, alive, limit_s: float = 240) -> None:
    deadline = time.monotonic() + limit_s
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2).read()
            return
        except OSError:
            assert alive(), "the dev server exited before it answered"
            assert time.monotonic() < deadline, f"no answer on port {port} within {limit_s} s"
            time.sleep(0.5)


def kill_session(sid: int) -> None:
    """Clean-up after a failed assertion: SIGKILL the process group the test started."""
    try:
        os.killpg(sid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def test_a_background_job_of_a_non_interactive_shell_ignores_sigint():
    """Why plain `dagster dev &` in a script ignores SIGINT (and, mapped onto it, SIGTERM)."""
    out = subprocess.run(["bash", "-c", "grep SigIgn /proc/self/status & wait"], capture_output=True, text=True,
                         start_new_session=True).stdout
    assert int(out.split()[1], 16) & (1 << (signal.SIGINT - 1))


def devserver_args(port: int) -> list[str]:
    return [sys.executable, "-m", "anka_assets.devserver", "-m", "anka_assets.definitions",
            "-h", "127.0.0.1", "-p", str(port)]


@pytest.mark.slow
def test_dagster_dev_stops_within_5_s_on_sigterm_and_on_sigint_leaving_no_process(project):
    home, env = project

    # 1. Started from Python in its own session, SIGTERM.
    port = free_port()
    proc = subprocess.Popen(devserver_args(port), cwd=home, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_serving(port, lambda: proc.poll() is None)
        assert any("dagster dev" in p for p in session_processes(proc.pid)), session_processes(proc.pid)
        # The webserver may answer before the code server has started: wait for it, so the stop below has
        # every kind of process to stop.
        deadline = time.monotonic() + 120
        while not any("code-server" in p or "api grpc" in p for p in session_processes(proc.pid)):
            assert time.monotonic() < deadline, session_processes(proc.pid)
            time.sleep(0.2)
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        took = time.monotonic() - started
        assert took < STOP_WITHIN_S, f"stopped after {took:.1f} s"
        assert session_processes(proc.pid) == []
    finally:
        kill_session(proc.pid)

    # 2. Started as a background job of a non-interactive shell (SIGINT ignored by inheritance: plain
    # `dagster dev` then ignores SIGINT and SIGTERM for good), SIGINT.
    port = free_port()
    line = " ".join(devserver_args(port)) + " & echo $! ; wait"
    shell = subprocess.Popen(["bash", "-c", line], cwd=home, env=env, start_new_session=True,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        launcher = int(shell.stdout.readline())
        wait_until_serving(port, lambda: shell.poll() is None)
        started = time.monotonic()
        os.kill(launcher, signal.SIGINT)
        shell.wait(timeout=30)  # bash returns once the launcher has exited
        took = time.monotonic() - started
        assert took < STOP_WITHIN_S, f"stopped after {took:.1f} s"
        assert session_processes(shell.pid) == []
    finally:
        kill_session(shell.pid)
