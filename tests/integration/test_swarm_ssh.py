"""Swarm over SSH against a real `sshd` (Debian's openssh-server) and the real dockerd Swarm.

The test starts its own `sshd` (its PID, its host key, its `sshd_config` in a tmp dir) on 127.0.0.1 on
free high ports, key auth only, as root (`PermitRootLogin prohibit-password`). The far side runs what
the docker CLI runs there, `docker system dial-stdio`, which reaches the shared dockerd's socket. Extra
ports of the same sshd give the broken far sides: `Match LocalPort` with a PATH without docker, and one
whose ForceCommand reads and never answers (and ends when the client goes, leaving nothing behind).

The client side never touches the real `~/.ssh`: OpenSSH reads `~/.ssh/config` from the passwd home
directory, not `$HOME`, so a tmp `ssh_config` (aliases, ports, identities, known hosts) is handed to
the real `/usr/bin/ssh` with `-F` by a two-line `ssh` wrapper put first on PATH, for the app and the
docker CLI alike. The aliases exist only in that file: a connection that works came through ssh's
config. `docker` (on the local socket) is the judge of what the Swarm holds.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mlops_tui.backends.model import HealthState, ModelService
from mlops_tui.backends.plans import Scale
from mlops_tui.backends.swarm.client import (
    EngineClient,
    EngineError,
    SwarmEndpoint,
    is_swarm_manager,
    local_socket_info,
    parse_endpoint,
)
from mlops_tui.backends.swarm.watch import SwarmBackend
from tests.engines import require, require_binary

pytestmark = pytest.mark.integration

SOCKET = "/var/run/docker.sock"
DOCKER = "/usr/bin/docker" if os.path.exists("/usr/bin/docker") else "docker"
SSHD_CANDIDATES = ("/usr/sbin/sshd",)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(what: str, check: Callable[[], object], timeout: float = 30.0, every: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(every)


def accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def keygen(path: Path) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", path.name, "-f", str(path)],
                   check=True, capture_output=True, timeout=30)
    return path.with_suffix(".pub").read_text().strip()


@dataclass
class SshLab:
    """The sshd this module started and the client side that reaches it through aliases."""

    dir: Path
    sshd: subprocess.Popen
    env: dict[str, str]
    """The environment the app and the docker CLI run with: the ssh wrapper first on PATH."""
    config: Path
    ports: dict[str, int]

    def far_side_processes(self, port_name: str) -> list[int]:
        """PIDs of the commands this sshd runs for sessions on one of its ports (the far side)."""
        marker = f" 127.0.0.1 {self.ports[port_name]}\0".encode()
        pids = []
        for entry in Path("/proc").iterdir():
            try:
                environ = (entry / "environ").read_bytes() if entry.name.isdigit() else b""
            except OSError:
                continue
            if b"SSH_CONNECTION=" in environ and marker in environ:
                pids.append(int(entry.name))
        return pids

    def ssh_processes(self) -> list[int]:
        """PIDs of every ssh still running with this lab's config (a child of ours or an orphan), and of
        every ssh child of ours that exited and was never reaped (a zombie has no command line left)."""
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            comm, _, rest = stat.partition(" (")[2].rpartition(") ")
            state, ppid = rest.split()[:2]
            running_ours = argv[0].endswith(b"ssh") and str(self.config).encode() in argv
            unreaped_ours = comm == "ssh" and state == "Z" and int(ppid) == os.getpid()
            if running_ours or unreaped_ours:
                pids.append(int(entry.name))
        return pids


def write_sshd_config(lab: Path, ports: dict[str, int]) -> Path:
    config = lab / "sshd_config"
    config.write_text(f"""\
Port {ports['ok']}
Port {ports['no_docker']}
Port {ports['silent']}
ListenAddress 127.0.0.1
HostKey {lab / 'host_key'}
PidFile {lab / 'sshd.pid'}
AuthorizedKeysFile {lab / 'authorized_keys'}
StrictModes no
UsePAM no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowUsers root
LogLevel VERBOSE
Match LocalPort {ports['no_docker']}
    SetEnv PATH=/nonexistent-bin
Match LocalPort {ports['silent']}
    ForceCommand cat >/dev/null
""")
    return config


def write_client_config(lab: Path, ports: dict[str, int]) -> Path:
    def host(alias: str, port: int, key: str = "client_key", known: str = "known_hosts") -> str:
        return (f"Host {alias}\n  HostName 127.0.0.1\n  Port {port}\n  User root\n"
                f"  IdentityFile {lab / key}\n  UserKnownHostsFile {lab / known}\n")

    config = lab / "ssh_config"
    config.write_text("".join([
        host("swarm-lab", ports["ok"]),
        host("swarm-wrong-hostkey", ports["ok"], known="known_hosts_other"),
        host("swarm-unknown-host", ports["ok"], known="known_hosts_empty"),
        host("swarm-stranger", ports["ok"], key="stranger_key"),
        host("swarm-no-docker", ports["no_docker"]),
        host("swarm-agent", ports["ok"], key="agent_key.pub") + "  IdentityAgent SSH_AUTH_SOCK\n",
        host("swarm-silent", ports["silent"]),
        host("swarm-refused", ports["refused"]),
        "Host *\n  IdentitiesOnly yes\n  IdentityAgent none\n  GlobalKnownHostsFile /dev/null\n"
        "  StrictHostKeyChecking yes\n  PasswordAuthentication no\n",
    ]))
    return config


@pytest.fixture(scope="module")
def ssh_lab(tmp_path_factory) -> Iterator[SshLab]:
    info = local_socket_info(SOCKET)
    require(info is not None, f"dockerd is not answering on {SOCKET} (run .ci/start-swarm.sh)")
    require(is_swarm_manager(info), "the local dockerd is not a Swarm manager (run .ci/start-swarm.sh)")
    images = subprocess.run([DOCKER, "image", "ls", "--format", "{{.Repository}}:{{.Tag}}"], capture_output=True,
                            text=True, timeout=60, env={**os.environ, "DOCKER_HOST": f"unix://{SOCKET}"}).stdout.split()
    require("mlops/busybox:1" in images, "the local image mlops/busybox:1 is missing (run .ci/start-swarm.sh)")
    sshd_path = next((p for p in SSHD_CANDIDATES if os.access(p, os.X_OK)), shutil.which("sshd"))
    require(sshd_path is not None, "sshd is not installed (Debian's openssh-server)")
    require(os.geteuid() == 0, "sshd for the test logs in as root, so the tests must run as root")
    real_ssh = require_binary("ssh")
    require_binary("ssh-keygen")

    lab = tmp_path_factory.mktemp("ssh")
    ports = {name: free_port() for name in ("ok", "no_docker", "silent", "refused")}
    host_key = keygen(lab / "host_key")
    keygen(lab / "other_host_key")
    (lab / "authorized_keys").write_text(keygen(lab / "client_key") + "\n")
    keygen(lab / "stranger_key")
    other_key = (lab / "other_host_key.pub").read_text().strip()
    (lab / "known_hosts").write_text("".join(
        f"[127.0.0.1]:{ports[p]} {host_key}\n" for p in ("ok", "no_docker", "silent")))
    (lab / "known_hosts_empty").write_text("")
    (lab / "known_hosts_other").write_text(f"[127.0.0.1]:{ports['ok']} {other_key}\n")
    sshd_config = write_sshd_config(lab, ports)
    client_config = write_client_config(lab, ports)

    bin_dir = lab / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "ssh"
    wrapper.write_text(f'#!/bin/sh\nexec {real_ssh} -F {client_config} "$@"\n')
    wrapper.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}",
           "DOCKER_CONFIG": str(lab / "docker-config"), "HOME": str(lab / "home")}
    for unrelated in ("DOCKER_HOST", "KUBECONFIG"):  # the Swarm over ssh is the only source (tmp HOME: no kubeconfig)
        env.pop(unrelated, None)
    (lab / "home").mkdir()

    os.makedirs("/run/sshd", exist_ok=True)  # sshd's privilege separation directory (Debian: made at boot)
    log = (lab / "sshd.log").open("wb")
    sshd = subprocess.Popen([sshd_path, "-D", "-e", "-f", str(sshd_config)], stdout=log, stderr=log)
    try:
        wait_for("sshd to listen", lambda: sshd.poll() is not None or all(
            accepts(ports[p]) for p in ("ok", "no_docker", "silent")), 20)
        assert sshd.poll() is None, f"sshd exited: {(lab / 'sshd.log').read_text()}"
        yield SshLab(lab, sshd, env, client_config, ports)
    finally:
        sshd.terminate()
        try:
            sshd.wait(10)
        except subprocess.TimeoutExpired:
            sshd.kill()
            sshd.wait()
        log.close()


@pytest.fixture
def over_ssh(ssh_lab: SshLab, monkeypatch) -> SshLab:
    """The app in this process runs with the lab's environment (the ssh wrapper first on PATH)."""
    for key in ("PATH", "DOCKER_CONFIG", "HOME"):
        monkeypatch.setenv(key, ssh_lab.env[key])
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    return ssh_lab


def docker(*args: str, env: dict[str, str] | None = None, check: bool = True) -> str:
    out = subprocess.run([DOCKER, *args], capture_output=True, text=True, timeout=90, env=env)
    if check and out.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)}: {out.stderr.strip()}")
    return out.stdout.strip()


def docker_local(*args: str, check: bool = True) -> str:
    """The judge: the docker CLI on the local socket, not through ssh."""
    env = {**os.environ, "DOCKER_HOST": f"unix://{SOCKET}"}
    return docker(*args, env=env, check=check)


def mlops(lab: SshLab, *args: str, timeout: float = 90) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mlops_tui", *args, "--audit-log", str(lab.dir / "audit.jsonl")],
                          capture_output=True, text=True, timeout=timeout, env=lab.env)


@pytest.fixture
def throwaway() -> Iterator[str]:
    """A Swarm service nobody else uses (busybox sleeping), removed afterwards."""
    name = f"ssh{uuid.uuid4().hex[:6]}-sleeper"
    docker_local("service", "create", "--detach", "--name", name, "--replicas", "1", "--stop-grace-period", "1s",
                 "--label", "mlops.environment=staging", "mlops/busybox:1", "sleep", "1000000")
    yield name
    docker_local("service", "rm", name, check=False)


def swarm_service_names() -> set[str]:
    return set(docker_local("service", "ls", "--format", "{{.Name}}").split())


def swarm_services_in(document: dict) -> set[str]:
    return {s["name"] for s in document["services"] if s["platform"] == "swarm"}


# -- working connections ----------------------------------------------------------------------------


def test_status_json_over_an_ssh_alias_lists_the_services_docker_service_ls_lists(ssh_lab):
    """The operator names a Host alias from their ssh config (port, user, identity, known hosts all
    there); `status --json` lists exactly what `docker service ls` lists, and leaves no ssh behind."""
    out = mlops(ssh_lab, "status", "--json", "--swarm", "ssh://swarm-lab", "--timeout", "45")
    assert out.returncode == 0, out.stderr
    document = json.loads(out.stdout)
    [source] = [s for s in document["sources"] if s["platform"] == "swarm"]
    assert source["state"] == "connected" and source["endpoint"] == "ssh://swarm-lab"
    assert swarm_services_in(document) == swarm_service_names()
    assert ssh_lab.ssh_processes() == []


def test_the_backend_over_ssh_sees_a_cli_scale_and_its_own_scale_reaches_docker(over_ssh, throwaway):
    """A colleague scales with the docker CLI: the app, connected over ssh, shows it (from the Engine's
    event stream, through ssh). The operator scales
    through the app: `docker service inspect` shows the new replica count. When the backend stops, no
    ssh process of ours is left running."""
    # No periodic resync within the test: the colleague's scale has to arrive through the event stream over ssh.
    backend = SwarmBackend(parse_endpoint("ssh://swarm-lab"), name="ssh-swarm", resync_seconds=600.0)
    backend.start(lambda _change: None)
    try:
        wait_for("the first sync over ssh", lambda: backend.health and backend.health.state is HealthState.CONNECTED,
                 45)
        assert over_ssh.ssh_processes(), "the backend should be talking through ssh while it runs"

        def seen(check: Callable[[ModelService], bool]) -> Callable[[], ModelService | None]:
            def find() -> ModelService | None:
                view = backend.view
                found = [s for k, s in (view.services.items() if view else ()) if k.name == throwaway]
                return found[0] if found and check(found[0]) else None
            return find

        wait_for("the throwaway service over ssh", seen(lambda s: s.desired == 1), 45)
        docker_local("service", "scale", "--detach", f"{throwaway}=2")
        model = wait_for("the docker CLI's scale to 2, seen over ssh", seen(lambda s: s.desired == 2), 45)

        plan = backend.plan(model, Scale(3))
        backend.apply(plan)
        result = backend.verify(plan, 90, lambda _line: None)
        assert result.converged, result
        spec = json.loads(docker_local("service", "inspect", throwaway))[0]["Spec"]
        assert spec["Mode"] == {"Replicated": {"Replicas": 3}}
    finally:
        backend.stop()
    wait_for("every ssh process of the backend to end", lambda: over_ssh.ssh_processes() == [], 10)


def test_a_docker_context_with_an_ssh_endpoint_is_used_by_name(ssh_lab):
    """`docker context create lab --docker host=ssh://swarm-lab`: `--swarm lab` reaches the same Swarm
    the docker CLI reaches through that context."""
    name = f"lab{uuid.uuid4().hex[:6]}"
    docker("context", "create", name, "--docker", "host=ssh://swarm-lab", env=ssh_lab.env)
    try:
        through_cli = set(docker("--context", name, "service", "ls", "--format", "{{.Name}}", env=ssh_lab.env).split())
        assert through_cli == swarm_service_names()
        out = mlops(ssh_lab, "status", "--json", "--swarm", name, "--timeout", "45")
        assert out.returncode == 0, out.stderr
        document = json.loads(out.stdout)
        [source] = [s for s in document["sources"] if s["platform"] == "swarm"]
        assert source["name"] == name and source["state"] == "connected"
        assert swarm_services_in(document) == through_cli
    finally:
        docker("context", "rm", "--force", name, env=ssh_lab.env, check=False)


@pytest.fixture
def agent(ssh_lab: SshLab) -> Iterator[str]:
    """An ssh-agent of our own holding a key that exists nowhere else (its file is deleted once added)."""
    socket_path = ssh_lab.dir / f"agent-{uuid.uuid4().hex[:6]}.sock"
    process = subprocess.Popen([require_binary("ssh-agent"), "-D", "-a", str(socket_path)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for("ssh-agent to listen", socket_path.exists, 10)
        key = ssh_lab.dir / "agent_key"
        with (ssh_lab.dir / "authorized_keys").open("a") as authorized:
            authorized.write(keygen(key) + "\n")
        subprocess.run([require_binary("ssh-add"), "-q", str(key)], check=True, capture_output=True, timeout=30,
                       env={**os.environ, "SSH_AUTH_SOCK": str(socket_path)})
        key.unlink()  # from now on only the agent can sign with it
        yield str(socket_path)
    finally:
        process.terminate()
        process.wait(10)


def test_a_key_held_only_by_the_agent_gets_the_operator_in(ssh_lab, agent):
    """The operator's key lives in their ssh-agent (`SSH_AUTH_SOCK`), not in a file: the app's ssh
    uses the agent, as the ssh they type does (and without the agent the same alias is refused)."""
    def status(env: dict[str, str]) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "mlops_tui", "status", "--json", "--swarm", "ssh://swarm-agent",
                               "--timeout", "45", "--audit-log", str(ssh_lab.dir / "audit.jsonl")],
                              capture_output=True, text=True, timeout=90, env=env)

    out = status({**ssh_lab.env, "SSH_AUTH_SOCK": agent})
    assert out.returncode == 0, out.stderr + out.stdout
    assert swarm_services_in(json.loads(out.stdout)) == swarm_service_names()

    without = status({k: v for k, v in ssh_lab.env.items() if k != "SSH_AUTH_SOCK"})
    assert without.returncode == 1 and "authentication failed" in without.stdout, without.stdout


# -- what goes wrong, one line each -----------------------------------------------------------------


@pytest.mark.parametrize(("alias", "said"), [
    ("swarm-wrong-hostkey", "host key does not match known_hosts"),
    ("swarm-unknown-host", "host key is not in known_hosts"),
    ("swarm-stranger", "authentication failed"),
    ("swarm-no-docker", "no docker on the far side"),
    ("swarm-refused", "Connection refused"),
])
def test_each_ssh_failure_is_one_line_naming_the_endpoint(ssh_lab, alias, said):
    """What the operator sees when ssh cannot get them to the Engine API: one line on stderr naming the
    endpoint and the reason, no traceback, none of ssh's own banner, exit 1, no ssh left running."""
    out = mlops(ssh_lab, "status", "--swarm", f"ssh://{alias}", "--timeout", "30")
    assert out.returncode == 1, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert f"ssh://{alias}" in lines[0] and said in lines[0], lines[0]
    assert "Traceback" not in out.stderr and "@@@" not in out.stderr + out.stdout
    assert ssh_lab.ssh_processes() == []


def test_a_far_side_that_never_answers_times_out_and_its_ssh_is_ended(over_ssh):
    """An sshd that accepts and whose command never speaks: the call gives up at its timeout with one
    line naming the endpoint, and closing the client ends the ssh process."""
    client = EngineClient(SwarmEndpoint(url="ssh://swarm-silent", use_ssh_client=True), timeout=2.0)
    started = time.monotonic()
    with pytest.raises(EngineError) as failure:
        client.services()
    took = time.monotonic() - started
    client.close()
    assert "ssh://swarm-silent" in str(failure.value) and "\n" not in str(failure.value)
    assert took < 2.0 + 8.0, f"a 2 s call took {took:.1f}s"
    wait_for("the silent connection's ssh to end", lambda: over_ssh.ssh_processes() == [], 10)
    wait_for("the far side's command to end with it", lambda: over_ssh.far_side_processes("silent") == [], 10)


def test_status_against_a_far_side_that_never_answers_ends_in_time_and_leaves_no_ssh(ssh_lab):
    """`status --timeout 3` on a Swarm whose ssh session never speaks: the command keeps its bound, names
    the endpoint, and no ssh process outlives it (an orphaned ssh would wait on the far side forever)."""
    started = time.monotonic()
    out = mlops(ssh_lab, "status", "--swarm", "ssh://swarm-silent", "--timeout", "3")
    took = time.monotonic() - started
    assert out.returncode == 1 and "swarm-silent" in out.stderr, out.stderr
    assert took < 3 + 5, f"status --timeout 3 took {took:.1f}s"
    wait_for("no ssh left after status exited", lambda: ssh_lab.ssh_processes() == [], 5)
    wait_for("the far side's command to end with it", lambda: ssh_lab.far_side_processes("silent") == [], 10)
