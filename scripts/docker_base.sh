#!/usr/bin/env bash
# Make the Debian base image the Dockerfile starts FROM, locally, from Debian's own
# packages: where no image registry can be reached, `docker pull` cannot get it.
#
#   sudo scripts/docker_base.sh            # makes debian:trixie-slim unless it exists
#   FORCE=1 sudo scripts/docker_base.sh    # makes it again
#
# Needs root (debootstrap), debootstrap and a Docker engine. Environment:
#   DOCKER         the docker client (default: /usr/bin/docker if present, else docker)
#   BASE_IMAGE     the tag to make (default: debian:trixie-slim)
#   DEBIAN_MIRROR  where debootstrap gets packages (default: http://deb.debian.org/debian)
#   CA_BUNDLE      this machine's CA bundle, copied in so that pip, uv and apt reach the
#                  package registries through the same TLS chain as this machine
#                  (default: /etc/ssl/certs/ca-certificates.crt)
set -euo pipefail

if [ -z "${DOCKER:-}" ]; then
  # Debian's client first: another, newer client earlier on PATH may not speak to
  # Debian's engine.
  if [ -x /usr/bin/docker ]; then DOCKER=/usr/bin/docker; else DOCKER=docker; fi
fi
BASE_IMAGE=${BASE_IMAGE:-debian:trixie-slim}
SUITE=trixie
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
CA_BUNDLE=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}

if [ -z "${FORCE:-}" ] && "$DOCKER" image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  echo "$BASE_IMAGE exists; nothing to do (FORCE=1 to make it again)."
  exit 0
fi

started=$(date +%s)
old_id=$("$DOCKER" image inspect --format '{{.Id}}' "$BASE_IMAGE" 2>/dev/null || true)
rootfs=$(mktemp -d /var/tmp/docker-base.XXXXXX)
chmod 755 "$rootfs" # it becomes the image's /, which mktemp made private to root
trap 'rm -rf --one-file-system "$rootfs"' EXIT

echo "debootstrap --variant=minbase $SUITE from $DEBIAN_MIRROR ..."
debootstrap --variant=minbase "$SUITE" "$rootfs" "$DEBIAN_MIRROR" >"$rootfs.log" 2>&1 || {
  tail -n 30 "$rootfs.log" >&2
  rm -f "$rootfs.log"
  exit 1
}
rm -f "$rootfs.log"

# Updates and security fixes too, as Debian's own images have them.
rm -f "$rootfs/etc/apt/sources.list"
cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $DEBIAN_MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF

# No init in a container: a package's maintainer script must not start its service
# (pgbouncer's would) while an image is being built.
printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
chmod 755 "$rootfs/usr/sbin/policy-rc.d"

# Slim, as Debian's -slim images are: no manuals, no documentation, no translations.
cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
EOF
find "$rootfs/usr/share/doc" -mindepth 2 ! -name copyright ! -type d -delete
rm -rf "$rootfs"/usr/share/{man,info,locale}/* "$rootfs"/var/cache/apt/*.bin \
  "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/log/*.log
# The package lists, not their folder; apt downloads as its unprivileged user _apt, who
# must own "partial" (debootstrap leaves it to root).
find "$rootfs/var/lib/apt/lists" -maxdepth 1 -type f -delete
apt_uid=$(awk -F: '$1 == "_apt" { print $3 }' "$rootfs/etc/passwd")
chown "${apt_uid:-0}:0" "$rootfs/var/lib/apt/lists/partial"
chmod 700 "$rootfs/var/lib/apt/lists/partial"

# The CA bundle, also where update-ca-certificates keeps it when a build installs
# ca-certificates (which rewrites the bundle from /usr/local/share/ca-certificates).
mkdir -p "$rootfs/etc/ssl/certs" "$rootfs/usr/local/share/ca-certificates"
cp "$CA_BUNDLE" "$rootfs/etc/ssl/certs/ca-certificates.crt"
cp "$CA_BUNDLE" "$rootfs/usr/local/share/ca-certificates/build-host.crt"

cert=/etc/ssl/certs/ca-certificates.crt
tar --numeric-owner -C "$rootfs" -c . | "$DOCKER" import \
  --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
  --change "ENV LANG=C.UTF-8" \
  --change "ENV SSL_CERT_FILE=$cert" \
  --change "ENV PIP_CERT=$cert" \
  --change "ENV REQUESTS_CA_BUNDLE=$cert" \
  --change 'CMD ["bash"]' \
  --message "debootstrap --variant=minbase $SUITE" \
  - "$BASE_IMAGE" >/dev/null

# FORCE=1 leaves the previous image untagged: remove it unless something still uses it.
if [ -n "$old_id" ] && [ "$old_id" != "$("$DOCKER" image inspect --format '{{.Id}}' "$BASE_IMAGE")" ]; then
  "$DOCKER" image rm "$old_id" >/dev/null 2>&1 || true
fi
echo "Made $BASE_IMAGE in $(($(date +%s) - started)) s."
