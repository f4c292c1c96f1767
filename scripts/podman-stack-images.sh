#!/usr/bin/env bash
# Builds the two local images that stand in for registry images when the docker/ stack is run on
# a machine that cannot pull (these machines), in the engine scripts/podman-setup.sh provides:
#
#   localhost/mlgit-node:20-bookworm     what docker/Dockerfile's NODE_IMAGE names by default
#                                        (node:20-bookworm-slim): Debian bookworm (debootstrap
#                                        minbase) plus Node 20 and npm at /usr/local, as there
#   localhost/mlgit-services:bookworm    Debian's postgresql-15 and redis-server, for the test's
#                                        Postgres and Redis containers (compose uses the official
#                                        postgres and redis images)
#
# Node 20: bookworm's own nodejs is 18 and the nodesource repository is not reachable from here,
# so the Node of this machine (/usr/bin/node, a self-contained binary needing only libc and
# libstdc++, which minbase has) and its npm are copied in. The image therefore carries exactly
# the Node the suite runs under.
#
# Each image is built once per machine and cached as a `podman save` tar in /var/cache/mlgit
# (like the job image); later runs load it in seconds, or find it present and return at once.
# Idempotent and safe to run concurrently (flock). Environment: as scripts/podman-setup.sh.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
STATE=${MLGIT_PODMAN_STATE:-/var/lib/mlgit-podman}
RUN=${MLGIT_PODMAN_RUN:-/run/mlgit-podman}
CACHE=${MLGIT_IMAGE_CACHE:-/var/cache/mlgit}
MIRROR=http://deb.debian.org/debian
NODE_IMAGE=localhost/mlgit-node:20-bookworm
SERVICES_IMAGE=localhost/mlgit-services:bookworm

log() { printf 'podman-stack-images: %s\n' "$*" >&2; }

# The engine, its containers.conf and the job image (examples/digits runs in it).
"$HERE/podman-setup.sh" >/dev/null
export CONTAINERS_CONF="$STATE/containers.conf"
pm() { podman --root "$STATE/root" --runroot "$RUN/runroot" --storage-driver overlay "$@"; }

exec 9>"$STATE/stack-images.lock"
flock 9

node_bin=$(readlink -f "$(command -v node)")
npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
case $("$node_bin" --version) in
  v20.*) ;;
  *) log "this machine's node is $("$node_bin" --version), not 20: cannot make the Node 20 base image from it"; exit 1 ;;
esac

build_node_image() {
  local work="$STATE/node-build" rootfs
  rootfs="$work/rootfs"
  rm -rf "$work"
  install -d "$work"
  log "debootstrap bookworm for $NODE_IMAGE (about 30 s)"
  debootstrap --variant=minbase bookworm "$rootfs" "$MIRROR" >"$work/debootstrap.log" 2>&1
  # The official image's layout: node, npm and npx under /usr/local.
  install -m 0755 "$node_bin" "$rootfs/usr/local/bin/node"
  install -d "$rootfs/usr/local/lib/node_modules"
  cp -a "$npm_dir" "$rootfs/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
  # This machine's CA bundle: its egress proxy re-signs TLS, so npm (in the Dockerfile's deps stage)
  # must trust the proxy's CA, which Node's built-in roots do not include.
  install -d "$rootfs/etc/ssl/certs"
  cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
  rm -rf "$rootfs"/var/cache/apt/* "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/*
  chroot "$rootfs" /usr/local/bin/node -e 'process.exit(process.versions.node.startsWith("20.") ? 0 : 1)' \
    || { log "node does not run inside the new rootfs"; exit 1; }
  log "importing the rootfs as $NODE_IMAGE"
  tar -C "$rootfs" -c . | pm import -q --change 'CMD=["node"]' \
    --change 'ENV=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV=NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' - "$NODE_IMAGE" >/dev/null
  rm -rf "$work"
}

build_services_image() {
  log "building $SERVICES_IMAGE from $NODE_IMAGE with Debian's postgresql-15 and redis-server (about a minute)"
  # --network host: the build's apt needs deb.debian.org; nothing else is reachable anyway.
  pm build -q --network host -t "$SERVICES_IMAGE" -f - "$STATE" >/dev/null <<EOF
FROM $NODE_IMAGE
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      postgresql-15 redis-server >/dev/null \
 && { pg_dropcluster 15 main 2>/dev/null || true; } \
 && apt-get clean && rm -rf /var/lib/apt/lists/*
ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
EOF
}

# ensure IMAGE TAR BUILDER: present, else loaded from the cache, else built; then cached.
ensure() {
  local image=$1 tar=$2 builder=$3
  if ! pm image exists "$image"; then
    if [ -s "$tar" ]; then
      log "loading $image from $tar"
      pm load -q -i "$tar" >/dev/null
    else
      "$builder"
    fi
  fi
  if [ ! -s "$tar" ]; then
    log "caching $image as $tar"
    pm save -q -o "$tar.tmp" "$image"
    mv "$tar.tmp" "$tar"
  fi
}

ensure "$NODE_IMAGE" "$CACHE/mlgit-node-20-bookworm.tar" build_node_image
ensure "$SERVICES_IMAGE" "$CACHE/mlgit-services-bookworm.tar" build_services_image
