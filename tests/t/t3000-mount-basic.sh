#!/bin/bash

test_description='the mount: plaintext .vhd view over a ciphertext store'

. ./test-lib.sh
. "$TEST_DIRECTORY"/lib-ssefs.sh

test_have_prereq FUSE || { skip_all='cannot mount FUSE here'; test_done; }

test_expect_success 'setup: a vault, a store, a mount' '
	ssefs_setup_vault &&
	mkdir store mnt &&
	ssefs_mount store mnt &&
	mountpoint -q mnt
'

test_expect_success 'an empty store shows an empty mount; the lock file is hidden' '
	test -f store/.ssefs.lock &&
	ls -A mnt >out &&
	test_must_fail test -s out
'

test_expect_success QEMU 'qemu-img creates a fixed VHD through the mount' '
	make_vhd mnt/d0.vhd 64M &&
	test "$(stat -c %s mnt/d0.vhd)" = $((64 * 1048576 + 512)) &&
	test -f store/d0.vhd
'

test_expect_success QEMU 'qemu-img info -f vpc reads the plaintext .vhd' '
	qemu-img info -f vpc --output=json mnt/d0.vhd >info &&
	grep -q "\"format\": \"vpc\"" info &&
	grep -q "\"virtual-size\": 67108864" info
'

test_expect_success QEMU,VHDI 'vhdiinfo says Fixed with the same size' '
	vhdiinfo mnt/d0.vhd >info &&
	grep -q "Disk type.*Fixed" info &&
	grep -q "Media size.*(67108864 bytes)" info
'

test_expect_success 'plaintext written through the mount is not in the store' '
	printf "canary-%s-plaintext" "$$" >canary &&
	dd if=canary of=mnt/d0.vhd bs=4096 seek=3 conv=notrunc,fsync 2>/dev/null &&
	no_canary store/d0.vhd "canary-$$" &&
	dd if=mnt/d0.vhd bs=4096 skip=3 count=1 2>/dev/null |
		head -c "$(wc -c <canary)" >actual &&
	test_cmp canary actual
'

test_expect_success QEMU 'cp of a 64 MiB VHD gives a disk whose plaintext cmp-equals the source' '
	make_vhd src.vhd 64M &&
	dd if=/dev/urandom of=src.vhd bs=1M count=64 conv=notrunc 2>/dev/null &&
	cp src.vhd mnt/copy.vhd &&
	cmp src.vhd mnt/copy.vhd &&
	head -c 4096 store/copy.vhd | grep -a -q "^SSEFS" &&
	! cmp -s -n 65536 src.vhd store/copy.vhd &&
	qemu-img info -f vpc mnt/copy.vhd | grep -q "64 MiB"
'

test_expect_success 'files without the ssefs magic stay hidden' '
	echo "not a disk" >store/notes.txt &&
	ln -s d0.vhd store/link.vhd &&
	ls -A mnt >out &&
	! grep -q notes.txt out &&
	! grep -q link.vhd out &&
	test_must_fail cat mnt/notes.txt 2>/dev/null &&
	rm store/notes.txt store/link.vhd
'

test_expect_success 'subdirectories pass through; rename and unlink follow the store' '
	mkdir mnt/sub &&
	test -d store/sub &&
	echo hello >mnt/sub/small.vhd &&
	test "$(cat mnt/sub/small.vhd)" = hello &&
	mv mnt/sub/small.vhd mnt/sub/moved.vhd &&
	test -f store/sub/moved.vhd && ! test -e store/sub/small.vhd &&
	test "$(cat mnt/sub/moved.vhd)" = hello &&
	mv mnt/sub mnt/sub2 &&
	test "$(cat mnt/sub2/moved.vhd)" = hello &&
	rm mnt/sub2/moved.vhd &&
	! test -e store/sub2/moved.vhd &&
	rmdir mnt/sub2 && ! test -e store/sub2
'

test_expect_success 'truncate grows and shrinks a disk; the size survives a remount' '
	: >mnt/t.vhd &&
	truncate -s 10M mnt/t.vhd &&
	test "$(stat -c %s mnt/t.vhd)" = 10485760 &&
	truncate -s 1M mnt/t.vhd &&
	test "$(stat -c %s mnt/t.vhd)" = 1048576
'

test_expect_success 'chmod, chown and utimens pass through to the store file' '
	chmod 0640 mnt/t.vhd &&
	test "$(stat -c %a store/t.vhd)" = 640 &&
	test "$(stat -c %a mnt/t.vhd)" = 640 &&
	touch -d "2020-02-02 00:00:00" mnt/t.vhd &&
	test "$(stat -c %Y store/t.vhd)" = "$(date -d "2020-02-02 00:00:00" +%s)" &&
	chown 12345:12345 mnt/t.vhd &&
	test "$(stat -c %u:%g store/t.vhd)" = 12345:12345
'

test_expect_success 'getfattr shows the read-only user.ssefs.* attributes' '
	getfattr -d mnt/d0.vhd >attrs &&
	grep -q "^user.ssefs.encryption_type=\"EncryptionAtRestWithPlatformKey\"" attrs &&
	grep -q "^user.ssefs.kid=\"vault://test/platform/" attrs &&
	grep -q "^user.ssefs.sector_size=\"4096\"" attrs &&
	grep -q "^user.ssefs.key_state=\"usable\"" attrs &&
	grep -q "^user.ssefs.uuid=\"[0-9a-f-]\{36\}\"" attrs &&
	test_must_fail setfattr -n user.ssefs.kid -v x mnt/d0.vhd 2>/dev/null &&
	test_must_fail setfattr -n user.other -v x mnt/d0.vhd 2>/dev/null
'

test_expect_success 'statfs reports the store' '
	test "$(stat -f -c %b mnt)" = "$(stat -f -c %b store)"
'

test_expect_success 'a second mount of the same store is refused' '
	mkdir mnt2 &&
	test_expect_code 1 ssefs mount -f store mnt2 2>err &&
	pid=$(cat store/.ssefs.lock) &&
	kill -0 "$pid" &&
	grep -q "^ssefs: store store: already mounted (pid $pid)$" err &&
	! mountpoint -q mnt2
'

test_expect_success 'status lists each disk with its encryption, kid, key state and I/O' '
	ssefs status mnt >st &&
	grep -q "^store: *$TRASH_DIRECTORY/store$" st &&
	grep -q "^d0.vhd$" st &&
	grep -q "encryption type: EncryptionAtRestWithPlatformKey" st &&
	grep -q "kid: *vault://test/platform/" st &&
	grep -q "key state: *usable" st &&
	grep -q "bytes written: *[1-9]" st &&
	grep -q "encryption at host: on" st
'

test_expect_success JQ 'status --json' '
	ssefs --json status mnt >st.json &&
	jq -e ".store == \"$TRASH_DIRECTORY/store\"" st.json &&
	jq -e ".encryptionAtHost == true" st.json &&
	jq -e ".disks | map(select(.path == \"copy.vhd\"))[0] |
		.valid and .keyState == \"usable\" and
		.bytesWritten >= 67108864 and .open == false and
		.vhdSizeBytes == 67109376" st.json
'

test_expect_success ROOT,OTHERS 'the control socket answers only root and the user who mounted' '
	chmod a+rx "$TRASH_DIRECTORY" &&
	test_expect_code 1 setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$SSEFS_BIN" status "$TRASH_DIRECTORY/mnt" >out 2>err &&
	grep -q "^ssefs: .*mnt: permission denied" err &&
	# open the socket up: the daemon itself must still refuse (SO_PEERCRED)
	id=$(printf "%s" "$(realpath mnt)" | b2sum -l 128 | cut -d" " -f1) &&
	sock=/run/ssefs/$id.sock &&
	test "$(stat -c %a "$sock")" = 600 &&
	test_when_finished "chmod 0600 \"$sock\"; chmod 0700 /run/ssefs" &&
	chmod 0711 /run/ssefs && chmod 0666 "$sock" &&
	{ setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$SSEFS_BIN" status "$TRASH_DIRECTORY/mnt" >out 2>err; true; } &&
	grep -q "^ssefs: .*mnt: permission denied" err &&
	! grep -q "d0.vhd" out
'

test_expect_success 'status of something that is not a mount: exit 1' '
	mkdir plain &&
	test_expect_code 1 ssefs status plain 2>err &&
	grep -q "^ssefs: plain: not an ssefs mount$" err
'

test_expect_success 'unmount is clean, the daemon exits 0 and the data stays' '
	ssefs_umount mnt &&
	! mountpoint -q mnt &&
	ssefs_mount store mnt &&
	cmp src.vhd mnt/copy.vhd &&
	test "$(stat -c %s mnt/t.vhd)" = 1048576 &&
	dd if=mnt/d0.vhd bs=4096 skip=3 count=1 2>/dev/null |
		head -c "$(wc -c <canary)" >actual &&
	test_cmp canary actual
'

test_expect_success 'SIGTERM unmounts, persists sizes and exits 0' '
	exec 5>>mnt/grow.vhd &&
	head -c 3000000 /dev/urandom >&5 &&
	pid=$(ssefs_daemon_pid mnt) &&
	kill -TERM "$(cat store/.ssefs.lock)" &&
	{ wait "$pid"; rc=$?; } ;
	exec 5>&- ;
	test "$rc" = 0 &&
	! mountpoint -q mnt &&
	ssefs_mount store mnt &&
	test "$(stat -c %s mnt/grow.vhd)" = 3000000 &&
	ssefs_umount mnt
'

test_expect_success 'bad mount options: one line, exit 2' '
	test_expect_code 2 ssefs mount -f store mnt -o caching=Foo 2>err &&
	test "$(cat err)" = "ssefs: -o caching=Foo: must be None, ReadOnly or ReadWrite" &&
	test_expect_code 2 ssefs mount -f store mnt -o revoke_grace=soon 2>err &&
	grep -q "^ssefs: -o revoke_grace=soon: not a duration" err &&
	test_expect_code 2 ssefs mount -f store mnt -o encryption_at_host=maybe 2>err &&
	grep -q "^ssefs: -o encryption_at_host=maybe: must be on or off$" err &&
	! mountpoint -q mnt
'

test_expect_success 'caching and a temp disk need host_cache: exit 2' '
	test_expect_code 2 ssefs mount -f store mnt -o caching=ReadOnly 2>err &&
	test "$(cat err)" = "ssefs: -o caching=ReadOnly: needs host_cache=DIR, the directory that holds the cache" &&
	test_expect_code 2 ssefs mount -f store mnt -o temp_disk=1G 2>err &&
	grep -q "^ssefs: -o temp_disk: needs host_cache=DIR" err &&
	test_expect_code 2 ssefs mount -f store mnt -o host_cache=/tmp,caching=ReadWrite,cache_size=4K 2>err &&
	grep -q "^ssefs: -o cache_size: at least 64K$" err &&
	! mountpoint -q mnt
'

test_expect_success 'a missing vault is a clear error and no mount' '
	test_expect_code 1 env SSEFS_VAULT="$TRASH_DIRECTORY/novault" \
		"$SSEFS_BIN" mount -f store mnt 2>err &&
	grep -q "^ssefs: vault .*novault" err &&
	! mountpoint -q mnt
'

test_expect_success 'an unknown key for new disks is refused before mounting' '
	test_expect_code 1 ssefs mount -f store mnt -o key=nosuchkey 2>err &&
	grep -q "^ssefs: key nosuchkey: " err &&
	! mountpoint -q mnt
'

test_expect_success 'a mount point that holds files is refused with one line' '
	mkdir -p full && echo precious >full/notes.txt &&
	test_when_finished "fusermount3 -uz full 2>/dev/null || :" &&
	test_expect_code 1 ssefs mount store full 2>err &&
	test "$(cat err)" = "ssefs: full: mount point is not empty (use -o nonempty to mount over it)" &&
	! mountpoint -q full &&
	test "$(cat full/notes.txt)" = precious &&
	: a hidden file counts too &&
	mkdir -p dotted && touch dotted/.keep &&
	test_when_finished "fusermount3 -uz dotted 2>/dev/null || :" &&
	test_expect_code 1 ssefs mount store dotted 2>err &&
	grep -q "^ssefs: dotted: mount point is not empty" err
'

test_expect_success '-o nonempty mounts over them; they are back after the unmount' '
	ssefs_mount store full nonempty &&
	test ! -e full/notes.txt &&
	ssefs status full | grep -q "nonempty" &&
	ssefs_umount full &&
	test "$(cat full/notes.txt)" = precious
'

test_expect_success 'mount.fuse.ssefs: refused the same, and -o nonempty is not handed to libfuse' '
	test_expect_code 1 env SSEFS_BIN="$SSEFS_BIN" \
		"$TEST_DIRECTORY/../../tools/mount.fuse.ssefs" \
		"$TRASH_DIRECTORY/store" "$TRASH_DIRECTORY/full" -o rw 2>err &&
	grep -q "^ssefs: .*full: mount point is not empty (use -o nonempty" err &&
	! mountpoint -q full &&
	env SSEFS_BIN="$SSEFS_BIN" "$TEST_DIRECTORY/../../tools/mount.fuse.ssefs" \
		"$TRASH_DIRECTORY/store" "$TRASH_DIRECTORY/full" \
		-o rw,nonempty 2>err &&
	test_when_finished "fusermount3 -uz \"$TRASH_DIRECTORY/full\" 2>/dev/null || :" &&
	mountpoint -q full &&
	test ! -s err &&
	test ! -e full/notes.txt &&
	fusermount3 -u full &&
	for i in $(test_seq 50); do
		test -e full/notes.txt && break; sleep 0.1
	done &&
	test "$(cat full/notes.txt)" = precious
'

test_done
