#!/bin/bash

test_description='make layers: includes point one way (tools/check-layers.sh)'

. ./test-lib.sh

ROOT=$(cd "$TEST_DIRECTORY/../.." && pwd)
check=$ROOT/tools/check-layers.sh

# A tree with one file per folder, each including its own folder and every
# lower rank; system headers and folders without a rank are ignored.
test_expect_success 'setup: a tree that keeps the rule' '
	mkdir -p ok &&
	prev= &&
	for d in util crypto disk keyvault svc fuse cli; do
		mkdir -p ok/$d &&
		{
			echo "#include <stdio.h>" &&
			echo "#include \"tests/unit/x.h\"" &&
			echo "#include \"$d/a.h\"" &&
			for p in $prev; do echo "#include \"$p/a.h\"" || return 1; done
		} >ok/$d/a.c &&
		echo "/* $d */" >ok/$d/a.h &&
		prev="$prev $d" || return 1
	done &&
	mkdir -p ok/cache ok/store &&
	printf "#include \"disk/a.h\"\n#include \"util/a.h\"\n" >ok/cache/a.c &&
	printf "#include \"crypto/a.h\"\n" >ok/store/a.c &&
	echo "#include \"cache/a.c\"" >>ok/svc/a.c
'

test_expect_success 'a tree that keeps the rule passes, silently' '
	"$check" ok >out &&
	test ! -s out
'

test_expect_success 'an upward include fails and names file -> include' '
	cp -r ok up &&
	echo "#include \"fuse/fs.h\"" >>up/util/a.c &&
	test_expect_code 1 "$check" up >out &&
	grep -q "^ssefs: layers: util/a.c -> fuse/fs.h: " out &&
	test "$(wc -l <out)" = 1
'

test_expect_success 'an include in a header counts, with spaces after the #' '
	cp -r ok hdr &&
	echo "#  include \"cli/cli.h\"" >>hdr/svc/a.h &&
	test_expect_code 1 "$check" hdr >out &&
	grep -q "^ssefs: layers: svc/a.h -> cli/cli.h: " out
'

test_expect_success 'sideways between keyvault, cache and store fails' '
	cp -r ok side &&
	echo "#include \"cache/hcache.h\"" >>side/keyvault/a.c &&
	echo "#include \"keyvault/vault.h\"" >>side/store/a.c &&
	test_expect_code 1 "$check" side >out &&
	grep -q "^ssefs: layers: keyvault/a.c -> cache/hcache.h: " out &&
	grep -q "^ssefs: layers: store/a.c -> keyvault/vault.h: " out &&
	test "$(wc -l <out)" = 2
'

test_expect_success 'the project tree with one planted upward include fails' '
	mkdir real &&
	(cd "$ROOT" && tar cf - util crypto disk keyvault cache store svc fuse cli) |
		(cd real && tar xf -) &&
	echo "#include \"svc/rotation.h\"" >>real/disk/header.c &&
	test_expect_code 1 "$check" real >out &&
	grep -q "^ssefs: layers: disk/header.c -> svc/rotation.h: " out
'

test_done
