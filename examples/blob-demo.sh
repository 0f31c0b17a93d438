#!/bin/sh
# blob-demo.sh - ssefs on a blob store end to end, against Azurite (as root).
#
#   Azurite (the Azure Storage emulator `make deps` installs) on a free
#   loopback port; a vault and a key; a disk made in a container as a page
#   blob; the container mounted; ext4 inside the plaintext .vhd; files
#   written; no plaintext in the blob; a second host (another mount) refused
#   the disk while the first holds its lease; the disk copied to a directory
#   store and back; everything unmounted, mounted again and read back.
#
# SSEFS_BIN names the ssefs binary (default: ../ssefs), AZURITE_BIN the
# emulator (default: ../tools/azurite/node_modules/.bin/azurite-blob).
# The emulator's account and key are its public, documented ones.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
SSEFS_BIN=${SSEFS_BIN:-$here/../ssefs}
AZURITE_BIN=${AZURITE_BIN:-$here/../tools/azurite/node_modules/.bin/azurite-blob}
AZB_TOOL=${AZB_TOOL:-$here/../build/azb-tool}
ssefs () { "$SSEFS_BIN" "$@"; }

step () { printf '\n== %s\n' "$*"; }
run () { printf '$ %s\n' "$*"; "$@"; }
# the daemon's pid, from ssefs status
daemon_pid () { ssefs --json status "$1" | sed -n 's/^ *"pid": *\([0-9]*\).*/\1/p'; }
# a clean unmount: the daemon has written back and released the leases
umount_wait () {
	pid=$(daemon_pid "$1")
	run fusermount3 -u "$1"
	i=0
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
}

[ "$(id -u)" = 0 ] || { echo "blob-demo.sh: run me as root (loop devices, mount)" >&2; exit 1; }
[ -x "$AZURITE_BIN" ] || { echo "blob-demo.sh: no Azurite at $AZURITE_BIN (make deps)" >&2; exit 1; }

dir=$(mktemp -d /tmp/ssefs-blob-demo.XXXXXX)
LOOP=
AZ_PID=
cleanup () {
	set +e
	mountpoint -q "$dir/fs" 2>/dev/null && umount "$dir/fs"
	[ -n "$LOOP" ] && ssefs disk detach "$LOOP" 2>/dev/null
	for m in mnt mnt2 dmnt; do
		mountpoint -q "$dir/$m" 2>/dev/null &&
			{ fusermount3 -u "$dir/$m" 2>/dev/null || fusermount3 -uz "$dir/$m"; }
	done
	sleep 0.5
	[ -n "$AZ_PID" ] && kill "$AZ_PID" 2>/dev/null && wait "$AZ_PID" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

export SSEFS_VAULT="$dir/vault"
cd "$dir"
mkdir mnt mnt2 dmnt fs files dstore azurite
canary="ssefs-blob-demo-canary-$$-$(date +%s)"

step "1. Azurite on a free loopback port, a container"
port=$(python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$AZURITE_BIN" --blobHost 127.0.0.1 --blobPort "$port" --location azurite \
	--skipApiVersionCheck --disableTelemetry --disableProductStyleUrl \
	>azurite.log 2>&1 &
AZ_PID=$!
i=0
until grep -q 'successfully listens' azurite.log; do
	i=$((i + 1)); [ $i -lt 200 ] || { cat azurite.log; exit 1; }; sleep 0.1
done
account=devstoreaccount1
key='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
C=http://127.0.0.1:$port/$account/disks
AZURE_STORAGE_CONNECTION_STRING="DefaultEndpointsProtocol=http;AccountName=$account;AccountKey=$key;BlobEndpoint=http://127.0.0.1:$port/$account;"
export AZURE_STORAGE_CONNECTION_STRING
echo "container: $C (credentials in AZURE_STORAGE_CONNECTION_STRING, never in argv)"
if [ -x "$AZB_TOOL" ]; then
	run "$AZB_TOOL" "$C" mkcontainer
else
	run az storage container create -n disks -o none
fi

step "2. A vault, a key, and a 64 MiB disk in the container (a thin page blob)"
run ssefs vault init --name demo
run ssefs key create k1 --size 3072
run ssefs disk create "$C/disk.vhd" --size 64M --key k1

step "3. Mount the container: MNT shows its disks as plaintext fixed VHDs"
run ssefs mount "$C" mnt
run ls -l mnt

step "4. ext4 inside the plaintext .vhd, files with a canary"
LOOP=$(ssefs disk attach mnt/disk.vhd)
echo "\$ ssefs disk attach mnt/disk.vhd  -> $LOOP"
run mkfs.ext4 -q -F "$LOOP"
run mount "$LOOP" fs
printf '%s\n' "$canary" >files/secret.txt
seq 1 100000 >files/numbers.txt
run cp -r files fs/
run sync -f fs/files/secret.txt

step "5. A second host (another mount of the same container) is refused the disk: the first holds its lease"
run ssefs mount "$C" mnt2
if dd if=/dev/zero of=mnt2/disk.vhd bs=4096 count=1 conv=notrunc 2>/dev/null; then
	echo "FAIL: a second writer got the disk" >&2
	exit 1
fi
echo "dd of=mnt2/disk.vhd: Device or resource busy (good)"
umount_wait mnt2
run ssefs status mnt

step "6. Unmount: ext4, the loop device, the ssefs mount"
run umount fs
run ssefs disk detach "$LOOP"
LOOP=
umount_wait mnt

step "7. The blob holds no plaintext"
run ssefs disk export "$C/disk.vhd" plain.vhd >/dev/null
ssefs disk copy "$C/disk.vhd" dstore/disk.vhd >/dev/null
echo "\$ ssefs disk copy $C/disk.vhd dstore/disk.vhd"
if grep -a -q -F "$canary" dstore/disk.vhd; then
	echo "FAIL: the canary is in the blob" >&2
	exit 1
fi
echo "grep -F '$canary' (the blob's bytes): not found (good)"
grep -a -q -F "$canary" plain.vhd && echo "... and it is in the plaintext export (as it should be)"

step "8. The copy is the same disk in a directory store; copy it back under a new name"
run ssefs disk show dstore/disk.vhd
run ssefs disk copy dstore/disk.vhd "$C/disk2.vhd"

step "9. Mount the container again: both disks; the files read back"
run ssefs mount "$C" mnt
run ls -l mnt
run ssefs disk attach mnt/disk2.vhd --mount fs
LOOP=mnt/disk2.vhd
run diff -r files fs/files
echo "diff -r: identical"

step "10. Clean up"
run ssefs disk detach mnt/disk2.vhd
LOOP=
umount_wait mnt
echo
echo "blob-demo: OK"
