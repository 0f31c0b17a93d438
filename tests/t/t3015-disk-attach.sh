#!/bin/bash
# run-all: lock loop	(loop devices: one script at a time)

test_description='ssefs disk attach/detach: the block device a VM would see
(size without the footer, the disk sector size, direct I/O), --mount for
browsing, and a revoked key that leaves no plaintext to read'

. ./test-lib.sh
. "$TEST_DIRECTORY"/lib-ssefs.sh

test_have_prereq FUSE || { skip_all='cannot mount FUSE here'; test_done; }
test_have_prereq LOOP,JQ || { skip_all='needs root, loop devices and jq'; test_done; }

canary="ssefs-attach-canary-$$-$(date +%s)"

# dev_of DISK: the loop device over MNT/DISK, from losetup(8)'s own view
dev_of () {
	losetup --json -l | jq -r --arg f "$PWD/mnt/$1" \
		'.loopdevices[] | select(.["back-file"] == $f) | .name'
}

d4_revoked () {
	test "$(ssefs --json status mnt |
		jq -r ".disks[] | select(.path == \"d4.vhd\") | .state")" = revoked
}

# one_line FILE: FILE holds exactly one line
one_line () {
	test "$(wc -l <"$1")" = 1 || { cat "$1" >&2; return 1; }
}

# lo FIELD DEV: one field of losetup --json for DEV
lo () {
	losetup --json -l "$2" | jq -r ".loopdevices[0][\"$1\"]"
}

# cleanup: nothing of this script is left attached or mounted
detach_all () {
	for m in br/p1 br2/p1 br br2 fs; do umount "$m" 2>/dev/null; done
	detach_loops_under "$PWD/mnt"
}

test_expect_success 'setup: a 4096-sector disk under a CMK, a 512-sector one, a mount' '
	ssefs_setup_vault &&
	ssefs key create k1 --size 2048 >/dev/null &&
	ssefs des create des1 --key k1 >/dev/null &&
	mkdir store &&
	ssefs disk create store/d4.vhd --size 64M --des des1 >/dev/null &&
	ssefs disk create store/d5.vhd --size 64M --sector-size 512 >/dev/null &&
	ssefs disk create store/d6.vhd --size 8M >/dev/null &&
	ssefs_mount store mnt "key_check_interval=1s,revoke_grace=0" &&
	test_atexit detach_all	# before the mount goes: it names the disks
'

test_expect_success 'attach: size without the footer, the disk sector size, direct I/O' '
	ssefs disk attach mnt/d4.vhd >out &&
	one_line out &&
	dev=$(cat out) &&
	test "$dev" = "$(dev_of d4.vhd)" &&
	test "$(blockdev --getsize64 "$dev")" = 67108864 &&
	test "$(blockdev --getss "$dev")" = 4096 &&
	test "$(lo dio "$dev")" = true &&
	test "$(lo ro "$dev")" = false &&
	test "$(lo autoclear "$dev")" = false
'

test_expect_success 'attach --read-only of a 512-sector disk' '
	dev=$(ssefs disk attach mnt/d5.vhd --read-only) &&
	test "$(blockdev --getsize64 "$dev")" = 67108864 &&
	test "$(blockdev --getss "$dev")" = 512 &&
	test "$(lo dio "$dev")" = true &&
	test "$(lo ro "$dev")" = true &&
	test_must_fail dd if=/dev/zero of="$dev" bs=512 count=1 oflag=direct 2>/dev/null
'

test_expect_success 'status names the loop device of each attached disk' '
	ssefs status mnt >st &&
	grep -A8 "^d4.vhd" st | grep "attached: *$(dev_of d4.vhd)\$" &&
	grep -A8 "^d5.vhd" st | grep "attached: *$(dev_of d5.vhd)\$" &&
	! grep -A8 "^d6.vhd" st | grep -q attached &&
	ssefs --json status mnt >st.json &&
	jq -e --arg d "$(dev_of d4.vhd)" \
		".disks[] | select(.path == \"d4.vhd\") | .loopDevices == [\$d]" st.json &&
	jq -e ".disks[] | select(.path == \"d6.vhd\") | .loopDevices == []" st.json
'

test_expect_success 'a disk attached twice, a file outside a mount: one line each' '
	test_must_fail ssefs disk attach mnt/d4.vhd 2>err &&
	one_line err &&
	grep "already attached as $(dev_of d4.vhd)" err &&
	test_must_fail ssefs disk attach store/d6.vhd 2>err &&
	one_line err &&
	grep "not a disk in an ssefs mount" err &&
	test_must_fail ssefs disk detach mnt/d6.vhd 2>err &&
	grep "not attached" err
'

test_expect_success 'detach by /dev/loopN and by MNT/NAME.vhd' '
	dev=$(dev_of d5.vhd) &&
	ssefs disk detach "$dev" &&
	test -z "$(dev_of d5.vhd)" &&
	ssefs disk detach mnt/d4.vhd &&
	test -z "$(dev_of d4.vhd)" &&
	test_must_fail ssefs disk detach "$dev" 2>err &&
	grep "not attached" err
'

test_expect_success 'O_DIRECT through the mount: 4096 and 512-byte aligned I/O' '
	head -c 1M /dev/urandom >want &&
	dd if=want of=mnt/d4.vhd bs=4096 seek=5 oflag=direct conv=notrunc 2>/dev/null &&
	dd if=mnt/d4.vhd of=got bs=4096 skip=5 count=256 iflag=direct 2>/dev/null &&
	cmp got want &&
	dd if=want of=mnt/d5.vhd bs=512 seek=3 oflag=direct conv=notrunc 2>/dev/null &&
	dd if=mnt/d5.vhd of=got bs=512 skip=3 count=2048 iflag=direct 2>/dev/null &&
	cmp got want
'

test_expect_success '--mount: an ext4 disk is browsed read-only; detach unmounts' '
	dev=$(ssefs disk attach mnt/d4.vhd) &&
	mkfs.ext4 -q -F "$dev" &&
	mkdir fs && mount "$dev" fs &&
	echo "$canary" >fs/hello &&
	umount fs &&
	ssefs disk detach "$dev" &&
	ssefs disk attach mnt/d4.vhd --mount br >out &&
	dev=$(dev_of d4.vhd) &&
	test "$(head -n1 out)" = "$dev" &&
	grep "^$dev on br type ext4 (ro)\$" out &&
	test "$(cat br/hello)" = "$canary" &&
	test_must_fail touch br/new 2>/dev/null &&
	test "$(lo ro "$dev")" = true &&
	ssefs disk detach mnt/d4.vhd &&
	! mountpoint -q br &&
	test -z "$(dev_of d4.vhd)"
'

test_expect_success '--mount of a file system whose journal needs recovery: browsed without replaying it' '
	dev=$(ssefs disk attach mnt/d4.vhd) &&
	debugfs -w -R "feature +needs_recovery" "$dev" >/dev/null 2>&1 &&
	ssefs disk detach "$dev" &&
	ssefs disk attach mnt/d4.vhd --mount br >out 2>err &&
	grep "journal needs recovery; mounted without replaying it" err &&
	test "$(cat br/hello)" = "$canary" &&
	ssefs --json disk detach mnt/d4.vhd &&
	dev=$(ssefs disk attach mnt/d4.vhd) &&
	{ e2fsck -fy "$dev" >/dev/null 2>&1 || :; } &&
	ssefs disk detach "$dev" &&
	test -z "$(dev_of d4.vhd)"
'

test_expect_success '--json: one object, and nothing printed when it fails' '
	ssefs --json disk attach mnt/d4.vhd --mount br >out.json &&
	jq -e ".device == \"$(dev_of d4.vhd)\" and .sectorSize == 4096 and
		.sizeBytes == 67108864 and .readOnly and .directIO and
		(.mounts | length) == 1 and .mounts[0].type == \"ext4\"" out.json &&
	ssefs disk detach mnt/d4.vhd &&
	test_must_fail ssefs --json disk attach mnt/d6.vhd --mount br >out.json 2>err &&
	! test -s out.json &&
	one_line err
'

test_expect_success 'sfdisk' 'command -v sfdisk && test_set_prereq SFDISK'

test_expect_success SFDISK '--mount --rw: each partition at DIR/pN; one without a file system is named' '
	dev=$(ssefs disk attach mnt/d5.vhd) &&
	printf "label: gpt\n,24M\n,\n" | sfdisk -q "$dev" &&
	{ test -b "${dev}p1" || partx -a "$dev"; } &&
	mkfs.ext4 -q -F "${dev}p1" &&
	ssefs disk detach "$dev" &&
	ssefs disk attach mnt/d5.vhd --mount br2 --rw >out 2>err &&
	dev=$(dev_of d5.vhd) &&
	grep "^${dev}p1 on br2/p1 type ext4 (rw)\$" out &&
	grep "${dev}p2: no recognisable file system; not mounted" err &&
	echo "$canary" >br2/p1/written &&
	ssefs disk detach "$dev" &&
	! mountpoint -q br2/p1 &&
	test -z "$(dev_of d5.vhd)" &&
	dev=$(ssefs disk attach mnt/d5.vhd --mount br2) &&
	test "$(cat br2/p1/written)" = "$canary" &&
	ssefs disk detach mnt/d5.vhd
'

test_expect_success '--mount on a disk with no file system: one line, nothing left attached' '
	test_must_fail ssefs disk attach mnt/d6.vhd --mount br 2>err &&
	one_line err &&
	grep "no recognisable file system on /dev/loop[0-9]* (nor a partition table)" err &&
	test -z "$(dev_of d6.vhd)"
'

test_expect_success 'revocation: no plaintext left in the page cache of the loop device' '
	dev=$(ssefs disk attach mnt/d4.vhd) &&
	mount "$dev" fs &&
	for i in $(test_seq 64); do echo "$canary" || return 1; done >fs/canary &&
	sync fs/canary &&
	blk=$(debugfs -R "bmap /canary 0" "$dev" 2>/dev/null) &&
	test -n "$blk" &&
	dd if="$dev" of=before bs=4096 skip="$blk" count=1 2>/dev/null &&
	grep -q "$canary" before &&
	ssefs key set k1 --enabled false &&
	wait_for d4_revoked &&
	test_must_fail dd if="$dev" of=after bs=4096 skip="$blk" count=1 2>/dev/null &&
	! grep -q "$canary" after &&
	test_must_fail dd if="$dev" of=dump bs=1M iflag=direct 2>err &&
	grep "Input/output error" err &&
	! grep -q "$canary" dump &&
	umount fs &&
	ssefs disk detach "$dev" &&
	ssefs key set k1 --enabled true
'

test_expect_success 'the temp disk attaches too (its sector size, no footer)' '
	mkdir hc store3 &&
	ssefs_mount store3 mnt3 "host_cache=$PWD/hc,temp_disk=32M" &&
	dev=$(ssefs disk attach mnt3/temp.vhd) &&
	test "$(blockdev --getsize64 "$dev")" = 33554432 &&
	test "$(blockdev --getss "$dev")" = 4096 &&
	ssefs status mnt3 | grep "attached: *$dev\$" &&
	ssefs disk detach mnt3/temp.vhd &&
	ssefs_umount mnt3
'

bdi_ra () {	# MNT: the mount's read_ahead_kb
	cat "/sys/class/bdi/$(mountpoint -d "$1")/read_ahead_kb"
}

test_expect_success '-o readahead: set on the mount before any disk is opened; 1M by default as root' '
	test "$(bdi_ra mnt)" = 1024 &&
	mkdir store2 &&
	ssefs_mount store2 mnt2 readahead=4M &&
	test "$(bdi_ra mnt2)" = 4096 &&
	ssefs status mnt2 | grep "^options: .*readahead=4M" &&
	ssefs_umount mnt2 &&
	test_must_fail ssefs mount store2 mnt2 -o readahead=0 2>err &&
	grep "readahead=0: not a size from 4K to 64M" err
'

test_expect_success OTHERS '-o readahead as a user who is not root: one line' '
	chmod 777 store2 mnt2 &&
	test_must_fail setpriv --reuid=65534 --regid=65534 --clear-groups \
		env SSEFS_VAULT=/nonexistent "$SSEFS_BIN" mount store2 mnt2 -o readahead=1M 2>err &&
	one_line err &&
	grep "readahead: needs root" err
'

test_expect_success 'a disk attached keeps its mount busy; detached, it unmounts cleanly' '
	dev=$(ssefs disk attach mnt/d6.vhd) &&
	test_must_fail fusermount3 -u mnt 2>/dev/null &&
	ssefs disk detach "$dev" &&
	ssefs_umount mnt
'

test_done
