#!/bin/sh
# Install the Debian packages that ssefs's build, tests and benchmarks need,
# and Azurite (the Azure Storage emulator the blob-store tests run against)
# from npm, pinned, into tools/azurite/ of this tree.  Idempotent and quiet
# when everything is present.
set -e
AZURITE_VERSION=3.35.0	# 3.36 and later need Node >= 22
AZURITE_PREFIX=$(cd "$(dirname "$0")" && pwd)/azurite

# azurite_ok: the pinned version is installed in the prefix
azurite_ok () {
	[ -f "$AZURITE_PREFIX/node_modules/azurite/package.json" ] &&
	grep -q "\"version\": \"$AZURITE_VERSION\"" \
		"$AZURITE_PREFIX/node_modules/azurite/package.json"
}

install_azurite () {
	azurite_ok && return 0
	# Debian's nodejs comes without npm (NodeSource's has it): add
	# Debian's npm only where none is on the PATH.
	if ! command -v npm >/dev/null && [ "$(id -u)" = 0 ]; then
		echo "installing: npm"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm \
			>/dev/null || true
	fi
	command -v npm >/dev/null || {
		echo "ssefs: deps: npm missing: cannot install azurite (blob-store tests will skip)" >&2
		return 0
	}
	echo "installing: azurite@$AZURITE_VERSION into $AZURITE_PREFIX"
	mkdir -p "$AZURITE_PREFIX"
	npm install --prefix "$AZURITE_PREFIX" --no-audit --no-fund \
		--no-save --loglevel=error "azurite@$AZURITE_VERSION" >/dev/null
}
PKGS="build-essential pkg-config libfuse3-dev fuse3 libssl-dev libsodium-dev
libyaml-dev check jq qemu-utils libvhdi-utils fio e2fsprogs util-linux fdisk attr
clang libclang-rt-14-dev kmod libp11-kit-dev softhsm2 opensc
swtpm tpm2-abrmd libtss2-tcti-tabrmd0 libtpm2-pkcs11-1 libtpm2-pkcs11-tools tpm2-tools
libcurl4-openssl-dev liburing-dev azure-cli nodejs"
missing=
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing="$missing $p"
done
if [ -z "$missing" ]; then
	install_azurite
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "ssefs: deps: missing packages:$missing (run 'make deps' as root)" >&2
	exit 1
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq $missing >/dev/null
install_azurite
