#!/bin/bash
# run-all: lock loop	(loop devices: one script at a time)

test_description='mount a blob store URL (Azurite): ext4 in a disk, remount, download, two daemons and leases'

. ./test-lib.sh
. "$TEST_DIRECTORY"/lib-ssefs.sh
. "$TEST_DIRECTORY"/lib-azurite.sh

azurite_need_tools
test_have_prereq AZURITE || { skip_all='no Azurite (make deps)'; test_done; }
test_have_prereq FUSE || { skip_all='cannot mount FUSE here'; test_done; }
test_have_prereq LOOP || { skip_all='needs root and loop devices'; test_done; }

canary="ssefs-blob-canary-$$-$(date +%s)"

attach () {
	local size
	size=$(stat -c %s "$1") &&
	LOOP=$(losetup --find --show --sizelimit $((size - 512)) "$1") &&
	test_atexit "losetup -d $LOOP 2>/dev/null"
}

test_expect_success 'setup: vault, Azurite, a container with two disks' '
	ssefs_setup_vault &&
	azurite_start &&
	"$AZB_TOOL" "$AZURITE_URL/con" mkcontainer &&
	C=$AZURITE_URL/con &&
	ssefs disk create "$C/d0.vhd" --size 64M >/dev/null &&
	ssefs disk create "$C/d1.vhd" --size 16M >/dev/null &&
	mkdir mnt mnt2 fs &&
	mkdir -p tree/a &&
	for i in $(test_seq 20); do
		printf "%s file %d\n" "$canary" "$i" >tree/a/f$i.txt || return 1
	done &&
	head -c 2000000 /dev/urandom >tree/random.bin
'

test_expect_success 'mount the URL: the disks are listed with their sizes' '
	ssefs_mount "$C" mnt x-ssefs-lease=15s &&
	ls mnt >list &&
	printf "d0.vhd\nd1.vhd\n" >expect &&
	test_cmp expect list &&
	test "$(stat -c %s mnt/d0.vhd)" = 67109376
'

test_expect_success 'ext4 on the blob disk: write the tree, fsync' '
	attach mnt/d0.vhd &&
	mkfs.ext4 -q -F "$LOOP" &&
	mount "$LOOP" fs &&
	test_atexit "umount fs 2>/dev/null" &&
	cp -r tree fs/ &&
	sync -f fs/tree/random.bin &&
	diff -r tree fs/tree &&
	ssefs status mnt >status &&
	grep "^blob store: [1-9][0-9]* requests, [0-9]* retries" status &&
	ssefs --json status mnt >status.json &&
	test "$(jq -r .blobStore.bytesOut status.json)" -gt 2000000
'

test_expect_success 'a second daemon: the same disk is refused in one line, another disk is writable' '
	ssefs_mount "$C" mnt2 x-ssefs-lease=15s &&
	test_must_fail dd if=/dev/zero of=mnt2/d0.vhd bs=4096 count=1 conv=notrunc 2>err &&
	grep -i "busy" err &&
	grep "disk $C/d0.vhd: in use: another host holds its lease" mnt2.log &&
	printf "%s second\n" "$canary" >one &&
	dd if=one of=mnt2/d1.vhd bs=4096 conv=notrunc,fsync 2>/dev/null &&
	head -c $(wc -c <one) mnt2/d1.vhd | cmp - one &&
	ssefs_umount mnt2
'

test_expect_success 'unmount: no plaintext canary in any blob' '
	umount fs &&
	losetup -d "$LOOP" &&
	ssefs_umount mnt &&
	for b in d0 d1; do
		"$BT" read "$C/$b.vhd" 0 $("$BT" size "$C/$b.vhd") >$b.raw &&
		! grep -q "$canary" $b.raw || return 1
	done
'

test_expect_success 'remount: the tree reads back equal' '
	ssefs_mount "$C" mnt &&
	attach mnt/d0.vhd &&
	mount -o ro "$LOOP" fs &&
	diff -r tree fs/tree &&
	umount fs &&
	losetup -d "$LOOP" &&
	ssefs_umount mnt
'

test_expect_success AZCLI 'az storage blob download: a file a directory store mounts with the same data' '
	mkdir dstore &&
	az storage blob download -c con -n d0.vhd -f dstore/d0.vhd -o none 2>az.err &&
	cmp dstore/d0.vhd d0.raw &&
	ssefs_mount dstore mnt &&
	attach mnt/d0.vhd &&
	mount -o ro "$LOOP" fs &&
	diff -r tree fs/tree &&
	umount fs &&
	losetup -d "$LOOP" &&
	ssefs_umount mnt
'

test_expect_success 'kill -9 of a daemon: the other takes the disk over after the lease lapses, fsynced data intact' '
	ssefs_mount "$C" mnt x-ssefs-lease=15s &&
	pid1=$(ssefs --json status mnt | jq -r .pid) &&
	printf "%s fsynced\n" "$canary" >two &&
	exec 7<>mnt/d1.vhd &&
	dd if=two of=mnt/d1.vhd bs=4096 seek=1 conv=notrunc,fsync 2>/dev/null &&
	ssefs_mount "$C" mnt2 x-ssefs-lease=15s &&
	test_must_fail dd if=/dev/zero of=mnt2/d1.vhd bs=4096 count=1 conv=notrunc 2>/dev/null &&
	kill -9 $pid1 &&
	exec 7>&-;
	fusermount3 -uz mnt;
	ok= &&
	for i in $(test_seq 40); do
		if dd if=/dev/zero of=mnt2/d1.vhd bs=4096 seek=100 count=1 conv=notrunc 2>/dev/null
		then ok=1; break; fi
		sleep 1
	done &&
	test -n "$ok" &&
	dd if=mnt2/d1.vhd bs=4096 skip=1 count=1 2>/dev/null | head -c $(wc -c <two) | cmp - two &&
	ssefs_umount mnt2
'

test_expect_success 'a disk a mount holds: ssefs rotate URL names it, the mount re-wraps it' '
	ssefs key create k1 --size 2048 >/dev/null &&
	ssefs des create s1 --key k1 --auto-rotate >/dev/null &&
	ssefs disk create "$C/r.vhd" --size 1M --des s1 >/dev/null &&
	ssefs --json disk show "$C/r.vhd" | jq -r ".layers[0].kid" >before &&
	ssefs_mount "$C" mnt rotate_interval=2s &&
	exec 8<>mnt/r.vhd &&
	ssefs key rotate k1 >/dev/null &&
	ssefs rotate "$C" >out &&
	grep "^disk $C/r.vhd: in use by a mount" out &&
	for i in $(test_seq 30); do
		ssefs --json disk show "$C/r.vhd" | jq -r ".layers[0].kid" >after &&
		! cmp -s before after && break
		sleep 1
	done &&
	! cmp -s before after &&
	exec 8>&- &&
	ssefs_umount mnt
'

test_expect_success 'a ReadWrite host cache on top of a blob disk: written back at unmount' '
	mkdir hc &&
	head -c 1048576 /dev/urandom >three &&
	ssefs_mount "$C" mnt "host_cache=$PWD/hc,caching=ReadWrite" &&
	dd if=three of=mnt/d1.vhd bs=64k seek=16 conv=notrunc,fsync 2>/dev/null &&
	dd if=mnt/d1.vhd bs=64k skip=16 count=16 2>/dev/null | cmp - three &&
	ssefs_umount mnt &&
	ssefs_mount "$C" mnt &&
	dd if=mnt/d1.vhd bs=64k skip=16 count=16 2>/dev/null | cmp - three &&
	ssefs_umount mnt
'

test_expect_success AZCLI 'a lease broken by az under an open disk: writes fail with EIO, one line in the log' '
	ssefs_mount "$C" mnt &&
	exec 9<>mnt/d1.vhd &&
	dd if=one of=mnt/d1.vhd bs=4096 seek=2 conv=notrunc,fsync 2>/dev/null &&
	az storage blob lease break -c con -b d1.vhd --lease-break-period 0 -o none 2>az.err &&
	test_must_fail dd if=one of=mnt/d1.vhd bs=4096 seek=3 conv=notrunc,fsync 2>err &&
	grep "Input/output error" err &&
	exec 9>&- &&
	ssefs_umount mnt;
	test "$(grep -c "lease lost" mnt.log)" = 1
'

test_expect_success 'credentials=FILE: the connection string from a 0600 file, none in the environment' '
	printf "%s\n" "$AZURE_STORAGE_CONNECTION_STRING" >conn &&
	chmod 600 conn &&
	(
		unset AZURE_STORAGE_CONNECTION_STRING &&
		ssefs_mount "$C" mnt "credentials=$PWD/conn" &&
		test "$(stat -c %s mnt/d1.vhd)" = 16777728 &&
		ssefs status mnt >st &&
		! grep -i "AccountKey" st &&
		ssefs_umount mnt
	) &&
	chmod 644 conn &&
	(
		unset AZURE_STORAGE_CONNECTION_STRING &&
		test_must_fail "$SSEFS_BIN" mount -f "$C" mnt -o "credentials=$PWD/conn" 2>err
	) &&
	test "$(wc -l <err)" = 1 &&
	! mountpoint -q mnt
'

test_expect_success 'a wrong account key: one line at mount, no mount' '
	good=$AZURE_STORAGE_CONNECTION_STRING &&
	AZURE_STORAGE_CONNECTION_STRING=$(echo "$good" | sed "s|AccountKey=[^;]*|AccountKey=$(head -c 64 /dev/urandom | base64 -w0)|") &&
	test_must_fail env AZURE_STORAGE_CONNECTION_STRING="$AZURE_STORAGE_CONNECTION_STRING" \
		"$SSEFS_BIN" mount -f "$C" mnt 2>err &&
	AZURE_STORAGE_CONNECTION_STRING=$good &&
	cat err &&
	test "$(wc -l <err)" = 1 &&
	grep "^ssefs: .*access denied.*devstoreaccount1.*con" err &&
	! mountpoint -q mnt
'

test_expect_success 'stop Azurite' '
	azurite_stop
'

test_done
