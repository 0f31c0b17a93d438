#!/bin/bash

test_description='disk encryption sets and rotation, as a script drives them'

. ./test-lib.sh
. "$TEST_DIRECTORY"/lib-ssefs.sh

kid_of () { ssefs --json disk show "$1" | jq -r ".layers[0].kid"; }

test_expect_success 'setup: vault, key, a set, disks in it' '
	ssefs_setup_vault &&
	ssefs key create k1 --size 2048 >kid1 &&
	ssefs --json des create des1 --key k1 --auto-rotate >des.json &&
	test "$(jq -r .activeKey.keyUrl des.json)" = "$(cat kid1)" &&
	test "$(jq -r .rotationToLatestKeyVersionEnabled des.json)" = true &&
	mkdir store &&
	for i in $(test_seq 12); do
		ssefs disk create store/d$i.vhd --size 4M --des des1 >/dev/null || return 1
	done &&
	test "$(ssefs --json disk show store/d1.vhd | jq -r .des)" = des1 &&
	test "$(ssefs --json des show des1 | jq -r .disks)" = 12
'

test_expect_success 'des errors: unknown set, pinned auto-rotate, delete in use' '
	test_expect_code 1 ssefs des show nope 2>err &&
	grep -q "^ssefs: des nope: no such disk encryption set$" err &&
	test_expect_code 2 ssefs des create d2 --key "k1/$(cut -d/ -f6 kid1)" --auto-rotate &&
	test_expect_code 1 ssefs des delete des1 2>err &&
	grep -q "^ssefs: des des1: 12 disks still use it" err &&
	test_expect_code 1 ssefs disk create store/x.vhd --size 1M --des nope 2>err &&
	grep -q "^ssefs: des nope: no such disk encryption set$" err
'

test_expect_success 'ssefs rotate moves every disk to the newest version' '
	ssefs key rotate k1 >kid2 &&
	ssefs rotate store >out &&
	grep -q "12 disks re-wrapped" out &&
	for i in $(test_seq 12); do
		test "$(kid_of store/d$i.vhd)" = "$(cat kid2)" || return 1
	done &&
	ssefs --json des show des1 >des.json &&
	test "$(jq -r .activeKey.keyUrl des.json)" = "$(cat kid2)" &&
	test "$(jq ".previousKeys | length" des.json)" = 0 &&
	test "$(jq -r .lastKeyRotationTimestamp des.json)" != null &&
	test "$(jq -r .autoKeyRotationError des.json)" = null
'

test_expect_success 'a second run has nothing to do' '
	ssefs --json rotate store >r.json &&
	test "$(jq .disksRewrapped r.json)" = 0 &&
	test "$(jq .disksCurrent r.json)" = 12
'

test_expect_success 'no header copy keeps a DEK wrapped under the old version' '
	for i in $(test_seq 12); do
		head -c 8192 store/d$i.vhd >hdr &&
		! grep -a -q "$(cat kid1)" hdr || return 1
	done
'

test_expect_success 'the old version can be disabled; the disks still open' '
	ssefs key set "k1/$(cut -d/ -f6 kid1)" --enabled false &&
	ssefs disk export store/d1.vhd d1.out &&
	test $(stat -c %s d1.out) = $((4 * 1048576 + 512))
'

test_expect_success 'des update to a pinned version re-wraps the set at once' '
	ssefs key rotate k1 >kid3 &&
	ssefs des update des1 --auto-rotate false &&
	ssefs des update des1 --key "k1/$(cut -d/ -f6 kid3)" >out &&
	for i in $(test_seq 12); do
		test "$(kid_of store/d$i.vhd)" = "$(cat kid3)" || return 1
	done &&
	test "$(ssefs --json des show des1 | jq -r .activeKey.pinnedVersion)" = "$(cut -d/ -f6 kid3)"
'

test_expect_success 'kill -9 of ssefs rotate at random moments, 20 times' '
	ssefs des update des1 --key k1 --auto-rotate true >/dev/null &&
	for n in $(test_seq 20); do
		# only the rotate goes to the background, so that $! is
		# that process: "a && b &" would background the whole list
		# and the kill could land on the shell around a key rotate
		# left running on its own
		ssefs key rotate k1 >kidn || return 1
		"$SSEFS_BIN" rotate store >/dev/null 2>&1 &
		pid=$!
		sleep 0.0$((RANDOM % 10))
		kill -9 $pid 2>/dev/null
		wait $pid
		# every disk keeps a good header copy (one jq for all 12)
		for i in $(test_seq 12); do
			ssefs --json disk show store/d$i.vhd || return 1
		done >s.json &&
		jq -s -e "length == 12 and
			all(.[]; (.copies | map(select(.state != \"bad\")) | length) >= 1)" \
			s.json >/dev/null || return 1
	done &&
	ssefs rotate store >out &&
	for i in $(test_seq 12); do
		test "$(kid_of store/d$i.vhd)" = "$(cat kidn)" &&
		ssefs disk verify store/d$i.vhd >/dev/null || return 1
	done &&
	test "$(ssefs --json des show des1 | jq ".previousKeys | length")" = 0 &&
	ssefs vault audit --verify
'

test_expect_success 'snapshots are rotated too' '
	ssefs disk snapshot store/d1.vhd snap.vhd >/dev/null &&
	ssefs key rotate k1 >kids &&
	ssefs rotate >/dev/null &&
	test "$(kid_of snap.vhd)" = "$(cat kids)"
'

test_expect_success 'the notify command receives the documented JSON' '
	cat >notify.sh <<-EOF &&
	#!/bin/sh
	cat >>"$PWD/events.jsonl"
	EOF
	chmod +x notify.sh &&
	cat >cfg.yaml <<-EOF &&
	notify: $PWD/notify.sh
	EOF
	ssefs key rotate k1 >kidm &&
	ssefs --config cfg.yaml rotate store >/dev/null &&
	jq -s -e "map(select(.event == \"DiskRewrapped\")) | length == 12" events.jsonl &&
	jq -s -e "map(select(.event == \"DiskRewrapped\"))[0] |
		(.kid == \"$(cat kidm)\") and (.des == \"des1\") and
		(.disk | endswith(\".vhd\")) and (.time | test(\"Z$\"))" events.jsonl
'

test_expect_success 'a rotation policy creates the new version when due' '
	ssefs key create k2 --size 2048 >/dev/null &&
	ssefs key policy k2 --rotate-after 1s &&
	sleep 2 &&
	: >events.jsonl &&
	ssefs --config cfg.yaml --json rotate >r.json &&
	test "$(jq .keysRotated r.json)" -ge 1 &&
	jq -s -e "map(select(.event == \"KeyRotated\" and .key == \"k2\")) | length == 1" events.jsonl
'

test_expect_success 'a failing set records autoKeyRotationError and raises AutoRotationFailed' '
	ssefs key rotate k1 >/dev/null &&
	: >events.jsonl &&
	mv store/d5.vhd d5.keep &&
	mkdir store/d5.vhd &&
	test_expect_code 1 ssefs --config cfg.yaml rotate store >out &&
	test "$(ssefs --json des show des1 | jq -r .autoKeyRotationError)" != null &&
	jq -s -e "map(select(.event == \"AutoRotationFailed\")) | length == 1" events.jsonl &&
	rmdir store/d5.vhd && mv d5.keep store/d5.vhd &&
	ssefs rotate >/dev/null &&
	test "$(ssefs --json des show des1 | jq -r .autoKeyRotationError)" = null
'

test_expect_success 'a disk moved out of the store: exit 3, and the set keeps its old key' '
	ssefs des create mv1 --key k1 --auto-rotate >/dev/null &&
	mkdir -p st elsewhere &&
	ssefs disk create st/a.vhd --size 4M --des mv1 >/dev/null &&
	ssefs disk create st/b.vhd --size 4M --des mv1 >/dev/null &&
	old=$(kid_of st/b.vhd) &&
	mv st/b.vhd elsewhere/b.vhd &&
	ssefs key rotate k1 >kidmv &&
	test_expect_code 3 ssefs rotate >out &&
	grep "^disk $TRASH_DIRECTORY/st/b.vhd: registered but missing; skipped: still wrapped under $old (if it was moved, .ssefs rotate STORE. on the store that holds it now re-wraps it)$" out &&
	grep -q "^rotate: .*, 0 failed, 1 missing$" out &&
	test "$(kid_of st/a.vhd)" = "$(cat kidmv)" &&
	ssefs --json des show mv1 >des.json &&
	jq -e --arg k "$old" "[.previousKeys[].keyUrl] | index(\$k) != null" des.json &&
	test_expect_code 3 ssefs --json rotate >r.json &&
	test "$(jq .disksSkipped r.json)" = 1 &&
	# its new store finds it, and then the set is complete
	ssefs rotate elsewhere >out &&
	grep -q "elsewhere/b.vhd: found in the store" out &&
	test "$(kid_of elsewhere/b.vhd)" = "$(cat kidmv)" &&
	ssefs rotate >out &&
	! grep -q missing out &&
	test "$(ssefs --json des show mv1 | jq ".previousKeys | length")" = 0
'

test_expect_success 'a disk removed with rm: rotate STORE drops it, and the set completes' '
	rm st/a.vhd &&
	ssefs key rotate k1 >/dev/null &&
	test_expect_code 3 ssefs rotate >out &&
	grep -q "st/a.vhd: registered but missing" out &&
	test "$(ssefs --json des show mv1 | jq ".previousKeys | length")" = 1 &&
	ssefs rotate st >out &&
	grep "^disk $TRASH_DIRECTORY/st/a.vhd: gone from the store; dropped from the registry$" out &&
	ssefs rotate >out &&
	! grep -q missing out &&
	test "$(ssefs --json des show mv1 | jq -r .disks)" = 1 &&
	test "$(ssefs --json des show mv1 | jq ".previousKeys | length")" = 0
'

test_done
