#!/bin/bash

test_description='rotation as an admin lives with it: status after a live
re-wrap, expiry notifications sent once, policies that set expiry'

. ./test-lib.sh
. "$TEST_DIRECTORY"/lib-ssefs.sh

test_have_prereq FUSE || { skip_all='cannot mount FUSE here'; test_done; }
test_have_prereq JQ || { skip_all='jq is needed'; test_done; }

status_of () {	# FIELD: of d.vhd in `ssefs --json status mnt`
	ssefs --json status mnt |
		jq -r ".disks[] | select(.path == \"d.vhd\") | .$1"
}

test_expect_success 'setup: a key, an auto-rotating set, a mounted disk held open' '
	ssefs_setup_vault &&
	ssefs key create k1 --size 2048 >kid1 &&
	ssefs des create des1 --key k1 --auto-rotate >/dev/null &&
	mkdir store &&
	ssefs disk create store/d.vhd --size 16M --des des1 >/dev/null &&
	ssefs_mount store mnt "rotate_interval=1s,key_check_interval=1s" &&
	exec 7<mnt/d.vhd &&
	test "$(status_of kid)" = "$(cat kid1)" &&
	test "$(status_of keyState)" = usable
'

test_expect_success 'status of an open disk the daemon re-wrapped: the new version, usable' '
	ssefs key rotate k1 >kid2 &&
	wait_for kid_is "$(cat kid2)" &&
	ssefs key set "k1/$(cut -d/ -f6 kid1)" --enabled false &&
	test "$(status_of open)" = true &&
	test "$(status_of kid)" = "$(cat kid2)" &&
	test "$(status_of keyState)" = usable &&
	test "$(status_of state)" = ok &&
	ssefs status mnt >st.txt &&
	grep -q "^  kid: *$(cat kid2)$" st.txt &&
	grep -q "^  key state: *usable$" st.txt &&
	if command -v getfattr >/dev/null; then
		test "$(getfattr --only-values -n user.ssefs.kid mnt/d.vhd)" = "$(cat kid2)" &&
		test "$(getfattr --only-values -n user.ssefs.key_state mnt/d.vhd)" = usable
	fi
'

test_expect_success 'the disk still reads after the old version was disabled' '
	sleep 2 &&
	dd if=mnt/d.vhd of=/dev/null bs=1M count=1 2>/dev/null &&
	test "$(status_of state)" = ok &&
	exec 7<&- &&
	ssefs_umount mnt
'

# count EVENT KEY: events of that kind for that key delivered so far
count () {
	jq -s "map(select(.event == \"$1\" and .key == \"$2\")) | length" \
		<events.jsonl
}

test_expect_success 'setup: a notify command, and a mount that rotates every second' '
	cat >notify.sh <<-EOF &&
	#!/bin/sh
	cat >>"$PWD/events.jsonl"
	EOF
	chmod +x notify.sh &&
	: >events.jsonl &&
	printf "notify: %s\n" "$PWD/notify.sh" >cfg.yaml &&
	mkdir store2 &&
	ssefs_mount store2 mnt2 "rotate_interval=1s,notify=$PWD/notify.sh"
'

test_expect_success 'near expiry: one event per version, not one per rotation pass' '
	ssefs key create k3 --size 2048 --expires "$(date -u -d "+10 days" +%F)" >/dev/null &&
	ssefs key policy k3 --notify-before 30d &&
	sleep 4 &&
	ssefs --config cfg.yaml rotate >/dev/null &&
	sleep 4 &&
	ssefs --config cfg.yaml rotate >/dev/null &&
	test "$(count KeyNearExpiry k3)" = 1 &&
	jq -s -e "map(select(.key == \"k3\"))[0].kid | endswith(\"$(ssefs --json key show k3 | jq -r .versions[0].version)\")" events.jsonl
'

test_expect_success 'a changed expiry is news: one more event, then quiet again' '
	ssefs key set k3 --expires "$(date -u -d "+12 days" +%F)" &&
	sleep 4 &&
	ssefs --config cfg.yaml rotate >/dev/null &&
	test "$(count KeyNearExpiry k3)" = 2
'

test_expect_success 'a restarted daemon does not send it again' '
	ssefs_umount mnt2 &&
	ssefs_mount store2 mnt2 "rotate_interval=1s,notify=$PWD/notify.sh" &&
	sleep 3 &&
	test "$(count KeyNearExpiry k3)" = 2
'

test_expect_success 'a new version gets its own notice' '
	ssefs key rotate k3 >/dev/null &&
	v=$(ssefs --json key show k3 | jq -r ".versions[1].version") &&
	ssefs key set "k3/$v" --expires "$(date -u -d "+9 days" +%F)" &&
	sleep 3 &&
	test "$(count KeyNearExpiry k3)" = 3
'

test_expect_success 'expired: one event when the version reaches its expiry' '
	ssefs key create k4 --size 2048 --expires "$(date -u -d "+3 seconds" +%FT%TZ)" >/dev/null &&
	sleep 6 &&
	ssefs --config cfg.yaml rotate >/dev/null &&
	test "$(count KeyExpired k4)" = 1 &&
	test "$(count KeyNearExpiry k4)" = 0
'

test_expect_success 'a notice the command failed to take is sent again, then once' '
	ssefs_umount mnt2 &&
	cat >flaky.sh <<-EOF &&
	#!/bin/sh
	[ -e "$PWD/failed-once" ] || { touch "$PWD/failed-once"; exit 1; }
	cat >>"$PWD/events.jsonl"
	EOF
	chmod +x flaky.sh &&
	printf "notify: %s\n" "$PWD/flaky.sh" >flaky.yaml &&
	ssefs key create k5 --size 2048 --expires "$(date -u -d "+5 days" +%F)" >/dev/null &&
	ssefs key policy k5 --notify-before 7d &&
	ssefs --config flaky.yaml rotate >out &&
	grep -q "notify command failed for KeyNearExpiry" out &&
	test "$(count KeyNearExpiry k5)" = 0 &&
	ssefs --config flaky.yaml rotate >/dev/null &&
	ssefs --config flaky.yaml rotate >/dev/null &&
	test "$(count KeyNearExpiry k5)" = 1
'

test_expect_success 'a pass without a notify command records nothing' '
	ssefs key create k6 --size 2048 --expires "$(date -u -d "+5 days" +%F)" >/dev/null &&
	ssefs key policy k6 --notify-before 7d &&
	ssefs rotate >/dev/null &&
	ssefs --config cfg.yaml rotate >/dev/null &&
	test "$(count KeyNearExpiry k6)" = 1
'

test_expect_success 'policy --expire-after: key rotate gives the new version that expiry' '
	ssefs key create k7 --size 2048 >/dev/null &&
	ssefs key policy k7 --expire-after 30d &&
	test "$(ssefs --json key policy k7 | jq .expireAfter)" = 2592000 &&
	ssefs key policy k7 >pol &&
	grep -q "^expire-after:  30d$" pol &&
	ssefs key show k7 | grep -q "^policy:   rotate-after - notify-before - expire-after 30d$" &&
	ssefs key rotate k7 >/dev/null &&
	ssefs --json key show k7 >k7.json &&
	test "$(jq .policy.expireAfter k7.json)" = 2592000 &&
	test "$(jq -r ".versions[0].expires" k7.json)" = null &&
	exp=$(jq -r ".versions[1].expires | fromdateiso8601" k7.json) &&
	now=$(date +%s) &&
	test $((exp - now)) -le 2592000 && test $((exp - now)) -ge 2591990
'

test_expect_success 'policy --expire-after: a rotation by policy does the same' '
	ssefs key create k8 --size 2048 >/dev/null &&
	ssefs key policy k8 --rotate-after 1s --expire-after 2d &&
	sleep 2 &&
	ssefs rotate >/dev/null &&
	ssefs --json key show k8 >k8.json &&
	test "$(jq ".versions | length" k8.json)" -ge 2 &&
	exp=$(jq -r ".versions[-1].expires | fromdateiso8601" k8.json) &&
	made=$(jq -r ".versions[-1].created | fromdateiso8601" k8.json) &&
	test $((exp - made)) = 172800 &&
	ssefs key policy k8 --rotate-after 0 --expire-after 0 &&
	test "$(ssefs --json key policy k8 | jq .expireAfter)" = null &&
	test_expect_code 2 ssefs key policy k8 --expire-after soon 2>err &&
	grep -q "^ssefs: --expire-after: bad duration .soon.$" err
'

test_done
