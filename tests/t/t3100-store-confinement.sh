#!/bin/bash
# run-all: lock users	(useradd/userdel: one script at a time)

test_description='the store is a boundary: a folder swapped for a symlink leads nowhere

A user who owns a folder in the store swaps it for a symlink to a folder
outside the store, right after the kernel cached the folder (its dentry
lives for the entry timeout), then acts through the mount: the daemon
(root) must not create, change, remove or list anything outside the store.
The same for `ssefs rotate STORE` and the disk commands, run by root while
the folder is swapped; and for a swap that races a loop of operations.
With and without allow_other, and with the fallback walk that stands in
for openat2.'

. ./test-lib.sh
. "$TEST_DIRECTORY"/lib-ssefs.sh

test_have_prereq FUSE || { skip_all='cannot mount FUSE here'; test_done; }
test_have_prereq ROOT || { skip_all='needs root to make the test user'; test_done; }
command -v useradd >/dev/null && command -v runuser >/dev/null ||
	{ skip_all='needs useradd and runuser'; test_done; }

U=ssefs-t3100
W=$(mktemp -d /tmp/ssefs-t3100.XXXXXX)
chmod 755 "$W"
S=$W/store
M=$W/mnt
D=$S/sub/d
OUT=$W/outside
ROUNDS=${T3100_ROUNDS:-3}

cleanup_user () {
	fusermount3 -uz "$M" 2>/dev/null
	pkill -u $U 2>/dev/null
	userdel $U 2>/dev/null
	rm -rf "$W"
}
test_atexit cleanup_user

as_user () {
	runuser -u $U -- sh -c "$1"
}

# what is outside the store: names, types, modes, owners, sizes, times
# and contents; listed before and compared after every round
outside_state () {
	(cd "$OUT" && find . -printf '%p %y %m %U %G %s %T@\n' | sort &&
	 find . -type f -exec sha256sum {} + | sort)
}

# nothing outside changed; if it did, put it back as it was (so that the
# next test starts clean) and fail
outside_same () {
	outside_state >after &&
	test_cmp before after && return 0
	rm -rf "$OUT" && cp -a "$W/outside.orig" "$OUT"
	return 1
}

# the user's folder, real again, with a disk and an empty folder in it
restore_d () {
	as_user "rm -f '$D' 2>/dev/null; test -d '$D.real' && mv '$D.real' '$D'
		 mkdir -p '$D/victimdir'" &&
	test -d "$D" && test -f "$D/x.vhd"
}

# the user's swap: the folder goes aside, a symlink to outside takes its
# name (the kernel still has the folder cached)
swap_d () {
	as_user "mv '$D' '$D.real' && ln -s '$OUT' '$D'"
}

# act CMD: run CMD as the actor (the user with allow_other, else root)
act () {
	if [ "$ACTOR" = root ]; then
		sh -c "$1"
	else
		runuser -u $U -- sh -c "$1"
	fi
}

# round OP-CMD: cache the folder and its entries through the mount, swap,
# act, put things back; nothing outside may have changed
round () {
	restore_d &&
	act "stat '$M/sub/d' '$M/sub/d/x.vhd' '$M/sub/d/victimdir' >/dev/null" &&
	swap_d &&
	{ act "$1" >/dev/null 2>&1; true; } &&
	restore_d &&
	outside_same
}

rounds () {
	for i in $(test_seq $ROUNDS)
	do
		round "$1" || return 1
	done
}

test_expect_success 'setup: a user, a vault, a store with a folder the user owns' '
	useradd -M -d "$W" -s /bin/sh $U &&
	ssefs_setup_vault &&
	ssefs key create k1 --size 2048 >/dev/null &&
	ssefs key create k2 --size 2048 >/dev/null &&
	ssefs des create des1 --key k1 --auto-rotate >/dev/null &&
	mkdir -p "$S/sub" "$M" "$OUT" &&
	chown $U "$S/sub" &&
	as_user "mkdir '\''$D'\''" &&
	ssefs disk create "$D/x.vhd" --size 1M --des des1 >/dev/null &&
	chown $U "$D/x.vhd" &&
	mkdir -m 700 "$OUT/victimdir" &&
	cp "$D/x.vhd" "$OUT/x.vhd" &&
	chmod 600 "$OUT/x.vhd" &&
	ssefs disk create "$OUT/only-outside.vhd" --size 1M >/dev/null &&
	chmod 700 "$OUT" &&
	cp -a "$OUT" "$W/outside.orig" &&
	outside_state >before &&
	grep -q "x.vhd" before
'

# The operation classes through the mount, by the actor.
OPS="create write truncate mkdir rmdir rename link unlink chmod chown utimens readdir"
op_cmd () {
	case $1 in
	create)		echo "echo x >$M/sub/d/evil.vhd" ;;
	write)		echo "printf x | dd of=$M/sub/d/x.vhd bs=1 seek=4096 conv=notrunc" ;;
	truncate)	echo "truncate -s 2M $M/sub/d/x.vhd" ;;
	mkdir)		echo "mkdir $M/sub/d/newdir" ;;
	rmdir)		echo "rmdir $M/sub/d/victimdir" ;;
	rename)		echo "mv $M/sub/d/x.vhd $M/sub/d/y.vhd" ;;
	link)		echo "ln $M/sub/d/x.vhd $M/sub/d/x2.vhd" ;;
	unlink)		echo "rm -f $M/sub/d/x.vhd" ;;
	chmod)		echo "chmod 666 $M/sub/d/x.vhd" ;;
	chown)		echo "chown $U:$U $M/sub/d/x.vhd" ;;
	utimens)	echo "touch -d 2001-01-01 $M/sub/d/x.vhd" ;;
	readdir)	echo "ls $M/sub/d >$W/ls.out; ! grep -q only-outside $W/ls.out" ;;
	esac
}

# a folder read through a handle opened before the swap
cat >"$W/readdir.pl" <<EOF
opendir(my \$d, "$M/sub/d") or exit 2;
system("mv $D $D.real && ln -s $OUT $D") == 0 or exit 3;
print "\$_\n" for readdir(\$d);
EOF
chmod 644 "$W/readdir.pl"

# walk: the daemon resolves with the fallback walk, as on a kernel
# without openat2 (util/beneath.h)
for mode in allow_other private walk
do
	WALK=
	case $mode in
	allow_other)	ACTOR=user OPTS=key=k1,allow_other ;;
	private)	ACTOR=root OPTS=key=k1 ;;
	walk)		ACTOR=user OPTS=key=k1,allow_other WALK=1 ;;
	esac

	test_expect_success "$mode: mount the store" '
		if [ -n "$WALK" ]; then
			SSEFS_BENEATH_WALK=1 ssefs_mount "$S" "$M" $OPTS
		else
			ssefs_mount "$S" "$M" $OPTS
		fi
	'

	for op in $OPS
	do
		test_expect_success "$mode: $op through a swapped folder reaches nothing outside" "
			rounds \"\$(op_cmd $op)\"
		"
	done

	test_expect_success "$mode: readdir of a folder opened before the swap lists nothing outside" '
		for i in $(test_seq $ROUNDS)
		do
			restore_d &&
			{ act "perl $W/readdir.pl" >listed 2>&1; true; } &&
			restore_d &&
			! grep -q only-outside listed || return 1
		done
	'

	test_expect_success "$mode: swaps racing a loop of operations reach nothing outside" '
		restore_d &&
		as_user "end=\$((\$(date +%s) + 3))
			while [ \$(date +%s) -lt \$end ]; do
				mv $D $D.real && ln -s $OUT $D
				rm -f $D && mv $D.real $D
			done" &
		swapper=$! &&
		act "end=\$((\$(date +%s) + 3))
			while [ \$(date +%s) -lt \$end ]; do
				echo x >$M/sub/d/race.vhd
				mkdir $M/sub/d/rdir && rmdir $M/sub/d/rdir
				chmod 640 $M/sub/d/x.vhd
				rm -f $M/sub/d/race.vhd
			done" >/dev/null 2>&1
		wait $swapper
		restore_d &&
		outside_same
	'

	test_expect_success "$mode: unmount" '
		ssefs_umount "$M"
	'
done

test_expect_success 'the mount scan of a store with a swapped folder shows nothing outside' '
	swap_d &&
	ssefs_mount "$S" "$M" key=k1 &&
	! ls "$M/sub/d" 2>/dev/null &&
	ssefs --json status "$M" >status.json &&
	! grep -q only-outside status.json &&
	ssefs_umount "$M" &&
	restore_d &&
	outside_same
'

test_expect_success 'rotate STORE: a registered disk behind a swapped folder is not re-wrapped outside' '
	for i in $(test_seq $ROUNDS)
	do
		ssefs key rotate k1 >/dev/null &&
		restore_d &&
		swap_d &&
		{ ssefs rotate "$S" >rotate.out 2>&1; true; } &&
		restore_d &&
		outside_same &&
		ssefs rotate "$S" >rotate.out 2>&1 || return 1
	done
'

test_expect_success 'setup: an image to import' '
	head -c 1048576 /dev/zero >raw.img
'

while read -r name cmd
do
	test_expect_success "disk $name into a swapped folder creates and changes nothing outside" "
		for i in \$(test_seq \$ROUNDS)
		do
			restore_d &&
			swap_d &&
			{ ssefs $cmd >/dev/null 2>&1; true; } &&
			restore_d &&
			outside_same || return 1
		done
	"
done <<EOF
create	disk create $D/new.vhd --size 1M
import	disk import raw.img $D/imp.vhd
snapshot	disk snapshot $D/x.vhd $D/snap.vhd
rewrap	disk rewrap $D/x.vhd --key k2
verify	disk verify $D/x.vhd
EOF

test_expect_success 'the disk commands still work in the folder itself' '
	restore_d &&
	ssefs disk create "$D/new.vhd" --size 1M >/dev/null &&
	ssefs disk snapshot "$D/x.vhd" "$D/snap.vhd" >/dev/null &&
	ssefs disk rewrap "$D/snap.vhd" --key k2 >/dev/null &&
	ssefs disk verify "$D/snap.vhd" >/dev/null &&
	ssefs rotate "$S" >/dev/null
'

test_done
