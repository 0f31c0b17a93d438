/*
 * cmd_disk.c - `ssefs disk`: create, import, export, snapshot, show,
 * rewrap, verify
 *
 * Keys come from the vault through its keyops table; disk/ does the work.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "crypto/envelope.h"
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

#define MIB		(1024ull * 1024)
#define COPY_CHUNK	(1024 * 1024)

static const char disk_usage[] =
"usage: ssefs disk create PATH.vhd --size SIZE [--des NAME | --key NAME]\n"
"                         [--sector-size 512|4096]\n"
"       ssefs disk import SRC PATH.vhd [--des NAME | --key NAME]\n"
"       ssefs disk export PATH.vhd DEST\n"
"       ssefs disk snapshot PATH.vhd DEST.vhd\n"
"       ssefs disk show PATH.vhd\n"
"       ssefs disk rewrap PATH.vhd\n"
"       ssefs disk verify PATH.vhd\n"
"\n"
"  create    a new thin disk of SIZE (rounded up to a whole MiB; 16G,\n"
"            100GiB...), encrypted under the platform key, or under the\n"
"            customer key NAME (--key); the plaintext is a fixed VHD\n"
"  import    a raw image (padded to a whole MiB, with a warning) or a\n"
"            fixed VHD (kept as it is); dynamic VHDs are refused with the\n"
"            qemu-img command that converts them\n"
"  export    write the whole plaintext .vhd (footer included) to DEST\n"
"  snapshot  an independent encrypted copy with a new UUID\n"
"  show      the header and both copies' state (no key needed)\n"
"  rewrap    re-wrap each layer's DEK under its key's current version;\n"
"            header only, no data touched\n"
"  verify    check both header copies, the MAC and the footer; repair a\n"
"            bad copy from its twin (exit 0 ok or repaired, 1 damaged)\n"
"export and snapshot refuse a disk that a mount holds open.\n"
"See ssefs-disk(1) and ssefs-format(5).\n";

/* ---- helpers ---- */

static const char *disk_strerror(int err)
{
	switch (err) {
	case -EBADMSG:
		return "no valid header, or the header MAC does not match "
		       "(wrong key or tampered header)";
	case -ENOTSUP:
		return "not an ssefs disk";
	case -EPROTONOSUPPORT:
		return "made by a newer ssefs (unknown format version or "
		       "feature)";
	default:
		return cli_strerror(err);
	}
}

static int disk_error(const char *path, int err)
{
	return error("disk %s: %s", path, disk_strerror(err));
}

static void uuid_str(const uint8_t u[16], char out[37])
{
	static const char hex[] = "0123456789abcdef";
	int k = 0;

	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[k++] = '-';
		out[k++] = hex[u[i] >> 4];
		out[k++] = hex[u[i] & 15];
	}
	out[k] = '\0';
}

/* Enter the disk at @path in the vault's registry. */
static int registry_put(struct vault *v, const char *path)
{
	struct vault_disk d;
	struct env_header h;
	int ret;

	memset(&d, 0, sizeof(d));
	ret = vol_probe(path, &h);
	if (ret)
		return ret;
	if (!realpath(path, d.path))
		return -errno;
	uuid_str(h.uuid, d.uuid);
	snprintf(d.des, sizeof(d.des), "%s", h.des);
	snprintf(d.kid, sizeof(d.kid), "%s", h.layer[0].kid);
	return vault_disk_put(v, &d);
}

/* Options shared by create and import: which key. */
struct keyopt {
	const char *des;
	const char *key;
};

/*
 * Fill @f's encryption type and kid from @ko.  A disk encryption set
 * would set the type, the DES name and the kid(s) here.
 */
static int pick_keys(struct vault *v, const struct keyopt *ko,
		     struct vol_format *f, char kid[ENV_KID_MAX + 1])
{
	int ret;

	if (ko->des)
		return error("des %s: disk encryption sets are not available "
			     "yet", ko->des);
	f->nlayers = 1;
	if (ko->key) {
		f->enc_type = ENV_TYPE_CUSTOMER;
		ret = vault_resolve(v, ko->key, kid, ENV_KID_MAX + 1);
		if (ret)
			return error("key %s: %s", ko->key,
				     ret == -ENOKEY ? "no such key" :
				     cli_strerror(ret));
	} else {
		f->enc_type = ENV_TYPE_PLATFORM;
		ret = vault_resolve(v, "platform", kid, ENV_KID_MAX + 1);
		if (ret)
			return error("vault %s: no platform key: %s",
				     vault_dir(v), cli_strerror(ret));
	}
	f->kid[0] = kid;
	f->kid[1] = NULL;
	return 0;
}

/* Called with the new disk opened over the temporary file. */
typedef int (*fill_fn)(struct volume *vol, void *arg);

/*
 * Create @path atomically: format, fill, write the footer (unless a fixed
 * VHD brought its own), sync, link.
 * On failure nothing is left behind and the error has been printed.
 */
static int make_disk(struct vault *v, const char *path, struct vol_format *f,
		     fill_fn fill, void *arg, int footer)
{
	struct store_tmp t;
	struct keyops ops;
	struct volume *vol = NULL;
	int fd, ret;

	vault_keyops(v, &ops);
	ret = store_tmp_open(&t, path);
	if (ret)
		return ret == -EEXIST ? error("disk %s: already exists", path) :
					disk_error(path, ret);
	ret = vol_format(t.fd, f, &ops);
	if (ret)
		goto fail;
	fd = dup(t.fd);
	if (fd < 0) {
		ret = -errno;
		goto fail;
	}
	ret = vol_open_fd(&vol, fd, path, 0, &ops);
	if (ret)
		goto fail;
	if (fill)
		ret = fill(vol, arg);
	if (!ret && footer) {
		uint8_t foot[VHD_FOOTER_BYTES];
		struct env_header h;

		/* the footer carries the disk's own UUID */
		vol_get_header(vol, &h);
		vhd_footer_build(foot, f->plain_size - VHD_FOOTER_BYTES,
				 h.uuid, (int64_t)time(NULL));
		if (vol_write(vol, foot, sizeof(foot), f->plain_size -
			      VHD_FOOTER_BYTES) != sizeof(foot))
			ret = -EIO;
	}
	if (!ret)
		ret = vol_close(vol);
	else
		vol_close(vol);
	vol = NULL;
	if (ret)
		goto fail;
	ret = store_tmp_commit(&t);
	if (ret)
		return disk_error(path, ret);
	ret = registry_put(v, path);
	if (ret)
		return error("disk %s: created, but not entered in the vault's "
			     "registry: %s", path, cli_strerror(ret));
	return 0;
fail:
	store_tmp_abort(&t);
	if (ret == -ENOKEY || ret == -EKEYREVOKED || ret == -EKEYEXPIRED)
		return error("key %s: %s", f->kid[0], cli_strerror(ret));
	return disk_error(path, ret);
}

static int parse_keyopt(int argc, char **argv, struct keyopt *ko,
			const char **size, const char **ssz)
{
	static const struct option lo[] = {
		{ "des", required_argument, NULL, 'd' },
		{ "key", required_argument, NULL, 'k' },
		{ "size", required_argument, NULL, 's' },
		{ "sector-size", required_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'd':
			ko->des = optarg;
			break;
		case 'k':
			ko->key = optarg;
			break;
		case 's':
			if (!size)
				goto bad;
			*size = optarg;
			break;
		case 'S':
			if (!ssz)
				goto bad;
			*ssz = optarg;
			break;
		default:
			goto bad;
		}
	}
	if (ko->des && ko->key)
		return cli_usage(disk_usage, "disk %s: --des and --key "
				 "exclude each other", argv[0]);
	return 0;
bad:
	return cli_usage(disk_usage, "disk %s: unknown option %s", argv[0],
			 argv[optind - 1]);
}

/* ---- create ---- */

static int disk_create(int argc, char **argv, struct cli_ctx *ctx)
{
	struct keyopt ko = { NULL, NULL };
	const char *size_s = NULL, *ssz_s = NULL, *path;
	struct vol_format f;
	struct vault *v = NULL;
	char kid[ENV_KID_MAX + 1];
	uint64_t size, ssz = 4096;
	int ret;

	ret = parse_keyopt(argc, argv, &ko, &size_s, &ssz_s);
	if (ret)
		return ret;
	if (argc - optind != 1)
		return cli_usage(disk_usage, "disk create: expected PATH.vhd");
	path = argv[optind];
	if (!size_s)
		return cli_usage(disk_usage, "disk create: --size is required");
	if (parse_size(size_s, &size) || size == 0 ||
	    size > (1ull << 50))
		return cli_usage(disk_usage, "disk create: bad --size %s",
				 size_s);
	if (ssz_s && (parse_size(ssz_s, &ssz) || (ssz != 512 && ssz != 4096)))
		return cli_usage(disk_usage, "disk create: --sector-size must "
				 "be 512 or 4096");
	size = (size + MIB - 1) / MIB * MIB;	/* whole MiB, as clouds do */
	if (cli_open_vault(ctx, &v))
		return EXIT_FAIL;
	memset(&f, 0, sizeof(f));
	f.plain_size = size + VHD_FOOTER_BYTES;
	f.sector_size = (uint32_t)ssz;
	ret = pick_keys(v, &ko, &f, kid);
	if (ret)
		goto out;
	ret = make_disk(v, path, &f, NULL, NULL, 1);
	if (!ret && !ctx->json)
		printf("%s\n", path);
out:
	vault_close(v);
	return ret ? EXIT_FAIL : EXIT_OK;
}

/* ---- import ---- */

struct import_src {
	int fd;
	uint64_t len;		/* bytes to copy from SRC */
	const char *name;
	int progress;
};

static int import_fill(struct volume *vol, void *arg)
{
	struct import_src *s = arg;
	uint8_t *buf = malloc(COPY_CHUNK);
	uint64_t off = 0;
	int ret = 0, last = -1;

	if (!buf)
		return -ENOMEM;
	while (off < s->len) {
		size_t n = s->len - off < COPY_CHUNK ? s->len - off :
						       COPY_CHUNK;
		ssize_t got = io_pread_all(s->fd, buf, n, (off_t)off);

		if (got < 0) {
			ret = (int)got;
			break;
		}
		if ((size_t)got != n) {
			ret = -EIO;
			break;
		}
		/* thin: leave all-zero chunks unwritten (they read as zeros) */
		if (!sodium_is_zero(buf, n) &&
		    vol_write(vol, buf, n, off) != (ssize_t)n) {
			ret = -EIO;
			break;
		}
		off += n;
		if (s->progress && (int)(off * 100 / s->len) != last) {
			last = (int)(off * 100 / s->len);
			fprintf(stderr, "\rimporting %s: %3d%%", s->name, last);
		}
	}
	if (s->progress)
		fputc('\n', stderr);
	free(buf);
	return ret;
}

static int disk_import(int argc, char **argv, struct cli_ctx *ctx)
{
	struct keyopt ko = { NULL, NULL };
	struct import_src s;
	struct vol_format f;
	struct vault *v = NULL;
	struct vhd_info vi;
	struct stat st;
	char kid[ENV_KID_MAX + 1];
	uint8_t foot[VHD_FOOTER_BYTES], head[8];
	const char *src, *path;
	uint64_t disk;
	int ret, fixed = 0;

	ret = parse_keyopt(argc, argv, &ko, NULL, NULL);
	if (ret)
		return ret;
	if (argc - optind != 2)
		return cli_usage(disk_usage, "disk import: expected SRC "
				 "PATH.vhd");
	src = argv[optind];
	path = argv[optind + 1];
	s.fd = open(src, O_RDONLY | O_CLOEXEC);
	if (s.fd < 0)
		return error("import %s: %s", src, strerror(errno));
	if (fstat(s.fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(s.fd);
		return error("import %s: not a regular file", src);
	}
	if (st.st_size == 0) {
		close(s.fd);
		return error("import %s: empty file", src);
	}
	/* a dynamic or differencing VHD starts with a copy of its footer */
	if (io_pread_all(s.fd, head, 8, 0) == 8 &&
	    memcmp(head, "conectix", 8) == 0) {
		close(s.fd);
		return error("import %s: a dynamic or differencing VHD; "
			     "convert it first with: qemu-img convert -f vpc "
			     "-O vpc -o subformat=fixed,force_size=on %s "
			     "OUT.vhd", src, src);
	}
	if (st.st_size >= VHD_FOOTER_BYTES &&
	    io_pread_all(s.fd, foot, sizeof(foot),
			 st.st_size - VHD_FOOTER_BYTES) == VHD_FOOTER_BYTES &&
	    vhd_footer_parse(foot, &vi) == 0) {
		if (vi.type != VHD_TYPE_FIXED) {
			close(s.fd);
			return error("import %s: not a fixed VHD; convert it "
				     "first with: qemu-img convert -f vpc -O "
				     "vpc -o subformat=fixed,force_size=on %s "
				     "OUT.vhd", src, src);
		}
		fixed = 1;
	}
	s.name = src;
	s.progress = isatty(STDERR_FILENO) && !ctx->json;
	if (fixed) {
		disk = (uint64_t)st.st_size - VHD_FOOTER_BYTES;
		s.len = (uint64_t)st.st_size;	/* footer copied as is */
	} else {
		disk = ((uint64_t)st.st_size + MIB - 1) / MIB * MIB;
		s.len = (uint64_t)st.st_size;
		if (disk != (uint64_t)st.st_size)
			warning("import %s: %llu bytes is not a whole MiB; "
				"padded with zeros to %llu", src,
				(unsigned long long)st.st_size,
				(unsigned long long)disk);
	}
	if (cli_open_vault(ctx, &v)) {
		close(s.fd);
		return EXIT_FAIL;
	}
	memset(&f, 0, sizeof(f));
	f.plain_size = disk + VHD_FOOTER_BYTES;
	f.sector_size = 4096;
	ret = pick_keys(v, &ko, &f, kid);
	if (!ret)
		ret = make_disk(v, path, &f, import_fill, &s, !fixed);
	if (!ret && !ctx->json)
		printf("%s\n", path);
	vault_close(v);
	close(s.fd);
	return ret ? EXIT_FAIL : EXIT_OK;
}

/* ---- export ---- */

static int refuse_in_use(const char *path)
{
	int r = vol_in_use(path);

	if (r < 0)
		return disk_error(path, r);
	if (r > 0)
		return error("disk %s: in use by a mount; unmount it or copy "
			     "it through the mount", path);
	return 0;
}

static int open_volume(struct cli_ctx *ctx, const char *path, int flags,
		       struct vault **v, struct volume **vol)
{
	struct keyops ops;
	int ret;

	if (cli_open_vault(ctx, v))
		return -1;
	vault_keyops(*v, &ops);
	ret = vol_open(vol, path, flags, &ops);
	if (ret) {
		vault_close(*v);
		*v = NULL;
		return disk_error(path, ret);
	}
	return 0;
}

static int disk_export(int argc, char **argv, struct cli_ctx *ctx)
{
	struct vault *v = NULL;
	struct volume *vol = NULL;
	char tmp[PATH_MAX];
	uint8_t *buf = NULL;
	uint64_t size, off = 0;
	int fd = -1, ret;

	if (argc != 3)
		return cli_usage(disk_usage, "disk export: expected PATH.vhd "
				 "DEST");
	if (refuse_in_use(argv[1]))
		return EXIT_FAIL;
	if (open_volume(ctx, argv[1], VOL_RDONLY, &v, &vol))
		return EXIT_FAIL;
	size = vol_size(vol);
	buf = malloc(COPY_CHUNK);
	fd = io_tmpfile_beside(argv[2], 0600, tmp, sizeof(tmp));
	if (fd < 0 || !buf) {
		ret = fd < 0 ? fd : -ENOMEM;
		error("export %s: %s", argv[2], cli_strerror(ret));
		goto out;
	}
	ret = 0;
	while (off < size) {
		size_t n = size - off < COPY_CHUNK ? size - off : COPY_CHUNK;
		ssize_t got = vol_read(vol, buf, n, off);

		if (got != (ssize_t)n) {
			ret = got < 0 ? (int)got : -EIO;
			disk_error(argv[1], ret);
			break;
		}
		/* keep the copy sparse where the plaintext is zeros */
		if (!sodium_is_zero(buf, n)) {
			ret = io_pwrite_all(fd, buf, n, (off_t)off);
			if (ret) {
				error("export %s: %s", argv[2],
				      cli_strerror(ret));
				break;
			}
		}
		off += n;
	}
	if (!ret && ftruncate(fd, (off_t)size) < 0) {
		ret = -errno;
		error("export %s: %s", argv[2], cli_strerror(ret));
	}
	if (!ret) {
		ret = io_commit_tmpfile(fd, tmp, argv[2]);
		if (ret)
			error("export %s: %s", argv[2], cli_strerror(ret));
	} else {
		unlink(tmp);
	}
out:
	if (fd >= 0)
		close(fd);
	if (buf) {
		sodium_memzero(buf, COPY_CHUNK);
		free(buf);
	}
	vol_close(vol);
	vault_close(v);
	return ret ? EXIT_FAIL : EXIT_OK;
}

/* ---- snapshot ---- */

/* Copy @in to @out, keeping holes; a reflink when the filesystem can. */
static int copy_sparse(int in, int out)
{
	struct stat st;
	off_t data = 0, hole;

	if (ioctl(out, FICLONE, in) == 0)
		return 0;
	if (fstat(in, &st) < 0)
		return -errno;
	while (data < st.st_size) {
		data = lseek(in, data, SEEK_DATA);
		if (data < 0)
			break;		/* ENXIO: only a hole is left */
		hole = lseek(in, data, SEEK_HOLE);
		if (hole < 0)
			return -errno;
		while (data < hole) {
			loff_t a = data, b = data;
			ssize_t n = copy_file_range(in, &a, out, &b,
						    (size_t)(hole - data), 0);

			if (n < 0)
				return -errno;
			if (n == 0)
				return -EIO;
			data += n;
		}
	}
	if (ftruncate(out, st.st_size) < 0)
		return -errno;
	return 0;
}

static int disk_snapshot(int argc, char **argv, struct cli_ctx *ctx)
{
	const char *kids[ENV_MAX_LAYERS] = { NULL, NULL };
	struct store_tmp t;
	struct keyops ops;
	struct vault *v = NULL;
	uint8_t uuid[ENV_UUID_BYTES];
	int in, ret;

	if (argc != 3)
		return cli_usage(disk_usage, "disk snapshot: expected PATH.vhd "
				 "DEST.vhd");
	if (refuse_in_use(argv[1]))
		return EXIT_FAIL;
	ret = vol_probe(argv[1], NULL);
	if (ret)
		return disk_error(argv[1], ret), EXIT_FAIL;
	if (cli_open_vault(ctx, &v))
		return EXIT_FAIL;
	vault_keyops(v, &ops);
	in = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		disk_error(argv[1], -errno);
		goto fail_vault;
	}
	ret = store_tmp_open(&t, argv[2]);
	if (ret) {
		error("disk %s: %s", argv[2], ret == -EEXIST ?
		      "already exists" : cli_strerror(ret));
		close(in);
		goto fail_vault;
	}
	ret = copy_sparse(in, t.fd);
	close(in);
	if (ret) {
		error("disk %s: %s", argv[2], cli_strerror(ret));
		goto fail_tmp;
	}
	/* same DEKs, new identity: the MAC is recomputed with the UUID */
	randombytes_buf(uuid, sizeof(uuid));
	ret = rewrap_fd(t.fd, kids, uuid, &ops, NULL);
	if (ret) {
		disk_error(argv[1], ret);
		goto fail_tmp;
	}
	ret = store_tmp_commit(&t);
	if (ret) {
		disk_error(argv[2], ret);
		goto fail_vault;
	}
	ret = registry_put(v, argv[2]);
	if (ret)
		error("disk %s: not entered in the vault's registry: %s",
		      argv[2], cli_strerror(ret));
	if (!ctx->json)
		printf("%s\n", argv[2]);
	vault_close(v);
	return ret ? EXIT_FAIL : EXIT_OK;
fail_tmp:
	store_tmp_abort(&t);
fail_vault:
	vault_close(v);
	return EXIT_FAIL;
}

/* ---- show ---- */

static const char *state_name(enum hdr_copy_state s)
{
	return s == HDR_COPY_OK ? "ok" : s == HDR_COPY_STALE ? "stale" :
							       "bad";
}

static const char *source_name(uint32_t s)
{
	return s == ENV_KEY_CUSTOMER ? "customer" : "platform";
}

/* Encode @h as copy 0 with seq 0: its fields only, for comparison. */
static int fields_of(const struct env_header *h, uint8_t out[ENV_COPY_BYTES])
{
	struct env_header t = *h;

	t.seq = 0;
	return env_encode(&t, 0, out, ENV_COPY_BYTES);
}

/*
 * Read the header of @path.  A valid copy that is not the newest but holds
 * the same fields is a healthy twin ("ok"); only one whose fields differ
 * (an update torn between the two writes) is "stale".
 */
static int read_header(const char *path, struct env_header *h,
		       struct hdr_status *st)
{
	uint8_t buf[ENV_COPY_BYTES], a[ENV_COPY_BYTES], b[ENV_COPY_BYTES];
	struct env_header c;
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret;

	if (fd < 0)
		return -errno;
	ret = hdr_read(fd, h, st);
	for (int i = 0; !ret && i < ENV_NCOPIES; i++) {
		if (st->state[i] != HDR_COPY_STALE)
			continue;
		if (io_pread_all(fd, buf, sizeof(buf),
				 (off_t)i * ENV_COPY_BYTES) != sizeof(buf) ||
		    env_decode(&c, (unsigned int)i, buf, sizeof(buf)) ||
		    fields_of(&c, a) || fields_of(h, b))
			continue;
		if (memcmp(a, b, sizeof(a)) == 0)
			st->state[i] = HDR_COPY_OK;
	}
	close(fd);
	return ret;
}

static int disk_show(int argc, char **argv, struct cli_ctx *ctx)
{
	struct env_header h;
	struct hdr_status st;
	char uuid[37], tbuf[64], sbuf[32];
	struct stat sb;
	int ret;

	if (argc != 2)
		return cli_usage(disk_usage, "disk show: expected PATH.vhd");
	ret = read_header(argv[1], &h, &st);
	if (ret)
		return disk_error(argv[1], ret), EXIT_FAIL;
	if (stat(argv[1], &sb) < 0)
		return disk_error(argv[1], -errno), EXIT_FAIL;
	uuid_str(h.uuid, uuid);
	if (ctx->json) {
		struct json j;

		json_init(&j, stdout, 0);
		json_obj_begin(&j, NULL);
		json_str(&j, "path", argv[1]);
		json_str(&j, "uuid", uuid);
		json_uint(&j, "diskSizeBytes", h.plain_size - VHD_FOOTER_BYTES);
		json_uint(&j, "vhdSizeBytes", h.plain_size);
		json_uint(&j, "sectorSize", h.sector_size);
		json_str(&j, "encryptionType", env_type_name(h.enc_type));
		json_str(&j, "des", h.des[0] ? h.des : NULL);
		json_time(&j, "created", (int64_t)h.created);
		json_time(&j, "lastRotated", (int64_t)h.rotated);
		snprintf(tbuf, sizeof(tbuf), "%u.%u", h.version_major,
			 h.version_minor);
		json_str(&j, "formatVersion", tbuf);
		json_arr_begin(&j, "layers");
		for (uint32_t i = 0; i < h.nlayers; i++) {
			json_obj_begin(&j, NULL);
			json_str(&j, "cipher",
				 env_cipher_name(h.layer[i].cipher));
			json_str(&j, "keySource",
				 source_name(h.layer[i].key_source));
			json_str(&j, "kid", h.layer[i].kid);
			json_str(&j, "wrapAlgorithm",
				 env_wrap_name(h.layer[i].wrap_alg));
			json_obj_end(&j);
		}
		json_arr_end(&j);
		json_arr_begin(&j, "copies");
		for (int i = 0; i < 2; i++) {
			json_obj_begin(&j, NULL);
			json_int(&j, "copy", i);
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
	printf("path:            %s\n", argv[1]);
	printf("uuid:            %s\n", uuid);
	format_size(h.plain_size - VHD_FOOTER_BYTES, sbuf, sizeof(sbuf));
	printf("disk size:       %s (%llu bytes)\n", sbuf,
	       (unsigned long long)(h.plain_size - VHD_FOOTER_BYTES));
	printf("vhd size:        %llu bytes (footer included)\n",
	       (unsigned long long)h.plain_size);
	printf("stored:          %llu bytes allocated\n",
	       (unsigned long long)sb.st_blocks * 512);
	printf("sector size:     %u\n", h.sector_size);
	printf("encryption type: %s\n", env_type_name(h.enc_type));
	printf("des:             %s\n", h.des[0] ? h.des : "-");
	format_time((time_t)h.created, tbuf, sizeof(tbuf));
	printf("created:         %s\n", tbuf);
	format_time((time_t)h.rotated, tbuf, sizeof(tbuf));
	printf("last rotated:    %s\n", h.rotated ? tbuf : "never");
	printf("format version:  %u.%u\n", h.version_major, h.version_minor);
	for (uint32_t i = 0; i < h.nlayers; i++)
		printf("layer %u:         %s, %s key, %s\n"
		       "                 %s\n", i,
		       env_cipher_name(h.layer[i].cipher),
		       source_name(h.layer[i].key_source),
		       env_wrap_name(h.layer[i].wrap_alg), h.layer[i].kid);
	for (int i = 0; i < 2; i++) {
		if (st.state[i] == HDR_COPY_BAD)
			printf("header copy %d:   bad\n", i);
		else
			printf("header copy %d:   %s (seq %llu)\n", i,
			       state_name(st.state[i]),
			       (unsigned long long)st.seq[i]);
	}
	return EXIT_OK;
}

/* ---- rewrap ---- */

static int disk_rewrap(int argc, char **argv, struct cli_ctx *ctx)
{
	char kidbuf[ENV_MAX_LAYERS][ENV_KID_MAX + 1];
	const char *kids[ENV_MAX_LAYERS] = { NULL, NULL };
	struct rewrap_result res;
	struct env_header h;
	struct keyops ops;
	struct vault *v = NULL;
	int ret;

	if (argc != 2)
		return cli_usage(disk_usage, "disk rewrap: expected PATH.vhd");
	ret = vol_probe(argv[1], &h);
	if (ret)
		return disk_error(argv[1], ret), EXIT_FAIL;
	if (cli_open_vault(ctx, &v))
		return EXIT_FAIL;
	/* the current version of each layer's key */
	for (uint32_t i = 0; i < h.nlayers; i++) {
		struct kid k;

		if (kid_parse(h.layer[i].kid, &k)) {
			ret = error("disk %s: layer %u: bad kid %s", argv[1],
				    i, h.layer[i].kid);
			goto out;
		}
		ret = vault_resolve(v, k.platform ? "platform" : k.name,
				    kidbuf[i], sizeof(kidbuf[i]));
		if (ret) {
			ret = error("key %s: %s", k.platform ? "platform" :
				    k.name, ret == -ENOKEY ? "no such key" :
				    cli_strerror(ret));
			goto out;
		}
		kids[i] = kidbuf[i];
	}
	vault_keyops(v, &ops);
	ret = rewrap_disk(argv[1], kids, &ops, &res);
	if (ret) {
		ret = disk_error(argv[1], ret);
		goto out;
	}
	if (ctx->json) {
		struct json j;

		json_init(&j, stdout, 0);
		json_obj_begin(&j, NULL);
		json_str(&j, "path", argv[1]);
		json_bool(&j, "changed", res.changed);
		json_arr_begin(&j, "layers");
		for (unsigned int i = 0; i < res.nlayers; i++) {
			json_obj_begin(&j, NULL);
			json_str(&j, "oldKid", res.old_kid[i]);
			json_str(&j, "newKid", res.new_kid[i]);
			json_obj_end(&j);
		}
		json_arr_end(&j);
		json_obj_end(&j);
		ret = json_end(&j) ? -1 : 0;
	} else if (!res.changed) {
		printf("disk %s: already on the current key versions\n",
		       argv[1]);
	} else {
		for (unsigned int i = 0; i < res.nlayers; i++)
			printf("layer %u: %s -> %s\n", i, res.old_kid[i],
			       res.new_kid[i]);
	}
	if (res.changed)
		(void)registry_put(v, argv[1]);
out:
	vault_close(v);
	return ret ? EXIT_FAIL : EXIT_OK;
}

/* ---- verify ---- */

static int disk_verify(int argc, char **argv, struct cli_ctx *ctx)
{
	struct env_header h;
	struct hdr_status st;
	struct vault *v = NULL;
	struct volume *vol = NULL;
	struct vhd_info vi;
	uint8_t foot[VHD_FOOTER_BYTES];
	int ret, damaged = 0, repaired = 0, fd;

	if (argc != 2)
		return cli_usage(disk_usage, "disk verify: expected PATH.vhd");
	ret = read_header(argv[1], &h, &st);
	if (ret)
		return disk_error(argv[1], ret), EXIT_FAIL;
	/* the MAC is checked by the open, after unwrapping */
	if (open_volume(ctx, argv[1], VOL_RDONLY, &v, &vol))
		return EXIT_FAIL;
	if (vol_read(vol, foot, sizeof(foot), h.plain_size - sizeof(foot)) !=
	    sizeof(foot) || vhd_footer_parse(foot, &vi) != 0) {
		error("disk %s: the VHD footer is damaged", argv[1]);
		damaged = 1;
	} else if (vi.type != VHD_TYPE_FIXED ||
		   vi.size != h.plain_size - VHD_FOOTER_BYTES) {
		error("disk %s: the VHD footer does not match the header "
		      "(%llu bytes, type %u)", argv[1],
		      (unsigned long long)vi.size, vi.type);
		damaged = 1;
	}
	vol_close(vol);
	for (int i = 0; i < 2; i++) {
		if (st.state[i] == HDR_COPY_OK)
			continue;
		fd = open(argv[1], O_RDWR | O_CLOEXEC);
		if (fd < 0) {
			error("disk %s: header copy %d is %s and cannot be "
			      "repaired: %s", argv[1], i,
			      state_name(st.state[i]), strerror(errno));
			damaged = 1;
			continue;
		}
		ret = hdr_lock(fd);
		if (!ret)
			ret = hdr_read(fd, &h, NULL);
		if (!ret)
			ret = hdr_repair(fd, &h, (unsigned int)i);
		hdr_unlock(fd);
		close(fd);
		if (ret) {
			error("disk %s: header copy %d is %s; repair failed: "
			      "%s", argv[1], i, state_name(st.state[i]),
			      cli_strerror(ret));
			damaged = 1;
		} else {
			warning("disk %s: header copy %d was %s; repaired "
				"from its twin", argv[1], i,
				state_name(st.state[i]));
			repaired = 1;
		}
	}
	if (ctx->json) {
		struct json j;

		json_init(&j, stdout, 0);
		json_obj_begin(&j, NULL);
		json_str(&j, "path", argv[1]);
		json_str(&j, "result", damaged ? "damaged" : repaired ?
			 "repaired" : "ok");
		json_obj_end(&j);
		json_end(&j);
	} else if (!damaged) {
		printf("disk %s: %s\n", argv[1], repaired ? "repaired" : "ok");
	}
	vault_close(v);
	return damaged ? EXIT_FAIL : EXIT_OK;
}

int cmd_disk(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **, struct cli_ctx *);
	} sub[] = {
		{ "create", disk_create }, { "import", disk_import },
		{ "export", disk_export }, { "snapshot", disk_snapshot },
		{ "show", disk_show }, { "rewrap", disk_rewrap },
		{ "verify", disk_verify },
	};

	if (argc < 2)
		return cli_usage(disk_usage, "disk: expected a subcommand");
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		fputs(disk_usage, stdout);
		return EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
		if (strcmp(argv[1], sub[i].name) == 0) {
			for (int k = 2; k < argc; k++)
				if (!strcmp(argv[k], "--help")) {
					fputs(disk_usage, stdout);
					return EXIT_OK;
				}
			int r = sub[i].fn(argc - 1, argv + 1, ctx);

			/* error() returns -1: a failure already reported */
			return r < 0 ? EXIT_FAIL : r;
		}
	}
	return cli_usage(disk_usage, "disk: unknown subcommand %s", argv[1]);
}
