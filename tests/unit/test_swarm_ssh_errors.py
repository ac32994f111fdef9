"""`ssh://` endpoints: the ssh command the app runs, and ssh's stderr said in one line.

The stderr texts are what OpenSSH 9.2 (Debian 12) printed against the test suite's sshd
(tests/integration/test_swarm_ssh.py runs the same cases for real)."""

from __future__ import annotations

import pytest

from mlops_tui.backends.swarm.ssh import ssh_command, ssh_failure

HOST_KEY_CHANGED = """\
@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @
@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!
The fingerprint for the ED25519 key sent by the remote host is
SHA256:kNiPbkxw2zgU4vSFWm8JyHee9a49zgGyFm7blCxuBzg.
Add correct host key in ~/.ssh/known_hosts to get rid of this message.
Offending ED25519 key in ~/.ssh/known_hosts:1
  remove with:
  ssh-keygen -f "~/.ssh/known_hosts" -R "[127.0.0.1]:41331"
Host key for [127.0.0.1]:41331 has changed and you have requested strict checking.
Host key verification failed.
"""


def test_the_ssh_command_is_the_docker_clis_with_batch_mode_and_a_connect_timeout():
    assert ssh_command("ssh://swarm-manager", 10.0) == [
        "ssh", "-T", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "--", "swarm-manager",
        "docker", "system", "dial-stdio"]
    assert ssh_command("ssh://ops@manager-1:2222", 0.2)[5:10] == ["ConnectTimeout=1", "-l", "ops", "-p", "2222"]


@pytest.mark.parametrize(("stderr", "exit_code", "said"), [
    (HOST_KEY_CHANGED, 255, "the host key does not match known_hosts (the key in ~/.ssh/known_hosts:1)"),
    ("No ED25519 host key is known for [127.0.0.1]:41331 and you have requested strict checking.\n"
     "Host key verification failed.\n", 255, "the host key is not in known_hosts"),
    ("root@127.0.0.1: Permission denied (publickey).\n", 255, "authentication failed (permission denied, publickey)"),
    ("bash: line 1: docker: command not found\n", 127, "no docker on the far side"),
    ("sh: 1: docker: not found\n", 127, "no docker on the far side"),
    ("ssh: connect to host 127.0.0.1 port 9: Connection refused\n", 255, "ssh: Connection refused"),
    ("ssh: Could not resolve hostname swarm-managr: Name or service not known\n", 255,
     "ssh: Could not resolve hostname swarm-managr"),
    ("", 255, "ssh exited with status 255 and said nothing"),
])
def test_each_ssh_failure_is_said_in_one_line(stderr, exit_code, said):
    line = ssh_failure(stderr, exit_code)
    assert said in line and "\n" not in line and "ssh: ssh:" not in line


def test_a_running_ssh_that_said_nothing_is_no_reason():
    """No stderr and still running (or exited 0): the HTTP client's own reason is the better one."""
    assert ssh_failure("", None) == "" and ssh_failure("", 0) == ""
