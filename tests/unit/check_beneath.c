/*
 * check_beneath.c - paths beneath a root follow no symlink and never leave
 * it; every case runs twice: through openat2(2) and through the walk that
 * stands in for it (SSEFS_BENEATH_WALK)
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>

#include "util/beneath.h"

Suite *suite_beneath(void);

/*
 * top/root/a/b/           the root and a folder in it
 * top/root/a/f            "in"
 * top/root/link -> ../out a folder swapped for a symlink
 * top/root/a/up -> ..     a relative one
 * top/root/fl -> ../out/secret
 * top/out/secret          "out": must never be reached
 * top/open/               mode 0777: anyone may swap what is in it
 * top/open/link -> ../out
 * top/tl -> out           a symlink in a trusted folder
 */
static char top[PATH_MAX];
static int root = -1;

static void put(const char *rel, const char *text)
{
	char p[PATH_MAX + 32];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", top, rel);
	f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static void sub(char *buf, size_t len, const char *rel)
{
	snprintf(buf, len, "%s/%s", top, rel);
}

static void setup(void)
{
	static const char *const dirs[] = { "root", "root/a", "root/a/b",
					    "out", "open" };
	char p[PATH_MAX + 32], cwd[PATH_MAX - 32];

	/* not below /tmp: a folder anyone may write to is untrusted */
	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	snprintf(top, sizeof(top), "%s/unit-beneath.XXXXXX", cwd);
	ck_assert_ptr_nonnull(mkdtemp(top));
	ck_assert_int_eq(chmod(top, 0755), 0);
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		sub(p, sizeof(p), dirs[i]);
		ck_assert_int_eq(mkdir(p, 0755), 0);
	}
	sub(p, sizeof(p), "open");
	ck_assert_int_eq(chmod(p, 0777), 0);
	put("root/a/f", "in");
	put("out/secret", "out");
	sub(p, sizeof(p), "root/link");
	ck_assert_int_eq(symlink("../out", p), 0);
	sub(p, sizeof(p), "root/a/up");
	ck_assert_int_eq(symlink("..", p), 0);
	sub(p, sizeof(p), "root/fl");
	ck_assert_int_eq(symlink("../out/secret", p), 0);
	sub(p, sizeof(p), "open/link");
	ck_assert_int_eq(symlink("../out", p), 0);
	sub(p, sizeof(p), "tl");
	ck_assert_int_eq(symlink("out", p), 0);
	sub(p, sizeof(p), "root");
	root = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(root, 0);
}

static void teardown(void)
{
	char cmd[PATH_MAX + 16];

	close(root);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	ck_assert_int_eq(system(cmd), 0);
	unsetenv(BENEATH_WALK_ENV);
}

/* _i: 0 openat2 (where the kernel has it), 1 the forced walk */
static void mode(int walk)
{
	if (walk)
		setenv(BENEATH_WALK_ENV, "1", 1);
	else
		unsetenv(BENEATH_WALK_ENV);
}

static void no_file(const char *rel)
{
	char p[PATH_MAX + 32];
	struct stat st;

	sub(p, sizeof(p), rel);
	ck_assert_int_eq(lstat(p, &st), -1);
	ck_assert_int_eq(errno, ENOENT);
}

START_TEST(test_open_inside)
{
	char buf[8] = "";
	int fd;

	mode(_i);
	fd = beneath_open(root, "a/f", O_RDONLY, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(read(fd, buf, sizeof(buf) - 1), 2);
	ck_assert_str_eq(buf, "in");
	close(fd);
	fd = beneath_open(root, "./a//b", O_RDONLY | O_DIRECTORY, 0);
	ck_assert_int_ge(fd, 0);
	close(fd);
	fd = beneath_open(root, "", O_RDONLY | O_DIRECTORY, 0);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(beneath_open(root, "a/none", O_RDONLY, 0), -ENOENT);
	ck_assert_int_eq(beneath_open(root, "a/f/x", O_RDONLY, 0), -ENOTDIR);
}
END_TEST

START_TEST(test_no_symlink)
{
	struct stat st;
	int fd;

	mode(_i);
	ck_assert_int_eq(beneath_open(root, "link/secret", O_RDONLY, 0),
			 -ELOOP);
	ck_assert_int_eq(beneath_open(root, "a/up/a/f", O_RDONLY, 0), -ELOOP);
	ck_assert_int_eq(beneath_open(root, "fl", O_RDONLY, 0), -ELOOP);
	/* O_DIRECTORY says "not a directory" first, as open(2) does */
	ck_assert_int_eq(beneath_open(root, "link", O_RDONLY | O_DIRECTORY,
				      0), -ENOTDIR);
	/* O_PATH opens a symlink leaf itself, never its target */
	fd = beneath_open(root, "fl", O_PATH, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert(S_ISLNK(st.st_mode));
	close(fd);
	/* nothing made through a symlinked folder */
	ck_assert_int_eq(beneath_open(root, "link/evil",
				      O_WRONLY | O_CREAT | O_EXCL, 0600),
			 -ELOOP);
	no_file("out/evil");
	ck_assert_int_eq(beneath_open(root, "link", O_TMPFILE | O_RDWR, 0600),
			 -ENOTDIR);
	ck_assert_int_eq(beneath_stat(root, "link/secret", &st), -ENOTDIR);
	ck_assert_int_eq(beneath_stat(root, "link", &st), 0);
	ck_assert(S_ISLNK(st.st_mode));
}
END_TEST

START_TEST(test_no_escape)
{
	struct beneath_at at;

	mode(_i);
	ck_assert_int_eq(beneath_open(root, "../out/secret", O_RDONLY, 0),
			 -EXDEV);
	ck_assert_int_eq(beneath_open(root, "a/../../out", O_RDONLY, 0),
			 -EXDEV);
	ck_assert_int_eq(beneath_open(root, "a/..", O_RDONLY, 0), -EXDEV);
	ck_assert_int_eq(beneath_open(root, "/etc/passwd", O_RDONLY, 0),
			 -EXDEV);
	ck_assert_int_eq(beneath_at(&at, root, "../x"), -EXDEV);
	ck_assert_int_eq(beneath_at(&at, root, "a/"), -EINVAL);
}
END_TEST

START_TEST(test_at)
{
	struct beneath_at at;
	struct stat a, b;
	char p[PATH_MAX + 32];

	mode(_i);
	ck_assert_int_eq(beneath_at(&at, root, "top.vhd"), 0);
	ck_assert_int_eq(at.fd, root);		/* no system call */
	ck_assert_str_eq(at.leaf, "top.vhd");
	beneath_at_release(&at);
	ck_assert_int_eq(fcntl(root, F_GETFD), FD_CLOEXEC);

	ck_assert_int_eq(beneath_at(&at, root, "a/b/new"), 0);
	ck_assert_str_eq(at.leaf, "new");
	sub(p, sizeof(p), "root/a/b");
	ck_assert_int_eq(stat(p, &a), 0);
	ck_assert_int_eq(fstat(at.fd, &b), 0);
	ck_assert(a.st_ino == b.st_ino && a.st_dev == b.st_dev);
	ck_assert_int_eq(mkdirat(at.fd, at.leaf, 0700), 0);
	beneath_at_release(&at);

	ck_assert_int_eq(beneath_at(&at, root, "."), 0);
	ck_assert_str_eq(at.leaf, ".");
	beneath_at_release(&at);
	ck_assert_int_eq(beneath_at(&at, root, "link/evil"), -ENOTDIR);
	ck_assert_int_eq(at.owned, 0);
}
END_TEST

START_TEST(test_chmod)
{
	char p[PATH_MAX + 32];
	struct stat st;

	mode(_i);
	ck_assert_int_eq(beneath_chmod(root, "a/f", 0640), 0);
	sub(p, sizeof(p), "root/a/f");
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0640);
	ck_assert_int_eq(beneath_chmod(root, "fl", 0666), -ELOOP);
	ck_assert_int_eq(beneath_chmod(root, "link/secret", 0666), -ELOOP);
	sub(p, sizeof(p), "out/secret");
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert_int_ne(st.st_mode & 07777, 0666);
}
END_TEST

START_TEST(test_trusted)
{
	char p[PATH_MAX + 64];
	struct beneath_at at;
	int fd;

	mode(_i);
	/* a symlink in a folder that only we can change is followed */
	sub(p, sizeof(p), "tl/secret");
	fd = trusted_open(p, O_RDONLY, 0);
	ck_assert_int_ge(fd, 0);
	close(fd);
	/* one in a folder that anyone can change is not */
	sub(p, sizeof(p), "open/link/secret");
	ck_assert_int_eq(trusted_open(p, O_RDONLY, 0), -ENOTDIR);
	sub(p, sizeof(p), "open/link/evil");
	ck_assert_int_eq(trusted_at(&at, p), -ENOTDIR);
	beneath_at_release(&at);
	sub(p, sizeof(p), "open/../out/secret");
	ck_assert_int_eq(trusted_open(p, O_RDONLY, 0), -EXDEV);
	/* nor a symlink leaf there */
	sub(p, sizeof(p), "open/link");
	ck_assert_int_eq(trusted_open(p, O_RDONLY, 0), -ELOOP);

	/* a sticky folder anyone may write to (/tmp): a folder of ours in
	 * it stays trusted, a symlink of its own is not followed */
	sub(p, sizeof(p), "sticky");
	ck_assert_int_eq(mkdir(p, 0755), 0);
	ck_assert_int_eq(chmod(p, 01777), 0);
	sub(p, sizeof(p), "sticky/mine");
	ck_assert_int_eq(mkdir(p, 0755), 0);
	sub(p, sizeof(p), "sticky/mine/l");
	ck_assert_int_eq(symlink("../../out", p), 0);
	sub(p, sizeof(p), "sticky/l");
	ck_assert_int_eq(symlink("../out", p), 0);
	sub(p, sizeof(p), "sticky/mine/l/secret");
	fd = trusted_open(p, O_RDONLY, 0);
	ck_assert_int_ge(fd, 0);
	close(fd);
	sub(p, sizeof(p), "sticky/l/secret");
	ck_assert_int_eq(trusted_open(p, O_RDONLY, 0), -ENOTDIR);
	sub(p, sizeof(p), "sticky");
	ck_assert_int_eq(chmod(p, 0777), 0);
	sub(p, sizeof(p), "sticky/mine/l/secret");
	ck_assert_int_eq(trusted_open(p, O_RDONLY, 0), -ENOTDIR);

	sub(p, sizeof(p), "root/a/f");
	ck_assert_int_eq(trusted_at(&at, p), 0);
	ck_assert_str_eq(at.leaf, "f");
	ck_assert_int_eq(faccessat(at.fd, at.leaf, F_OK, 0), 0);
	beneath_at_release(&at);
	ck_assert_int_eq(trusted_at(&at, ""), -EINVAL);
	ck_assert_int_eq(trusted_at(&at, "x/"), -EINVAL);
	ck_assert_int_eq(trusted_at(&at, "x/.."), -EINVAL);
}
END_TEST

Suite *suite_beneath(void)
{
	Suite *s = suite_create("beneath");
	TCase *tc = tcase_create("resolve");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_open_inside, 0, 2);
	tcase_add_loop_test(tc, test_no_symlink, 0, 2);
	tcase_add_loop_test(tc, test_no_escape, 0, 2);
	tcase_add_loop_test(tc, test_at, 0, 2);
	tcase_add_loop_test(tc, test_chmod, 0, 2);
	tcase_add_loop_test(tc, test_trusted, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}
