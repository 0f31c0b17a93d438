#!/bin/sh
# Install the Debian packages that ssefs's build, tests and benchmarks need.
# Idempotent and quiet when everything is present.
set -e
PKGS="build-essential pkg-config libfuse3-dev fuse3 libssl-dev libsodium-dev
libyaml-dev check jq qemu-utils libvhdi-utils fio e2fsprogs util-linux fdisk attr
clang libclang-rt-14-dev kmod libp11-kit-dev softhsm2 opensc
swtpm tpm2-abrmd libtss2-tcti-tabrmd0 libtpm2-pkcs11-1 libtpm2-pkcs11-tools tpm2-tools"
missing=
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "ssefs: deps: missing packages:$missing (run 'make deps' as root)" >&2
	exit 1
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq $missing >/dev/null
