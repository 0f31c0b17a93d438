#!/bin/bash
# Thirteenth session's A/B (issue 17): the same binary and store, mounted
# with -o io_uring=off (/dev/fuse) and -o io_uring=auto (FUSE over
# io_uring), in turns, on one mount point; ext4 on the attached disk and on
# a loop device over a plain file (no FUSE, no crypto) side by side.
#
#   session13-uring.sh setup BIN       scratch in /var/tmp/ur13
#   session13-uring.sh round BIN N     N rounds of: off, then auto
#   session13-uring.sh clean
#
# Each round remounts, re-attaches, and runs, the page cache dropped before
# every job: 4 KiB random read QD1 (psync) on both ext4 files (two reps),
# 1 MiB sequential read of the ext4 file and of the .vhd, 1 MiB sequential
# write + fsync of the ext4 file, and 4 KiB direct random reads of the
# .vhd from two jobs (its backing file cached).  Prints "cfg job file
# value" lines (IOPS or MB/s).  Needs root and the fuse module's
# enable_uring (it sets Y and puts the old value back).
set -u
W=/var/tmp/ur13
URING=/sys/module/fuse/parameters/enable_uring
export SSEFS_VAULT=$W/vault
fio_terse() { fio "$@" --output-format=terse --terse-version=3 | grep '^3;'; }
drop() { sync; echo 3 >/proc/sys/vm/drop_caches; }

detach() {
	umount "$W/fsA" 2>/dev/null
	for l in $(losetup -l -n -O NAME,BACK-FILE | awk -v f="$W/m/a.vhd" '$2 == f {print $1}'); do
		losetup -d "$l"
	done
	umount "$W/m" 2>/dev/null || umount -l "$W/m" 2>/dev/null
	sleep 0.5
}

mountit() {	# BIN OPT
	"$1" mount "$W/store" "$W/m" -o "key=k1,io_uring=$2" || exit 1
	d=$("$1" disk attach "$W/m/a.vhd") && mount "$d" "$W/fsA" || exit 1
}

rr() {	# CFG FILE
	drop
	echo "$1 randread $2 $(fio_terse --name=r --filename="$W/$2" --size=1G --rw=randread --bs=4k --time_based --runtime=4 --ramp_time=1 --norandommap --randrepeat=0 --ioengine=psync | awk -F';' '{print $8}')"
}

seq_read() {	# CFG FILE
	drop
	echo "$1 seqread $2 $(fio_terse --name=s --filename="$W/$2" --size=1G --rw=read --bs=1M --runtime=8 --ioengine=psync | awk -F';' '{printf "%.0f", $7*1024/1e6}')"
}

cmd=${1:-}
case $cmd in
setup)
	bin=$2
	mkdir -p "$W"/{store,m,fsA,fsP}
	"$bin" vault init --name ur13 >/dev/null && "$bin" key create k1 --size 2048 >/dev/null || exit 1
	truncate -s 2G "$W/plain.img"
	l=$(losetup --direct-io=on --sector-size 4096 -f --show "$W/plain.img") &&
	mkfs.ext4 -q "$l" && mount "$l" "$W/fsP" || exit 1
	"$bin" disk create "$W/store/a.vhd" --size 2G --key k1 >/dev/null || exit 1
	"$bin" mount "$W/store" "$W/m" -o key=k1 || exit 1
	d=$("$bin" disk attach "$W/m/a.vhd") && mkfs.ext4 -q "$d" &&
	mount "$d" "$W/fsA" || exit 1
	for f in fsA/f fsP/f; do
		fio --name=l --filename="$W/$f" --size=1G --rw=write --bs=1M --end_fsync=1 >/dev/null
	done
	detach ;;
round)
	bin=$2 n=$3
	was=$(cat "$URING")
	echo Y >"$URING"
	for _ in $(seq "$n"); do for cfg in off auto; do
		mountit "$bin" "$cfg"
		"$bin" status "$W/m" | grep '^transport' | sed "s/^/# $cfg /"
		rr "$cfg" fsA/f; rr "$cfg" fsP/f; rr "$cfg" fsA/f; rr "$cfg" fsP/f
		seq_read "$cfg" fsA/f; seq_read "$cfg" m/a.vhd
		drop
		echo "$cfg seqwrite fsA/f $(fio_terse --name=s --filename="$W/fsA/f" --size=1G --rw=write --bs=1M --end_fsync=1 --runtime=8 --ioengine=psync | awk -F';' '{printf "%.0f", $48*1024/1e6}')"
		cat "$W/m/a.vhd" >/dev/null
		echo "$cfg randread2-direct m/a.vhd $(fio_terse --name=r --filename="$W/m/a.vhd" --size=256M --offset=1G --rw=randread --bs=4k --direct=1 --time_based --runtime=4 --norandommap --ioengine=psync --numjobs=2 --group_reporting | awk -F';' '{print $8}')"
		detach
	done; done
	echo "$was" >"$URING" ;;
clean)
	detach
	umount "$W/fsP" 2>/dev/null
	for l in $(losetup -l -n -O NAME,BACK-FILE | awk -v f="$W/plain.img" '$2 == f {print $1}'); do losetup -d "$l"; done
	rm -rf "$W" ;;
*)
	sed -n '2,18p' "$0" >&2; exit 2 ;;
esac
