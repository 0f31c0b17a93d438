#!/bin/sh
# demo.sh - ssefs's main job end to end, in a temporary directory (as root).
#
#   a vault and a customer-managed key; a 64 MiB disk under that key; the
#   store mounted; an ext4 file system made inside the plaintext .vhd through
#   a loop device; files written; proof that the store holds no plaintext;
#   everything unmounted and mounted again; the files read back and compared.
#
# Run by `make demo`; SSEFS_BIN names the ssefs binary (default: ../ssefs).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
SSEFS_BIN=${SSEFS_BIN:-$here/../ssefs}
ssefs () { "$SSEFS_BIN" "$@"; }

step () { printf '\n== %s\n' "$*"; }
# After an unmount, wait until the daemon has closed every disk and exited.
wait_daemon () {
	pid=$(cat store/.ssefs.lock 2>/dev/null || true)
	i=0
	while [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
}
run () { printf '$ %s\n' "$*"; "$@"; }

[ "$(id -u)" = 0 ] || { echo "demo.sh: run me as root (loop devices, mount)" >&2; exit 1; }

dir=$(mktemp -d /tmp/ssefs-demo.XXXXXX)
LOOP=
cleanup () {
	set +e
	mountpoint -q "$dir/fs" 2>/dev/null && umount "$dir/fs"
	[ -n "$LOOP" ] && ssefs disk detach "$LOOP" 2>/dev/null
	if mountpoint -q "$dir/mnt" 2>/dev/null; then
		fusermount3 -u "$dir/mnt" 2>/dev/null || fusermount3 -uz "$dir/mnt"
	fi
	sleep 0.3
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

export SSEFS_VAULT="$dir/vault"
cd "$dir"
mkdir store mnt fs files
canary="ssefs-demo-canary-$$-$(date +%s)"

step "1. A key vault, and a customer-managed RSA key in it"
run ssefs vault init --name demo
run ssefs key create k1 --size 3072

step "2. A 64 MiB encrypted disk under that key (thin: it costs almost nothing)"
if ssefs disk create store/disk.vhd --size 64M --key k1 2>/dev/null; then
	printf '$ ssefs disk create store/disk.vhd --size 64M --key k1\n'
	run du -h --apparent-size store/disk.vhd
	run du -h store/disk.vhd
	created=1
else
	echo "(ssefs disk create is not in this build: the disk is made through the mount)"
	created=
fi

step "3. Mount the store: MNT shows plaintext fixed VHDs"
run ssefs mount store mnt -o key=k1
if [ -z "$created" ]; then
	run qemu-img create -q -f vpc -o subformat=fixed,force_size=on mnt/disk.vhd 64M
fi
run ls -l mnt
if command -v qemu-img >/dev/null; then
	run qemu-img info -f vpc mnt/disk.vhd
fi
run ssefs status mnt

step "4. A file system inside the plaintext .vhd: attach it (a loop device, footer excluded, direct I/O), mkfs.ext4, mount"
LOOP=$(ssefs disk attach mnt/disk.vhd)
echo "\$ ssefs disk attach mnt/disk.vhd  -> $LOOP"
run mkfs.ext4 -q -F "$LOOP"
run mount "$LOOP" fs

step "5. Write files, one of them with a canary string"
printf '%s\n' "$canary" >files/secret.txt
seq 1 100000 >files/numbers.txt
cp /etc/os-release files/ 2>/dev/null || true
run cp -r files fs/
run ls -l fs/files

step "6. Unmount everything: ext4, the loop device, the ssefs mount"
run umount fs
run ssefs disk detach "$LOOP"
LOOP=
run fusermount3 -u mnt
wait_daemon

step "7. The store holds no plaintext: the canary is not in the backing file"
if grep -a -q -F "$canary" store/disk.vhd; then
	echo "FAIL: the canary is in the store" >&2
	exit 1
fi
echo "grep -F '$canary' store/disk.vhd: not found (good)"
printf '$ head -c 8 store/disk.vhd | od -c\n'
head -c 8 store/disk.vhd | od -c | head -1

step "8. Mount again and browse the files read-only (attach --mount)"
run ssefs mount store mnt
run ssefs disk attach mnt/disk.vhd --mount fs
LOOP=mnt/disk.vhd
run diff -r files fs/files
echo "diff -r: identical"
run cat fs/files/secret.txt

step "9. Clean up"
run ssefs disk detach mnt/disk.vhd
LOOP=
run fusermount3 -u mnt
echo
echo "demo: OK"
