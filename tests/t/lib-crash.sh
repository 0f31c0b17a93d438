# lib-crash.sh - kill -9 of the daemon in the middle of writes on two disks
# and a growing file, then a remount: every disk opens and reads to its
# end, and what fio wrote and fsynced before the kill verifies.  The
# including test sets CRASH_OPTS (mount options, may be empty) first.

fio_args () {	# NAME FILE RW BS SIZE OFFSET [extra...]
	local name=$1 file=$2 rw=$3 bs=$4 size=$5 off=$6
	shift 6
	echo "--name=$name --filename=$file --rw=$rw --bs=$bs --size=$size" \
	     "--offset=$off --ioengine=psync --verify=crc32c --verify_fatal=1" \
	     "--randrepeat=1 --end_fsync=1 $*"
}

test_expect_success 'setup: two disks, a verified and fsynced pattern on each' '
	ssefs_setup_vault &&
	mkdir store mnt &&
	ssefs_mount store mnt "$CRASH_OPTS" &&
	make_vhd mnt/d0.vhd 64M &&
	make_vhd mnt/d1.vhd 64M &&
	fio $(fio_args k0 mnt/d0.vhd randwrite 4k 8M 0 --direct=1) \
	    $(fio_args k1 mnt/d1.vhd write 1M 16M 0) >fio.out 2>&1 ||
		{ cat fio.out; false; }
'

test_expect_success 'kill -9 the daemon in the middle of more writes' '
	pid=$(cat store/.ssefs.lock) &&
	{ fio --name=w0 --filename=mnt/d0.vhd --rw=randwrite --bs=4k \
	      --offset=16M --size=32M --ioengine=psync --direct=1 \
	      --time_based --runtime=30 >/dev/null 2>&1 & f0=$!; } &&
	{ fio --name=w1 --filename=mnt/d1.vhd --rw=write --bs=1M \
	      --offset=32M --size=24M --time_based --runtime=30 \
	      >/dev/null 2>&1 & f1=$!; } &&
	{ dd if=/dev/urandom of=mnt/growing.vhd bs=1M count=200 \
	     2>/dev/null & f2=$!; } &&
	sleep 2 &&
	kill -9 "$pid" &&
	{ wait $f0 $f1 $f2; true; } &&
	# the dead mount is named as such at once, not after the 5 s
	# that status gives a daemon still starting
	s0=$SECONDS &&
	test_must_fail ssefs status mnt 2>err &&
	test $((SECONDS - s0)) -lt 3 &&
	grep "^ssefs: mnt: its daemon is gone (Transport endpoint is not connected); unmount it with: fusermount3 -u " err &&
	fusermount3 -uz mnt &&
	! mountpoint -q mnt
'

test_expect_success 'after a remount every disk opens and reads to its end' '
	ssefs_mount store mnt "$CRASH_OPTS" &&
	for d in d0 d1; do
		test "$(stat -c %s mnt/$d.vhd)" = $((64 * 1048576 + 512)) &&
		cat mnt/$d.vhd >/dev/null &&
		qemu-img info -f vpc mnt/$d.vhd | grep -q "virtual size: 64 MiB" ||
		return 1
	done &&
	test -e mnt/growing.vhd &&
	cat mnt/growing.vhd >/dev/null &&
	echo "growing.vhd: $(stat -c %s mnt/growing.vhd) bytes after the crash"
'

test_expect_success 'what was fsynced before the kill verifies' '
	fio $(fio_args k0 mnt/d0.vhd randwrite 4k 8M 0 --direct=1 --verify_only) \
	    $(fio_args k1 mnt/d1.vhd write 1M 16M 0 --verify_only) \
	    >fio.out 2>&1 || { cat fio.out; false; }
'

test_expect_success 'status after the crash: no damaged disk; unmount is clean' '
	ssefs status mnt >st &&
	grep -q ", 0 damaged$" st &&
	ssefs_umount mnt
'
