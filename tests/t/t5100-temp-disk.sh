#!/bin/bash
# run-all: lock loop	(loop devices: one script at a time)

test_description='the temp disk: temp.vhd in the host cache directory, encrypted under an ephemeral key, gone at unmount'

. ./test-lib.sh
. "$TEST_DIRECTORY"/lib-ssefs.sh

test_have_prereq FUSE || { skip_all='cannot mount FUSE here'; test_done; }
test_have_prereq QEMU || { skip_all='needs qemu-img'; test_done; }

canary="ssefs-temp-canary-$$-$(date +%s)"
MiB=1048576
HC="$TRASH_DIRECTORY/hc"
opts="host_cache=$HC,temp_disk=64M"

# attach FILE: a loop device over the data part of a .vhd (no footer)
attach () {
	local size
	size=$(stat -c %s "$1") &&
	LOOP=$(losetup --find --show --sizelimit $((size - 512)) "$1") &&
	test_atexit "losetup -d $LOOP 2>/dev/null"
}

# only_lock_left: the host cache directory holds nothing but its lock
only_lock_left () {
	ls -A "$HC" >left &&
	echo .ssefs-host.lock >want &&
	test_cmp want left
}

# all_zero_but_footer FILE MIB
all_zero_but_footer () {
	cmp -n $(($2 * MiB)) "$1" /dev/zero &&
	tail -c 512 "$1" | head -c 8 | grep -q conectix
}

test_expect_success 'setup: vault, a store disk, a mount with a 64M temp disk' '
	ssefs_setup_vault &&
	mkdir store mnt &&
	ssefs disk create store/d0.vhd --size 16M >/dev/null &&
	ssefs_mount store mnt "$opts"
'

test_expect_success 'temp.vhd: a 0600 regular file of the mounting user, 64M + footer' '
	test -f mnt/temp.vhd &&
	test "$(stat -c %a:%u:%g mnt/temp.vhd)" = "600:$(id -u):$(id -g)" &&
	test "$(stat -c %s mnt/temp.vhd)" = $((64 * MiB + 512)) &&
	ls mnt >ls.out &&
	printf "d0.vhd\ntemp.vhd\n" >want &&
	test_cmp want ls.out &&
	! test -e store/temp.vhd
'

test_expect_success 'qemu-img and vhdiinfo read it as a fixed VHD of 64 MiB' '
	qemu-img info -f vpc mnt/temp.vhd >info &&
	grep -q "virtual size: 64 MiB (67108864 bytes)" info &&
	{ ! test_have_prereq VHDI || vhdiinfo mnt/temp.vhd | grep -q Fixed; }
'

test_expect_success 'fresh: all zeros but the footer; thin in the host cache' '
	all_zero_but_footer mnt/temp.vhd 64 &&
	test -f "$HC/temp-disk.ssefs" &&
	test "$(stat -c %a "$HC/temp-disk.ssefs")" = 600 &&
	test $(($(stat -c %b "$HC/temp-disk.ssefs") * 512)) -lt $MiB
'

test_expect_success 'the backing file is an ssefs disk under an ephemeral kid no vault knows' '
	ssefs disk show "$HC/temp-disk.ssefs" >show &&
	grep -q "ephemeral://temp-disk/[0-9a-f]\{32\}" show &&
	! grep -rq "ephemeral://" vault &&
	test_must_fail ssefs disk verify "$HC/temp-disk.ssefs" 2>err &&
	cat err
'

test_expect_success 'a pattern written through the mount is not in the host cache' '
	for i in 1 7 300 9000; do
		printf "%s-%d" "$canary" $i |
		dd of=mnt/temp.vhd bs=4096 seek=$i conv=notrunc,fsync \
			2>/dev/null || return 1
	done &&
	dd if=mnt/temp.vhd bs=4096 skip=300 count=1 2>/dev/null |
		head -c ${#canary} >got &&
	printf "%s" "$canary" >want &&
	test_cmp want got &&
	sync &&
	no_canary "$HC" "$canary" &&
	no_canary store "$canary"
'

test_expect_success 'unlink, rename, chmod, chown, truncate: EPERM' '
	test_must_fail rm -f mnt/temp.vhd 2>err &&
	grep -q "Operation not permitted" err &&
	test_must_fail mv mnt/temp.vhd mnt/t2.vhd 2>err &&
	grep -q "Operation not permitted" err &&
	test_must_fail mv mnt/d0.vhd mnt/temp.vhd 2>err &&
	grep -q "Operation not permitted" err &&
	test -f mnt/d0.vhd &&
	test_must_fail chmod 0644 mnt/temp.vhd 2>err &&
	grep -q "Operation not permitted" err &&
	test_must_fail chown "$(id -u):$(id -g)" mnt/temp.vhd 2>err &&
	grep -q "Operation not permitted" err &&
	test_must_fail truncate -s 1M mnt/temp.vhd 2>err &&
	grep -q "Operation not permitted" err &&
	test_must_fail truncate -s 128M mnt/temp.vhd 2>err &&
	grep -q "Operation not permitted" err &&
	truncate -s $((64 * MiB + 512)) mnt/temp.vhd &&
	test "$(stat -c %s mnt/temp.vhd)" = $((64 * MiB + 512)) &&
	test "$(stat -c %a mnt/temp.vhd)" = 600
'

test_expect_success 'mknod, mkdir of temp.vhd: EEXIST; O_TRUNC: EPERM' '
	test_must_fail mkdir mnt/temp.vhd 2>err &&
	grep -q "File exists" err &&
	test_must_fail mknod mnt/temp.vhd p 2>err &&
	grep -q "File exists" err &&
	test_must_fail bash -c ": >mnt/temp.vhd" 2>err &&
	grep -q "Operation not permitted" err &&
	test "$(stat -c %s mnt/temp.vhd)" = $((64 * MiB + 512)) &&
	dd if=mnt/temp.vhd bs=4096 skip=300 count=1 2>/dev/null |
		head -c ${#canary} >got &&
	test_cmp want got
'

test_expect_success 'a write past the end fails with ENOSPC; the size stays' '
	test_must_fail dd if=/dev/zero of=mnt/temp.vhd bs=512 count=1 \
		seek=$(((64 * MiB + 512) / 512)) conv=notrunc 2>err &&
	grep -q "No space left on device" err &&
	test "$(stat -c %s mnt/temp.vhd)" = $((64 * MiB + 512))
'

test_expect_success 'status: the temp disk, encrypted, with its statistics' '
	ssefs status mnt >st &&
	cat st &&
	grep -q "^encryption at host: on (.*temp disk: encrypted under an ephemeral platform key)" st &&
	grep -q "^temp.vhd (temp disk" st &&
	grep -q "backing file: *$HC/temp-disk.ssefs$" st &&
	grep -q "kid: *ephemeral://temp-disk/" st &&
	grep -q "size: *$((64 * MiB + 512))$" st &&
	grep -q ", 0 damaged$" st &&
	grep -q "^1 disk, " st
'

test_expect_success JQ 'status --json: tempDisk, and not among the store disks' '
	ssefs --json status mnt >st.json &&
	test "$(jq -r .tempDisk.encrypted st.json)" = true &&
	test "$(jq -r .tempDisk.encryption st.json)" = EphemeralPlatformKey &&
	test "$(jq -r .tempDisk.backingFile st.json)" = "$HC/temp-disk.ssefs" &&
	test "$(jq -r .tempDisk.diskSizeBytes st.json)" = $((64 * MiB)) &&
	test "$(jq -r .tempDisk.bytesWritten st.json)" -gt 0 &&
	test "$(jq -r .diskCount st.json)" = 1 &&
	test "$(jq -r ".disks[].path" st.json)" = d0.vhd
'

test_expect_success 'rotation does not trip over it' '
	ssefs rotate store >rot 2>&1 &&
	ssefs status mnt >st &&
	grep -q "^temp.vhd (temp disk" st
'

test_expect_success LOOP 'losetup + mkfs.ext4 + mount on temp.vhd; the host cache holds no plaintext' '
	mkdir fs &&
	attach mnt/temp.vhd &&
	test "$(blockdev --getsize64 $LOOP)" = $((64 * MiB)) &&
	mkfs.ext4 -q -F "$LOOP" &&
	mount "$LOOP" fs &&
	test_atexit "umount fs 2>/dev/null" &&
	for i in $(test_seq 50); do
		printf "%s file %d\n" "$canary" "$i" >fs/f$i.txt || return 1
	done &&
	head -c 3000000 /dev/urandom >fs/random.bin &&
	sync &&
	umount fs &&
	mount -o ro "$LOOP" fs &&
	grep -q "$canary file 50" fs/f50.txt &&
	umount fs &&
	losetup -d "$LOOP" &&
	no_canary "$HC" "$canary" &&
	qemu-img info -f vpc mnt/temp.vhd | grep -q "virtual size: 64 MiB"
'

test_expect_success LOOP 'discards from the file system free space in the host cache' '
	attach mnt/temp.vhd &&
	mount "$LOOP" fs &&
	head -c 20000000 /dev/urandom >fs/big &&
	sync &&
	before=$(stat -c %b "$HC/temp-disk.ssefs") &&
	rm fs/big &&
	sync &&
	fstrim fs &&
	sync &&
	after=$(stat -c %b "$HC/temp-disk.ssefs") &&
	echo "blocks before $before after $after" &&
	test $((before - after)) -gt 20000 &&
	umount fs &&
	losetup -d "$LOOP"
'

test_expect_success 'unmount: clean, and nothing is left in the host cache' '
	ssefs_umount mnt &&
	! mountpoint -q mnt &&
	only_lock_left
'

test_expect_success 'a new mount gets a fresh, zeroed temp disk' '
	ssefs_mount store mnt "$opts" &&
	all_zero_but_footer mnt/temp.vhd 64
'

test_expect_success 'kill -9 of the daemon: the next mount removes the leftover' '
	printf "%s" "$canary" |
		dd of=mnt/temp.vhd bs=4096 seek=11 conv=notrunc,fsync 2>/dev/null &&
	pid=$(cat store/.ssefs.lock) &&
	old=$(stat -c %i "$HC/temp-disk.ssefs") &&
	kill -9 "$pid" &&
	{ wait "$(ssefs_daemon_pid mnt)"; true; } &&
	fusermount3 -uz mnt &&
	! mountpoint -q mnt &&
	test -f "$HC/temp-disk.ssefs" &&
	ssefs_mount store mnt "$opts" &&
	test -f "$HC/temp-disk.ssefs" &&
	ls -A "$HC" >left &&
	printf ".ssefs-host.lock\ntemp-disk.ssefs\n" >want &&
	test_cmp want left &&
	all_zero_but_footer mnt/temp.vhd 64 &&
	no_canary mnt/temp.vhd "$canary" &&
	ssefs disk show "$HC/temp-disk.ssefs" >show &&
	echo "old inode $old, new $(stat -c %i "$HC/temp-disk.ssefs")" &&
	ssefs_umount mnt &&
	only_lock_left
'

test_expect_success JQ 'revocation of a store disk'"'"'s key leaves the temp disk alone' '
	ssefs key create k1 --size 2048 >/dev/null &&
	ssefs disk create store/d1.vhd --size 16M --key k1 >/dev/null &&
	ssefs_mount store mnt "$opts,key_check_interval=1s,revoke_grace=0" &&
	exec 7<mnt/d1.vhd &&
	test_when_finished "exec 7<&-" &&
	ssefs key set k1 --enabled false &&
	for i in $(test_seq 75); do
		state=$(ssefs --json status mnt |
			jq -r ".disks[] | select(.path == \"d1.vhd\") | .state") &&
		test "$state" = revoked && break
		sleep 0.2
	done &&
	test "$state" = revoked &&
	printf "%s" "$canary" |
		dd of=mnt/temp.vhd bs=4096 seek=3 conv=notrunc,fsync 2>/dev/null &&
	dd if=mnt/temp.vhd bs=4096 skip=3 count=1 2>/dev/null |
		head -c ${#canary} >got &&
	printf "%s" "$canary" >want &&
	test_cmp want got &&
	ssefs --json status mnt >st.json &&
	test "$(jq -r .tempDisk.open st.json)" = false &&
	test "$(jq -r .diskCount st.json)" = 2 &&
	ssefs key set k1 --enabled true
'

test_expect_success 'SIGTERM: the daemon exits 0 and leaves nothing in the host cache' '
	exec 7<&- &&
	kill -TERM "$(cat store/.ssefs.lock)" &&
	wait "$(ssefs_daemon_pid mnt)" &&
	! mountpoint -q mnt &&
	only_lock_left
'

test_expect_success 'encryption_at_host=off: plaintext in the host cache, and status says so' '
	ssefs_mount store mnt "$opts,encryption_at_host=off" &&
	test -f "$HC/temp-disk.vhd" &&
	! test -e "$HC/temp-disk.ssefs" &&
	test "$(stat -c %a "$HC/temp-disk.vhd")" = 600 &&
	test "$(stat -c %s mnt/temp.vhd)" = $((64 * MiB + 512)) &&
	all_zero_but_footer mnt/temp.vhd 64 &&
	printf "%s" "$canary" |
		dd of=mnt/temp.vhd bs=4096 seek=5 conv=notrunc,fsync 2>/dev/null &&
	! no_canary "$HC/temp-disk.vhd" "$canary" &&
	qemu-img info -f vpc "$HC/temp-disk.vhd" | grep -q "virtual size: 64 MiB" &&
	ssefs status mnt >st &&
	grep -q "^encryption at host: off (.*plaintext on host storage.*temp disk: plaintext in $HC/temp-disk.vhd)" st &&
	grep -q "encryption: *none: PLAINTEXT on host storage" st &&
	! grep -q "kid: *ephemeral" st &&
	{ ! test_have_prereq JQ ||
	  { ssefs --json status mnt >st.json &&
	    test "$(jq -r .encryptionAtHost st.json)" = false &&
	    test "$(jq -r .tempDisk.encrypted st.json)" = false &&
	    test "$(jq -r .tempDisk.encryption st.json)" = None &&
	    test "$(jq -r .tempDisk.kid st.json)" = null; }; }
'

test_expect_success 'encryption_at_host=off: unmount leaves nothing either' '
	ssefs_umount mnt &&
	only_lock_left
'

test_expect_success 'a store file named temp.vhd: the mount refuses, naming it' '
	echo "not a disk" >store/temp.vhd &&
	test_expect_code 1 ssefs mount -f store mnt -o "$opts" 2>err &&
	cat err &&
	test "$(wc -l <err)" = 1 &&
	grep -q "^ssefs: -o temp_disk: .*/store/temp.vhd exists in the store and the temp disk would hide it" err &&
	! mountpoint -q mnt &&
	test "$(cat store/temp.vhd)" = "not a disk" &&
	rm store/temp.vhd
'

test_expect_success 'temp_disk sizes: as disk create takes them' '
	test_expect_code 2 ssefs mount -f store mnt -o "host_cache=$HC,temp_disk=0" 2>err &&
	grep -q "^ssefs: -o temp_disk=0: not a size from 1 byte to 1 EiB" err &&
	test_expect_code 2 ssefs mount -f store mnt -o "host_cache=$HC,temp_disk=2E" 2>err &&
	grep -q "^ssefs: -o temp_disk=2E: not a size" err &&
	test_expect_code 2 ssefs mount -f store mnt -o temp_disk=1G 2>err &&
	grep -q "needs host_cache" err &&
	ssefs_mount store mnt "host_cache=$HC,temp_disk=1000K" &&
	test "$(stat -c %s mnt/temp.vhd)" = $((MiB + 512)) &&
	qemu-img info -f vpc mnt/temp.vhd | grep -q "virtual size: 1 MiB" &&
	ssefs_umount mnt &&
	only_lock_left
'

test_expect_success 'the config file can ask for a temp disk too' '
	cat >cfg.yaml <<-EOF &&
	mount:
	  host_cache: $HC
	  temp_disk: 8M
	EOF
	SSEFS_CONFIG=$PWD/cfg.yaml ssefs_mount store mnt &&
	test "$(stat -c %s mnt/temp.vhd)" = $((8 * MiB + 512)) &&
	test -f "$HC/temp-disk.ssefs" &&
	ssefs_umount mnt &&
	only_lock_left
'

test_done
