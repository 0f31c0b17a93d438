#!/bin/bash
# Fifteenth session's A/B (issue 17): large reads of a backing file with
# O_DIRECT (B) against through the page cache (A), two binaries side by
# side, and ext4 on a loop device over a plain file (P: no FUSE, no
# crypto) as the control.
#
#   session15-direct.sh BIN_A BIN_B [ROUNDS]     (root; scratch /var/tmp/ab15)
#
# Two stores, one mount each (each by its own binary), each with a 2 GiB
# disk attached and ext4 on it holding a 1 GiB file of random bytes, and a
# 1 GiB d.vhd written in full.  Per round, A, B (and P) in turns (A first
# in odd rounds, B in even ones), the page cache dropped before every job:
# 1 MiB and 128 KiB sequential reads of the ext4 file, 4 KiB O_DIRECT
# random reads of it at QD1; 1 MiB
# sequential reads of d.vhd, buffered and O_DIRECT; 4 KiB random reads of
# d.vhd, one job and two (fio psync, 4 s after a 1 s ramp).  Prints
# "rROUND JOB TARGET VALUE" (MB/s or IOPS), then each daemon's VmRSS.
# The fuse module's enable_uring is left as it is (the transport).
set -u
W=/var/tmp/ab15
ROUNDS=${3:-5}
declare -A BIN=([A]=${1:?usage: session15-direct.sh BIN_A BIN_B [ROUNDS]} \
		[B]=${2:?usage: session15-direct.sh BIN_A BIN_B [ROUNDS]})
export SSEFS_VAULT=$W/vault

cleanup() {
	local x l
	for x in A B P; do umount "$W/f$x" 2>/dev/null; done
	for x in A B; do
		eval l=\${L$x:-}
		[ -n "$l" ] && "${BIN[$x]}" disk detach "$l"
	done
	[ -n "${LP:-}" ] && losetup -d "$LP"
	for x in A B; do fusermount3 -u "$W/m$x" 2>/dev/null; done
	rm -rf "$W"
}
trap cleanup EXIT

rm -rf "$W" && mkdir -p "$W"/{sA,sB,mA,mB,fA,fB,fP} || exit 1
"${BIN[A]}" vault init --name ab15 >/dev/null &&
	"${BIN[A]}" key create k1 --size 2048 >/dev/null || exit 1
for x in A B; do
	"${BIN[$x]}" disk create "$W/s$x/a.vhd" --size 2G --key k1 >/dev/null &&
	"${BIN[$x]}" disk create "$W/s$x/d.vhd" --size 1G --key k1 >/dev/null &&
	"${BIN[$x]}" mount "$W/s$x" "$W/m$x" -o key=k1 || exit 1
done
LA=$("${BIN[A]}" disk attach "$W/mA/a.vhd") &&
	LB=$("${BIN[B]}" disk attach "$W/mB/a.vhd") || exit 1
truncate -s 2G "$W/plain.img" &&
	LP=$(losetup -f --show --direct-io=on --sector-size 4096 "$W/plain.img") || exit 1
for x in A B P; do
	eval l=\$L$x
	mkfs.ext4 -q -F "$l" && mount "$l" "$W/f$x" &&
		dd if=/dev/urandom of="$W/f$x/f" bs=1M count=1024 conv=fsync status=none || exit 1
done
for x in A B; do
	dd if=/dev/urandom of="$W/m$x/d.vhd" bs=1M count=1024 conv=notrunc,fsync status=none || exit 1
done

drop() { sync; echo 3 >/proc/sys/vm/drop_caches; }
sq() {	# FILE [BS [FIO-ARGS]]: MB/s
	drop
	fio --name=s --filename="$1" --rw=read --bs="${2:-1M}" --size=1G ${3:-} \
		--ioengine=psync --output-format=terse --terse-version=3 |
		awk -F';' '{printf "%.0f", $7 * 1024 / 1e6}'
}
rr() {	# FILE [FIO-ARGS]: IOPS
	drop
	fio --name=r --filename="$1" --size=1G --rw=randread --bs=4k ${2:-} \
		--ioengine=psync --time_based --runtime=4 --ramp_time=1 \
		--norandommap --randrepeat=0 --group_reporting \
		--output-format=terse --terse-version=3 | awk -F';' '{print $8}'
}
for r in $(seq "$ROUNDS"); do
	# A first in odd rounds, B first in even ones: the first job after a
	# change of the machine's state (setup's writes, the other mount's
	# job) was seen to run in a different mode
	if [ $((r % 2)) = 1 ]; then ab="A B" abp="A B P"; else ab="B A" abp="B A P"; fi
	for x in $abp; do echo "r$r ext4-seqread-1M $x $(sq "$W/f$x/f")"; done
	for x in $abp; do echo "r$r ext4-seqread-128k $x $(sq "$W/f$x/f" 128k)"; done
	for x in $abp; do echo "r$r ext4-randread-qd1-direct $x $(rr "$W/f$x/f" --direct=1)"; done
	for x in $ab; do echo "r$r vhd-seqread-1M $x $(sq "$W/m$x/d.vhd")"; done
	for x in $ab; do echo "r$r vhd-seqread-1M-direct $x $(sq "$W/m$x/d.vhd" 1M --direct=1)"; done
	for x in $ab; do echo "r$r vhd-randread $x $(rr "$W/m$x/d.vhd")"; done
	for x in $ab; do echo "r$r vhd-randread-2jobs $x $(rr "$W/m$x/d.vhd" --numjobs=2)"; done
done
for x in A B; do
	pid=$(pgrep -f "mount $W/s$x " | head -1)
	echo "rss $x $(awk '/VmRSS/ {print $2}' "/proc/$pid/status") kB"
done
