#!/bin/bash

test_description='disk names with control characters: refused where made; one such disk stops no rotation'

. ./test-lib.sh
. "$TEST_DIRECTORY"/lib-ssefs.sh

test_have_prereq JQ && command -v python3 >/dev/null ||
	{ skip_all='needs jq and python3'; test_done; }

kid_of () { ssefs --json disk show "$1" | jq -r ".layers[0].kid"; }

NL='
'
TAB='	'
BAD="store/a${NL}b.vhd"

test_expect_success 'setup: a set, two disks, and one moved by hand to a name with a newline' '
	ssefs_setup_vault &&
	ssefs key create k1 --size 2048 >kid1 &&
	ssefs des create des1 --key k1 --auto-rotate >/dev/null &&
	mkdir store &&
	ssefs disk create store/d1.vhd --size 4M --des des1 >/dev/null &&
	ssefs disk create store/d2.vhd --size 4M --des des1 >/dev/null &&
	ssefs disk create store/tmp.vhd --size 4M --des des1 >/dev/null &&
	mv store/tmp.vhd "$BAD" &&
	test -f "$BAD"
'

test_expect_success 'disk create, import, snapshot: a control character in the name is exit 2' '
	test_expect_code 2 ssefs disk create "store/x${NL}y.vhd" --size 1M 2>err &&
	cat err &&
	test "$(wc -l <err)" = 1 &&
	grep -q "^ssefs: disk create: store/x\\\\ny.vhd: a control character (newline, tab...) in a disk.s name is refused$" err &&
	test_expect_code 2 ssefs disk create "store/x${TAB}y.vhd" --size 1M 2>err &&
	grep -q "store/x\\\\ty.vhd: a control character" err &&
	head -c 1048576 /dev/zero >raw.img &&
	test_expect_code 2 ssefs disk import raw.img "store/i${NL}.vhd" 2>err &&
	grep -q "^ssefs: disk import: store/i\\\\n.vhd: a control character" err &&
	test_expect_code 2 ssefs disk snapshot store/d1.vhd "store/s$(printf "\\177").vhd" 2>err &&
	grep -q "^ssefs: disk snapshot: store/s\\\\x7f.vhd: a control character" err &&
	test "$(ls -b store | wc -l)" = 3
'

test_expect_success FUSE 'through the mount: create, mkdir, rename to such a name are EINVAL' '
	ssefs_mount store mnt &&
	test_when_finished "ssefs_umount mnt" &&
	! sh -c "echo x >\"mnt/c${NL}d.vhd\"" 2>err &&
	grep -q "Invalid argument" err &&
	! mkdir "mnt/e${TAB}f" 2>err &&
	grep -q "Invalid argument" err &&
	! python3 -c "import os, sys; os.rename(sys.argv[1], sys.argv[2])" \
		mnt/d1.vhd "mnt/g${NL}h.vhd" 2>err &&
	grep -q "Errno 22. Invalid argument" err &&
	test -e mnt/d1.vhd &&
	test "$(ls -b store | wc -l)" = 3 &&
	# the one made by hand is shown, on one line, escaped
	ssefs status mnt >st &&
	grep -q "^a\\\\nb.vhd$" st &&
	! grep -q "^a$" st &&
	ssefs --json status mnt >st.json &&
	jq -e ".disks[] | select(.path == \"a\\nb.vhd\")" st.json >/dev/null
'

test_expect_success 'rotate STORE: the others are re-wrapped; the bad one is named and counted' '
	ssefs key rotate k1 >kid2 &&
	test_expect_code 1 ssefs rotate store >out 2>err &&
	cat out err &&
	grep -q "^disk $PWD/store/a\\\\nb.vhd: failed: a control character in its name keeps it out of the registry (rename it); its key is $(cat kid2)$" out &&
	grep -q "^rotate: 0 keys rotated, 1 set moved, 2 disks re-wrapped, 0 current, 1 failed$" out &&
	! grep -q "Invalid argument" err &&
	test "$(kid_of store/d1.vhd)" = "$(cat kid2)" &&
	test "$(kid_of store/d2.vhd)" = "$(cat kid2)" &&
	# re-wrapped all the same: it stays readable when kid1 goes
	test "$(kid_of "$BAD")" = "$(cat kid2)" &&
	ssefs disk show "$BAD" >show &&
	grep -q "^path:             $PWD/store/a\\\\nb.vhd$" show &&
	ssefs --json des show des1 >des.json &&
	test "$(jq ".previousKeys | length" des.json)" = 1 &&
	jq -r .autoKeyRotationError des.json | grep -F "a\\nb.vhd"
'

test_expect_success 'every pass names it again; renamed, it is entered and the set settles' '
	ssefs --json rotate store >r.json;
	test $? = 1 &&
	test "$(jq .disksFailed r.json)" = 1 &&
	test "$(jq .disksCurrent r.json)" = 2 &&
	mv "$BAD" store/d3.vhd &&
	ssefs rotate store >out &&
	cat out &&
	grep -q "^disk $PWD/store/d3.vhd: found in the store; entered in the registry$" out &&
	grep -q ", 0 failed$" out &&
	ssefs --json des show des1 >des.json &&
	test "$(jq ".previousKeys | length" des.json)" = 0 &&
	test "$(jq -r .disks des.json)" = 3 &&
	ssefs key set "k1/$(cut -d/ -f6 kid1)" --enabled false &&
	ssefs disk verify store/d3.vhd
'

test_done
