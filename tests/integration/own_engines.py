"""Engine processes a test starts itself, so that it may stop and start them again (the fault suite's
process-level faults): its own dockerd beside the CI one, and a restart in place of a Prometheus or an
Alertmanager started by tests/integration/metrics_servers.py. Each is stopped by its own PID only."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from tests.engines import require
from tests.integration.metrics_servers import Server, free_port


def stop_process(process: subprocess.Popen, grace: float = 20.0) -> None:
    """SIGTERM to this PID, SIGKILL after `grace` seconds; waits until it is gone."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"not within {timeout:g} s: {what}")
        time.sleep(0.1)


def restart_in_place(server: Server, ready: Callable[[], bool], timeout: float = 30.0) -> None:
    """Start `server` again with the same command line, port and data directory (after `stop_process`).
    `server.process` becomes the new process; the caller stops it (by that PID) when done."""
    with open(server.log, "ab") as out:
        server.process = subprocess.Popen(server.process.args, stdout=out, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, cwd=server.workdir)
    wait_until(ready, timeout, f"{server.name} ready again:\n{server.tail()}")


def _free_udp_port() -> int:
    """A UDP port in 1024-49151 (Swarm's --data-path-port range) that nothing holds now."""
    for _ in range(200):
        port = random.randint(20000, 49151)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free UDP port for the Swarm data path")


class OwnDockerd:
    """A dockerd beside the CI one, with its own --data-root, --exec-root (so its own containerd), pidfile
    and unix socket; no bridge, iptables or forwarding (the CI one's flags, .ci/start-swarm.sh). It is
    made a single-node Swarm manager on its own 127.0.0.1 ports (2377 and the VXLAN port 4789 belong to
    the CI Swarm) and given the busybox image the services run."""

    def __init__(self, docker_bin: str, dockerd_bin: str) -> None:
        require(os.geteuid() == 0, "a second dockerd needs root")
        self.docker_bin = docker_bin
        self.dir = Path(tempfile.mkdtemp(prefix="fd-", dir="/tmp"))  # short: a unix socket path has 108 bytes
        self.socket = self.dir / "docker.sock"
        self.log = self.dir / "dockerd.log"
        self.argv = [
            dockerd_bin, "--host", f"unix://{self.socket}",
            "--data-root", str(self.dir / "data"), "--exec-root", str(self.dir / "exec"),
            "--pidfile", str(self.dir / "dockerd.pid"),
            "--bridge=none", "--iptables=false", "--ip6tables=false", "--ip-forward=false",
            "--shutdown-timeout=2",  # its busybox tasks ignore SIGTERM: do not wait 10 s for each
        ]
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def docker(self, *args: str, check: bool = True, timeout: float = 30.0) -> str:
        out = subprocess.run([self.docker_bin, "--host", self.url, *args], capture_output=True, text=True,
                             timeout=timeout)
        if check and out.returncode != 0:
            raise RuntimeError(f"docker {' '.join(args)}: {out.stderr.strip()}")
        return out.stdout

    def answers(self) -> bool:
        try:
            return subprocess.run([self.docker_bin, "--host", self.url, "service", "ls", "-q"],
                                  capture_output=True, timeout=10).returncode == 0
        except subprocess.TimeoutExpired:
            return False

    def start(self) -> None:
        # No registry here: a pull goes to a closed local port, never to the network.
        env = {**os.environ, "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "NO_PROXY": ""}
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, env=env)
        wait_until(lambda: self.process is not None and self.process.poll() is None and self.docker_info_ok(),
                   60, f"dockerd answering:\n{self.tail()}")

    def docker_info_ok(self) -> bool:
        return subprocess.run([self.docker_bin, "--host", self.url, "info"], capture_output=True,
                              timeout=10).returncode == 0

    def stop(self) -> None:
        """SIGTERM to our dockerd's PID (never another's) and wait until it has exited."""
        if self.process is not None:
            stop_process(self.process, grace=30.0)

    def init_swarm(self) -> None:
        self.docker("swarm", "init", "--advertise-addr", "127.0.0.1", "--listen-addr", f"127.0.0.1:{free_port()}",
                    "--data-path-port", str(_free_udp_port()))
        rootfs = self.dir / "rootfs"
        (rootfs / "bin").mkdir(parents=True)
        shutil.copy("/bin/busybox", rootfs / "bin" / "busybox")
        (rootfs / "bin" / "sleep").symlink_to("busybox")
        subprocess.run(["tar", "-C", str(rootfs), "-cf", str(self.dir / "rootfs.tar"), "bin"], check=True)
        self.docker("import", "-c", 'CMD ["/bin/sleep","infinity"]', str(self.dir / "rootfs.tar"), "mlops/busybox:1")

    def tail(self, lines: int = 20) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def close(self) -> None:
        self.stop()
        # What dockerd left mounted under its roots goes with them; nothing outside self.dir is touched.
        subprocess.run(["umount", "-R", "-l", str(self.dir / "exec")], capture_output=True)
        subprocess.run(["umount", "-R", "-l", str(self.dir / "data")], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


@contextlib.contextmanager
def own_dockerd(docker_bin: str, dockerd_bin: str) -> Iterator[OwnDockerd]:
    daemon = OwnDockerd(docker_bin, dockerd_bin)
    try:
        daemon.start()
        daemon.init_swarm()
        yield daemon
    finally:
        daemon.close()
