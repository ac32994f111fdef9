#!/usr/bin/env bash
# Start dockerd on its unix socket only, with fake GPUs as Swarm generic resources, make it a
# single-node Swarm manager and give it a tiny local image (there is no registry here).
# Idempotent: safe to run when dockerd or the Swarm already exist.
set -euo pipefail

SOCK=/var/run/docker.sock
export DOCKER_HOST=unix://$SOCK
# /usr/local/bin/docker may be a newer client than Debian's engine; use the engine's own CLI.
DOCKER=/usr/bin/docker
[ -x "$DOCKER" ] || DOCKER=$(command -v docker)

if ! $DOCKER info >/dev/null 2>&1; then
  mkdir -p /var/log
  # There is no registry here: a pull of an image the Swarm does not hold goes to a closed local port
  # (the proxy), never to a resolver or a registry on the network.
  HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 NO_PROXY= \
  nohup dockerd \
    --host "unix://$SOCK" \
    --bridge=none --iptables=false --ip6tables=false --ip-forward=false \
    --node-generic-resource NVIDIA-GPU=GPU-5e7a1c1e-0000-4000-8000-000000000001 \
    --node-generic-resource NVIDIA-GPU=GPU-5e7a1c1e-0000-4000-8000-000000000002 \
    >/var/log/mlops-tui-dockerd.log 2>&1 &
  for _ in $(seq 1 60); do
    $DOCKER info >/dev/null 2>&1 && break
    sleep 0.5
  done
  $DOCKER info >/dev/null 2>&1 || { echo "dockerd did not start:"; tail -30 /var/log/mlops-tui-dockerd.log; exit 1; }
fi

if [ "$($DOCKER info --format '{{.Swarm.LocalNodeState}}')" != "active" ]; then
  $DOCKER swarm init --advertise-addr 127.0.0.1 --listen-addr 127.0.0.1:2377 >/dev/null
fi

# A tiny image from Debian's static busybox: enough for a service that sleeps forever.
if ! $DOCKER image inspect mlops/busybox:1 >/dev/null 2>&1; then
  tmp=$(mktemp -d)
  mkdir -p "$tmp/bin"
  cp /bin/busybox "$tmp/bin/busybox"
  for tool in sh sleep true false echo cat ls; do ln -s busybox "$tmp/bin/$tool"; done
  tar -C "$tmp" -cf "$tmp/rootfs.tar" bin
  $DOCKER import -c 'CMD ["/bin/sleep","infinity"]' "$tmp/rootfs.tar" mlops/busybox:1 >/dev/null
  # Tags that look like model versions, for update/rollback tests.
  for tag in v1 v2 v2.0 v2.1 latest; do $DOCKER tag mlops/busybox:1 "mlops/model:$tag"; done
  rm -rf "$tmp"
fi
echo "swarm ready: $($DOCKER info --format '{{.Swarm.LocalNodeState}} {{.ServerVersion}}')"
