"""Quoting and validation: hostile arguments reach the remote verbatim, unsafe names never do."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mt_assets.remote.commands import (
    remote_join,
    run,
    shell_join,
    validate_name,
    validate_remote_path,
)
from mt_assets.remote.connection import connect
from mt_assets.remote.errors import CommandError, UnsafeValueError
from mt_assets_tests.sshd import SSHServer, running_sshd

HOSTILE = [
    "; rm -rf /tmp/mt-should-not-exist",
    "two words",
    "it's",
    '"double" quotes',
    "$(touch /tmp/mt-injected)",
    "`touch /tmp/mt-injected`",
    "$HOME ${PATH}",
    "a\nnewline",
    "back\\slash",
    "-n",
    "*",
    "",
]


@pytest.fixture(scope="module")
def sshd_server() -> Iterator[SSHServer]:
    with running_sshd() as server:
        yield server


def test_hostile_arguments_reach_the_remote_verbatim(sshd_server: SSHServer, tmp_path) -> None:
    marker = tmp_path / "injected"
    args = [*HOSTILE, f"$(touch {marker})", f"; touch {marker}"]
    client = connect(sshd_server.target())
    try:
        # printf '%s\0' prints each argument as the remote shell received it
        result = run(client, ["printf", "%s\\0", *args], timeout=10, check=True)
    finally:
        client.close()
    assert result.stdout.split("\0")[:-1] == args
    assert not marker.exists()


def test_shell_join_refuses_a_plain_string() -> None:
    with pytest.raises(TypeError):
        shell_join("echo hi")


def test_run_reports_exit_code_stderr_and_timeout(sshd_server: SSHServer) -> None:
    client = connect(sshd_server.target())
    try:
        result = run(client, "echo out; echo err >&2; exit 3", timeout=10)
        assert (result.exit_code, result.stdout, result.stderr) == (3, "out\n", "err\n")
        with pytest.raises(CommandError, match="exit code 3"):
            result.check()
        big = run(client, ["head", "-c", "3000000", "/dev/zero"], timeout=30, check=True)
        assert len(big.stdout) == 3_000_000  # drained while running, no window deadlock
        assert run(client, ["cat"], stdin=b"from stdin", timeout=10).stdout == "from stdin"
        with pytest.raises(CommandError, match="timed out"):
            run(client, ["sleep", "5"], timeout=0.5)
    finally:
        client.close()


@pytest.mark.parametrize("name", ["tiny-ar-en-1a2b", "job_1", "model.v2", "A9"])
def test_safe_names_pass(name: str) -> None:
    assert validate_name(name) == name


@pytest.mark.parametrize(
    "name", ["", "..", "a/b", "-rf", ".hidden", "a..b", "x; rm", "$(id)", "a b", "é", "x" * 129, "a\nb"]
)
def test_unsafe_names_fail(name: str) -> None:
    with pytest.raises(UnsafeValueError, match="not a safe name"):
        validate_name(name, "job id")


@pytest.mark.parametrize("path", ["/content/mt-assets", "mt-work", ".mt-assets", "/tmp/x/y/", "a/b.c/d_e"])
def test_safe_remote_paths_pass(path: str) -> None:
    assert validate_remote_path(path) == path


@pytest.mark.parametrize(
    "path", ["", "/tmp/../etc", "~/x", "a//b", "x/./y", "/tmp/a b", "/tmp/$(id)", "/tmp/-rf", " /tmp", "a;b"]
)
def test_unsafe_remote_paths_fail(path: str) -> None:
    with pytest.raises(UnsafeValueError):
        validate_remote_path(path)


def test_remote_join_validates_each_component() -> None:
    assert remote_join("/w", "jobs", "tiny-1") == "/w/jobs/tiny-1"
    with pytest.raises(UnsafeValueError):
        remote_join("/w", "jobs", "../../etc")
