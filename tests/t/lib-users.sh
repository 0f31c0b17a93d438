# lib-users.sh - two users, OWNER and OTHER, for tests of what an ordinary
# user may do: the including test sets USERS_TAG (tNNNN) first.  Sets W (a
# work folder the users can reach, removed at exit), BIN (a copy of the
# binary they can run), OWNER, OTHER; defines mounted and as.

test_have_prereq FUSE || { skip_all='cannot mount FUSE here'; test_done; }
test_have_prereq ROOT || { skip_all='needs root to make the test users'; test_done; }
command -v useradd >/dev/null && command -v runuser >/dev/null ||
	{ skip_all='needs useradd and runuser'; test_done; }
[ -u "$(command -v fusermount3)" ] ||
	{ skip_all='fusermount3 is not setuid: users cannot mount'; test_done; }

OWNER=ssefs-$USERS_TAG-a
OTHER=ssefs-$USERS_TAG-b
W=$(mktemp -d /tmp/ssefs-$USERS_TAG.XXXXXX)
chmod 755 "$W"
# the users run a copy: the checkout may sit in a directory only root can
# enter (a clone in a mktemp -d directory is 0700)
cp "$SSEFS_BIN" "$W/ssefs" && chmod 755 "$W/ssefs"
BIN=$W/ssefs

cleanup_users () {
	fusermount3 -uz "$W/mnt" 2>/dev/null
	pkill -u $OWNER 2>/dev/null
	pkill -u $OTHER 2>/dev/null
	sleep 0.2
	[ -n "$OUID" ] && rm -rf "/tmp/ssefs-$OUID"
	userdel $OWNER 2>/dev/null
	userdel $OTHER 2>/dev/null
	rm -rf "$W"
}
test_atexit cleanup_users

# users_add: make both users (home W); OUID is the owner's uid
users_add () {
	useradd -M -d "$W" -s /bin/sh $OWNER &&
	useradd -M -d "$W" -s /bin/sh $OTHER &&
	OUID=$(id -u $OWNER)
}

# mounted: is W/mnt in the mount table (root cannot even stat it)
mounted () {
	grep -q " $W/mnt fuse.ssefs " /proc/mounts
}

# as USER CMD...: run the binary as USER, with the owner's vault, and no
# XDG_RUNTIME_DIR (the control socket goes to /tmp/ssefs-UID)
as () {
	local u=$1
	shift
	runuser -u "$u" -- env -u XDG_RUNTIME_DIR SSEFS_VAULT="$W/vault" \
		HOME="$W" "$BIN" "$@"
}
