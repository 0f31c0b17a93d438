#!/bin/bash

test_description='make install and uninstall, the installed mount helper,
bash completion, the example systemd units'

. ./test-lib.sh
. "$TEST_DIRECTORY"/lib-ssefs.sh

ROOT=$(cd "$TEST_DIRECTORY/../.." && pwd)
command -v make >/dev/null && test_set_prereq MAKE

test_expect_success MAKE 'make install DESTDIR PREFIX puts every file under them' '
	make -s -C "$ROOT" install DESTDIR="$PWD/dest" PREFIX=/opt/x >/dev/null &&
	test -x dest/opt/x/bin/ssefs &&
	test -x dest/sbin/mount.fuse.ssefs &&
	test -f dest/opt/x/share/bash-completion/completions/ssefs &&
	test -f dest/opt/x/share/man/man8/ssefs-mount.8 &&
	test -f dest/opt/x/share/man/man1/ssefs-key.1 &&
	(cd dest && find . -type f | sort) >installed &&
	test $(wc -l <installed) -ge 11
'

test_expect_success MAKE 'the installed mount helper names the ssefs of its PREFIX' '
	grep -q "^installed_bin=/opt/x/bin/ssefs$" dest/sbin/mount.fuse.ssefs &&
	grep -q "^installed_bin=$" "$ROOT/tools/mount.fuse.ssefs"
'

test_expect_success MAKE 'make uninstall with the same variables leaves no file' '
	make -s -C "$ROOT" uninstall DESTDIR="$PWD/dest" PREFIX=/opt/x >/dev/null &&
	(cd dest && find . ! -type d) >left &&
	test_cmp /dev/null left
'

test_expect_success MAKE 'uninstall honours SBINDIR too' '
	make -s -C "$ROOT" install DESTDIR="$PWD/d2" PREFIX=/p SBINDIR=/p/sbin >/dev/null &&
	test -x d2/p/sbin/mount.fuse.ssefs &&
	make -s -C "$ROOT" uninstall DESTDIR="$PWD/d2" PREFIX=/p SBINDIR=/p/sbin >/dev/null &&
	(cd d2 && find . ! -type d) >left &&
	test_cmp /dev/null left
'

test_expect_success MAKE 'mount(8) runs the helper with a bare PATH: it still finds ssefs' '
	make -s -C "$ROOT" install PREFIX="$PWD/pfx" SBINDIR="$PWD/sb" >/dev/null &&
	# the ssefs at the prefix, swapped for one that says how it was run
	cat >pfx/bin/ssefs <<-EOF &&
	#!/bin/sh
	echo "\$*" >"$PWD/ran"
	EOF
	env -i PATH=/usr/bin:/bin sb/mount.fuse.ssefs /srv/st /mnt/x \
		-o rw,_netdev,key=k1 &&
	echo "mount /srv/st /mnt/x -o key=k1" >expect &&
	test_cmp expect ran
'

# complete WORD...: the candidates bash completion offers for the last
# WORD (empty: a fresh word), sorted, one a line, in the file "got"
complete_words () {
	bash -c '
		. "$1" && shift &&
		COMP_WORDS=("$@") && COMP_CWORD=$(($# - 1)) &&
		_ssefs && for w in "${COMPREPLY[@]}"; do echo "$w"; done | sort
	' complete "$ROOT/tools/ssefs.bash-completion" "$@" >got
}

test_expect_success 'completion: commands, subcommands, options' '
	complete_words ssefs "" &&
	printf "%s\n" des disk key mount rotate status vault >expect &&
	test_cmp expect got &&
	complete_words ssefs key "" &&
	grep -qx show got && grep -qx policy got && grep -qx expiring got &&
	complete_words ssefs --json des "" &&
	grep -qx update got &&
	complete_words ssefs key policy k1 --e &&
	printf "%s\n" --expire-after >expect &&
	test_cmp expect got &&
	complete_words ssefs -- &&
	for o in --vault --passphrase-file --config --json --progress --quiet; do
		grep -qx -- "$o" got || return 1
	done &&
	complete_words ssefs mount store mnt -o "allow_other,non" &&
	printf "%s\n" allow_other,nonempty >expect &&
	test_cmp expect got &&
	complete_words ssefs mount store mnt -o "ro,io_uring=" &&
	printf "%s\n" ro,io_uring=auto ro,io_uring=off ro,io_uring=on >expect &&
	test_cmp expect got
'

test_expect_success 'completion: key and set names come from the vault on the line' '
	ssefs_setup_vault &&
	ssefs key create alpha --size 2048 >/dev/null &&
	ssefs key create beta --size 2048 >/dev/null &&
	ssefs des create set1 --key alpha >/dev/null &&
	complete_words "$SSEFS_BIN" key show "" &&
	printf "%s\n" alpha beta >expect &&
	test_cmp expect got &&
	complete_words "$SSEFS_BIN" key rotate b &&
	echo beta >expect && test_cmp expect got &&
	complete_words "$SSEFS_BIN" des show "" &&
	echo set1 >expect && test_cmp expect got &&
	complete_words "$SSEFS_BIN" disk create x.vhd --des "" &&
	test_cmp expect got &&
	complete_words "$SSEFS_BIN" mount st mnt -o "ro,key=al" &&
	echo ro,key=alpha >expect && test_cmp expect got &&
	mv vault other-vault && mv vault.key other-vault.key &&
	complete_words "$SSEFS_BIN" --vault other-vault key show "" &&
	printf "%s\n" alpha beta >expect && test_cmp expect got
'

test_expect_success 'completion: no vault, no names, no noise' '
	complete_words "$SSEFS_BIN" --vault nowhere key show "" 2>err &&
	test_cmp /dev/null got &&
	test_cmp /dev/null err
'

if command -v systemd-analyze >/dev/null; then
	test_set_prereq SYSTEMD_ANALYZE
else
	echo "SKIPPED: systemd-analyze is not installed; the example units are not verified"
fi

test_expect_success 'the example timer runs by the calendar, so Persistent= works' '
	grep -q "^OnCalendar=" "$ROOT/examples/ssefs-rotate.timer" &&
	grep -q "^Persistent=true$" "$ROOT/examples/ssefs-rotate.timer" &&
	! grep -q "^OnUnitActiveSec=" "$ROOT/examples/ssefs-rotate.timer"
'

test_expect_success SYSTEMD_ANALYZE 'systemd-analyze verify accepts the example units' '
	mkdir units &&
	cp "$ROOT"/examples/ssefs-rotate.timer units/ &&
	sed "s|/usr/local/bin/ssefs|$SSEFS_BIN|" \
		"$ROOT"/examples/ssefs-rotate.service >units/ssefs-rotate.service &&
	systemd-analyze verify --man=no units/ssefs-rotate.timer \
		units/ssefs-rotate.service
'

test_done
