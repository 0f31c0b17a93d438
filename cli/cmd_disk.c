/*
 * cmd_disk.c - `ssefs disk`: create, import, export, snapshot, show,
 * rewrap, verify
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <linux/fs.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "crypto/envelope.h"
#include "crypto/rng.h"
#include "disk/header.h"
#include "disk/keyops.h"
#include "disk/rewrap.h"
#include "disk/store.h"
#include "disk/vhd.h"
#include "disk/volume.h"
#include "keyvault/kid.h"
#include "keyvault/vault.h"
#include "util/io.h"
#include "util/json.h"
#include "util/log.h"

#define MIB		(UINT64_C(1) << 20)

/* error() and the exit code for a failure */
#define fail(...)	(error(__VA_ARGS__), EXIT_FAIL)
#define CHUNK		MIB

static const char disk_usage[] =
	"usage: ssefs disk create PATH.vhd --size SIZE [--des NAME | --key NAME] [--sector-size 512|4096]\n"
	"   or: ssefs disk import SRC PATH.vhd [--des NAME | --key NAME]\n"
	"   or: ssefs disk export PATH.vhd DEST\n"
	"   or: ssefs disk snapshot PATH.vhd DEST.vhd\n"
	"   or: ssefs disk show PATH.vhd\n"
	"   or: ssefs disk rewrap PATH.vhd\n"
	"   or: ssefs disk verify PATH.vhd";

static const char disk_help[] =
	"Encrypted disks: a backing file holding a fixed VHD encrypted with\n"
	"AES-256-XTS under a data key (DEK) wrapped by a vault key.\n"
	"\n"
	"  create PATH.vhd --size SIZE   a new thin disk; SIZE rounded up to a\n"
	"                                whole MiB; a 512-byte VHD footer follows\n"
	"      --key NAME                wrap under customer key NAME\n"
	"                                (EncryptionAtRestWithCustomerKey)\n"
	"      --des NAME                use disk encryption set NAME\n"
	"      --sector-size 512|4096    encryption sector size (4096)\n"
	"                                no --key/--des: the vault's platform key\n"
	"  import SRC PATH.vhd           a raw image (padded to a whole MiB, with\n"
	"                                a warning) or a fixed VHD (kept as is)\n"
	"  export PATH.vhd DEST          the plaintext fixed VHD, footer included\n"
	"  snapshot PATH.vhd DEST.vhd    an independent encrypted copy (reflink\n"
	"                                where possible), with a new disk id\n"
	"  show PATH.vhd                 header fields and both copies' state\n"
	"                                (no key needed; --json for JSON)\n"
	"  rewrap PATH.vhd               re-wrap under the current key versions\n"
	"  verify PATH.vhd               check both header copies, the MAC and the\n"
	"                                footer; repair a bad copy from its twin\n"
	"\n"
	"export and snapshot refuse a disk that a mount has open.\n"
	"Exit: 0 ok, 1 failure (verify: damaged), 2 usage.  See ssefs-disk(1).";

struct disk_opts {
	const char *size;
	const char *des;
	const char *key;
	const char *sector;
	const char *pos[2];
	int npos;
};

static int parse_opts(int argc, char **argv, struct disk_opts *o,
		      int want_key, int want_create)
{
	memset(o, 0, sizeof(*o));
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], **slot = NULL, *name = NULL;
		const char *eq;

		if (!strcmp(a, "--")) {
			for (i++; i < argc; i++) {
				if (o->npos >= 2)
					return cli_usage(disk_usage,
						"%s: unexpected argument", argv[i]);
				o->pos[o->npos++] = argv[i];
			}
			break;
		}
		if (a[0] != '-' || !a[1]) {
			if (o->npos >= 2)
				return cli_usage(disk_usage,
					"%s: unexpected argument", a);
			o->pos[o->npos++] = a;
			continue;
		}
		eq = strchr(a, '=');
#define OPT(n, s, ok) \
		else if (!strncmp(a, n, eq ? (size_t)(eq - a) : strlen(a)) && \
			 strlen(n) == (eq ? (size_t)(eq - a) : strlen(a))) { \
			if (!(ok)) \
				return cli_usage(disk_usage, \
					"%s: unknown option", n); \
			slot = &o->s; \
			name = n; \
		}
		if (0) {
		}
		OPT("--size", size, want_create)
		OPT("--sector-size", sector, want_create)
		OPT("--des", des, want_key)
		OPT("--key", key, want_key)
		else
			return cli_usage(disk_usage, "%.*s: unknown option",
					 eq ? (int)(eq - a) : (int)strlen(a), a);
#undef OPT
		if (eq) {
			*slot = eq + 1;
		} else {
			if (i + 1 >= argc)
				return cli_usage(disk_usage, "%s: needs a value",
						 name);
			*slot = argv[++i];
		}
	}
	if (o->des && o->key)
		return cli_usage(disk_usage,
				 "--des, --key: give one or the other");
	return 0;
}

static void uuid_str(const uint8_t u[16], char out[37])
{
	snprintf(out, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		 "%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9],
		 u[10], u[11], u[12], u[13], u[14], u[15]);
}

static void new_uuid(uint8_t u[16])
{
	rng_bytes(u, 16);
	u[6] = (u[6] & 0x0f) | 0x40;	/* version 4 */
	u[8] = (u[8] & 0x3f) | 0x80;	/* RFC 4122 variant */
}

/* Enter @path (made absolute) in the vault's registry; warn on failure. */
static void registry_put(struct vault *v, const char *path,
			 const struct env_header *h)
{
	struct vault_disk d;
	char abs[PATH_MAX];
	int r;

	memset(&d, 0, sizeof(d));
	if (!realpath(path, abs)) {
		warning("disk %s: not entered in the vault's registry: %s",
			path, strerror(errno));
		return;
	}
	uuid_str(h->uuid, d.uuid);
	snprintf(d.path, sizeof(d.path), "%s", abs);
	snprintf(d.des, sizeof(d.des), "%s", h->des);
	snprintf(d.kid, sizeof(d.kid), "%s", h->layer[0].kid);
	r = vault_disk_put(v, &d);
	if (r)
		warning("disk %s: not entered in the vault's registry: %s",
			path, cli_strerror(r));
}

/*
 * Which key wraps a new disk: --key NAME (customer), --des NAME (not yet
 * available), or the platform key.  Fills @kid and @type.
 */
static int choose_key(struct vault *v, const struct disk_opts *o,
		      char *kid, size_t len, uint32_t *type)
{
	int r;

	if (o->des)
		return fail("des %s: disk encryption sets are not available yet",
			     o->des);
	if (o->key) {
		r = vault_resolve(v, o->key, kid, len);
		if (r)
			return fail("key %s: %s", o->key, cli_strerror(r));
		*type = ENV_TYPE_CUSTOMER;
		return 0;
	}
	r = vault_resolve(v, "platform", kid, len);
	if (r)
		return fail("platform key: %s", cli_strerror(r));
	*type = ENV_TYPE_PLATFORM;
	return 0;
}

static void progress(uint64_t done, uint64_t total, int *last)
{
	int pct;

	if (!isatty(STDERR_FILENO) || !total)
		return;
	pct = (int)(done * 100 / total);
	if (pct == *last)
		return;
	*last = pct;
	fprintf(stderr, "\rimporting: %3d%%", pct);
	if (pct == 100)
		fputc('\n', stderr);
}

static int all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

/*
 * Make a new disk at @path of @plain bytes (footer included).  With @src_fd
 * >= 0 its first @copy bytes are the contents; the footer is written from
 * @footer when given.  Atomic: on failure nothing is left.
 */
static int build_disk(struct vault *v, const struct keyops *ops,
		      const char *path, const struct disk_opts *o,
		      uint64_t plain, uint32_t ss, int src_fd, uint64_t copy,
		      const uint8_t *footer)
{
	struct vol_format f;
	struct store_tmp t;
	struct volume *vol = NULL;
	struct env_header h;
	uint8_t uuid[16], foot[VHD_FOOTER_BYTES], *buf = NULL;
	char kid[VAULT_KID_MAX + 1];
	uint32_t type = 0;
	int r, vfd, last = -1;

	if (choose_key(v, o, kid, sizeof(kid), &type))
		return EXIT_FAIL;
	r = store_tmp_open(&t, path);
	if (r)
		return fail("disk %s: %s", path, r == -EEXIST ?
			     "already exists" : cli_strerror(r));
	new_uuid(uuid);
	memset(&f, 0, sizeof(f));
	f.plain_size = plain;
	f.sector_size = ss;
	f.enc_type = type;
	f.nlayers = 1;
	f.kid[0] = kid;
	f.uuid = uuid;
	r = vol_format(t.fd, &f, ops);
	if (r) {
		error("disk %s: cannot format: %s", path, cli_strerror(r));
		goto fail;
	}
	vfd = dup(t.fd);
	if (vfd < 0) {
		r = -errno;
		error("disk %s: %s", path, strerror(errno));
		goto fail;
	}
	r = vol_open_fd(&vol, vfd, path, 0, ops);
	if (r) {
		error("disk %s: cannot open: %s", path, cli_strerror(r));
		goto fail;
	}
	if (src_fd >= 0) {
		buf = malloc(CHUNK);
		if (!buf) {
			r = -ENOMEM;
			error("disk %s: %s", path, strerror(ENOMEM));
			goto fail;
		}
		for (uint64_t off = 0; off < copy; off += CHUNK) {
			size_t n = copy - off < CHUNK ? copy - off : CHUNK;
			ssize_t got = io_pread_all(src_fd, buf, n, off);

			if (got < 0 || (size_t)got != n) {
				r = got < 0 ? (int)got : -EIO;
				error("%s: read failed: %s", "import source",
				      strerror(-r));
				goto fail;
			}
			/* thin: all-zero chunks stay holes */
			if (!all_zero(buf, n)) {
				ssize_t w = vol_write(vol, buf, n, off);

				if (w < 0 || (size_t)w != n) {
					r = w < 0 ? (int)w : -EIO;
					error("disk %s: write failed: %s", path,
					      cli_strerror(r));
					goto fail;
				}
			}
			progress(off + n, copy, &last);
		}
	}
	if (!footer) {
		vhd_footer_build(foot, plain - VHD_FOOTER_BYTES, uuid,
				 time(NULL));
		footer = foot;
	}
	if (vol_write(vol, footer, VHD_FOOTER_BYTES,
		      plain - VHD_FOOTER_BYTES) != VHD_FOOTER_BYTES) {
		r = -EIO;
		error("disk %s: cannot write the footer", path);
		goto fail;
	}
	vol_get_header(vol, &h);
	r = vol_close(vol);
	vol = NULL;
	if (r) {
		error("disk %s: %s", path, cli_strerror(r));
		goto fail;
	}
	r = store_tmp_commit(&t);
	free(buf);
	if (r) {
		error("disk %s: %s", path, r == -EEXIST ?
		      "already exists" : cli_strerror(r));
		return EXIT_FAIL;
	}
	registry_put(v, path, &h);
	return EXIT_OK;
fail:
	if (vol)
		(void)vol_close(vol);
	free(buf);
	store_tmp_abort(&t);
	return EXIT_FAIL;
}

static int open_keys(struct cli_ctx *ctx, struct vault **v,
		     struct keyops *ops)
{
	if (cli_open_vault(ctx, v))
		return EXIT_FAIL;
	vault_keyops(*v, ops);
	return 0;
}

static int parse_sector(const char *s, uint32_t *ss)
{
	if (!s) {
		*ss = 4096;
		return 0;
	}
	if (!strcmp(s, "512"))
		*ss = 512;
	else if (!strcmp(s, "4096"))
		*ss = 4096;
	else
		return cli_usage(disk_usage,
				 "--sector-size: %s: must be 512 or 4096", s);
	return 0;
}

static int disk_create(int argc, char **argv, struct cli_ctx *ctx)
{
	struct disk_opts o;
	struct vault *v = NULL;
	struct keyops ops;
	uint64_t size;
	uint32_t ss = 4096;
	int r;

	r = parse_opts(argc, argv, &o, 1, 1);
	if (r)
		return r;
	if (o.npos != 1)
		return cli_usage(disk_usage, "create: needs one PATH.vhd");
	if (!o.size)
		return cli_usage(disk_usage, "create: --size is required");
	if (parse_size(o.size, &size) || size == 0 ||
	    size > (UINT64_C(1) << 50))
		return cli_usage(disk_usage, "--size: %s: not a valid size "
				 "(1 byte to 1P)", o.size);
	r = parse_sector(o.sector, &ss);
	if (r)
		return r;
	size = (size + MIB - 1) / MIB * MIB;
	if (open_keys(ctx, &v, &ops))
		return EXIT_FAIL;
	r = build_disk(v, &ops, o.pos[0], &o, size + VHD_FOOTER_BYTES, ss,
		       -1, 0, NULL);
	vault_close(v);
	return r;
}

static int disk_import(int argc, char **argv, struct cli_ctx *ctx)
{
	uint8_t foot[VHD_FOOTER_BYTES], head[VHD_FOOTER_BYTES];
	struct disk_opts o;
	struct vault *v = NULL;
	struct keyops ops;
	struct vhd_info vi;
	struct stat st;
	uint64_t plain, copy;
	const uint8_t *footer = NULL;
	int fd, r;

	r = parse_opts(argc, argv, &o, 1, 0);
	if (r)
		return r;
	if (o.npos != 2)
		return cli_usage(disk_usage, "import: needs SRC and PATH.vhd");
	fd = open(o.pos[0], O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0)
		return fail("%s: %s", o.pos[0], strerror(errno));
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		close(fd);
		return fail("%s: not a regular file", o.pos[0]);
	}
	if (st.st_size == 0) {
		close(fd);
		return fail("%s: empty image", o.pos[0]);
	}
	/* a dynamic or differencing VHD starts with a copy of its footer */
	if (st.st_size >= VHD_FOOTER_BYTES &&
	    io_pread_all(fd, head, sizeof(head), 0) == VHD_FOOTER_BYTES &&
	    vhd_footer_parse(head, &vi) == 0 && vi.type != VHD_TYPE_FIXED) {
		close(fd);
		return fail("%s: a dynamic or differencing VHD; convert it "
			     "first with: qemu-img convert -f vpc -O vpc -o "
			     "subformat=fixed,force_size=on %s OUT.vhd",
			     o.pos[0], o.pos[0]);
	}
	if (st.st_size > VHD_FOOTER_BYTES &&
	    io_pread_all(fd, foot, sizeof(foot),
			 st.st_size - VHD_FOOTER_BYTES) == VHD_FOOTER_BYTES &&
	    vhd_footer_parse(foot, &vi) == 0) {
		if (vi.type != VHD_TYPE_FIXED) {
			close(fd);
			return fail("%s: a dynamic or differencing VHD; "
				     "convert it first with: qemu-img convert "
				     "-f vpc -O vpc -o subformat=fixed,"
				     "force_size=on %s OUT.vhd",
				     o.pos[0], o.pos[0]);
		}
		/* a fixed VHD: kept byte for byte */
		plain = (uint64_t)st.st_size;
		copy = plain - VHD_FOOTER_BYTES;
		footer = foot;
	} else {
		copy = (uint64_t)st.st_size;
		plain = (copy + MIB - 1) / MIB * MIB;
		if (plain != copy)
			warning("%s: raw image of %llu bytes padded with zeros "
				"to %llu (a whole MiB)", o.pos[0],
				(unsigned long long)copy,
				(unsigned long long)plain);
		plain += VHD_FOOTER_BYTES;
	}
	if (open_keys(ctx, &v, &ops)) {
		close(fd);
		return EXIT_FAIL;
	}
	r = build_disk(v, &ops, o.pos[1], &o, plain, 4096, fd, copy, footer);
	vault_close(v);
	close(fd);
	return r;
}

static int refuse_in_use(const char *path)
{
	int r = vol_in_use(path);

	if (r < 0)
		return fail("disk %s: %s", path, cli_strerror(r));
	if (r > 0)
		return fail("disk %s: in use by a mount; unmount it or copy "
			     "it through the mount", path);
	return 0;
}

static int disk_export(int argc, char **argv, struct cli_ctx *ctx)
{
	char tmp[PATH_MAX];
	struct disk_opts o;
	struct vault *v = NULL;
	struct keyops ops;
	struct volume *vol = NULL;
	uint8_t *buf = NULL;
	uint64_t size;
	int r, out = -1, rc = EXIT_FAIL;

	r = parse_opts(argc, argv, &o, 0, 0);
	if (r)
		return r;
	if (o.npos != 2)
		return cli_usage(disk_usage, "export: needs PATH.vhd and DEST");
	if (refuse_in_use(o.pos[0]))
		return EXIT_FAIL;
	if (open_keys(ctx, &v, &ops))
		return EXIT_FAIL;
	r = vol_open(&vol, o.pos[0], VOL_RDONLY, &ops);
	if (r) {
		error("disk %s: %s", o.pos[0], cli_strerror(r));
		goto out;
	}
	buf = malloc(CHUNK);
	if (!buf) {
		error("disk %s: %s", o.pos[0], strerror(ENOMEM));
		goto out;
	}
	out = io_tmpfile_beside(o.pos[1], 0600, tmp, sizeof(tmp));
	if (out < 0) {
		error("%s: %s", o.pos[1], strerror(-out));
		goto out;
	}
	size = vol_size(vol);
	for (uint64_t off = 0; off < size; off += CHUNK) {
		size_t n = size - off < CHUNK ? size - off : CHUNK;
		ssize_t got = vol_read(vol, buf, n, off);

		if (got < 0 || (size_t)got != n) {
			error("disk %s: read failed: %s", o.pos[0],
			      cli_strerror(got < 0 ? (int)got : -EIO));
			goto out_tmp;
		}
		if (all_zero(buf, n))
			continue;	/* sparse */
		r = io_pwrite_all(out, buf, n, off);
		if (r) {
			error("%s: write failed: %s", o.pos[1], strerror(-r));
			goto out_tmp;
		}
	}
	if (ftruncate(out, size) < 0) {
		error("%s: %s", o.pos[1], strerror(errno));
		goto out_tmp;
	}
	r = io_commit_tmpfile(out, tmp, o.pos[1]);
	if (r) {
		error("%s: %s", o.pos[1], strerror(-r));
		goto out;
	}
	rc = EXIT_OK;
	goto out;
out_tmp:
	unlink(tmp);
out:
	if (out >= 0)
		close(out);
	free(buf);
	if (vol)
		(void)vol_close(vol);
	vault_close(v);
	return rc;
}

/* Copy the ciphertext of @in to @out: reflink, else extent by extent. */
static int copy_backing(int in, int out, off_t len)
{
	off_t data = 0, hole;

	if (ioctl(out, FICLONE, in) == 0)
		return 0;
	while (data < len) {
		data = lseek(in, data, SEEK_DATA);
		if (data < 0)
			break;		/* ENXIO: only a hole left */
		hole = lseek(in, data, SEEK_HOLE);
		if (hole < 0)
			return -errno;
		while (data < hole) {
			loff_t a = data, b = data;
			ssize_t n = copy_file_range(in, &a, out, &b,
						    hole - data, 0);

			if (n <= 0)
				return n < 0 ? -errno : -EIO;
			data += n;
		}
	}
	if (ftruncate(out, len) < 0)
		return -errno;
	return 0;
}

static int disk_snapshot(int argc, char **argv, struct cli_ctx *ctx)
{
	struct disk_opts o;
	struct vault *v = NULL;
	struct keyops ops;
	struct store_tmp t = { .fd = -1 };
	struct env_header h;
	struct stat st;
	uint8_t uuid[16];
	int r, in = -1, rc = EXIT_FAIL;

	r = parse_opts(argc, argv, &o, 0, 0);
	if (r)
		return r;
	if (o.npos != 2)
		return cli_usage(disk_usage,
				 "snapshot: needs PATH.vhd and DEST.vhd");
	if (refuse_in_use(o.pos[0]))
		return EXIT_FAIL;
	if (open_keys(ctx, &v, &ops))
		return EXIT_FAIL;
	in = open(o.pos[0], O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (in < 0 || fstat(in, &st) < 0) {
		error("disk %s: %s", o.pos[0], strerror(errno));
		goto out;
	}
	/* hold the header lock on the source so no rewrap interleaves */
	r = hdr_read(in, &h, NULL);
	if (r) {
		error("disk %s: %s", o.pos[0], cli_strerror(r == -ENOTSUP ?
					       -EBADMSG : r));
		goto out;
	}
	r = store_tmp_open(&t, o.pos[1]);
	if (r) {
		error("disk %s: %s", o.pos[1], r == -EEXIST ?
		      "already exists" : cli_strerror(r));
		goto out;
	}
	r = copy_backing(in, t.fd, st.st_size);
	if (r) {
		error("disk %s: copy failed: %s", o.pos[1], strerror(-r));
		goto out;
	}
	new_uuid(uuid);
	r = rewrap_fd(t.fd, NULL, uuid, &ops, NULL);
	if (r) {
		error("disk %s: %s", o.pos[0], cli_strerror(r));
		goto out;
	}
	r = hdr_read(t.fd, &h, NULL);
	if (!r)
		r = store_tmp_commit(&t);
	if (r) {
		error("disk %s: %s", o.pos[1], r == -EEXIST ?
		      "already exists" : cli_strerror(r));
		goto out;
	}
	registry_put(v, o.pos[1], &h);
	rc = EXIT_OK;
out:
	store_tmp_abort(&t);
	if (in >= 0)
		close(in);
	vault_close(v);
	return rc;
}

static const char *state_name(enum hdr_copy_state s)
{
	return s == HDR_COPY_OK ? "ok" : s == HDR_COPY_STALE ? "stale" : "bad";
}

static int disk_show(int argc, char **argv, struct cli_ctx *ctx)
{
	struct disk_opts o;
	struct hdr_status st;
	struct env_header h;
	char uuid[37], tbuf[32];
	int fd, r;

	r = parse_opts(argc, argv, &o, 0, 0);
	if (r)
		return r;
	if (o.npos != 1)
		return cli_usage(disk_usage, "show: needs one PATH.vhd");
	fd = open(o.pos[0], O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail("disk %s: %s", o.pos[0], strerror(errno));
	memset(&st, 0, sizeof(st));
	r = hdr_read(fd, &h, &st);
	close(fd);
	if (r == -ENOTSUP)
		return fail("disk %s: not an ssefs disk (no ssefs magic)",
			     o.pos[0]);
	if (r)
		return fail("disk %s: %s", o.pos[0], cli_strerror(r));
	uuid_str(h.uuid, uuid);
	if (ctx->json) {
		struct json j;

		json_init(&j, stdout, JSON_PRETTY);
		json_obj_begin(&j, NULL);
		json_str(&j, "path", o.pos[0]);
		json_str(&j, "uuid", uuid);
		json_uint(&j, "diskSizeBytes",
			  h.plain_size >= VHD_FOOTER_BYTES ?
			  h.plain_size - VHD_FOOTER_BYTES : 0);
		json_uint(&j, "vhdSizeBytes", h.plain_size);
		json_uint(&j, "sectorSize", h.sector_size);
		json_str(&j, "encryptionType", env_type_name(h.enc_type));
		if (h.des[0])
			json_str(&j, "des", h.des);
		else
			json_null(&j, "des");
		json_time(&j, "created", (int64_t)h.created);
		json_time(&j, "lastRotated", (int64_t)h.rotated);
		snprintf(tbuf, sizeof(tbuf), "%u.%u", h.version_major,
			 h.version_minor);
		json_str(&j, "formatVersion", tbuf);
		json_arr_begin(&j, "layers");
		for (unsigned int i = 0; i < h.nlayers; i++) {
			json_obj_begin(&j, NULL);
			json_str(&j, "cipher",
				 env_cipher_name(h.layer[i].cipher));
			json_str(&j, "keySource",
				 h.layer[i].key_source == ENV_KEY_PLATFORM ?
				 "platform" : "customer");
			json_str(&j, "kid", h.layer[i].kid);
			json_str(&j, "wrapAlgorithm",
				 env_wrap_name(h.layer[i].wrap_alg));
			json_obj_end(&j);
		}
		json_arr_end(&j);
		json_arr_begin(&j, "copies");
		for (unsigned int i = 0; i < ENV_NCOPIES; i++) {
			json_obj_begin(&j, NULL);
			json_uint(&j, "copy", i);
			json_str(&j, "state", state_name(st.state[i]));
			if (st.state[i] == HDR_COPY_BAD)
				json_null(&j, "seq");
			else
				json_uint(&j, "seq", st.seq[i]);
			json_obj_end(&j);
		}
		json_arr_end(&j);
		json_obj_end(&j);
		return json_end(&j) ? EXIT_FAIL : EXIT_OK;
	}
	printf("path:            %s\n", o.pos[0]);
	printf("uuid:            %s\n", uuid);
	printf("disk size:       %llu\n", (unsigned long long)
	       (h.plain_size >= VHD_FOOTER_BYTES ?
		h.plain_size - VHD_FOOTER_BYTES : 0));
	printf("vhd size:        %llu\n", (unsigned long long)h.plain_size);
	printf("sector size:     %u\n", h.sector_size);
	printf("encryption type: %s\n", env_type_name(h.enc_type));
	printf("des:             %s\n", h.des[0] ? h.des : "-");
	format_time((time_t)h.created, tbuf, sizeof(tbuf));
	printf("created:         %s\n", tbuf);
	if (h.rotated)
		format_time((time_t)h.rotated, tbuf, sizeof(tbuf));
	else
		strcpy(tbuf, "never");
	printf("last rotated:    %s\n", tbuf);
	printf("format version:  %u.%u\n", h.version_major, h.version_minor);
	for (unsigned int i = 0; i < h.nlayers; i++)
		printf("layer %u:         %s %s %s %s\n", i,
		       env_cipher_name(h.layer[i].cipher),
		       h.layer[i].key_source == ENV_KEY_PLATFORM ?
		       "platform" : "customer",
		       env_wrap_name(h.layer[i].wrap_alg), h.layer[i].kid);
	for (unsigned int i = 0; i < ENV_NCOPIES; i++) {
		if (st.state[i] == HDR_COPY_BAD)
			printf("copy %u:          bad\n", i);
		else
			printf("copy %u:          %s seq %llu\n", i,
			       state_name(st.state[i]),
			       (unsigned long long)st.seq[i]);
	}
	return EXIT_OK;
}

/* The current kid of the key that wraps @l: same key, newest version. */
static int current_kid(struct vault *v, const struct env_layer *l,
		       char *kid, size_t len)
{
	struct kid k;

	if (kid_parse(l->kid, &k))
		return -EINVAL;
	return vault_resolve(v, k.platform ? "platform" : k.name, kid, len);
}

static int disk_rewrap(int argc, char **argv, struct cli_ctx *ctx)
{
	char kids[ENV_MAX_LAYERS][VAULT_KID_MAX + 1];
	const char *targets[ENV_MAX_LAYERS] = { NULL, NULL };
	struct rewrap_result res;
	struct disk_opts o;
	struct vault *v = NULL;
	struct keyops ops;
	struct env_header h;
	int r, fd, rc = EXIT_FAIL;

	r = parse_opts(argc, argv, &o, 0, 0);
	if (r)
		return r;
	if (o.npos != 1)
		return cli_usage(disk_usage, "rewrap: needs one PATH.vhd");
	fd = open(o.pos[0], O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return fail("disk %s: %s", o.pos[0], strerror(errno));
	r = hdr_read(fd, &h, NULL);
	if (r) {
		close(fd);
		return fail("disk %s: %s", o.pos[0],
			     cli_strerror(r == -ENOTSUP ? -EBADMSG : r));
	}
	if (open_keys(ctx, &v, &ops)) {
		close(fd);
		return EXIT_FAIL;
	}
	for (unsigned int i = 0; i < h.nlayers; i++) {
		r = current_kid(v, &h.layer[i], kids[i], sizeof(kids[i]));
		if (r) {
			error("key %s: %s", h.layer[i].kid, cli_strerror(r));
			goto out;
		}
		targets[i] = kids[i];
	}
	r = rewrap_fd(fd, targets, NULL, &ops, &res);
	if (r) {
		error("disk %s: %s", o.pos[0], cli_strerror(r));
		goto out;
	}
	if (!res.changed)
		printf("disk %s: already on the current key versions\n",
		       o.pos[0]);
	for (unsigned int i = 0; res.changed && i < res.nlayers; i++)
		if (strcmp(res.old_kid[i], res.new_kid[i]))
			printf("disk %s: layer %u: %s -> %s\n", o.pos[0], i,
			       res.old_kid[i], res.new_kid[i]);
	rc = EXIT_OK;
out:
	close(fd);
	vault_close(v);
	return rc;
}

static int disk_verify(int argc, char **argv, struct cli_ctx *ctx)
{
	uint8_t foot[VHD_FOOTER_BYTES];
	struct disk_opts o;
	struct vault *v = NULL;
	struct keyops ops;
	struct volume *vol = NULL;
	struct hdr_status st;
	struct env_header h;
	struct vhd_info vi;
	const char *p;
	int r, fd = -1, rc = EXIT_FAIL, repaired = 0;

	r = parse_opts(argc, argv, &o, 0, 0);
	if (r)
		return r;
	if (o.npos != 1)
		return cli_usage(disk_usage, "verify: needs one PATH.vhd");
	p = o.pos[0];
	if (open_keys(ctx, &v, &ops))
		return EXIT_FAIL;
	/* MAC first (vol_open checks it on the best copy), then the footer */
	r = vol_open(&vol, p, VOL_RDONLY, &ops);
	if (r) {
		error("disk %s: %s", p, cli_strerror(r));
		goto out;
	}
	printf("disk %s: header MAC ok\n", p);
	if (vol_size(vol) < VHD_FOOTER_BYTES ||
	    vol_read(vol, foot, sizeof(foot), vol_size(vol) -
		     VHD_FOOTER_BYTES) != VHD_FOOTER_BYTES ||
	    vhd_footer_parse(foot, &vi) ||
	    vi.type != VHD_TYPE_FIXED ||
	    vi.size != vol_size(vol) - VHD_FOOTER_BYTES) {
		error("disk %s: the VHD footer is damaged", p);
		goto out;
	}
	printf("disk %s: footer ok (fixed VHD, %llu bytes)\n", p,
	       (unsigned long long)vi.size);
	(void)vol_close(vol);
	vol = NULL;

	fd = open(p, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		error("disk %s: %s", p, strerror(errno));
		goto out;
	}
	r = hdr_lock(fd);
	if (!r) {
		r = hdr_read(fd, &h, &st);
		for (unsigned int i = 0; !r && i < ENV_NCOPIES; i++) {
			if (st.state[i] == HDR_COPY_OK)
				continue;
			r = hdr_repair(fd, &h, i);
			if (!r) {
				printf("disk %s: header copy %u was %s: "
				       "repaired from copy %u\n", p, i,
				       state_name(st.state[i]), !i);
				repaired = 1;
			}
		}
		hdr_unlock(fd);
	}
	if (r) {
		error("disk %s: cannot repair the header: %s", p,
		      cli_strerror(r));
		goto out;
	}
	if (!repaired)
		printf("disk %s: both header copies ok\n", p);
	rc = EXIT_OK;
out:
	if (vol)
		(void)vol_close(vol);
	if (fd >= 0)
		close(fd);
	vault_close(v);
	return rc;
}

int cmd_disk(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **, struct cli_ctx *);
	} subs[] = {
		{ "create", disk_create }, { "import", disk_import },
		{ "export", disk_export }, { "snapshot", disk_snapshot },
		{ "show", disk_show }, { "rewrap", disk_rewrap },
		{ "verify", disk_verify },
	};

	if (argc < 2)
		return cli_usage(disk_usage, "disk: needs a subcommand");
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		printf("%s\n\n%s\n", disk_usage, disk_help);
		return EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		if (strcmp(argv[1], subs[i].name))
			continue;
		for (int k = 2; k < argc; k++)
			if (!strcmp(argv[k], "--help") ||
			    !strcmp(argv[k], "-h")) {
				printf("%s\n\n%s\n", disk_usage, disk_help);
				return EXIT_OK;
			}
		return subs[i].fn(argc - 1, argv + 1, ctx);
	}
	return cli_usage(disk_usage, "disk %s: unknown subcommand", argv[1]);
}
