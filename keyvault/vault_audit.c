/*
 * vault_audit.c - the chained audit log
 *
 * Each record is one JSON line:
 *	{"time":T,"op":OP,"kid":KID|null,"caller":C,"result":R,
 *	 "prev":HEX,"mac":HEX}
 * mac = BLAKE2b-256 keyed with HKDF-SHA256(master key, HKDF_INFO_AUDIT),
 * over the 32 bytes of the previous record's mac (zeros for the first)
 * followed by the line up to (not including) ',"mac":'.  The vault
 * metadata keeps the count of records and the last mac, so a cut-off tail
 * is noticed too.  DIR/audit.log is renamed audit.log.1 (older ones shift
 * up) when it grows past SSEFS_AUDIT_ROTATE_BYTES (default 1 MiB); the
 * chain runs on across files.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "crypto/hkdf.h"
#include "crypto/secmem.h"
#include "keyvault/vault_audit.h"
#include "util/io.h"
#include "util/json.h"

#define AUDIT_MAC_SEP	",\"mac\":\""
#define AUDIT_SEQ_KEY	"\"seq\":"
#define AUDIT_TAIL_MAX	8192		/* longer than any record */
#define AUDIT_HEAD_LEN	86		/* "%020llu %64s\n" */
#define AUDIT_ROTATE_DEFAULT	(1u << 20)

static int fromhex_mac(uint8_t out[32], const char *hex);

/* DIR/audit.log (@n 0), DIR/audit.log.@n, or DIR/audit.head (@n -1). */
static int log_path(const struct vault_log *l, char *buf, size_t len, int n)
{
	int r = n < 0 ? snprintf(buf, len, "%s/audit.head", l->dir) :
		n ? snprintf(buf, len, "%s/audit.log.%d", l->dir, n) :
		    snprintf(buf, len, "%s/audit.log", l->dir);

	return r < 0 || (size_t)r >= len ? -ENAMETOOLONG : 0;
}

static int audit_key(const struct vault_log *l, uint8_t key[32])
{
	return hkdf_sha256(key, 32, secbuf_data(l->master), 32, NULL, 0,
			   HKDF_INFO_AUDIT, strlen(HKDF_INFO_AUDIT));
}

static int audit_mac(const struct vault_log *l, const uint8_t prev[32],
		     const char *line, size_t len, uint8_t mac[32])
{
	crypto_generichash_state st;
	uint8_t key[32];
	int err = audit_key(l, key);

	if (err)
		return err;
	crypto_generichash_init(&st, key, sizeof(key), 32);
	crypto_generichash_update(&st, prev, 32);
	crypto_generichash_update(&st, (const uint8_t *)line, len);
	crypto_generichash_final(&st, mac, 32);
	sodium_memzero(key, sizeof(key));
	sodium_memzero(&st, sizeof(st));
	return 0;
}

static void caller(char *buf, size_t len)
{
	char comm[64] = "?";
	FILE *f = fopen("/proc/self/comm", "r");

	if (f) {
		if (fgets(comm, sizeof(comm), f))
			comm[strcspn(comm, "\n")] = 0;
		fclose(f);
	}
	{
		struct passwd pw, *res = NULL;
		char pwbuf[1024];
		uid_t uid = getuid();

		if (getpwuid_r(uid, &pw, pwbuf, sizeof(pwbuf), &res) || !res)
			snprintf(buf, len, "uid=%u pid=%d comm=%s",
				 (unsigned int)uid, (int)getpid(), comm);
		else
			snprintf(buf, len, "uid=%u(%.32s) pid=%d comm=%s",
				 (unsigned int)uid, res->pw_name,
				 (int)getpid(), comm);
	}
}

static unsigned int count_rotated(const struct vault_log *l)
{
	char path[PATH_MAX];
	unsigned int n = 0;

	while (!log_path(l, path, sizeof(path), (int)n + 1) &&
	       access(path, F_OK) == 0)
		n++;
	return n;
}

static int maybe_rotate(const struct vault_log *l)
{
	char path[PATH_MAX], from[PATH_MAX], to[PATH_MAX];
	const char *env = getenv("SSEFS_AUDIT_ROTATE_BYTES");
	unsigned long long limit = AUDIT_ROTATE_DEFAULT;
	struct stat st;
	unsigned int n;
	int err, fd;

	if (env && *env)
		limit = strtoull(env, NULL, 10);
	err = log_path(l, path, sizeof(path), 0);
	if (err)
		return err;
	if (stat(path, &st) < 0 || (unsigned long long)st.st_size < limit ||
	    !limit)
		return 0;
	/* Records appended by a batch may not be synced yet: a rename
	 * would hide them from the batch's final fsync. */
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		err = fdatasync(fd) < 0 ? -errno : 0;
		close(fd);
		if (err)
			return err;
	}
	for (n = count_rotated(l); n > 0; n--) {
		if (log_path(l, from, sizeof(from), (int)n) ||
		    log_path(l, to, sizeof(to), (int)n + 1))
			return -ENAMETOOLONG;
		if (rename(from, to) < 0)
			return -errno;
	}
	if (log_path(l, to, sizeof(to), 1))
		return -ENAMETOOLONG;
	if (rename(path, to) < 0)
		return -errno;
	return io_fsync_parent(path);
}

/* Parse "seq":N (0 when absent: records written before it existed) and
 * the mac of one record line (without its newline). */
static int parse_record(const char *line, unsigned long long *seq,
			uint8_t mac[32])
{
	const char *sep = strstr(line, AUDIT_MAC_SEP);
	const char *q = strstr(line, AUDIT_SEQ_KEY);

	if (!sep || strlen(sep) != strlen(AUDIT_MAC_SEP) + 64 + 2 ||
	    fromhex_mac(mac, sep + strlen(AUDIT_MAC_SEP)))
		return -EBADMSG;
	*seq = 0;
	if (q && q < sep) {
		char *end;

		*seq = strtoull(q + strlen(AUDIT_SEQ_KEY), &end, 10);
		if (*end != ',')
			return -EBADMSG;
	}
	return 0;
}

/*
 * The last record of the log file @path.  A torn last line (a crash in
 * the middle of an append, which was never acknowledged) is cut away
 * first.  -ENOENT when the file holds no record.
 */
static int read_tail(const char *path, unsigned long long *seq,
		     uint8_t mac[32])
{
	char buf[AUDIT_TAIL_MAX + 1], *nl, *line;
	struct stat st;
	off_t from;
	ssize_t got;
	int fd, err = 0;

	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		err = -errno;
		goto out;
	}
	from = st.st_size > AUDIT_TAIL_MAX ? st.st_size - AUDIT_TAIL_MAX : 0;
	got = pread(fd, buf, (size_t)(st.st_size - from), from);
	if (got != st.st_size - from) {
		err = got < 0 ? -errno : -EIO;
		goto out;
	}
	buf[got] = 0;
	if (got && buf[got - 1] != '\n') {
		nl = memrchr(buf, '\n', (size_t)got);
		if (!nl && from) {
			err = -EBADMSG;	/* a "line" longer than any record */
			goto out;
		}
		got = nl ? nl - buf + 1 : 0;
		if (ftruncate(fd, from + got) < 0 || fsync(fd) < 0) {
			err = -errno;
			goto out;
		}
		buf[got] = 0;
	}
	if (!got) {
		err = -ENOENT;
		goto out;
	}
	buf[got - 1] = 0;
	line = strrchr(buf, '\n');
	line = line ? line + 1 : buf;
	if (line == buf && from)
		err = -EBADMSG;
	else
		err = parse_record(line, seq, mac);
out:
	close(fd);
	return err;
}

/*
 * Find the chain's head, the count and mac of the newest record, in the
 * log itself: the metadata's copy is only a checkpoint and may lag.
 * Called with the lock held.
 */
static int chain_head(const struct vault_log *l)
{
	char path[PATH_MAX];
	unsigned long long seq;
	uint8_t mac[32];
	int err;

	err = log_path(l, path, sizeof(path), 0);
	if (!err)
		err = read_tail(path, &seq, mac);
	if (err == -ENOENT) {
		err = log_path(l, path, sizeof(path), 1);
		if (!err)
			err = read_tail(path, &seq, mac);
	}
	if (err == -ENOENT)
		return 0;	/* no log yet: the in-memory head (init) */
	if (err == -EBADMSG)
		return 0;	/* chain on from the checkpoint; --verify
				 * names the damaged line */
	if (err)
		return err;
	if (!seq)		/* a log from before "seq": the metadata's
				 * head was written with every record */
		return 0;
	l->head->count = seq;
	memcpy(l->head->mac, mac, 32);
	return 0;
}

/* Record the head in DIR/audit.head, in place; the caller syncs @*fdp. */
static int write_head(const struct vault_log *l, int *fdp)
{
	char path[PATH_MAX], line[AUDIT_HEAD_LEN + 1], hex[65];
	int fd, err;

	err = log_path(l, path, sizeof(path), -1);
	if (err)
		return err;
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	sodium_bin2hex(hex, sizeof(hex), l->head->mac, 32);
	snprintf(line, sizeof(line), "%020llu %s\n", l->head->count, hex);
	if (pwrite(fd, line, AUDIT_HEAD_LEN, 0) != AUDIT_HEAD_LEN) {
		err = -EIO;
		close(fd);
		return err;
	}
	*fdp = fd;
	return 0;
}

/*
 * Append one record to the log: the head is found, the record chained on
 * it, written with one write(2) and made durable, then the head file is
 * updated (never ahead of the durable log).  The lock is held.  The head
 * file is left to the caller to sync and close (*@headfd, -1 if none),
 * outside the lock, so that concurrent records share the flushes.
 * With @headfd NULL the record is only written: a batch whose last
 * record is appended normally, whose fdatasync covers the file (and
 * maybe_rotate() syncs a file before renaming it).
 */
int vault_log_write(const struct vault_log *l, const char *op,
		    const char *kid, int result, int *headfd)
{
	char path[PATH_MAX], when[32], who[128], res[128], hex[65];
	char *buf = NULL;
	size_t len = 0;
	uint8_t mac[32];
	struct tm tm;
	time_t now = time(NULL);
	FILE *f;
	int fd, err;

	if (headfd)
		*headfd = -1;
	err = maybe_rotate(l);
	if (!err)
		err = chain_head(l);
	if (!err)
		err = log_path(l, path, sizeof(path), 0);
	if (err)
		return err;
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	caller(who, sizeof(who));
	if (result)
		snprintf(res, sizeof(res), "error: %s", strerror(-result));
	else
		snprintf(res, sizeof(res), "ok");
	f = open_memstream(&buf, &len);
	if (!f)
		return -ENOMEM;
	fputs("{\"time\":", f);
	json_write_string(f, when);
	fputs(",\"op\":", f);
	json_write_string(f, op);
	fputs(",\"kid\":", f);
	if (kid)
		json_write_string(f, kid);
	else
		fputs("null", f);
	fputs(",\"caller\":", f);
	json_write_string(f, who);
	fputs(",\"result\":", f);
	json_write_string(f, res);
	fprintf(f, "," AUDIT_SEQ_KEY "%llu", l->head->count + 1);
	sodium_bin2hex(hex, sizeof(hex), l->head->mac, 32);
	fprintf(f, ",\"prev\":\"%s\"", hex);
	if (fflush(f)) {
		fclose(f);
		free(buf);
		return -ENOMEM;
	}
	err = audit_mac(l, l->head->mac, buf, len, mac);
	if (!err) {
		sodium_bin2hex(hex, sizeof(hex), mac, 32);
		fprintf(f, AUDIT_MAC_SEP "%s\"}\n", hex);
	}
	if (fclose(f) && !err)
		err = -ENOMEM;
	if (err)
		goto out;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	err = io_write_all(fd, buf, len);
	if (!err && headfd && fdatasync(fd) < 0)
		err = -errno;
	close(fd);
	if (err)
		goto out;
	memcpy(l->head->mac, mac, 32);
	l->head->count++;
	if (headfd)
		err = write_head(l, headfd);
out:
	free(buf);
	return err;
}

int vault_log_sync_head(int fd)
{
	int err = 0;

	if (fd < 0)
		return 0;
	if (fdatasync(fd) < 0)
		err = -errno;
	close(fd);
	return err;
}

int vault_log_append(const struct vault_log *l, const char *op,
		     const char *kid, int result)
{
	int fd, err = vault_log_write(l, op, kid, result, &fd);
	int e2 = vault_log_sync_head(fd);

	return err ? err : e2;
}

int vault_log_files(const struct vault_log *l, char ***out, size_t *n)
{
	unsigned int r = count_rotated(l), i;
	char **files = calloc(r + 1, sizeof(*files));
	char path[PATH_MAX];

	if (!files)
		return -ENOMEM;
	for (i = 0; i <= r; i++) {
		log_path(l, path, sizeof(path), (int)(r - i));
		files[i] = strdup(path);
	}
	*out = files;
	*n = r + 1;
	return 0;
}

/* A point of the chain the vault recorded: its record count and mac. */
struct checkpoint {
	const char *what;
	unsigned long long count;
	uint8_t mac[32];
};

static int verify_file(const struct vault_log *l, const char *path,
		       uint8_t prev[32],
		       unsigned long *count, const struct checkpoint *cp,
		       size_t ncp, char *where, size_t wlen)
{
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	char *buf = NULL, *line, *nl, *sep;
	unsigned long long seq;
	unsigned long ln = 0;
	uint8_t mac[32], want[32];
	size_t len, i;
	int err;

	err = io_read_file(path, 1u << 30, &buf, &len);
	if (err == -ENOENT)
		return 0;
	if (err)
		return err;
	for (line = buf; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		ln++;
		if (!nl) {
			snprintf(where, wlen, "%s line %lu: cut off", base, ln);
			err = -EBADMSG;
			break;
		}
		*nl = 0;
		if (parse_record(line, &seq, want)) {
			snprintf(where, wlen, "%s line %lu: malformed", base,
				 ln);
			err = -EBADMSG;
			break;
		}
		sep = strstr(line, AUDIT_MAC_SEP);
		err = audit_mac(l, prev, line, (size_t)(sep - line), mac);
		if (err)
			break;
		if (sodium_memcmp(mac, want, 32) || (seq && seq != *count + 1)) {
			snprintf(where, wlen,
				 "%s line %lu: edited, removed or reordered",
				 base, ln);
			err = -EBADMSG;
			break;
		}
		memcpy(prev, mac, 32);
		(*count)++;
		for (i = 0; i < ncp; i++) {
			if (cp[i].count != *count ||
			    !sodium_memcmp(cp[i].mac, mac, 32))
				continue;
			snprintf(where, wlen, "%s line %lu: not the record "
				 "%s names: the log was replaced", base, ln,
				 cp[i].what);
			err = -EBADMSG;
			break;
		}
		if (err)
			break;
	}
	free(buf);
	return err;
}

static int fromhex_mac(uint8_t out[32], const char *hex)
{
	size_t got;

	if (sodium_hex2bin(out, 32, hex, 64, NULL, &got, NULL) || got != 32)
		return -EINVAL;
	return 0;
}

/* DIR/audit.head, if there is one and it parses. */
static int read_head(const struct vault_log *l, struct checkpoint *cp)
{
	char path[PATH_MAX], line[AUDIT_HEAD_LEN + 1], hex[65];
	ssize_t got;
	int fd;

	if (log_path(l, path, sizeof(path), -1))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	got = pread(fd, line, AUDIT_HEAD_LEN, 0);
	close(fd);
	if (got != AUDIT_HEAD_LEN)
		return -EBADMSG;
	line[got] = 0;
	if (sscanf(line, "%llu %64s", &cp->count, hex) != 2 ||
	    fromhex_mac(cp->mac, hex))
		return -EBADMSG;
	cp->what = "audit.head";
	return 0;
}

int vault_log_verify(const struct vault_log *l, char *where, size_t len,
		     unsigned long *nlines)
{
	struct checkpoint cp[2];
	uint8_t prev[32] = { 0 };
	char **files = NULL;
	size_t n = 0, i, ncp = 1;
	int err;

	*where = 0;
	*nlines = 0;
	/* Two checkpoints: the metadata's (moved with every change to the
	 * vault) and audit.head (moved with every record). */
	cp[0].what = "vault.meta";
	cp[0].count = l->head->count;
	memcpy(cp[0].mac, l->head->mac, 32);
	err = read_head(l, &cp[1]);
	if (!err)
		ncp++;
	else if (err != -ENOENT) {
		snprintf(where, len, "audit.head: unreadable: %s",
			 strerror(-err));
		err = -EBADMSG;
		goto out;
	}
	err = vault_log_files(l, &files, &n);
	for (i = 0; !err && i < n; i++)
		err = verify_file(l, files[i], prev, nlines, cp, ncp, where,
				  len);
	for (i = 0; !err && i < ncp; i++) {
		if (*nlines >= cp[i].count)
			continue;
		snprintf(where, len,
			 "audit.log: %lu records, %s names record %llu: "
			 "the log was cut off", *nlines, cp[i].what,
			 cp[i].count);
		err = -EBADMSG;
	}
out:
	for (i = 0; i < n; i++)
		free(files[i]);
	free(files);
	return err;
}
