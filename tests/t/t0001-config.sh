#!/bin/bash

test_description='the configuration file (--config, SSEFS_CONFIG) is checked before any command'

. ./test-lib.sh
. "$TEST_DIRECTORY"/lib-ssefs.sh

lines_of () { wc -l <"$1" | tr -d ' '; }

test_expect_success 'setup' '
	cat >bad.yaml <<-\EOT &&
	vault:
	  dir: /tmp/somewhere
	  bogus: 1
	EOT
	cat >dup.yaml <<-\EOT &&
	store: /a
	notify: /b
	store: /c
	EOT
	printf "vault:\n  dir: [1\nstore: x\n" >broken.yaml &&
	cat >good.yaml <<-\EOT
	vault:
	  dir: ./v
	mount:
	  revoke_grace: 1h
	EOT
'

test_expect_success 'an unknown key: one line naming file, line and column, exit 1' '
	test_expect_code 1 ssefs --config bad.yaml key list >out 2>err &&
	test "$(lines_of err)" = 1 &&
	grep -q "^ssefs: bad.yaml:3:3: unknown key .vault.bogus.$" err &&
	! test -s out
'

test_expect_success 'the error comes before any command family runs' '
	test_expect_code 1 ssefs --config bad.yaml vault audit 2>err &&
	test "$(lines_of err)" = 1 &&
	grep -q "^ssefs: bad.yaml:3:" err
'

test_expect_success 'SSEFS_CONFIG is read like --config' '
	(
		export SSEFS_CONFIG=bad.yaml &&
		test_expect_code 1 ssefs key list 2>err
	) &&
	test "$(lines_of err)" = 1 &&
	grep -q "^ssefs: bad.yaml:3:3: " err
'

test_expect_success 'a duplicate key is an error' '
	test_expect_code 1 ssefs --config dup.yaml key list 2>err &&
	test "$(lines_of err)" = 1 &&
	grep -q "^ssefs: dup.yaml:3:1: duplicate key .store.$" err
'

test_expect_success 'malformed YAML names its line' '
	test_expect_code 1 ssefs --config broken.yaml key list 2>err &&
	test "$(lines_of err)" = 1 &&
	grep -q "^ssefs: broken.yaml:3:[0-9]*: " err
'

test_expect_success 'a missing file is an error naming it' '
	test_expect_code 1 ssefs --config nothere.yaml key list 2>err &&
	test "$(lines_of err)" = 1 &&
	grep -q "^ssefs: nothere.yaml: " err
'

test_expect_success 'a good file gives no configuration error' '
	{ ssefs --config good.yaml key list 2>err || :; } &&
	! grep -q "good.yaml" err
'

test_expect_success 'the example in examples/ssefs.yaml is valid' '
	{ ssefs --config "$TEST_DIRECTORY/../../examples/ssefs.yaml" key list \
		2>err || :; } &&
	! grep -q "ssefs.yaml" err
'

test_expect_success 'a second YAML document or a directory is refused, not ignored' '
	printf "store: /a\n---\nstore: /b\nbogus: 1\n" >two.yaml &&
	test_expect_code 1 ssefs --config two.yaml key list >out 2>err &&
	test "$(lines_of err)" = 1 &&
	grep -q "^ssefs: two.yaml:3:1: a second YAML document" err &&
	printf -- "---\nmount:\n  revoke_grace: 1h\n...\n" >one.yaml &&
	ssefs --config one.yaml vault init >/dev/null &&
	mkdir cfgdir &&
	test_expect_code 1 ssefs --config cfgdir key list 2>err &&
	test "$(lines_of err)" = 1 &&
	grep -q "^ssefs: cfgdir: Is a directory$" err
'

test_done
