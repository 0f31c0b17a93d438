/*
 * vault.c - the embedded key vault
 *
 * Layout of a vault directory DIR (mode 0700), documented in ssefs-vault(1):
 *
 *   DIR/vault.meta         metadata, a line-based text file (below), 0600
 *   DIR/vault.lock         flock(LOCK_EX) around every read-modify-write
 *   DIR/keys/NAME.VERSION  sealed RSA private key (PKCS#8 DER)
 *   DIR/platform/VERSION   sealed 32-byte platform key
 *   DIR/audit.log[.N]      chained audit log (JSON lines)
 *   DIR.key                default master key file (32 raw bytes, 0600)
 *
 * A sealed file is nonce (24) || XChaCha20-Poly1305-IETF ciphertext+tag of
 * the secret under the master key, with the full kid as associated data.
 *
 * vault.meta lines ("-" is an empty field, times are Unix seconds):
 *   ssefs-vault 1
 *   name NAME
 *   kdf keyfile | kdf argon2id SALTHEX OPSLIMIT MEMLIMIT
 *   verifier HEX
 *   settings PURGE_PROTECTION RETENTION_DAYS
 *   audit COUNT LASTMACHEX
 *   platform VERSION CREATED
 *   key NAME ENABLED DELETED DELETED_AT CREATED BITS ROTATE_AFTER NOTIFY
 *   ver NAME VERSION ENABLED NOT_BEFORE EXPIRES CREATED UPDATED
 *   disk UUID DES KID PATH...
 * Unknown lines are preserved as they are.
 */
/* Paths are bounded by PATH_MAX; an over-long one fails at open(). */
#pragma GCC diagnostic ignored "-Wformat-truncation"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <sodium.h>

#include "crypto/envelope.h"
#include "crypto/hkdf.h"
#include "crypto/rng.h"
#include "crypto/secmem.h"
#include "disk/keyops.h"
#include "keyvault/kid.h"
#include "keyvault/vault.h"
#include "util/io.h"

#define META_FILE	"vault.meta"
#define LOCK_FILE	"vault.lock"
#define AUDIT_FILE	"audit.log"
#define META_MAX	(16u << 20)
#define SEAL_MAX	(16u << 10)
#define MK_BYTES	32
#define MAC_BYTES	32
#define NONCE_BYTES	crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define ABYTES		crypto_aead_xchacha20poly1305_ietf_ABYTES
#define VERIFIER_AD	"ssefs vault verifier v1"

struct vver {
	char name[KEY_NAME_MAX + 1];
	char ver[KEY_VERSION_HEX + 1];
	int enabled;
	long long nbf, exp, created, updated;
};

struct vkey {
	char name[KEY_NAME_MAX + 1];
	int enabled, deleted;
	long long deleted_at, created;
	unsigned int bits;
	unsigned long long rotate_after, notify_before;
};

struct vplat {
	char ver[KEY_VERSION_HEX + 1];
	long long created;
};

struct vault {
	char dir[PATH_MAX];
	char name[VAULT_NAME_MAX + 1];
	char last_path[PATH_MAX];
	struct secbuf *mk;		/* master key */
	int kdf_argon;
	uint8_t salt[crypto_pwhash_SALTBYTES];
	unsigned long long ops, mem;
	char verifier[2 * (NONCE_BYTES + 32 + ABYTES) + 1];
	int purge_protection;
	unsigned int retention_days;
	unsigned long audit_count;
	uint8_t audit_mac[MAC_BYTES];
	struct vplat *plat;
	size_t nplat;
	struct vkey *keys;
	size_t nkeys;
	struct vver *vers;
	size_t nvers;
	struct vault_disk *disks;
	size_t ndisks;
	char **extra;			/* unknown lines, kept */
	size_t nextra;
	int lockfd;
};

static int path_in(const struct vault *v, const char *rel, char *buf,
		   size_t len)
{
	int n = snprintf(buf, len, "%s/%s", v->dir, rel);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static void *grow(void *arr, size_t n, size_t sz)
{
	return realloc(arr, (n + 1) * sz);
}

static void meta_clear(struct vault *v)
{
	size_t i;

	free(v->plat);
	free(v->keys);
	free(v->vers);
	free(v->disks);
	for (i = 0; i < v->nextra; i++)
		free(v->extra[i]);
	free(v->extra);
	v->plat = NULL;
	v->keys = NULL;
	v->vers = NULL;
	v->disks = NULL;
	v->extra = NULL;
	v->nplat = v->nkeys = v->nvers = v->ndisks = v->nextra = 0;
}

static int hex_in(const char *hex, uint8_t *out, size_t len)
{
	size_t got = 0;

	if (strlen(hex) != 2 * len ||
	    sodium_hex2bin(out, len, hex, strlen(hex), NULL, &got, NULL) ||
	    got != len)
		return -EINVAL;
	return 0;
}

static const char *dash(const char *s)
{
	return *s ? s : "-";
}

static void undash(char *s)
{
	if (!strcmp(s, "-"))
		*s = '\0';
}

/* Parse one metadata line into @v.  Return: 0 or -EBADMSG. */
static int meta_line(struct vault *v, char *line)
{
	char a[300], b[300], c[300], d[300];
	int n;

	if (!strncmp(line, "ssefs-vault ", 12))
		return 0;
	if (sscanf(line, "name %24s", v->name) == 1)
		return 0;
	if (!strcmp(line, "kdf keyfile")) {
		v->kdf_argon = 0;
		return 0;
	}
	if (sscanf(line, "kdf argon2id %64s %llu %llu", a, &v->ops,
		   &v->mem) == 3) {
		v->kdf_argon = 1;
		return hex_in(a, v->salt, sizeof(v->salt)) ? -EBADMSG : 0;
	}
	if (sscanf(line, "verifier %200s", v->verifier) == 1)
		return 0;
	if (sscanf(line, "settings %d %u", &v->purge_protection,
		   &v->retention_days) == 2)
		return 0;
	if (sscanf(line, "audit %lu %64s", &v->audit_count, a) == 2)
		return hex_in(a, v->audit_mac, MAC_BYTES) ? -EBADMSG : 0;
	if (!strncmp(line, "platform ", 9)) {
		struct vplat *p = grow(v->plat, v->nplat, sizeof(*p));

		if (!p)
			return -ENOMEM;
		v->plat = p;
		p += v->nplat;
		if (sscanf(line, "platform %32s %lld", p->ver,
			   &p->created) != 2)
			return -EBADMSG;
		v->nplat++;
		return 0;
	}
	if (!strncmp(line, "key ", 4)) {
		struct vkey *k = grow(v->keys, v->nkeys, sizeof(*k));

		if (!k)
			return -ENOMEM;
		v->keys = k;
		k += v->nkeys;
		if (sscanf(line, "key %127s %d %d %lld %lld %u %llu %llu",
			   k->name, &k->enabled, &k->deleted, &k->deleted_at,
			   &k->created, &k->bits, &k->rotate_after,
			   &k->notify_before) != 8)
			return -EBADMSG;
		v->nkeys++;
		return 0;
	}
	if (!strncmp(line, "ver ", 4)) {
		struct vver *x = grow(v->vers, v->nvers, sizeof(*x));

		if (!x)
			return -ENOMEM;
		v->vers = x;
		x += v->nvers;
		if (sscanf(line, "ver %127s %32s %d %lld %lld %lld %lld",
			   x->name, x->ver, &x->enabled, &x->nbf, &x->exp,
			   &x->created, &x->updated) != 7)
			return -EBADMSG;
		v->nvers++;
		return 0;
	}
	if (!strncmp(line, "disk ", 5)) {
		struct vault_disk *dk = grow(v->disks, v->ndisks,
					     sizeof(*dk));

		if (!dk)
			return -ENOMEM;
		v->disks = dk;
		dk += v->ndisks;
		n = 0;
		if (sscanf(line, "disk %36s %80s %255s %n", b, c, d, &n) != 3
		    || !n)
			return -EBADMSG;
		snprintf(dk->uuid, sizeof(dk->uuid), "%s", b);
		snprintf(dk->des, sizeof(dk->des), "%s", c);
		snprintf(dk->kid, sizeof(dk->kid), "%s", d);
		snprintf(dk->path, sizeof(dk->path), "%s", line + n);
		undash(dk->des);
		undash(dk->kid);
		v->ndisks++;
		return 0;
	}
	{
		char **e = grow(v->extra, v->nextra, sizeof(*e));

		if (!e)
			return -ENOMEM;
		v->extra = e;
		if (!(e[v->nextra] = strdup(line)))
			return -ENOMEM;
		v->nextra++;
	}
	return 0;
}

/* (Re)read DIR/vault.meta into @v. */
static int meta_load(struct vault *v)
{
	char path[PATH_MAX], *text = NULL, *line, *save = NULL;
	size_t len;
	int r;

	meta_clear(v);
	if ((r = path_in(v, META_FILE, path, sizeof(path))))
		return r;
	r = io_read_file(path, META_MAX, &text, &len);
	if (r)
		return r;
	if (strncmp(text, "ssefs-vault 1\n", 14)) {
		free(text);
		return -EBADMSG;
	}
	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save))
		if ((r = meta_line(v, line)))
			break;
	free(text);
	return r;
}

static int buf_add(char **buf, size_t *len, size_t *cap, const char *fmt,
		   ...) __attribute__((format(printf, 4, 5)));
static int buf_add(char **buf, size_t *len, size_t *cap, const char *fmt,
		   ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(*buf ? *buf + *len : NULL,
			      *buf ? *cap - *len : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			return -EINVAL;
		if (*buf && *len + (size_t)n < *cap) {
			*len += (size_t)n;
			return 0;
		}
		{
			size_t ncap = (*cap + (size_t)n + 1) * 2;
			char *nb = realloc(*buf, ncap);

			if (!nb)
				return -ENOMEM;
			*buf = nb;
			*cap = ncap;
		}
	}
}

/* Write @v's metadata atomically. */
static int meta_save(struct vault *v)
{
	char path[PATH_MAX], *buf = NULL, hex[2 * MAC_BYTES + 1];
	char salt[2 * crypto_pwhash_SALTBYTES + 1];
	size_t len = 0, cap = 0, i;
	int r;

	if ((r = path_in(v, META_FILE, path, sizeof(path))))
		return r;
	r = buf_add(&buf, &len, &cap, "ssefs-vault 1\nname %s\n", v->name);
	if (!r && v->kdf_argon) {
		sodium_bin2hex(salt, sizeof(salt), v->salt, sizeof(v->salt));
		r = buf_add(&buf, &len, &cap, "kdf argon2id %s %llu %llu\n",
			    salt, v->ops, v->mem);
	} else if (!r) {
		r = buf_add(&buf, &len, &cap, "kdf keyfile\n");
	}
	sodium_bin2hex(hex, sizeof(hex), v->audit_mac, MAC_BYTES);
	if (!r)
		r = buf_add(&buf, &len, &cap,
			    "verifier %s\nsettings %d %u\naudit %lu %s\n",
			    v->verifier, v->purge_protection,
			    v->retention_days, v->audit_count, hex);
	for (i = 0; !r && i < v->nplat; i++)
		r = buf_add(&buf, &len, &cap, "platform %s %lld\n",
			    v->plat[i].ver, v->plat[i].created);
	for (i = 0; !r && i < v->nkeys; i++) {
		struct vkey *k = &v->keys[i];

		r = buf_add(&buf, &len, &cap,
			    "key %s %d %d %lld %lld %u %llu %llu\n", k->name,
			    k->enabled, k->deleted, k->deleted_at, k->created,
			    k->bits, k->rotate_after, k->notify_before);
	}
	for (i = 0; !r && i < v->nvers; i++) {
		struct vver *x = &v->vers[i];

		r = buf_add(&buf, &len, &cap,
			    "ver %s %s %d %lld %lld %lld %lld\n", x->name,
			    x->ver, x->enabled, x->nbf, x->exp, x->created,
			    x->updated);
	}
	for (i = 0; !r && i < v->ndisks; i++) {
		struct vault_disk *d = &v->disks[i];

		r = buf_add(&buf, &len, &cap, "disk %s %s %s %s\n", d->uuid,
			    dash(d->des), dash(d->kid), d->path);
	}
	for (i = 0; !r && i < v->nextra; i++)
		r = buf_add(&buf, &len, &cap, "%s\n", v->extra[i]);
	if (!r)
		r = io_write_atomic(path, buf, len, 0600);
	free(buf);
	return r;
}

static int lock_vault(struct vault *v)
{
	char path[PATH_MAX];
	int r;

	if ((r = path_in(v, LOCK_FILE, path, sizeof(path))))
		return r;
	v->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (v->lockfd < 0)
		return -errno;
	while (flock(v->lockfd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			r = -errno;
			close(v->lockfd);
			v->lockfd = -1;
			return r;
		}
	}
	return 0;
}

static void unlock_vault(struct vault *v)
{
	if (v->lockfd >= 0) {
		close(v->lockfd);
		v->lockfd = -1;
	}
}

/* ---- sealing ---- */

static int seal_file(const struct vault *v, const char *path, const char *ad,
		     const uint8_t *secret, size_t len)
{
	size_t flen = NONCE_BYTES + len + ABYTES;
	uint8_t *buf = malloc(flen);
	int r;

	if (!buf)
		return -ENOMEM;
	rng_bytes(buf, NONCE_BYTES);
	crypto_aead_xchacha20poly1305_ietf_encrypt(
		buf + NONCE_BYTES, NULL, secret, len, (const uint8_t *)ad,
		strlen(ad), NULL, buf, secbuf_data(v->mk));
	r = io_write_atomic(path, buf, flen, 0600);
	free(buf);
	return r;
}

static int unseal_buf(const struct vault *v, const uint8_t *in, size_t inlen,
		      const char *ad, struct secbuf **out)
{
	struct secbuf *s;

	if (inlen < NONCE_BYTES + ABYTES)
		return -EBADMSG;
	s = secbuf_new(inlen - NONCE_BYTES - ABYTES);
	if (!s)
		return -ENOMEM;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(
		    secbuf_data(s), NULL, NULL, in + NONCE_BYTES,
		    inlen - NONCE_BYTES, (const uint8_t *)ad, strlen(ad), in,
		    secbuf_data(v->mk))) {
		secbuf_free(s);
		return -EBADMSG;
	}
	*out = s;
	return 0;
}

static int unseal_file(const struct vault *v, const char *path,
		       const char *ad, struct secbuf **out)
{
	char *buf = NULL;
	size_t len;
	int r = io_read_file(path, SEAL_MAX, &buf, &len);

	if (r)
		return r == -ENOENT ? -ENOKEY : r;
	r = unseal_buf(v, (uint8_t *)buf, len, ad, out);
	free(buf);
	return r;
}

/* ---- names and lookups ---- */

static void kid_of(const struct vault *v, const char *name, const char *ver,
		   char *buf, size_t len)
{
	struct kid k;

	memset(&k, 0, sizeof(k));
	k.platform = name == NULL;
	snprintf(k.vault, sizeof(k.vault), "%s", v->name);
	snprintf(k.name, sizeof(k.name), "%s", name ? name : "");
	snprintf(k.version, sizeof(k.version), "%s", ver);
	if (kid_format(&k, buf, len))
		snprintf(buf, len, "?");
}

static int sealed_path(const struct vault *v, const char *name,
		       const char *ver, char *buf, size_t len)
{
	int n;

	if (name)
		n = snprintf(buf, len, "%s/keys/%s.%s", v->dir, name, ver);
	else
		n = snprintf(buf, len, "%s/platform/%s", v->dir, ver);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static struct vkey *find_key(struct vault *v, const char *name)
{
	size_t i;

	for (i = 0; i < v->nkeys; i++)
		if (!strcmp(v->keys[i].name, name))
			return &v->keys[i];
	return NULL;
}

static struct vver *find_ver(struct vault *v, const char *name,
			     const char *ver)
{
	size_t i;

	for (i = 0; i < v->nvers; i++)
		if (!strcmp(v->vers[i].name, name) &&
		    (!ver || !strcmp(v->vers[i].ver, ver)))
			return &v->vers[i];
	return NULL;
}

/* The newest version of @name (metadata keeps them oldest first). */
static struct vver *newest_ver(struct vault *v, const char *name)
{
	struct vver *last = NULL;
	size_t i;

	for (i = 0; i < v->nvers; i++)
		if (!strcmp(v->vers[i].name, name))
			last = &v->vers[i];
	return last;
}

static struct vplat *find_plat(struct vault *v, const char *ver)
{
	size_t i;

	for (i = 0; i < v->nplat; i++)
		if (!strcmp(v->plat[i].ver, ver))
			return &v->plat[i];
	return NULL;
}

static void new_version(char ver[KEY_VERSION_HEX + 1])
{
	uint8_t b[KEY_VERSION_HEX / 2];

	rng_bytes(b, sizeof(b));
	sodium_bin2hex(ver, KEY_VERSION_HEX + 1, b, sizeof(b));
}

/* ---- audit ---- */

static unsigned long rotate_bytes(void)
{
	const char *e = getenv("SSEFS_AUDIT_ROTATE_BYTES");
	unsigned long n;

	if (e && *e && (n = strtoul(e, NULL, 10)) > 0)
		return n;
	return 1ul << 20;
}

static int audit_key(const struct vault *v, uint8_t key[32])
{
	return hkdf_sha256(key, 32, secbuf_data(v->mk), MK_BYTES, NULL, 0,
			   HKDF_INFO_AUDIT, strlen(HKDF_INFO_AUDIT));
}

static void audit_mac(const uint8_t key[32], const uint8_t prev[MAC_BYTES],
		      const char *body, size_t len, uint8_t out[MAC_BYTES])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, key, 32, MAC_BYTES);
	crypto_generichash_update(&st, prev, MAC_BYTES);
	crypto_generichash_update(&st, (const uint8_t *)body, len);
	crypto_generichash_final(&st, out, MAC_BYTES);
	sodium_memzero(&st, sizeof(st));
}

static void caller(char *buf, size_t len)
{
	char comm[64] = "?";
	FILE *f = fopen("/proc/self/comm", "re");

	if (f) {
		if (fgets(comm, sizeof(comm), f))
			comm[strcspn(comm, "\n")] = '\0';
		fclose(f);
	}
	snprintf(buf, len, "uid=%u pid=%d comm=%s", (unsigned)getuid(),
		 (int)getpid(), comm);
}

static void json_esc(char *out, size_t len, const char *s)
{
	size_t o = 0;

	for (; *s && o + 7 < len; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20) {
			o += (size_t)snprintf(out + o, len - o, "\\u%04x", c);
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
}

static void shift_audit(struct vault *v)
{
	char from[PATH_MAX], to[PATH_MAX];
	int n;

	for (n = 1;; n++) {
		snprintf(from, sizeof(from), "%s/%s.%d", v->dir, AUDIT_FILE,
			 n);
		if (access(from, F_OK))
			break;
	}
	for (; n > 1; n--) {
		snprintf(from, sizeof(from), "%s/%s.%d", v->dir, AUDIT_FILE,
			 n - 1);
		snprintf(to, sizeof(to), "%s/%s.%d", v->dir, AUDIT_FILE, n);
		if (rename(from, to))
			return;
	}
	snprintf(from, sizeof(from), "%s/%s", v->dir, AUDIT_FILE);
	snprintf(to, sizeof(to), "%s/%s.1", v->dir, AUDIT_FILE);
	if (rename(from, to) == 0)
		io_fsync_parent(from);
}

/* Append one line; the caller holds the lock and saves the metadata. */
static int audit_append(struct vault *v, const char *op, const char *kid,
			int result)
{
	char path[PATH_MAX], line[2048], who[128], ekid[600], tm[32];
	char prev[2 * MAC_BYTES + 1], mac[2 * MAC_BYTES + 1], res[128];
	uint8_t key[32], m[MAC_BYTES];
	time_t now = time(NULL);
	struct tm t;
	struct stat st;
	int fd, n, r;

	if ((r = path_in(v, AUDIT_FILE, path, sizeof(path))))
		return r;
	if (stat(path, &st) == 0 && (unsigned long)st.st_size >= rotate_bytes())
		shift_audit(v);
	gmtime_r(&now, &t);
	strftime(tm, sizeof(tm), "%Y-%m-%dT%H:%M:%SZ", &t);
	caller(who, sizeof(who));
	json_esc(ekid, sizeof(ekid), kid ? kid : "");
	if (result)
		snprintf(res, sizeof(res), "\"%s\"", strerror(-result));
	else
		snprintf(res, sizeof(res), "\"ok\"");
	sodium_bin2hex(prev, sizeof(prev), v->audit_mac, MAC_BYTES);
	n = snprintf(line, sizeof(line),
		     "{\"time\":\"%s\",\"op\":\"%s\",\"kid\":%s%s%s,"
		     "\"caller\":\"%s\",\"result\":%s,\"prev\":\"%s\"",
		     tm, op, kid ? "\"" : "", kid ? ekid : "null",
		     kid ? "\"" : "", who, res, prev);
	if (n < 0 || (size_t)n >= sizeof(line) - 100)
		return -ENAMETOOLONG;
	if ((r = audit_key(v, key)))
		return r;
	audit_mac(key, v->audit_mac, line, (size_t)n, m);
	sodium_memzero(key, sizeof(key));
	sodium_bin2hex(mac, sizeof(mac), m, MAC_BYTES);
	n += snprintf(line + n, sizeof(line) - (size_t)n, ",\"mac\":\"%s\"}\n",
		      mac);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	r = io_write_all(fd, line, (size_t)n);
	if (!r && fsync(fd))
		r = -errno;
	close(fd);
	if (r)
		return r;
	memcpy(v->audit_mac, m, MAC_BYTES);
	v->audit_count++;
	return 0;
}

/* Begin a change: lock and reload. */
static int change_begin(struct vault *v)
{
	int r = lock_vault(v);

	if (r)
		return r;
	r = meta_load(v);
	if (r)
		unlock_vault(v);
	return r;
}

/* End a change: on failure forget it; audit; save; unlock. */
static int change_end(struct vault *v, const char *op, const char *kid,
		      int result)
{
	int r;

	if (result)
		meta_load(v);
	r = audit_append(v, op, kid, result);
	if (!r)
		r = meta_save(v);
	unlock_vault(v);
	return result ? result : r;
}

int vault_audit(struct vault *v, const char *op, const char *kid, int result)
{
	int r = change_begin(v);

	if (r)
		return r;
	r = audit_append(v, op, kid, result);
	if (!r)
		r = meta_save(v);
	unlock_vault(v);
	return r;
}

/* ---- open, init ---- */

static int check_mode(struct vault *v, const char *path, int want_dir)
{
	struct stat st;

	snprintf(v->last_path, sizeof(v->last_path), "%s", path);
	if (stat(path, &st))
		return -errno;
	if (want_dir && !S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if (st.st_mode & 077)
		return -EPERM;
	return 0;
}

static int keyfile_path(const char *dir, const struct vault_unlock *u,
			char *buf, size_t len)
{
	char tmp[PATH_MAX];
	size_t l;
	int n;

	if (u && u->keyfile) {
		n = snprintf(buf, len, "%s", u->keyfile);
	} else {
		snprintf(tmp, sizeof(tmp), "%s", dir);
		l = strlen(tmp);
		while (l > 1 && tmp[l - 1] == '/')
			tmp[--l] = '\0';
		n = snprintf(buf, len, "%s.key", tmp);
	}
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int read_passphrase(const char *file, struct secbuf **out)
{
	char *text = NULL;
	size_t len;
	int r = io_read_file(file, 4096, &text, &len);

	if (r)
		return r;
	if (len && text[len - 1] == '\n')
		len--;
	if (len && text[len - 1] == '\r')
		len--;
	*out = secbuf_from(text, len ? len : 1);
	if (*out && !len)
		secbuf_data(*out)[0] = 0;
	secmem_wipe(text, len);
	free(text);
	return *out ? 0 : -ENOMEM;
}

/* Derive or read the master key into v->mk. */
static int get_master(struct vault *v, const struct vault_unlock *u,
		      int creating)
{
	char path[PATH_MAX];
	struct secbuf *pw = NULL;
	int r;

	v->mk = secbuf_new(MK_BYTES);
	if (!v->mk)
		return -ENOMEM;
	if (v->kdf_argon) {
		if (!u || !u->passphrase_file) {
			snprintf(v->last_path, sizeof(v->last_path),
				 "passphrase");
			return -EACCES;
		}
		snprintf(v->last_path, sizeof(v->last_path), "%s",
			 u->passphrase_file);
		if ((r = read_passphrase(u->passphrase_file, &pw)))
			return r;
		r = crypto_pwhash(secbuf_data(v->mk), MK_BYTES,
				  (const char *)secbuf_data(pw),
				  secbuf_len(pw), v->salt, v->ops,
				  (size_t)v->mem, crypto_pwhash_ALG_ARGON2ID13);
		secbuf_free(pw);
		return r ? -ENOMEM : 0;
	}
	if ((r = keyfile_path(v->dir, u, path, sizeof(path))))
		return r;
	snprintf(v->last_path, sizeof(v->last_path), "%s", path);
	if (creating) {
		rng_bytes(secbuf_data(v->mk), MK_BYTES);
		return io_write_atomic(path, secbuf_data(v->mk), MK_BYTES,
				       0600);
	}
	{
		char *text = NULL;
		size_t len;

		if ((r = check_mode(v, path, 0)))
			return r;
		r = io_read_file(path, 4096, &text, &len);
		if (r)
			return r;
		if (len != MK_BYTES) {
			secmem_wipe(text, len);
			free(text);
			return -EACCES;
		}
		memcpy(secbuf_data(v->mk), text, MK_BYTES);
		secmem_wipe(text, len);
		free(text);
	}
	return 0;
}

static struct vault *vault_alloc(const char *dir)
{
	struct vault *v = calloc(1, sizeof(*v));
	size_t l;

	if (!v)
		return NULL;
	snprintf(v->dir, sizeof(v->dir), "%s", dir);
	l = strlen(v->dir);
	while (l > 1 && v->dir[l - 1] == '/')
		v->dir[--l] = '\0';
	v->lockfd = -1;
	v->purge_protection = 1;
	v->retention_days = VAULT_RETENTION_DAYS;
	return v;
}

static int check_verifier(struct vault *v)
{
	uint8_t bin[sizeof(v->verifier) / 2];
	size_t got = 0;
	struct secbuf *s = NULL;
	int r;

	if (sodium_hex2bin(bin, sizeof(bin), v->verifier, strlen(v->verifier),
			   NULL, &got, NULL))
		return -EBADMSG;
	r = unseal_buf(v, bin, got, VERIFIER_AD, &s);
	secbuf_free(s);
	return r == -EBADMSG ? -EACCES : r;
}

static int add_platform(struct vault *v, char *kid, size_t len)
{
	char path[PATH_MAX], k[VAULT_KID_MAX + 1];
	struct vplat *p = grow(v->plat, v->nplat, sizeof(*p));
	uint8_t key[32];
	int r;

	if (!p)
		return -ENOMEM;
	v->plat = p;
	p += v->nplat;
	new_version(p->ver);
	p->created = time(NULL);
	kid_of(v, NULL, p->ver, k, sizeof(k));
	if ((r = sealed_path(v, NULL, p->ver, path, sizeof(path))))
		return r;
	rng_bytes(key, sizeof(key));
	r = seal_file(v, path, k, key, sizeof(key));
	sodium_memzero(key, sizeof(key));
	if (r)
		return r;
	v->nplat++;
	if (kid)
		snprintf(kid, len, "%s", k);
	return 0;
}

int vault_init(const char *dir, const char *name,
	       const struct vault_unlock *u)
{
	struct vault *v;
	char path[PATH_MAX], kid[VAULT_KID_MAX + 1];
	uint8_t ver[NONCE_BYTES + 32 + ABYTES], zero[32] = { 0 };
	int r;

	if (!name)
		name = "default";
	if (!kid_valid_vault_name(name))
		return -EINVAL;
	if (!(v = vault_alloc(dir)))
		return -ENOMEM;
	snprintf(v->name, sizeof(v->name), "%s", name);
	r = -EEXIST;
	if (path_in(v, META_FILE, path, sizeof(path)) == 0 &&
	    access(path, F_OK) == 0)
		goto out;
	snprintf(path, sizeof(path), "%s", v->dir);
	if (strrchr(path, '/') && strrchr(path, '/') != path) {
		*strrchr(path, '/') = '\0';
		if ((r = io_mkdirs(path, 0755)))
			goto out;
	}
	if (mkdir(v->dir, 0700) && errno != EEXIST) {
		r = -errno;
		goto out;
	}
	if ((r = check_mode(v, v->dir, 1)))
		goto out;
	snprintf(path, sizeof(path), "%s/keys", v->dir);
	if (mkdir(path, 0700) && errno != EEXIST) {
		r = -errno;
		goto out;
	}
	snprintf(path, sizeof(path), "%s/platform", v->dir);
	if (mkdir(path, 0700) && errno != EEXIST) {
		r = -errno;
		goto out;
	}
	if (u && u->passphrase_file) {
		v->kdf_argon = 1;
		rng_bytes(v->salt, sizeof(v->salt));
		v->ops = crypto_pwhash_OPSLIMIT_INTERACTIVE;
		v->mem = crypto_pwhash_MEMLIMIT_INTERACTIVE;
	}
	if ((r = get_master(v, u, 1)))
		goto out;
	rng_bytes(ver, NONCE_BYTES);
	crypto_aead_xchacha20poly1305_ietf_encrypt(
		ver + NONCE_BYTES, NULL, zero, sizeof(zero),
		(const uint8_t *)VERIFIER_AD, strlen(VERIFIER_AD), NULL, ver,
		secbuf_data(v->mk));
	sodium_bin2hex(v->verifier, sizeof(v->verifier), ver, sizeof(ver));
	if ((r = lock_vault(v)))
		goto out;
	r = add_platform(v, kid, sizeof(kid));
	if (!r)
		r = audit_append(v, "init", kid, 0);
	if (!r)
		r = meta_save(v);
	unlock_vault(v);
out:
	vault_close(v);
	return r;
}

static __thread char open_path[PATH_MAX];

const char *vault_open_path(void)
{
	return open_path;
}

int vault_open(struct vault **out, const char *dir,
	       const struct vault_unlock *u)
{
	struct vault *v = vault_alloc(dir);
	char path[PATH_MAX];
	int r;

	if (!v)
		return -ENOMEM;
	if ((r = check_mode(v, v->dir, 1)))
		goto fail;
	if ((r = path_in(v, META_FILE, path, sizeof(path))) ||
	    (r = check_mode(v, path, 0)))
		goto fail;
	if ((r = meta_load(v)))
		goto fail;
	if ((r = get_master(v, u, 0)))
		goto fail;
	if ((r = check_verifier(v))) {
		snprintf(v->last_path, sizeof(v->last_path), "%s", v->dir);
		goto fail;
	}
	v->last_path[0] = '\0';
	*out = v;
	return 0;
fail:
	snprintf(open_path, sizeof(open_path), "%s", v->last_path);
	vault_close(v);
	return r;
}

void vault_close(struct vault *v)
{
	if (!v)
		return;
	unlock_vault(v);
	meta_clear(v);
	secbuf_free(v->mk);
	sodium_memzero(v, sizeof(*v));
	free(v);
}

const char *vault_name(const struct vault *v)
{
	return v->name;
}

const char *vault_dir(const struct vault *v)
{
	return v->dir;
}

const char *vault_last_path(const struct vault *v)
{
	return v->last_path;
}

/* ---- states ---- */

const char *key_state_name(enum key_state s)
{
	static const char *const n[] = {
		"usable", "disabled", "expired", "not-yet-valid", "deleted",
		"missing",
	};

	return (unsigned)s < sizeof(n) / sizeof(n[0]) ? n[s] : "missing";
}

int key_state_errno(enum key_state s)
{
	switch (s) {
	case KEY_USABLE:
		return 0;
	case KEY_DISABLED:
	case KEY_DELETED:
		return -EKEYREVOKED;
	case KEY_EXPIRED:
	case KEY_NOT_YET_VALID:
		return -EKEYEXPIRED;
	default:
		return -ENOKEY;
	}
}

static enum key_state ver_state(struct vkey *k, struct vver *x, time_t now)
{
	if (k->deleted)
		return KEY_DELETED;
	if (!k->enabled || !x->enabled)
		return KEY_DISABLED;
	if (x->exp && x->exp <= now)
		return KEY_EXPIRED;
	if (x->nbf && x->nbf > now)
		return KEY_NOT_YET_VALID;
	return KEY_USABLE;
}

static enum key_state state_loaded(struct vault *v, const struct kid *k,
				   time_t now)
{
	struct vkey *key;
	struct vver *x;

	if (strcmp(k->vault, v->name))
		return KEY_MISSING;
	if (k->platform)
		return find_plat(v, k->version) ? KEY_USABLE : KEY_MISSING;
	key = find_key(v, k->name);
	x = find_ver(v, k->name, k->version);
	if (!key || !x)
		return KEY_MISSING;
	return ver_state(key, x, now ? now : time(NULL));
}

enum key_state vault_key_state(struct vault *v, const char *kid, time_t now)
{
	struct kid k;

	if (kid_parse(kid, &k) || meta_load(v))
		return KEY_MISSING;
	return state_loaded(v, &k, now);
}

int vault_resolve(struct vault *v, const char *ref, char *kid, size_t len)
{
	char name[KID_NAME_MAX + 1], ver[KID_VERSION_LEN + 1];
	struct kid k;
	struct vver *x;
	int r;

	if ((r = meta_load(v)))
		return r;
	if (!strcmp(ref, "platform")) {
		if (!v->nplat)
			return -ENOKEY;
		kid_of(v, NULL, v->plat[v->nplat - 1].ver, kid, len);
		return 0;
	}
	if (!strncmp(ref, "vault://", 8)) {
		if (kid_parse(ref, &k))
			return -EINVAL;
		if (strcmp(k.vault, v->name))
			return -EXDEV;
		if (state_loaded(v, &k, 0) == KEY_MISSING)
			return -ENOKEY;
		snprintf(kid, len, "%s", ref);
		return 0;
	}
	if (kid_split_ref(ref, name, ver))
		return -EINVAL;
	if (!find_key(v, name))
		return -ENOKEY;
	x = *ver ? find_ver(v, name, ver) : newest_ver(v, name);
	if (!x)
		return -ENOKEY;
	kid_of(v, name, x->ver, kid, len);
	return 0;
}

/* ---- wrap, unwrap ---- */

static int load_rsa(struct vault *v, const struct kid *k, EVP_PKEY **out)
{
	char path[PATH_MAX], kid[VAULT_KID_MAX + 1];
	struct secbuf *der = NULL;
	const unsigned char *p;
	EVP_PKEY *pk;
	int r;

	kid_of(v, k->name, k->version, kid, sizeof(kid));
	if ((r = sealed_path(v, k->name, k->version, path, sizeof(path))))
		return r;
	if ((r = unseal_file(v, path, kid, &der)))
		return r;
	p = secbuf_data(der);
	pk = d2i_AutoPrivateKey(NULL, &p, (long)secbuf_len(der));
	secbuf_free(der);
	if (!pk)
		return -EBADMSG;
	*out = pk;
	return 0;
}

static int load_plat(struct vault *v, const struct kid *k,
		     struct secbuf **out)
{
	char path[PATH_MAX], kid[VAULT_KID_MAX + 1];
	int r;

	kid_of(v, NULL, k->version, kid, sizeof(kid));
	if ((r = sealed_path(v, NULL, k->version, path, sizeof(path))))
		return r;
	r = unseal_file(v, path, kid, out);
	if (!r && secbuf_len(*out) != 32) {
		secbuf_free(*out);
		return -EBADMSG;
	}
	return r;
}

int vault_kwp(int enc, const uint8_t key[32], const uint8_t *in,
	      size_t inlen, uint8_t *out, size_t *outlen)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n = 0, f = 0, r = -EBADMSG;

	if (!c)
		return -ENOMEM;
	EVP_CIPHER_CTX_set_flags(c, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
	if (EVP_CipherInit_ex(c, EVP_aes_256_wrap_pad(), NULL, key, NULL,
			      enc) != 1)
		goto out;
	if (EVP_CipherUpdate(c, out, &n, in, (int)inlen) != 1 || n < 0)
		goto out;
	if (EVP_CipherFinal_ex(c, out + n, &f) != 1)
		goto out;
	*outlen = (size_t)n + (size_t)f;
	r = 0;
out:
	EVP_CIPHER_CTX_free(c);
	return r;
}

static int rsa_ctx(EVP_PKEY *pk, int enc, EVP_PKEY_CTX **out)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(pk, NULL);

	if (!c)
		return -ENOMEM;
	if ((enc ? EVP_PKEY_encrypt_init(c) : EVP_PKEY_decrypt_init(c)) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_OAEP_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md(c, EVP_sha256()) != 1 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(c, EVP_sha256()) != 1) {
		EVP_PKEY_CTX_free(c);
		return -EBADMSG;
	}
	*out = c;
	return 0;
}

static int do_wrap(struct vault *v, const struct kid *k,
		   const struct secbuf *dek, struct env_layer *out)
{
	size_t len = sizeof(out->wrapped);
	enum key_state s = state_loaded(v, k, 0);
	int r;

	if (strcmp(k->vault, v->name))
		return -EXDEV;
	if (s != KEY_USABLE)
		return key_state_errno(s);
	if (k->platform) {
		struct secbuf *key = NULL;

		if ((r = load_plat(v, k, &key)))
			return r;
		if (secbuf_len(dek) + 8 + 8 > len)
			r = -EINVAL;
		else
			r = vault_kwp(1, secbuf_data(key), secbuf_data(dek),
				      secbuf_len(dek), out->wrapped, &len);
		secbuf_free(key);
		out->key_source = ENV_KEY_PLATFORM;
		out->wrap_alg = ENV_WRAP_AES_KWP;
	} else {
		EVP_PKEY *pk = NULL;
		EVP_PKEY_CTX *c = NULL;

		if ((r = load_rsa(v, k, &pk)))
			return r;
		r = rsa_ctx(pk, 1, &c);
		if (!r && EVP_PKEY_encrypt(c, out->wrapped, &len,
					   secbuf_data(dek),
					   secbuf_len(dek)) != 1)
			r = -EINVAL;
		EVP_PKEY_CTX_free(c);
		EVP_PKEY_free(pk);
		out->key_source = ENV_KEY_CUSTOMER;
		out->wrap_alg = ENV_WRAP_RSA_OAEP_256;
	}
	if (r)
		return r;
	out->wrapped_len = (uint16_t)len;
	return kid_format(k, out->kid, sizeof(out->kid));
}

int vault_wrap(struct vault *v, const char *kid, const struct secbuf *dek,
	       struct env_layer *out)
{
	struct kid k;
	int r = change_begin(v);

	if (r)
		return r;
	r = kid_parse(kid, &k) ? -EINVAL : do_wrap(v, &k, dek, out);
	return change_end(v, "wrap", kid, r);
}

static int do_unwrap(struct vault *v, const struct kid *k,
		     const struct env_layer *in, struct secbuf **dek)
{
	enum key_state s;
	struct secbuf *d = NULL;
	size_t len = in->wrapped_len;
	int r;

	if (strcmp(k->vault, v->name))
		return -EXDEV;
	s = state_loaded(v, k, 0);
	if (s != KEY_USABLE)
		return key_state_errno(s);
	if (len > sizeof(in->wrapped) || len < 16)
		return -EBADMSG;
	if (!(d = secbuf_new(len)))
		return -ENOMEM;
	if (k->platform) {
		struct secbuf *key = NULL;

		if (!(r = load_plat(v, k, &key)))
			r = vault_kwp(0, secbuf_data(key), in->wrapped, len,
				      secbuf_data(d), &len);
		secbuf_free(key);
	} else {
		EVP_PKEY *pk = NULL;
		EVP_PKEY_CTX *c = NULL;

		if (!(r = load_rsa(v, k, &pk)))
			r = rsa_ctx(pk, 0, &c);
		if (!r && EVP_PKEY_decrypt(c, secbuf_data(d), &len,
					   in->wrapped, in->wrapped_len) != 1)
			r = -EBADMSG;
		EVP_PKEY_CTX_free(c);
		EVP_PKEY_free(pk);
	}
	if (!r) {
		*dek = secbuf_from(secbuf_data(d), len);
		if (!*dek)
			r = -ENOMEM;
	}
	secbuf_free(d);
	return r;
}

int vault_unwrap(struct vault *v, const struct env_layer *in,
		 struct secbuf **dek)
{
	struct kid k;
	int r = change_begin(v);

	if (r)
		return r == -ENOENT ? -EIO : r;
	r = kid_parse(in->kid, &k) ? -ENOKEY : do_unwrap(v, &k, in, dek);
	return change_end(v, "unwrap", in->kid, r);
}

static int ops_unwrap(void *ctx, const struct env_layer *layer,
		      struct secbuf **dek)
{
	return vault_unwrap(ctx, layer, dek);
}

static int ops_wrap(void *ctx, const char *kid, const struct secbuf *dek,
		    struct env_layer *layer)
{
	return vault_wrap(ctx, kid, dek, layer);
}

void vault_keyops(struct vault *v, struct keyops *ops)
{
	ops->ctx = v;
	ops->wrap = ops_wrap;
	ops->unwrap = ops_unwrap;
}

/* ---- disks ---- */

int vault_disk_put(struct vault *v, const struct vault_disk *d)
{
	size_t i;
	int r = change_begin(v);

	if (r)
		return r;
	for (i = 0; i < v->ndisks; i++)
		if (!strcmp(v->disks[i].uuid, d->uuid))
			break;
	if (i == v->ndisks) {
		struct vault_disk *n = grow(v->disks, v->ndisks, sizeof(*n));

		if (!n)
			return change_end(v, "disk-put", d->kid, -ENOMEM);
		v->disks = n;
		v->ndisks++;
	}
	v->disks[i] = *d;
	return change_end(v, "disk-put", d->kid[0] ? d->kid : NULL, 0);
}

int vault_disk_del(struct vault *v, const char *uuid)
{
	size_t i;
	int r = change_begin(v);

	if (r)
		return r;
	for (i = 0; i < v->ndisks; i++)
		if (!strcmp(v->disks[i].uuid, uuid))
			break;
	if (i == v->ndisks)
		return change_end(v, "disk-del", NULL, -ENOENT);
	memmove(&v->disks[i], &v->disks[i + 1],
		(v->ndisks - i - 1) * sizeof(v->disks[0]));
	v->ndisks--;
	return change_end(v, "disk-del", NULL, 0);
}

int vault_disk_list(struct vault *v, struct vault_disk **out, size_t *n)
{
	int r = meta_load(v);

	if (r)
		return r;
	*out = malloc((v->ndisks + 1) * sizeof(**out));
	if (!*out)
		return -ENOMEM;
	if (v->ndisks)
		memcpy(*out, v->disks, v->ndisks * sizeof(**out));
	*n = v->ndisks;
	return 0;
}

/* ---- keys ---- */

static int store_rsa(struct vault *v, const char *name, const char *ver,
		     EVP_PKEY *pk)
{
	char path[PATH_MAX], kid[VAULT_KID_MAX + 1];
	unsigned char *der = NULL;
	int len, r;

	len = i2d_PrivateKey(pk, &der);
	if (len <= 0)
		return -ENOMEM;
	kid_of(v, name, ver, kid, sizeof(kid));
	r = sealed_path(v, name, ver, path, sizeof(path));
	if (!r)
		r = seal_file(v, path, kid, der, (size_t)len);
	OPENSSL_clear_free(der, (size_t)len);
	return r;
}

static int add_version(struct vault *v, const char *name, EVP_PKEY *pk,
		       time_t nbf, time_t exp, char *kid, size_t len)
{
	struct vver *x = grow(v->vers, v->nvers, sizeof(*x));
	EVP_PKEY *gen = NULL;
	int r;

	if (!x)
		return -ENOMEM;
	v->vers = x;
	x += v->nvers;
	memset(x, 0, sizeof(*x));
	snprintf(x->name, sizeof(x->name), "%s", name);
	new_version(x->ver);
	x->enabled = 1;
	x->nbf = nbf;
	x->exp = exp;
	x->created = x->updated = time(NULL);
	if (!pk) {
		gen = EVP_PKEY_Q_keygen(NULL, NULL, "RSA",
					(size_t)find_key(v, name)->bits);
		if (!gen)
			return -ENOMEM;
		pk = gen;
	}
	r = store_rsa(v, name, x->ver, pk);
	EVP_PKEY_free(gen);
	if (r)
		return r;
	v->nvers++;
	if (kid)
		kid_of(v, name, x->ver, kid, len);
	return 0;
}

static int new_key(struct vault *v, const char *name, unsigned int bits,
		   EVP_PKEY *pk, time_t nbf, time_t exp, char *kid,
		   size_t len)
{
	struct vkey *k;

	if (!kid_valid_key_name(name))
		return -EINVAL;
	if (bits != 2048 && bits != 3072 && bits != 4096)
		return -EPROTONOSUPPORT;
	if (find_key(v, name))
		return -EEXIST;
	k = grow(v->keys, v->nkeys, sizeof(*k));
	if (!k)
		return -ENOMEM;
	v->keys = k;
	k += v->nkeys++;
	memset(k, 0, sizeof(*k));
	snprintf(k->name, sizeof(k->name), "%s", name);
	k->enabled = 1;
	k->created = time(NULL);
	k->bits = bits;
	return add_version(v, name, pk, nbf, exp, kid, len);
}

int vault_key_create(struct vault *v, const char *name, unsigned int bits,
		     time_t not_before, time_t expires, char *kid, size_t len)
{
	int r = change_begin(v);

	if (r)
		return r;
	r = new_key(v, name, bits, NULL, not_before, expires, kid, len);
	return change_end(v, "create", r ? NULL : kid, r);
}

static int no_prompt(char *buf, int size, int rw, void *u)
{
	(void)buf;
	(void)size;
	(void)rw;
	(void)u;
	return -1;
}

int vault_key_import(struct vault *v, const char *name, const char *pem,
		     size_t pemlen, char *kid, size_t len)
{
	BIO *b = BIO_new_mem_buf(pem, (int)pemlen);
	EVP_PKEY *pk = NULL;
	int bits, r;

	if (!b)
		return -ENOMEM;
	pk = PEM_read_bio_PrivateKey(b, NULL, no_prompt, NULL);
	BIO_free(b);
	if (!pk)
		return -EBADMSG;
	if (EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA) {
		EVP_PKEY_free(pk);
		return -EPROTONOSUPPORT;
	}
	bits = EVP_PKEY_get_bits(pk);
	if ((r = change_begin(v))) {
		EVP_PKEY_free(pk);
		return r;
	}
	r = new_key(v, name, (unsigned)bits, pk, 0, 0, kid, len);
	EVP_PKEY_free(pk);
	return change_end(v, "import", r ? NULL : kid, r);
}

int vault_key_rotate(struct vault *v, const char *name, char *kid, size_t len)
{
	struct vkey *k;
	int r = change_begin(v);

	if (r)
		return r;
	k = find_key(v, name);
	if (!k)
		r = -ENOKEY;
	else if (k->deleted)
		r = -EKEYREVOKED;
	else
		r = add_version(v, name, NULL, 0, 0, kid, len);
	return change_end(v, "rotate", r ? NULL : kid, r);
}

static void apply_update(struct vver *x, const struct vault_key_update *u)
{
	if (u->set_enabled)
		x->enabled = u->enabled;
	if (u->set_expires)
		x->exp = u->expires;
	if (u->set_not_before)
		x->nbf = u->not_before;
	x->updated = time(NULL);
}

int vault_key_set(struct vault *v, const char *ref,
		  const struct vault_key_update *u)
{
	char name[KID_NAME_MAX + 1], ver[KID_VERSION_LEN + 1];
	char kid[VAULT_KID_MAX + 1] = "";
	struct vkey *k;
	struct vver *x;
	size_t i;
	int r = change_begin(v);

	if (r)
		return r;
	if (kid_split_ref(ref, name, ver)) {
		r = -EINVAL;
		goto out;
	}
	if (!(k = find_key(v, name))) {
		r = -ENOKEY;
		goto out;
	}
	if (*ver) {
		if (!(x = find_ver(v, name, ver))) {
			r = -ENOKEY;
			goto out;
		}
		apply_update(x, u);
		kid_of(v, name, ver, kid, sizeof(kid));
		goto out;
	}
	if (u->set_enabled)
		k->enabled = u->enabled;
	for (i = 0; i < v->nvers; i++) {
		if (strcmp(v->vers[i].name, name))
			continue;
		if (u->set_enabled) {
			/* the key as a whole: all versions follow */
			v->vers[i].enabled = u->enabled;
		}
		apply_update(&v->vers[i], u);
	}
	if ((x = newest_ver(v, name)))
		kid_of(v, name, x->ver, kid, sizeof(kid));
out:
	return change_end(v, "set", *kid ? kid : NULL, r);
}

static int key_named(struct vault *v, const char *name, struct vkey **out,
		     char *kid, size_t len)
{
	struct vver *x;

	if (!(*out = find_key(v, name)))
		return -ENOKEY;
	if ((x = newest_ver(v, name)))
		kid_of(v, name, x->ver, kid, len);
	return 0;
}

int vault_key_delete(struct vault *v, const char *name)
{
	char kid[VAULT_KID_MAX + 1] = "";
	struct vkey *k;
	int r = change_begin(v);

	if (r)
		return r;
	if (!(r = key_named(v, name, &k, kid, sizeof(kid)))) {
		if (k->deleted) {
			r = -ENOKEY;
		} else {
			k->deleted = 1;
			k->deleted_at = time(NULL);
		}
	}
	return change_end(v, "delete", *kid ? kid : NULL, r);
}

int vault_key_recover(struct vault *v, const char *name)
{
	char kid[VAULT_KID_MAX + 1] = "";
	struct vkey *k;
	int r = change_begin(v);

	if (r)
		return r;
	if (!(r = key_named(v, name, &k, kid, sizeof(kid)))) {
		if (!k->deleted) {
			r = -EINVAL;
		} else {
			k->deleted = 0;
			k->deleted_at = 0;
		}
	}
	return change_end(v, "recover", *kid ? kid : NULL, r);
}

int vault_key_purge(struct vault *v, const char *name)
{
	char kid[VAULT_KID_MAX + 1] = "", path[PATH_MAX];
	struct vkey *k;
	size_t i, j;
	int r = change_begin(v);

	if (r)
		return r;
	if ((r = key_named(v, name, &k, kid, sizeof(kid))))
		goto out;
	if (!k->deleted) {
		r = -EINVAL;
		goto out;
	}
	if (v->purge_protection &&
	    time(NULL) < k->deleted_at + (long long)v->retention_days * 86400) {
		r = -EPERM;
		goto out;
	}
	for (i = j = 0; i < v->nvers; i++) {
		if (strcmp(v->vers[i].name, name)) {
			v->vers[j++] = v->vers[i];
			continue;
		}
		if (!sealed_path(v, name, v->vers[i].ver, path, sizeof(path)))
			unlink(path);
	}
	v->nvers = j;
	i = (size_t)(k - v->keys);
	memmove(k, k + 1, (v->nkeys - i - 1) * sizeof(*k));
	v->nkeys--;
out:
	return change_end(v, "purge", *kid ? kid : NULL, r);
}

int vault_key_policy(struct vault *v, const char *name,
		     unsigned long long rotate_after,
		     unsigned long long notify_before)
{
	char kid[VAULT_KID_MAX + 1] = "";
	struct vkey *k;
	int r = change_begin(v);

	if (r)
		return r;
	if (!(r = key_named(v, name, &k, kid, sizeof(kid)))) {
		if (rotate_after != (unsigned long long)-1)
			k->rotate_after = rotate_after;
		if (notify_before != (unsigned long long)-1)
			k->notify_before = notify_before;
	}
	return change_end(v, "policy", *kid ? kid : NULL, r);
}

static int fill_info(struct vault *v, struct vkey *k,
		     struct vault_key_info *out, time_t now)
{
	size_t i, n = 0;

	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", k->name);
	out->enabled = k->enabled;
	out->deleted = k->deleted;
	out->deleted_date = k->deleted ? k->deleted_at : 0;
	out->purge_date = k->deleted ? k->deleted_at +
			  (long long)v->retention_days * 86400 : 0;
	out->created = k->created;
	out->size = k->bits;
	out->rotate_after = k->rotate_after;
	out->notify_before = k->notify_before;
	out->versions = calloc(v->nvers + 1, sizeof(*out->versions));
	if (!out->versions)
		return -ENOMEM;
	for (i = 0; i < v->nvers; i++) {
		struct vver *x = &v->vers[i];
		struct vault_key_version *o = &out->versions[n];

		if (strcmp(x->name, k->name))
			continue;
		snprintf(o->version, sizeof(o->version), "%s", x->ver);
		kid_of(v, k->name, x->ver, o->kid, sizeof(o->kid));
		o->enabled = x->enabled;
		o->not_before = x->nbf;
		o->expires = x->exp;
		o->created = x->created;
		o->updated = x->updated;
		o->state = ver_state(k, x, now);
		n++;
	}
	out->nversions = n;
	return 0;
}

int vault_key_get(struct vault *v, const char *name,
		  struct vault_key_info *out)
{
	struct vkey *k;
	int r = meta_load(v);

	if (r)
		return r;
	if (!(k = find_key(v, name)))
		return -ENOKEY;
	return fill_info(v, k, out, time(NULL));
}

void vault_key_info_free(struct vault_key_info *k)
{
	if (k) {
		free(k->versions);
		k->versions = NULL;
	}
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct vault_key_info *)a)->name,
		      ((const struct vault_key_info *)b)->name);
}

int vault_key_list(struct vault *v, struct vault_key_info **out, size_t *n)
{
	struct vault_key_info *arr;
	size_t i;
	int r = meta_load(v);

	if (r)
		return r;
	arr = calloc(v->nkeys + 1, sizeof(*arr));
	if (!arr)
		return -ENOMEM;
	for (i = 0; i < v->nkeys; i++) {
		if ((r = fill_info(v, &v->keys[i], &arr[i], time(NULL)))) {
			vault_key_list_free(arr, i);
			return r;
		}
	}
	qsort(arr, v->nkeys, sizeof(*arr), by_name);
	*out = arr;
	*n = v->nkeys;
	return 0;
}

void vault_key_list_free(struct vault_key_info *k, size_t n)
{
	size_t i;

	if (!k)
		return;
	for (i = 0; i < n; i++)
		vault_key_info_free(&k[i]);
	free(k);
}

/* ---- vault-wide ---- */

int vault_rotate_platform(struct vault *v, char *kid, size_t len)
{
	int r = change_begin(v);

	if (r)
		return r;
	r = add_platform(v, kid, len);
	return change_end(v, "rotate-platform-key", r ? NULL : kid, r);
}

int vault_get_settings(struct vault *v, struct vault_settings *s)
{
	int r = meta_load(v);

	if (r)
		return r;
	s->purge_protection = v->purge_protection;
	s->retention_days = v->retention_days;
	return 0;
}

int vault_set_settings(struct vault *v, int purge_protection,
		       int retention_days)
{
	int r;

	if (retention_days >= 0 && (retention_days < 7 || retention_days > 90))
		return -EINVAL;
	if ((r = change_begin(v)))
		return r;
	if (purge_protection >= 0)
		v->purge_protection = !!purge_protection;
	if (retention_days >= 0)
		v->retention_days = (unsigned)retention_days;
	return change_end(v, "set", NULL, 0);
}

/* Copy regular files of @from into the new directory @to, recursively. */
static int copy_tree(const char *from, const char *to)
{
	char a[PATH_MAX], b[PATH_MAX], *buf;
	struct dirent *e;
	struct stat st;
	size_t len;
	DIR *d;
	int r = 0;

	if (mkdir(to, 0700))
		return -errno;
	if (!(d = opendir(from)))
		return -errno;
	while (!r && (e = readdir(d))) {
		if (e->d_name[0] == '.' || !strcmp(e->d_name, LOCK_FILE))
			continue;
		snprintf(a, sizeof(a), "%s/%s", from, e->d_name);
		snprintf(b, sizeof(b), "%s/%s", to, e->d_name);
		if (lstat(a, &st)) {
			r = -errno;
		} else if (S_ISDIR(st.st_mode)) {
			r = copy_tree(a, b);
		} else if (S_ISREG(st.st_mode)) {
			r = io_read_file(a, 1u << 30, &buf, &len);
			if (!r) {
				r = io_write_atomic(b, buf, len, 0600);
				free(buf);
			}
		}
	}
	closedir(d);
	return r;
}

int vault_backup(struct vault *v, const char *dest)
{
	int r = change_begin(v);

	if (r)
		return r;
	/* audit first so the copy holds a consistent chain */
	r = audit_append(v, "backup", NULL, 0);
	if (!r)
		r = meta_save(v);
	if (!r)
		r = copy_tree(v->dir, dest);
	unlock_vault(v);
	return r;
}

int vault_restore(const char *src, const char *dir)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", src, META_FILE);
	if (stat(path, &st))
		return -errno;
	if (stat(dir, &st) == 0)
		return -EEXIST;
	return copy_tree(src, dir);
}

int vault_audit_files(struct vault *v, char ***files, size_t *n)
{
	char path[PATH_MAX], **arr = NULL;
	size_t cnt = 0, i;
	int k;

	for (k = 1;; k++) {
		snprintf(path, sizeof(path), "%s/%s.%d", v->dir, AUDIT_FILE,
			 k);
		if (access(path, F_OK))
			break;
	}
	arr = calloc((size_t)k + 1, sizeof(*arr));
	if (!arr)
		return -ENOMEM;
	for (k--; k >= 0; k--) {
		if (k)
			snprintf(path, sizeof(path), "%s/%s.%d", v->dir,
				 AUDIT_FILE, k);
		else
			snprintf(path, sizeof(path), "%s/%s", v->dir,
				 AUDIT_FILE);
		if (access(path, F_OK))
			continue;
		if (!(arr[cnt] = strdup(path))) {
			for (i = 0; i < cnt; i++)
				free(arr[i]);
			free(arr);
			return -ENOMEM;
		}
		cnt++;
	}
	*files = arr;
	*n = cnt;
	return 0;
}

static int verify_file(const char *path, const uint8_t key[32],
		       uint8_t prev[MAC_BYTES], unsigned long *count,
		       unsigned long *bad)
{
	char *text = NULL, *line, *next, *m;
	uint8_t got[MAC_BYTES], want[MAC_BYTES];
	unsigned long no = 0;
	size_t len;
	int r = io_read_file(path, 1u << 30, &text, &len);

	if (r)
		return r;
	for (line = text; *line; line = next) {
		next = strchr(line, '\n');
		if (!next) {
			r = -EBADMSG;	/* torn last line */
			*bad = no + 1;
			break;
		}
		*next++ = '\0';
		no++;
		m = strstr(line, ",\"mac\":\"");
		if (!m || strlen(m) != 8 + 2 * MAC_BYTES + 2 ||
		    sodium_hex2bin(got, MAC_BYTES, m + 8, 2 * MAC_BYTES, NULL,
				   NULL, NULL)) {
			r = -EBADMSG;
			*bad = no;
			break;
		}
		audit_mac(key, prev, line, (size_t)(m - line), want);
		if (sodium_memcmp(got, want, MAC_BYTES)) {
			r = -EBADMSG;
			*bad = no;
			break;
		}
		memcpy(prev, want, MAC_BYTES);
		(*count)++;
	}
	free(text);
	return r;
}

int vault_audit_verify(struct vault *v, char *bad_file, size_t len,
		       unsigned long *bad_line)
{
	uint8_t key[32], prev[MAC_BYTES] = { 0 };
	unsigned long count = 0;
	char **files = NULL;
	size_t n = 0, i;
	int r;

	if ((r = lock_vault(v)))
		return r;
	if ((r = meta_load(v)) || (r = vault_audit_files(v, &files, &n)))
		goto out;
	if ((r = audit_key(v, key)))
		goto out;
	*bad_line = 0;
	for (i = 0; i < n && !r; i++) {
		r = verify_file(files[i], key, prev, &count, bad_line);
		if (r)
			snprintf(bad_file, len, "%s", files[i]);
	}
	sodium_memzero(key, sizeof(key));
	if (!r && (count != v->audit_count ||
		   sodium_memcmp(prev, v->audit_mac, MAC_BYTES))) {
		r = -EBADMSG;
		*bad_line = 0;
		snprintf(bad_file, len, "%s/%s", v->dir, AUDIT_FILE);
	}
out:
	for (i = 0; i < n; i++)
		free(files[i]);
	free(files);
	unlock_vault(v);
	return r;
}
