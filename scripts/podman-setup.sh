#!/usr/bin/env bash
# Makes a Podman engine serving the Docker Engine API available on a well-known unix socket, with
# the job image localhost/mlgit-python:bookworm loaded, and prints the socket path on stdout.
# Idempotent and safe to run concurrently (flock): CI, tests and benchmarks all call it; a second
# run finds the socket answering and the image present and returns in well under a second.
#
# Why each piece (see /work/shared/platform.md "Containers"):
# - runc, not crun: crun fails on the hybrid cgroups of these machines;
# - our own containers.conf: cgroupfs manager (no systemd), file events logger, and no default
#   ulimits (Podman's defaults exceed the host's and container creation fails);
# - overlay storage: vfs copies the whole image per container (seconds per start);
# - no registry is reachable, so the image is built from Debian packages with debootstrap and
#   cached as a `podman save` tar that the next run only `podman load`s (seconds, not minutes).
#
# Environment (all optional): MLGIT_PODMAN_STATE (storage, conf, logs; default /var/lib/mlgit-podman),
# MLGIT_PODMAN_RUN (runroot and socket; default /run/mlgit-podman), MLGIT_IMAGE_CACHE
# (default /var/cache/mlgit). Only stdout carries the socket path; progress goes to stderr.
set -euo pipefail

STATE=${MLGIT_PODMAN_STATE:-/var/lib/mlgit-podman}
RUN=${MLGIT_PODMAN_RUN:-/run/mlgit-podman}
CACHE=${MLGIT_IMAGE_CACHE:-/var/cache/mlgit}
SOCK="$RUN/podman.sock"
IMAGE=localhost/mlgit-python:bookworm
IMAGE_TAR="$CACHE/mlgit-python-bookworm.tar"
MIRROR=http://deb.debian.org/debian

log() { printf 'podman-setup: %s\n' "$*" >&2; }

install -d -m 0755 "$STATE" "$RUN" "$CACHE"
exec 9>"$STATE/setup.lock"
flock 9

# --- packages ---------------------------------------------------------------------------------
need_apt=()
command -v podman >/dev/null || need_apt+=(podman)
command -v runc >/dev/null || need_apt+=(runc)
command -v newuidmap >/dev/null || need_apt+=(uidmap)
command -v debootstrap >/dev/null || need_apt+=(debootstrap)
command -v curl >/dev/null || need_apt+=(curl)
if [ ${#need_apt[@]} -gt 0 ]; then
  log "apt-get install ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# --- engine configuration ---------------------------------------------------------------------
CONF="$STATE/containers.conf"
cat >"$CONF.new" <<'EOF'
[containers]
default_ulimits = []
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runc"
EOF
mv "$CONF.new" "$CONF"
export CONTAINERS_CONF="$CONF"

pm() { podman --root "$STATE/root" --runroot "$RUN/runroot" --storage-driver overlay "$@"; }

answers() { curl -sf --max-time 2 --unix-socket "$SOCK" http://d/_ping >/dev/null 2>&1; }

# --- the API service --------------------------------------------------------------------------
if ! answers; then
  log "starting podman system service on $SOCK"
  rm -f "$SOCK"
  # setsid + nohup: the service outlives this script, the CI step and the test process that ran us.
  # 9>&-: it must not inherit the lock, or every later run would wait for it forever.
  # cd "$STATE": conmon drops files (an empty `oom` after an out-of-memory kill) in its working
  # directory, which would otherwise be wherever the first caller ran (a checkout).
  ( cd "$STATE" && exec setsid nohup podman --root "$STATE/root" --runroot "$RUN/runroot" --storage-driver overlay \
    system service --time=0 "unix://$SOCK" >>"$STATE/service.log" 2>&1 </dev/null 9>&- ) &
  echo $! >"$RUN/service.pid"
  for _ in $(seq 1 100); do answers && break; sleep 0.1; done
  answers || { log "the service did not answer; see $STATE/service.log"; exit 1; }
fi

# --- the job image ----------------------------------------------------------------------------
build_image() {
  local work="$STATE/build" rootfs
  rootfs="$work/rootfs"
  umount "$rootfs/proc" 2>/dev/null || true
  rm -rf "$work"
  install -d "$work"
  log "debootstrap bookworm (about 30 s)"
  debootstrap --variant=minbase bookworm "$rootfs" "$MIRROR" >"$work/debootstrap.log" 2>&1
  mount -t proc proc "$rootfs/proc"
  trap 'umount "$rootfs/proc" 2>/dev/null || true' RETURN
  cp /etc/resolv.conf "$rootfs/etc/"
  log "installing python3, numpy, scikit-learn, joblib into the image (minutes)"
  chroot "$rootfs" sh -c 'export DEBIAN_FRONTEND=noninteractive;
    apt-get update -qq && apt-get install -y -qq --no-install-recommends \
      python3 python3-numpy python3-sklearn python3-joblib && apt-get clean' >"$work/apt.log" 2>&1
  # Slimming: python3-scipy depends on pythran, which drags in compilers and -dev packages that
  # nothing needs at run time (about half the image). Purged with --force-depends because the
  # dependency edge is declared; nobody runs apt inside a job image.
  chroot "$rootfs" sh -c '
    pkgs=$(dpkg-query -W -f "\${Package}\n" | grep -E "(-dev$|^gcc-12$|^gcc$|^g\+\+|^cpp|^binutils|^libboost|^libxsimd|^libgcc-12-dev|^libstdc\+\+-12-dev|^libc6-dev|^linux-libc-dev)")
    [ -z "$pkgs" ] || dpkg --purge --force-depends $pkgs
    rm -rf /var/lib/apt/lists/* /var/cache/apt/* /usr/share/doc/* /usr/share/man/* /usr/share/info/* \
      /usr/share/locale/* /usr/include/*' >>"$work/apt.log" 2>&1
  umount "$rootfs/proc"
  rm -f "$rootfs/etc/resolv.conf"
  chroot "$rootfs" python3 -c 'import sklearn, numpy, joblib' \
    || { log "the image cannot import scikit-learn after slimming"; exit 1; }
  log "importing the rootfs as $IMAGE"
  tar -C "$rootfs" -c . | pm import -q --change 'CMD=["/bin/sh"]' \
    --change 'ENV=PATH=/usr/local/bin:/usr/bin:/bin' - "$IMAGE" >/dev/null
  rm -rf "$work"
}

if ! pm image exists "$IMAGE"; then
  if [ -s "$IMAGE_TAR" ]; then
    log "loading $IMAGE from $IMAGE_TAR"
    pm load -q -i "$IMAGE_TAR" >/dev/null
  else
    build_image
  fi
fi
if [ ! -s "$IMAGE_TAR" ]; then
  log "caching $IMAGE as $IMAGE_TAR"
  pm save -q -o "$IMAGE_TAR.tmp" "$IMAGE"
  mv "$IMAGE_TAR.tmp" "$IMAGE_TAR"
fi

echo "$SOCK"
