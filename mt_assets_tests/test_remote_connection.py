"""Host-key pinning, authentication and reconnects against a real OpenSSH server."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import paramiko
import pytest
from pydantic import SecretStr

from mt_assets.remote.commands import run
from mt_assets.remote.connection import Backoff, SSHTarget, connect, fingerprint, target_from_env
from mt_assets.remote.errors import AuthenticationError, ConnectError, HostKeyError
from mt_assets.remote.session import SSHSession
from mt_assets_tests.sshd import SSHServer, keygen, running_sshd, write_known_hosts

FAST = Backoff(attempts=3, initial=0.05, factor=2.0)


@pytest.fixture(scope="module")
def sshd_server() -> Iterator[SSHServer]:
    with running_sshd() as server:
        yield server


def _whoami(client: paramiko.SSHClient) -> str:
    return run(client, ["id", "-un"], timeout=10, check=True).stdout.strip()


def test_known_hosts_pin_connects(sshd_server: SSHServer) -> None:
    client = connect(sshd_server.target())
    try:
        assert _whoami(client) == sshd_server.user
        assert fingerprint(client.get_transport().get_remote_server_key()) == sshd_server.fingerprint
    finally:
        client.close()


def test_fingerprint_pin_connects_without_known_hosts(sshd_server: SSHServer) -> None:
    target = sshd_server.target(known_hosts=None, host_key_fingerprint=sshd_server.fingerprint)
    client = connect(target)
    try:
        assert _whoami(client) == sshd_server.user
    finally:
        client.close()


def test_unknown_host_key_is_refused_with_its_fingerprint(sshd_server: SSHServer) -> None:
    with pytest.raises(HostKeyError) as err:
        connect(sshd_server.target(known_hosts=None), backoff=FAST)
    message = str(err.value)
    assert f"{sshd_server.host}:{sshd_server.port}" in message
    assert sshd_server.fingerprint in message
    assert "host_key_fingerprint=" in message  # says how to pin it


def test_unknown_host_in_known_hosts_file_is_refused(sshd_server: SSHServer, tmp_path) -> None:
    other = write_known_hosts(tmp_path / "kh", "127.0.0.1", sshd_server.port + 1, sshd_server.host_public_key)
    with pytest.raises(HostKeyError, match="unknown host key"):
        connect(sshd_server.target(known_hosts=other), backoff=FAST)


def test_changed_host_key_is_refused(sshd_server: SSHServer, tmp_path) -> None:
    impostor = keygen(tmp_path / "impostor")
    public = " ".join(impostor.with_suffix(".pub").read_text().split()[:2])
    known = write_known_hosts(tmp_path / "known_hosts", sshd_server.host, sshd_server.port, public)
    with pytest.raises(HostKeyError, match="CHANGED") as err:
        connect(sshd_server.target(known_hosts=known), backoff=FAST)
    assert sshd_server.fingerprint in str(err.value)


def test_wrong_fingerprint_is_refused(sshd_server: SSHServer) -> None:
    wrong = "SHA256:" + "A" * 43
    with pytest.raises(HostKeyError, match="does not match the pinned fingerprint") as err:
        connect(sshd_server.target(known_hosts=None, host_key_fingerprint=wrong), backoff=FAST)
    assert sshd_server.fingerprint in str(err.value) and wrong in str(err.value)


def test_insecure_flag_accepts_with_a_warning(sshd_server: SSHServer) -> None:
    warnings: list[str] = []
    client = connect(sshd_server.target(known_hosts=None, insecure_accept_unknown_host_key=True),
                     warn=warnings.append)
    try:
        assert _whoami(client) == sshd_server.user
    finally:
        client.close()
    assert len(warnings) == 1
    assert "INSECURE" in warnings[0] and sshd_server.fingerprint in warnings[0]


def test_insecure_flag_warns_through_logging_by_default(sshd_server: SSHServer, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="mt_assets.remote.connection"):
        connect(sshd_server.target(known_hosts=None, insecure_accept_unknown_host_key=True)).close()
    assert any("INSECURE" in r.getMessage() for r in caplog.records)


def test_wrong_client_key_is_a_clear_authentication_error(sshd_server: SSHServer, tmp_path) -> None:
    stranger = keygen(tmp_path / "stranger")
    with pytest.raises(AuthenticationError) as err:
        connect(sshd_server.target(key_file=stranger), backoff=FAST)
    assert f"{sshd_server.user}@{sshd_server.host}:{sshd_server.port}" in str(err.value)
    assert str(stranger) in str(err.value)


def test_refused_password_is_a_clear_authentication_error(sshd_server: SSHServer) -> None:
    secret = "pw-" + "x9" * 8
    with pytest.raises(AuthenticationError, match="failed with password") as err:
        connect(sshd_server.target(key_file=None, password=secret), backoff=FAST)
    assert secret not in str(err.value)


def test_key_material_instead_of_a_file(sshd_server: SSHServer) -> None:
    material = SecretStr(sshd_server.client_key.read_text())
    target = sshd_server.target(key_file=None, private_key=material)
    assert "PRIVATE KEY" not in repr(target) and "PRIVATE KEY" not in str(target)
    client = connect(target)
    try:
        assert _whoami(client) == sshd_server.user
    finally:
        client.close()


def test_secrets_are_masked_in_repr(tmp_path) -> None:
    target = SSHTarget(host="h", user="u", password="hunter2-secret", private_key=None)
    assert "hunter2-secret" not in repr(target) and "hunter2-secret" not in str(target)
    assert "hunter2-secret" not in target.model_dump_json()


def test_invalid_target_values_are_rejected() -> None:
    with pytest.raises(ValueError, match="host_key_fingerprint"):
        SSHTarget(host="h", user="u", password="p", host_key_fingerprint="MD5:aa:bb")
    with pytest.raises(ValueError, match="workdir"):
        SSHTarget(host="h", user="u", password="p", workdir="/tmp/../etc")
    with pytest.raises(ValueError, match="python"):
        SSHTarget(host="h", user="u", password="p", python="python3; rm -rf /")
    with pytest.raises(ValueError, match="key_file, private_key or password"):
        SSHTarget(host="h", user="u")


def test_unreachable_host_retries_with_backoff_then_fails(sshd_server: SSHServer) -> None:
    closed_port = sshd_server.port + 1 if sshd_server.port < 65535 else sshd_server.port - 1
    delays: list[float] = []
    with pytest.raises(ConnectError, match="after 3 attempts"):
        connect(sshd_server.target(port=closed_port), backoff=Backoff(attempts=3, initial=0.1, factor=3.0),
                sleep=delays.append)
    assert delays == [0.1, pytest.approx(0.3)]


def test_session_reconnects_after_the_connection_is_killed(sshd_server: SSHServer) -> None:
    reasons: list[str] = []
    with SSHSession(sshd_server.target(), backoff=FAST, on_reconnect=lambda n, why: reasons.append(why)) as session:
        assert session.call(lambda s: _whoami(s.client)) == sshd_server.user
        calls = []

        def killed_mid_call(s: SSHSession) -> str:
            calls.append(1)
            client = s.client
            if len(calls) == 1:
                client.get_transport().close()  # the connection drops during the operation
            return _whoami(client)

        assert session.call(killed_mid_call) == sshd_server.user
        assert len(calls) == 2
        assert session.call(lambda s: s.sftp.stat(".").st_mode) is not None
    assert session.reconnects == 1 and len(reasons) == 1 and "SSH" in reasons[0]


def test_session_does_not_retry_errors_on_a_live_connection(sshd_server: SSHServer) -> None:
    with SSHSession(sshd_server.target(), backoff=FAST) as session:
        with pytest.raises(FileNotFoundError):
            session.call(lambda s: s.sftp.stat(str(sshd_server.dir / "does-not-exist")))
        assert session.reconnects == 0


def test_target_from_environment_variables(sshd_server: SSHServer) -> None:
    env = {"MT_SSH_HOST": sshd_server.host, "MT_SSH_PORT": str(sshd_server.port), "MT_SSH_USER": sshd_server.user,
           "MT_SSH_KEY_FILE": str(sshd_server.client_key), "MT_SSH_KNOWN_HOSTS": str(sshd_server.known_hosts),
           "MT_SSH_WORKDIR": str(sshd_server.dir / "remote"), "MT_SSH_PYTHON": "python3", "OTHER": "ignored"}
    target = target_from_env(env)
    client = connect(target)
    try:
        assert _whoami(client) == sshd_server.user
    finally:
        client.close()


def test_bad_environment_names_the_variable_not_the_secret() -> None:
    with pytest.raises(ValueError) as err:
        target_from_env({"MT_SSH_HOST": "h", "MT_SSH_PORT": "twenty-two", "MT_SSH_PASSWORD": "s3cr3t-value"})
    message = str(err.value)
    assert "MT_SSH_PORT" in message and "MT_SSH_USER" in message and "s3cr3t-value" not in message
    with pytest.raises(ValueError, match="MT_SSH_KEY_FILE / MT_SSH_PRIVATE_KEY / MT_SSH_PASSWORD"):
        target_from_env({"MT_SSH_HOST": "h", "MT_SSH_USER": "u"})
