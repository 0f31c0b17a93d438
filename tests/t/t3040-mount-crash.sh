#!/bin/bash

test_description='kill -9 of the daemon during writes: what was fsynced survives'

. ./test-lib.sh
. "$TEST_DIRECTORY"/lib-ssefs.sh

test_have_prereq FUSE || { skip_all='cannot mount FUSE here'; test_done; }
test_have_prereq FIO,QEMU || { skip_all='needs fio and qemu-img'; test_done; }

CRASH_OPTS=
. "$TEST_DIRECTORY"/lib-crash.sh

test_done
