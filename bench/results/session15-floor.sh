#!/bin/bash
# Fifteenth session (issue 17): what one FUSE round trip costs a loop
# device on this kernel, beside the loop device over a plain file that the
# attach targets are measured against.
#
#   session15-floor.sh BIN [ROUNDS]      (root; scratch in /var/tmp/fl15)
#
# Every target is a block device read with 4 KiB random reads at queue depth
# 1 (fio psync, O_DIRECT, 4 s after a 1 s ramp, the page cache dropped
# first), in ROUNDS (5) interleaved rounds; medians:
#   raw-direct     the 1 GiB backing file itself, O_DIRECT: the disk
#   plain-loop     a loop device (direct I/O, 4096-byte sectors) over it
#   null-loop      the same loop device over libfuse's null.c example, a
#                  FUSE file whose READ is a memset: the FUSE transport
#                  alone (/dev/fuse), no disk read, no crypto
#   ssefs-uring    `ssefs disk attach` of a 1 GiB disk, FUSE over io_uring
#   ssefs-devfuse  the same, mounted with -o io_uring=off
# Prints one line per run, then "median TARGET IOPS usec-per-read".
set -u
BIN=${1:?usage: session15-floor.sh BIN [ROUNDS]}
ROUNDS=${2:-5}
W=/var/tmp/fl15
URING=/sys/module/fuse/parameters/enable_uring
NULL_SRC=/usr/share/doc/libfuse3-dev/examples/null.c
export SSEFS_VAULT=$W/vault

drop() { sync; echo 3 >/proc/sys/vm/drop_caches; }
iops() {	# DEVICE-OR-FILE
	fio --name=r --filename="$1" --size=1G --rw=randread --bs=4k \
		--direct=1 --ioengine=psync --time_based --runtime=4 \
		--ramp_time=1 --norandommap --randrepeat=0 \
		--output-format=terse --terse-version=3 |
		awk -F';' '/^3;/ {print $8}'
}
loop_of() { losetup --direct-io=on --sector-size 4096 -f --show "$1"; }

cleanup() {
	local l
	for l in $(losetup -n -O NAME -l | tr -d ' '); do
		losetup -n -O BACK-FILE "$l" 2>/dev/null | grep -q "^$W/" &&
			losetup -d "$l"
	done
	for m in "$W/m" "$W/n"; do	# (n is a file: mountpoint(1) says no)
		grep -q " $m " /proc/mounts &&
			{ fusermount3 -u "$m" || umount -l "$m"; }
	done
	[ -n "${uring_was:-}" ] && echo "$uring_was" >"$URING"
	rm -rf "$W"
}
trap cleanup EXIT
uring_was=$(cat "$URING" 2>/dev/null || true)
[ -w "$URING" ] && echo Y >"$URING"

rm -rf "$W" && mkdir -p "$W"/{store,m} || exit 1
touch "$W/n"
cc -O2 -o "$W/null" "$NULL_SRC" $(pkg-config fuse3 --cflags --libs) || exit 1
"$W/null" "$W/n" || exit 1
head -c 1G /dev/urandom >"$W/plain.img"
"$BIN" vault init --name fl14 >/dev/null &&
	"$BIN" key create k1 --size 2048 >/dev/null &&
	"$BIN" disk create "$W/store/a.vhd" --size 1G --key k1 >/dev/null || exit 1
# written once, so that its reads are of real ciphertext, as plain.img's
"$BIN" mount "$W/store" "$W/m" -o key=k1 || exit 1
dd if="$W/plain.img" of="$W/m/a.vhd" bs=1M count=1024 conv=notrunc,fsync status=none
fusermount3 -u "$W/m"

declare -A got
run() {	# TARGET PATH
	drop
	local v
	v=$(iops "$2")
	echo "round $r $1 $v"
	got[$1]="${got[$1]:-} $v"
}

for r in $(seq "$ROUNDS"); do
	run raw-direct "$W/plain.img"
	l=$(loop_of "$W/plain.img") && run plain-loop "$l" && losetup -d "$l"
	l=$(loop_of "$W/n") && run null-loop "$l" && losetup -d "$l"
	for cfg in uring:auto devfuse:off; do
		"$BIN" mount "$W/store" "$W/m" -o "key=k1,io_uring=${cfg#*:}" || exit 1
		l=$("$BIN" disk attach "$W/m/a.vhd") || exit 1
		run "ssefs-${cfg%%:*}" "$l"
		"$BIN" disk detach "$l" && fusermount3 -u "$W/m"
	done
done
for t in raw-direct plain-loop null-loop ssefs-uring ssefs-devfuse; do
	m=$(printf '%s\n' ${got[$t]} | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}')
	echo "median $t $m $(awk -v i="$m" 'BEGIN {printf "%.1f", 1e6 / i}')"
done
