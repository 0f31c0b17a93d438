/*
 * run.c - the one Check runner: every suite, one summary line
 *
 * Suites are found from the file names (check_FOO.c defines suite_FOO());
 * the Makefile writes the list into suites.h.  CK_RUN_SUITE=FOO runs one.
 */
#include <stdio.h>
#include <stdlib.h>

#include <check.h>

#include "crypto/secmem.h"

#define SUITE(name) Suite *suite_##name(void);
#include "suites.h"
#undef SUITE

int main(void)
{
	SRunner *sr = srunner_create(NULL);
	int failed;

	if (secmem_init() < 0) {
		fprintf(stderr, "unit: cannot initialise secure memory\n");
		return 1;
	}
#define SUITE(name) srunner_add_suite(sr, suite_##name());
#include "suites.h"
#undef SUITE
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
