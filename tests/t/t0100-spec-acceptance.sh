#!/bin/bash

test_description='SPEC.md read literally: what a new user types, and its errors'

. ./test-lib.sh
. "$TEST_DIRECTORY"/lib-ssefs.sh

# one_line FILE: FILE holds exactly one line, "ssefs: WHAT: WHY"
one_line () {
	test "$(wc -l <"$1")" = 1 && grep -q "^ssefs: [^:]*: " "$1" || {
		cat "$1" >&2
		return 1
	}
}

# Rotate KEY while the mount at mnt (rotate_interval=1s) serves a disk of
# one of its sets; wait for the DiskRewrapped event that the notify command
# appends to FILE, then unmount.
rotate_expect_rewrap () {
	ssefs key rotate "$1" >/dev/null &&
	for i in $(test_seq 50); do
		test -s "$2" && break
		sleep 0.2
	done &&
	jq -s -e "map(select(.event == \"DiskRewrapped\")) | length >= 1" \
		"$2" &&
	fusermount3 -u mnt &&
	wait_daemon_gone store
}

test_expect_success 'setup: vault init, its key file beside it, a key' '
	ssefs vault init --name spec >out &&
	test "$(stat -c %a "$SSEFS_VAULT.key")" = 600 &&
	ssefs key create k1 --size 2048 --expires 2099-01-31 \
		--not-before 2020-01-31T00:00:00Z >kid &&
	grep -q "^vault://spec/keys/k1/[0-9a-f]\{32\}$" kid &&
	mkdir store &&
	ssefs disk create store/s64M.vhd --size 64M >/dev/null
'

test_expect_success 'vault init takes an empty directory made for it, not a full one' '
	mkdir -m 755 empty full && touch full/x &&
	ssefs --vault empty vault init --name e >/dev/null &&
	test "$(stat -c %a empty)" = 700 &&
	test -f empty/vault.meta && test -f empty.key &&
	ssefs --vault empty key list &&
	test_expect_code 1 ssefs --vault full vault init 2>err &&
	one_line err && grep -q "already exists" err &&
	test -f full/x
'

test_expect_success 'a passphrase vault asked without its passphrase says so' '
	printf "words\n" >pp && chmod 600 pp &&
	ssefs --vault "$TRASH_DIRECTORY/pv" vault init --passphrase-file pp \
		>/dev/null &&
	test_expect_code 1 ssefs --vault "$TRASH_DIRECTORY/pv" key list 2>err &&
	one_line err && grep -q "needs its passphrase" err &&
	SSEFS_PASSPHRASE_FILE=pp ssefs --vault "$TRASH_DIRECTORY/pv" key list
'

test_expect_success 'an impossible size: one line naming it, exit 2' '
	test_expect_code 2 ssefs disk create store/x.vhd --size 0 2>err &&
	one_line err && grep -q -- "--size 0" err &&
	test_expect_code 2 ssefs disk create store/x.vhd --size 2E 2>err &&
	one_line err && grep -q -- "--size 2E" err &&
	test_expect_code 2 ssefs disk create store/x.vhd --size ten 2>err &&
	one_line err &&
	test_expect_code 2 ssefs key create k9 --size 1000 2>err &&
	one_line err && grep -q -- "--size" err &&
	! test -e store/x.vhd
'

test_expect_success 'bad times and durations: one line naming them, exit 2' '
	test_expect_code 2 ssefs key create k9 --expires 2027-13-01 2>err &&
	one_line err && grep -q -- "--expires" err &&
	test_expect_code 2 ssefs key policy k1 --rotate-after forever 2>err &&
	one_line err && grep -q -- "--rotate-after" err &&
	test_expect_code 2 ssefs key expiring --within soon 2>err &&
	one_line err &&
	test_expect_code 2 ssefs vault audit --since yesterday 2>err &&
	one_line err && grep -q -- "--since" err
'

test_expect_success 'unknown options and missing values: one line each, exit 2' '
	test_expect_code 2 ssefs disk create store/x.vhd --size 64M --bogus \
		2>err &&
	one_line err && grep -q "^ssefs: disk create: --bogus: unknown option$" err &&
	test_expect_code 2 ssefs des create d1 --key 2>err &&
	one_line err && grep -q "^ssefs: des create: --key needs a value$" err &&
	test_expect_code 2 ssefs rotate --frob 2>err &&
	one_line err && grep -q -- "--frob" err &&
	test_expect_code 2 ssefs key frob 2>err && one_line err &&
	test_expect_code 2 ssefs vault audit --since 2>err && one_line err
'

test_expect_success JQ 'SIZE 512, 64M, 10G, 1T: thin disks; show gives the space used' '
	for s in 512 64M 10G 1T; do
		{ test $s = 64M ||
		  ssefs disk create store/s$s.vhd --size $s >/dev/null; } &&
		ssefs --json disk show store/s$s.vhd >show.json &&
		a=$(jq -r .allocatedBytes show.json) &&
		test "$a" -lt 1048576 &&
		ssefs disk show store/s$s.vhd | grep -q "^allocated: " ||
		return 1
	done &&
	test "$(jq -r .diskSizeBytes show.json)" = 1099511627776 &&
	ssefs --json disk show store/s512.vhd >show.json &&
	test "$(jq -r .diskSizeBytes show.json)" = 1048576
'

test_expect_success JQ 'DUR 30s, 1h, 90d, P90D, PT1H; key expiring exits 3' '
	for d in 30s 1h 90d P90D PT1H; do
		ssefs key policy k1 --rotate-after $d --notify-before $d ||
		return 1
	done &&
	ssefs --json key show k1 >k.json &&
	test "$(jq -r .policy.rotateAfter k.json)" = 3600 &&
	ssefs key policy k1 >p.out &&
	grep -q "^rotate-after: *1h$" p.out &&
	ssefs --json key policy k1 >p.json &&
	test "$(jq -r .notifyBefore p.json)" = 3600 &&
	ssefs key create soon --size 2048 --expires "$(date -u -d "+2 days" +%F)" \
		>/dev/null &&
	test_expect_code 3 ssefs key expiring >out &&
	grep -q "/keys/soon/" out &&
	test_expect_code 3 ssefs key expiring --within P7D >/dev/null &&
	ssefs key expiring --within 1h >out &&
	! grep -q soon out
'

test_expect_success JQ 'vault restore before the key file is in place: restored, exit 0' '
	ssefs vault backup vault.bak &&
	R="$TRASH_DIRECTORY/restored" &&
	ssefs --vault "$R" vault restore vault.bak 2>err &&
	one_line err && grep -q "restored" err &&
	test -d "$R" &&
	cp "$SSEFS_VAULT.key" "$R.key" &&
	ssefs --vault "$R" --json key show k1 >r.json &&
	test "$(jq -r .kid r.json)" = "$(ssefs --json key show k1 | jq -r .kid)" &&
	ssefs --vault "$R" vault audit --verify
'

test_expect_success 'a disk whose key is disabled: one line naming the key id' '
	ssefs key create kd --size 2048 >kd.kid &&
	ssefs disk create store/kd.vhd --size 4M --key kd >/dev/null &&
	ssefs key set kd --enabled false &&
	test_expect_code 1 ssefs disk export store/kd.vhd kd.out 2>err &&
	one_line err &&
	grep -q "^ssefs: disk store/kd.vhd: cannot open: key $(cat kd.kid) is disabled$" err &&
	! test -e kd.out &&
	ssefs key set kd --enabled true &&
	ssefs disk export store/kd.vhd kd.out
'

test_expect_success JQ 'vault audit --verify --json is one JSON object' '
	ssefs --json vault audit --verify >v.json &&
	test "$(jq -r .intact v.json)" = true &&
	test "$(jq -r .records v.json)" -gt 3
'

test_expect_success 'rotate of a store that does not exist, or is a file, names it, exit 1' '
	test_expect_code 1 ssefs rotate nostore >out 2>err &&
	one_line err && grep -q "^ssefs: store nostore: " err &&
	test_expect_code 1 ssefs rotate store/s64M.vhd >out 2>err &&
	one_line err &&
	grep -q "^ssefs: store store/s64M.vhd: not a directory$" err
'

test_expect_success 'des delete after the disk file was removed with rm' '
	ssefs des create gone --key k1 >/dev/null &&
	ssefs disk create store/gone.vhd --size 4M --des gone >/dev/null &&
	test_expect_code 1 ssefs des delete gone 2>err &&
	one_line err && grep -q "1 disk still uses it" err &&
	rm store/gone.vhd &&
	ssefs des delete gone &&
	test_expect_code 1 ssefs des show gone 2>err && one_line err &&
	grep -q "no such disk encryption set" err &&
	ssefs des list >list && test ! -s list &&
	ssefs rotate >/dev/null &&
	ssefs des create again --key k1 >/dev/null &&
	ssefs des delete again
'

test_expect_success JQ 'ssefs rotate STORE reaches a disk moved with mv, or a moved store' '
	ssefs key create km --size 2048 >/dev/null &&
	ssefs des create dm --key km --auto-rotate >/dev/null &&
	mkdir st1 &&
	ssefs disk create st1/a.vhd --size 4M --des dm >/dev/null &&
	ssefs disk create st1/b.vhd --size 4M --des dm >/dev/null &&
	mv st1/a.vhd st1/moved.vhd &&
	ssefs key rotate km >km.kid &&
	ssefs rotate st1 >out &&
	grep -q "st1/moved.vhd: found in the store" out &&
	test "$(ssefs --json disk show st1/moved.vhd | jq -r ".layers[0].kid")" = "$(cat km.kid)" &&
	mv st1 st2 &&
	ssefs key rotate km >km.kid &&
	ssefs rotate st2 >/dev/null &&
	for d in moved b; do
		test "$(ssefs --json disk show st2/$d.vhd | jq -r ".layers[0].kid")" = "$(cat km.kid)" ||
		return 1
	done &&
	ssefs --json des show dm >dm.json &&
	test "$(jq -r ".previousKeys | length" dm.json)" = 0
'

test_expect_success FUSE 'an option nobody knows: one line naming it, exit 2, no mount' '
	mkdir -p mnt &&
	test_expect_code 2 ssefs mount store mnt -o bogus_opt 2>err &&
	one_line err && grep -q "bogus_opt" err &&
	! mountpoint -q mnt
'

test_expect_success FUSE,JQ 'ssefs mount (a daemon), at once ssefs status; umount, mount again' '
	mkdir -p mnt &&
	test_atexit "fusermount3 -uz \"$TRASH_DIRECTORY/mnt\" 2>/dev/null" &&
	test_when_finished "fusermount3 -uz mnt 2>/dev/null; wait_daemon_gone store" &&
	(
		for i in 1 2 3 4 5; do
			ssefs mount store mnt &&
			ssefs status mnt >status.out &&
			grep -q "s64M.vhd" status.out &&
			ssefs --json status mnt >status.json &&
			jq -e ".disks | length > 0" status.json >/dev/null &&
			fusermount3 -u mnt || exit 1
		done
	) &&
	wait_daemon_gone store
'

test_expect_success FUSE 'the first ssefs status after a mount already shows the temp disk' '
	mkdir -p hc &&
	test_when_finished "fusermount3 -uz mnt 2>/dev/null; wait_daemon_gone store" &&
	(
		for i in 1 2 3 4 5; do
			ssefs mount store mnt \
				-o host_cache="$TRASH_DIRECTORY/hc,temp_disk=64M" &&
			ssefs status mnt >status.out &&
			grep -q "^temp.vhd (temp disk" status.out &&
			grep -q "temp disk: encrypted" status.out &&
			fusermount3 -u mnt || exit 1
		done
	) &&
	wait_daemon_gone store
'

test_expect_success FUSE 'a relative --vault DIR serves a daemon too' '
	(
		unset SSEFS_VAULT &&
		ssefs --vault vault mount store mnt
	) &&
	echo "through a relative vault" >mnt/rel.vhd &&
	test "$(cat mnt/rel.vhd)" = "through a relative vault" &&
	cat mnt/s64M.vhd >/dev/null &&
	fusermount3 -u mnt &&
	wait_daemon_gone store &&
	ssefs disk show store/rel.vhd >/dev/null
'

test_expect_success FUSE,JQ 'the config file'"'"'s notify: hears the daemon'"'"'s events' '
	cat >notify.sh <<-EOF &&
	#!/bin/sh
	cat >>"$TRASH_DIRECTORY/events.jsonl"
	EOF
	chmod +x notify.sh &&
	cat >n.yaml <<-EOF &&
	notify: $TRASH_DIRECTORY/notify.sh
	EOF
	ssefs key create kn --size 2048 >/dev/null &&
	ssefs des create dn --key kn --auto-rotate >/dev/null &&
	ssefs disk create store/dn.vhd --size 4M --des dn >/dev/null &&
	ssefs --config n.yaml mount store mnt -o rotate_interval=1s &&
	test_when_finished "fusermount3 -uz mnt 2>/dev/null; wait_daemon_gone store" &&
	rotate_expect_rewrap kn events.jsonl
'

test_expect_success FUSE 'mount MNT alone takes the config file'"'"'s store:; allow_other: true' '
	cat >c.yaml <<-EOF &&
	store: $TRASH_DIRECTORY/store
	mount:
	  allow_other: true
	  revoke_grace: PT1H
	EOF
	ssefs --config c.yaml mount mnt &&
	ssefs status mnt >status.out &&
	grep -q "allow_other" status.out &&
	test -e mnt/s64M.vhd &&
	fusermount3 -u mnt &&
	wait_daemon_gone store &&
	test_expect_code 2 ssefs mount mnt 2>err && one_line err
'

test_expect_success 'config: an unknown key or bad value under mount:/stores: has line and column' '
	cat >m1.yaml <<-EOF &&
	mount:
	  revoke_grace: 1h
	  frob: 3
	EOF
	test_expect_code 1 ssefs --config m1.yaml key list 2>err &&
	test "$(wc -l <err)" = 1 && grep -q "^ssefs: m1.yaml:3:3: unknown key .mount.frob." err &&
	cat >m2.yaml <<-EOF &&
	stores:
	  $TRASH_DIRECTORY/store:
	    cachng: ReadOnly
	EOF
	test_expect_code 1 ssefs --config m2.yaml rotate store 2>err &&
	test "$(wc -l <err)" = 1 && grep -q "^ssefs: m2.yaml:3:5: unknown key .cachng." err &&
	cat >m3.yaml <<-EOF &&
	mount:
	  caching: Sometimes
	EOF
	test_expect_code 1 ssefs --config m3.yaml mount store mnt 2>err &&
	test "$(wc -l <err)" = 1 && grep -q "^ssefs: m3.yaml:2:12: caching=Sometimes: " err &&
	! mountpoint -q mnt &&
	cat >m4.yaml <<-EOF &&
	mount:
	  max_read: 131072
	  revoke_grace: 0
	  encryption_at_host: off
	EOF
	ssefs --config m4.yaml key list >/dev/null
'

test_expect_success 'examples/ssefs-rotate.{service,timer}: runs without a config file, hourly' '
	EX="$TEST_DIRECTORY/../../examples" &&
	env_args=$(sed -n "s/^Environment=//p" "$EX/ssefs-rotate.service") &&
	env $env_args "$SSEFS_BIN" rotate store >out &&
	grep -q "^rotate: " out &&
	grep -qx "OnCalendar=hourly" "$EX/ssefs-rotate.timer" &&
	grep -qx "Persistent=true" "$EX/ssefs-rotate.timer" &&
	d=$(sed -n "s/^RandomizedDelaySec=\([0-9]*\)min$/\1/p" "$EX/ssefs-rotate.timer") &&
	test "${d:-0}" -le 5
'

test_expect_success 'disk import of a store file (ciphertext) is refused, not imported as raw' '
	test_expect_code 1 ssefs disk import store/s64M.vhd cipher.vhd 2>err &&
	one_line err && grep -q "^ssefs: store/s64M.vhd: an encrypted ssefs disk" err &&
	! test -e cipher.vhd &&
	ssefs disk export store/s64M.vhd plain.vhd &&
	ssefs disk import plain.vhd store/reimported.vhd >/dev/null
'

test_expect_success 'a file that is no disk: not an ssefs disk, not corrupt' '
	echo "just text" >notadisk.vhd &&
	for c in show verify rewrap; do
		test_expect_code 1 ssefs disk $c notadisk.vhd 2>err &&
		one_line err &&
		grep -q "^ssefs: disk notadisk.vhd: not an ssefs disk" err ||
		return 1
	done &&
	test_expect_code 1 ssefs disk export notadisk.vhd x.out 2>err &&
	one_line err && grep -q "not an ssefs disk" err &&
	test_expect_code 1 ssefs disk snapshot notadisk.vhd store/x.vhd 2>err &&
	one_line err && grep -q "not an ssefs disk" err
'

test_expect_success 'an empty passphrase file or a bad key file is named as such' '
	: >empty.pp && chmod 600 empty.pp &&
	test_expect_code 1 ssefs --vault "$TRASH_DIRECTORY/ev" vault init \
		--passphrase-file empty.pp 2>err &&
	one_line err && grep -q "^ssefs: empty.pp: empty passphrase$" err &&
	! test -e ev &&
	test_expect_code 1 ssefs --vault "$TRASH_DIRECTORY/pv" \
		--passphrase-file empty.pp key list 2>err &&
	one_line err && grep -q "^ssefs: empty.pp: empty passphrase$" err &&
	head -c 10 /dev/urandom >short.key && chmod 600 short.key &&
	test_expect_code 1 ssefs --vault "$TRASH_DIRECTORY/kv" vault init \
		--keyfile short.key 2>err &&
	one_line err && grep -q "^ssefs: short.key: not a vault key file" err &&
	! test -e kv
'

test_expect_success 'a key that would never be usable (--expires before --not-before) is refused' '
	test_expect_code 2 ssefs key create never --size 2048 \
		--not-before 2028-01-31 --expires 2027-01-31 2>err &&
	one_line err && grep -q -- "--expires: must be after --not-before" err &&
	test_expect_code 1 ssefs key show never 2>/dev/null &&
	test_expect_code 2 ssefs key set k1 --not-before 2027-01-31T00:00:00Z \
		--expires 2027-01-31 2>err &&
	one_line err &&
	ssefs key set k1 --not-before 2020-01-31 --expires 2099-01-31
'

test_expect_success 'des create --auto-rotate true|false, as des update takes it' '
	ssefs des create at1 --key k1 --auto-rotate true >/dev/null &&
	ssefs des create at2 --key k1 --auto-rotate false >/dev/null &&
	ssefs des create at3 --key k1 --auto-rotate >/dev/null &&
	ssefs des show at1 | grep -q "^auto-rotate: *on$" &&
	ssefs des show at2 | grep -q "^auto-rotate: *off$" &&
	ssefs des show at3 | grep -q "^auto-rotate: *on$" &&
	for d in at1 at2 at3; do ssefs des delete $d || return 1; done
'

test_expect_success JQ 'key set, policy, delete, recover --json: one JSON object each' '
	ssefs key create kj --size 2048 >/dev/null &&
	test "$(ssefs --json key set kj --enabled false | jq -r .versions[0].enabled)" = false &&
	test "$(ssefs --json key set kj --enabled true | jq -r .enabled)" = true &&
	test "$(ssefs --json key policy kj --rotate-after P90D | jq -r .rotateAfter)" = 7776000 &&
	test "$(ssefs --json key delete kj | jq -r .deleted)" = true &&
	test "$(ssefs --json key recover kj | jq -r .deleted)" = false &&
	ssefs key set kj --enabled true >out && test ! -s out
'

test_expect_success JQ 'vault set and vault restore --json: one JSON object each' '
	ssefs --json vault set --purge-protection on >vs.json &&
	jq -e .name vs.json >/dev/null &&
	ssefs vault backup vault2.bak &&
	cp "$SSEFS_VAULT.key" "$TRASH_DIRECTORY/restored2.key" &&
	ssefs --vault "$TRASH_DIRECTORY/restored2" --json vault restore \
		vault2.bak >vr.json &&
	test "$(jq -r .name vr.json)" = spec
'

test_expect_success FUSE 'ssefs status shows the defaults as SPEC writes them' '
	ssefs mount store mnt &&
	test_when_finished "fusermount3 -uz mnt 2>/dev/null; wait_daemon_gone store" &&
	ssefs status mnt >st.out &&
	grep -q "key_check_interval=60s,revoke_grace=1h,rotate_interval=1h,caching=None" st.out &&
	grep -q "encryption_at_host=on" st.out &&
	fusermount3 -u mnt &&
	wait_daemon_gone store
'

test_expect_success FUSE 'ssefs status shows cache_size and temp_disk as SIZE was written' '
	mkdir -p hc2 &&
	ssefs mount store mnt -o "host_cache=$TRASH_DIRECTORY/hc2,caching=ReadOnly,cache_size=64M,temp_disk=16M" &&
	test_when_finished "fusermount3 -uz mnt 2>/dev/null; wait_daemon_gone store" &&
	ssefs status mnt >st.out &&
	grep -q "cache_size=64M," st.out && grep -q "temp_disk=16M," st.out &&
	fusermount3 -u mnt &&
	wait_daemon_gone store
'

test_expect_success 'the kid key create prints serves where NAME/VERSION is taken' '
	ssefs key create kk --size 2048 >kk.kid &&
	ssefs key show "$(cat kk.kid)" >out && grep -q "^name: *kk$" out &&
	ssefs key set "$(cat kk.kid)" --expires 2099-01-31 &&
	ssefs des create dk --key "$(cat kk.kid)" >/dev/null &&
	ssefs des show dk | grep -q "^active key: *$(cat kk.kid)$" &&
	ssefs des delete dk &&
	other=$(sed "s,^vault://spec/,vault://other/," kk.kid) &&
	test_expect_code 1 ssefs key show "$other" 2>err &&
	test "$(wc -l <err)" = 1 &&
	grep -q "^ssefs: key $other: belongs to another vault$" err
'

test_expect_success FUSE,JQ 'a detached daemon runs notify=./hook where ssefs mount ran' '
	printf "#!/bin/sh\ncat >>events2.jsonl\n" >hook.sh &&
	chmod +x hook.sh &&
	ssefs key create kh --size 2048 >/dev/null &&
	ssefs des create dh --key kh --auto-rotate >/dev/null &&
	ssefs disk create store/dh.vhd --size 4M --des dh >/dev/null &&
	ssefs mount store mnt -o notify=./hook.sh,rotate_interval=1s &&
	test_when_finished "fusermount3 -uz mnt 2>/dev/null; wait_daemon_gone store" &&
	rotate_expect_rewrap kh events2.jsonl
'

test_expect_success 'disk import onto an existing disk: one line, no padding warning first' '
	head -c 1000 /dev/urandom >odd.raw &&
	test_expect_code 1 ssefs disk import odd.raw store/s64M.vhd 2>err &&
	one_line err && grep -q "^ssefs: disk store/s64M.vhd: already exists$" err
'

test_expect_success FUSE 'mount -o key= of a disabled key: a warning at mount, not only at cp' '
	ssefs key create kw --size 2048 >kw.kid &&
	ssefs key set kw --enabled false &&
	ssefs mount store mnt -o key=kw 2>err &&
	test_when_finished "fusermount3 -uz mnt 2>/dev/null; wait_daemon_gone store" &&
	grep -q "^ssefs: warning: -o key=kw: key $(cat kw.kid) is disabled" err &&
	test -e mnt/s64M.vhd &&
	fusermount3 -u mnt &&
	wait_daemon_gone store
'

test_expect_success 'disk export PATH.vhd DIR writes DIR/NAME.vhd, as cp does' '
	mkdir -p exports &&
	ssefs disk export store/s512.vhd exports &&
	test -f exports/s512.vhd &&
	test "$(stat -c %s exports/s512.vhd)" = $((1048576 + 512)) &&
	test "$(stat -c %a exports/s512.vhd)" = 600 &&
	test_expect_code 1 ssefs disk export store/s512.vhd store 2>err &&
	one_line err && grep -q "refusing to overwrite it with plaintext" err
'

test_done
