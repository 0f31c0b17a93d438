#!/bin/bash
# run-all: lock users	(useradd/userdel: one script at a time)

test_description='folders that hold secrets or sockets: refused when another user owns them or can write to them (StrictModes)'

. ./test-lib.sh
. "$TEST_DIRECTORY"/lib-ssefs.sh

command -v python3 >/dev/null || { skip_all='needs python3'; test_done; }
USERS_TAG=t3091
. "$TEST_DIRECTORY"/lib-users.sh

# for a binary that mounts where it should not have
unmount_quietly () {
	runuser -u $OWNER -- fusermount3 -uz "$W/mnt" 2>/dev/null
	sleep 0.3
	true
}

test_expect_success 'setup: two users; the owner makes a vault, a store, a disk' '
	users_add &&
	rm -rf "/tmp/ssefs-$OUID" &&
	mkdir "$W/store" "$W/mnt" "$W/xdg" &&
	chown $OWNER "$W" "$W/store" "$W/mnt" "$W/xdg" &&
	chmod 700 "$W/xdg" &&
	as $OWNER vault init --name t3091 >/dev/null &&
	as $OWNER disk create "$W/store/d0.vhd" --size 8M >/dev/null
'

test_expect_success 'a socket folder another user made 0777: mount refused, naming it and the fix' '
	runuser -u $OTHER -- mkdir -m 0777 "/tmp/ssefs-$OUID" &&
	test_when_finished "unmount_quietly" &&
	test_expect_code 1 as $OWNER mount "$W/store" "$W/mnt" 2>err &&
	cat err &&
	test "$(wc -l <err)" = 1 &&
	grep -q "^ssefs: mount: the control socket.s folder /tmp/ssefs-$OUID is not safe: /tmp/ssefs-$OUID is owned by $OTHER (uid [0-9]*), not by $OWNER (uid $OUID) or root (ssh.s StrictModes rule): .*XDG_RUNTIME_DIR" err &&
	! mounted
'

# sock_id MNT: the name of MNT's control socket, BLAKE2b-128 of its path
sock_id () {
	python3 -c "import hashlib, sys
print(hashlib.blake2b(sys.argv[1].encode(), digest_size=16).hexdigest())" "$1"
}

# fake_server SOCKET: another user answers there as a daemon would
fake_server () {
	runuser -u $OTHER -- timeout 30 python3 -c "
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); os.chmod(sys.argv[1], 0o777); s.listen(4)
print(\"ready\", flush=True)
while True:
    c, _ = s.accept()
    c.recv(128)
    c.sendall(b\"store:      FAKE-ANSWER\n\")
    c.close()
" "$1" >fake.out 2>&1 &
	FAKE_PID=$!
	for i in $(test_seq 50); do
		grep -q ready fake.out 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

test_expect_success 'status does not believe a fake server in such a folder' '
	runuser -u $OWNER -- env XDG_RUNTIME_DIR="$W/xdg" \
		SSEFS_VAULT="$W/vault" HOME="$W" "$BIN" mount "$W/store" "$W/mnt" &&
	mounted &&
	test -S "$W/xdg/ssefs/$(sock_id "$W/mnt").sock" &&
	sock=/tmp/ssefs-$OUID/$(sock_id "$W/mnt").sock &&
	fake_server "$sock" &&
	test_when_finished "kill $FAKE_PID 2>/dev/null; runuser -u $OWNER -- fusermount3 -u $W/mnt" &&
	test_expect_code 1 as $OWNER status "$W/mnt" >out 2>err &&
	cat out err &&
	! grep -q FAKE-ANSWER out &&
	test "$(wc -l <err)" = 1 &&
	grep -q "^ssefs: $W/mnt: the control socket.s folder /tmp/ssefs-$OUID is not safe: /tmp/ssefs-$OUID is owned by $OTHER" err &&
	# the owner with the right folder still gets the real answer
	runuser -u $OWNER -- env XDG_RUNTIME_DIR="$W/xdg" "$BIN" status "$W/mnt" >out &&
	grep -q "^store:      $W/store$" out
'

test_expect_success 'host_cache= a 0777 folder of another user: refused, naming it' '
	rm -rf "/tmp/ssefs-$OUID" &&
	mkdir -m 0777 "$W/hc" && chown $OTHER "$W/hc" &&
	test_when_finished "unmount_quietly" &&
	test_expect_code 1 as $OWNER mount "$W/store" "$W/mnt" \
		-o host_cache="$W/hc",caching=ReadOnly 2>err &&
	cat err &&
	test "$(wc -l <err)" = 1 &&
	grep -q "^ssefs: -o host_cache=$W/hc: $W/hc is owned by $OTHER (uid [0-9]*), not by $OWNER (uid $OUID) or root" err &&
	! mounted &&
	# its own folder, writable by others: refused too, with the fix
	mkdir -m 0777 "$W/hc2" && chown $OWNER "$W/hc2" && chmod 0777 "$W/hc2" &&
	test_expect_code 1 as $OWNER mount "$W/store" "$W/mnt" \
		-o host_cache="$W/hc2",caching=ReadOnly 2>err &&
	grep -q "^ssefs: -o host_cache=$W/hc2: $W/hc2 is writable by group or others (mode 0777; ssh.s StrictModes rule): chmod go-w $W/hc2$" err &&
	! mounted &&
	rm -rf "/tmp/ssefs-$OUID"
'

test_expect_success 'vault init in a 0777 folder of another user, or below one: refused' '
	mkdir -m 0777 "$W/bv" && chown $OTHER "$W/bv" && chmod 0777 "$W/bv" &&
	test_expect_code 1 as $OWNER --vault "$W/bv" vault init 2>err &&
	cat err &&
	grep -q "^ssefs: vault $W/bv: $W/bv is owned by $OTHER (uid [0-9]*), not by $OWNER" err &&
	test -z "$(ls -A "$W/bv")" &&
	# root too: the other user could swap its keys
	test_expect_code 1 ssefs --vault "$W/bv" vault init 2>err &&
	grep -q "^ssefs: vault $W/bv: $W/bv is owned by $OTHER" err &&
	test -z "$(ls -A "$W/bv")" &&
	test_expect_code 1 as $OWNER --vault "$W/bv/v" vault init 2>err &&
	grep -q "^ssefs: vault $W/bv/v: $W/bv, a folder above $W/bv/v, is owned by $OTHER" err &&
	test ! -e "$W/bv/v"
'

test_expect_success 'vault open: a vault folder another user owns, or is below, is refused' '
	ssefs --vault "$TRASH_DIRECTORY/rv" vault init --name rv >/dev/null &&
	ssefs --vault "$TRASH_DIRECTORY/rv" key list >/dev/null &&
	chown $OTHER "$TRASH_DIRECTORY/rv" &&
	test_expect_code 1 ssefs --vault "$TRASH_DIRECTORY/rv" key list 2>err &&
	cat err &&
	test "$(wc -l <err)" = 1 &&
	grep -q "^ssefs: vault $TRASH_DIRECTORY/rv: $TRASH_DIRECTORY/rv is owned by $OTHER (uid [0-9]*), not by root (ssh.s StrictModes rule)" err &&
	chown root "$TRASH_DIRECTORY/rv" &&
	ssefs --vault "$TRASH_DIRECTORY/rv" key list >/dev/null &&
	# root and the owner'"'"'s vault: the owner could swap its keys
	test_expect_code 1 ssefs --vault "$W/vault" key list 2>err &&
	grep -q "^ssefs: vault $W/vault: $W/vault is owned by $OWNER (uid $OUID), not by root" err
'

test_expect_success 'a sticky /tmp above a folder is fine: the owner mounts and asks' '
	as $OWNER mount "$W/store" "$W/mnt" &&
	test_when_finished "runuser -u $OWNER -- fusermount3 -u $W/mnt" &&
	test "$(stat -c %U:%a /tmp/ssefs-$OUID)" = "$OWNER:700" &&
	as $OWNER status "$W/mnt" | grep -q "^store:      $W/store$"
'

test_done
