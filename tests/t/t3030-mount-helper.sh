#!/bin/bash
# run-all: lock etc	(/etc/fstab, /sbin/mount.fuse.ssefs)

test_description='mount -t fuse.ssefs and /etc/fstab through mount.fuse.ssefs'

. ./test-lib.sh
. "$TEST_DIRECTORY"/lib-ssefs.sh

test_have_prereq FUSE || { skip_all='cannot mount FUSE here'; test_done; }
test_have_prereq ROOT || { skip_all='needs root (/sbin, /etc/fstab)'; test_done; }
if [ -e /sbin/mount.fuse.ssefs ]; then
	skip_all='a mount.fuse.ssefs is installed already; not touching it'
	test_done
fi

HELPER="$TEST_DIRECTORY/../../tools/mount.fuse.ssefs"
export SSEFS_BIN

test_expect_success 'setup: vault, store, a disk, the helper in /sbin' '
	ssefs_setup_vault &&
	mkdir store mnt &&
	ssefs_mount store mnt &&
	echo "data through the helper" >mnt/d0.vhd &&
	ssefs_umount mnt &&
	cp "$HELPER" /sbin/mount.fuse.ssefs &&
	test_atexit "rm -f /sbin/mount.fuse.ssefs" &&
	test_atexit "fusermount3 -uz \"$TRASH_DIRECTORY/mnt\" 2>/dev/null"
'

test_expect_success 'mount -t fuse.ssefs STORE MNT -o OPTS (mount-only options dropped)' '
	mount -t fuse.ssefs -o rw,_netdev,nofail,x-systemd.automount,revoke_grace=0 \
		"$TRASH_DIRECTORY/store" "$TRASH_DIRECTORY/mnt" &&
	mountpoint -q mnt &&
	grep -q " $TRASH_DIRECTORY/mnt fuse.ssefs " /proc/mounts &&
	test "$(cat mnt/d0.vhd)" = "data through the helper" &&
	ssefs status mnt | grep -q "revoke_grace=0s" &&
	umount "$TRASH_DIRECTORY/mnt" &&
	wait_daemon_gone store &&
	! mountpoint -q mnt
'

test_expect_success 'fstab access-time options (relatime, noatime, ...) are accepted' '
	mount -t fuse.ssefs -o defaults,relatime,noatime,nodiratime,lazytime,strictatime,_rnetdev,silent \
		"$TRASH_DIRECTORY/store" "$TRASH_DIRECTORY/mnt" &&
	mountpoint -q mnt &&
	test "$(cat mnt/d0.vhd)" = "data through the helper" &&
	umount "$TRASH_DIRECTORY/mnt" &&
	wait_daemon_gone store
'

test_expect_success 'the vault= option reaches the daemon as --vault' '
	(
		unset SSEFS_VAULT &&
		mount -t fuse.ssefs -o vault="$TRASH_DIRECTORY/vault" \
			"$TRASH_DIRECTORY/store" "$TRASH_DIRECTORY/mnt"
	) &&
	mountpoint -q mnt &&
	test "$(cat mnt/d0.vhd)" = "data through the helper" &&
	fusermount3 -u mnt &&
	wait_daemon_gone store
'

test_expect_success 'an fstab line and mount -a' '
	cp /etc/fstab fstab.orig &&
	test_atexit "cp \"$TRASH_DIRECTORY/fstab.orig\" /etc/fstab" &&
	printf "%s %s fuse.ssefs _netdev,nofail,x-ssefs-test,vault=%s 0 0\n" \
		"$TRASH_DIRECTORY/store" "$TRASH_DIRECTORY/mnt" \
		"$TRASH_DIRECTORY/vault" >>/etc/fstab &&
	mount -a -t fuse.ssefs &&
	mountpoint -q mnt &&
	test "$(cat mnt/d0.vhd)" = "data through the helper" &&
	umount mnt &&
	wait_daemon_gone store &&
	mount "$TRASH_DIRECTORY/mnt" &&
	mountpoint -q mnt &&
	umount mnt &&
	wait_daemon_gone store &&
	cp fstab.orig /etc/fstab &&
	! grep -q x-ssefs-test /etc/fstab
'

test_expect_success 'a bad option through the helper fails the mount' '
	test_must_fail mount -t fuse.ssefs -o caching=Sometimes \
		"$TRASH_DIRECTORY/store" "$TRASH_DIRECTORY/mnt" 2>err &&
	grep -q "caching=Sometimes: must be None, ReadOnly or ReadWrite" err &&
	! mountpoint -q mnt
'

test_expect_success 'noexec from fstab (or implied by user) reaches the mount' '
	mount -t fuse.ssefs -o rw,noexec,nosuid,nodev,_netdev \
		"$TRASH_DIRECTORY/store" "$TRASH_DIRECTORY/mnt" &&
	mountpoint -q mnt &&
	grep " $TRASH_DIRECTORY/mnt fuse.ssefs " /proc/mounts >m &&
	grep -q "[ ,]noexec[ ,]" m && grep -q "[ ,]nosuid[ ,]" m &&
	grep -q "[ ,]nodev[ ,]" m &&
	umount "$TRASH_DIRECTORY/mnt" &&
	wait_daemon_gone store
'

test_done
