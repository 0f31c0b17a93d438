#!/bin/bash
# Ninth session's A/B helpers (issue 17): two mounts A and B of their own
# stores in /var/tmp/ap, as bench/results/attachperf-ab.sh sets them up
# (run that first: it makes storeA/storeB with a.vhd (ext4, attached) and
# v.vhd); then remount B with another binary or environment between runs,
# so each configuration is compared with a control on the same mount.
#
#   session9-ab.sh remount BIN [ENV=VAL...]   mount storeB at mB with BIN
#   session9-ab.sh sw REPS FILE...            seq write MB/s (1 MiB, end_fsync)
#   session9-ab.sh sr REPS FILE...            seq read MB/s (1 MiB)
#   session9-ab.sh rr REPS RW FILE...         4 KiB random IOPS (psync, QD1)
#   session9-ab.sh rss BIN [ENV=VAL...]       remount, a job mix, VmRSS
#
# FILE is fsB/f (ext4 on the attached disk) or mB/v.vhd; the page cache is
# dropped before every job.
set -u
cd /var/tmp/ap || exit 1
export HOME=/var/tmp/ap
fio_terse() { fio "$@" --output-format=terse --terse-version=3 | grep '^3;'; }
drop() { sync; echo 3 >/proc/sys/vm/drop_caches; }
cmd=$1; shift
case $cmd in
remount)
	bin=$1; shift
	umount -l fsB 2>/dev/null
	for l in $(losetup -l -n -O NAME,BACK-FILE | awk '/mB\// {print $1}'); do losetup -d "$l"; done
	umount mB 2>/dev/null || umount -l mB 2>/dev/null
	sleep 0.5
	env "$@" "$bin" mount -f storeB mB >mB.log 2>&1 &
	for _ in $(seq 50); do mountpoint -q mB && break; sleep 0.1; done
	dev=$("$bin" disk attach mB/a.vhd) && mount "$dev" fsB ;;
sw|sr)
	reps=$1; shift
	for _ in $(seq "$reps"); do for f in "$@"; do drop
		if [ "$cmd" = sw ]; then
			v=$(fio_terse --name=s --filename="$f" --size=1G --rw=write --bs=1M --end_fsync=1 --runtime=8 --ioengine=psync | awk -F';' '{printf "%.0f", $48*1024/1e6}')
		else
			v=$(fio_terse --name=s --filename="$f" --size=1G --rw=read --bs=1M --runtime=8 --ioengine=psync | awk -F';' '{printf "%.0f", $7*1024/1e6}')
		fi
		echo "$cmd $f $v"; done; done ;;
rr)
	reps=$1 rw=$2; shift 2
	for _ in $(seq "$reps"); do for f in "$@"; do drop
		echo "$rw $f $(fio_terse --name=r --filename="$f" --size=1G --rw="$rw" --bs=4k --time_based --runtime=4 --ramp_time=1 --norandommap --randrepeat=0 --ioengine=psync | awk -F';' '{print $8+$49}')"; done; done ;;
rss)
	"$0" remount "$@" >/dev/null
	"$0" sw 1 fsB/f mB/v.vhd >/dev/null; "$0" sr 1 fsB/f mB/v.vhd >/dev/null
	"$0" rr 1 randread fsB/f mB/v.vhd >/dev/null; "$0" rr 1 randwrite fsB/f mB/v.vhd >/dev/null
	fio --name=r --filename=mB/v.vhd --size=1G --rw=randwrite --bs=4k --time_based --runtime=3 --numjobs=2 --norandommap --ioengine=psync >/dev/null
	sleep 2.5
	echo "$* $(grep -E 'VmRSS|Threads' "/proc/$(pgrep -f 'mount -f storeB')/status" | tr -s ' \t\n' ' ')" ;;
*)	echo "usage: see the head of $0" >&2; exit 2 ;;
esac
