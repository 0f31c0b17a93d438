/*
 * cmd_disk.c - `ssefs disk`: create, import, export, snapshot, show,
 * rewrap, verify, copy; a disk is a path in a directory store or a URL in
 * a blob store (CONTAINER-URL/NAME.vhd)
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/attach.h"
#include "cli/cli.h"
#include "crypto/envelope.h"
#include "crypto/rng.h"
#include "crypto/secmem.h"
#include "disk/backing.h"
#include "disk/backing_file.h"
#include "disk/header.h"
#include "disk/keyops.h"
#include "disk/offsets.h"
#include "disk/rewrap.h"
#include "disk/store.h"
#include "disk/vhd.h"
#include "disk/volume.h"
#include "keyvault/des.h"
#include "keyvault/kid.h"
#include "keyvault/vault.h"
#include "store/blobback.h"
#include "store/copy.h"
#include "svc/blobdisk.h"
#include "svc/errors.h"
#include "svc/hcmarker.h"
#include "svc/registry.h"
#include "util/beneath.h"
#include "util/io.h"
#include "util/json.h"
#include "util/log.h"
#include "util/name.h"
#include "util/parse.h"
#include "util/progress.h"

#define MiB		(UINT64_C(1) << 20)
#define COPY_CHUNK	(4u << 20)

static const char disk_usage[] =
"usage: ssefs disk create PATH.vhd --size SIZE [--des NAME | --key NAME]\n"
"                         [--sector-size 512|4096]\n"
"       ssefs disk import SRC PATH.vhd [--des NAME | --key NAME]\n"
"                         [--sector-size 512|4096]\n"
"       ssefs disk export PATH.vhd DEST\n"
"       ssefs disk snapshot PATH.vhd DEST.vhd\n"
"       ssefs disk show PATH.vhd\n"
"       ssefs disk rewrap PATH.vhd [--des NAME | --key NAME]\n"
"       ssefs disk verify PATH.vhd\n"
"       ssefs disk copy SRC.vhd DEST.vhd\n"
"       ssefs disk attach MNT/NAME.vhd [--read-only] [--mount DIR [--rw]]\n"
"       ssefs disk detach /dev/loopN|MNT/NAME.vhd\n"
"\n"
"SIZE is rounded up to a whole MiB; the .vhd is that plus a 512-byte\n"
"fixed-VHD footer.  Without --des or --key a disk is encrypted under the\n"
"vault's platform key (EncryptionAtRestWithPlatformKey).  export to a\n"
"directory writes DIR/NAME.vhd, as cp does; it never overwrites an\n"
"encrypted disk with plaintext.  export and snapshot refuse a disk a\n"
"mount holds open, or whose store has a ReadWrite host cache left to\n"
"write back.  rewrap --des/--key moves a disk to another set or key by\n"
"re-wrapping its DEK (same number of layers only; no data is\n"
"re-encrypted).  With --json, export prints {path, dest, vhdSizeBytes}\n"
"and the others the disk as show does.  import refuses a store file\n"
"(ciphertext): copy a disk with snapshot, or import what export writes.\n"
"A new disk's path may not hold a control character (newline, tab...):\n"
"exit 2.  From the first folder of PATH that someone else can write to, no\n"
"symlink is followed (SECURITY in ssefs-disk(1)).  The footer's unique id\n"
"is the disk's UUID (an imported fixed VHD's too), and create, import and\n"
"snapshot bind the header to it: a header put on another disk's data fails\n"
"to open.  attach (root) makes a loop device over a disk of a mount: the\n"
"footer left out, the disk's sector size, direct I/O; it prints\n"
"/dev/loopN.  --mount DIR also mounts its file system (each partition at\n"
"DIR/pN), read-only unless --rw; detach unmounts them first.\n"
"PATH.vhd may be a URL in a blob store, CONTAINER-URL/NAME.vhd (credentials\n"
"from AZURE_STORAGE_SAS_TOKEN, AZURE_STORAGE_CONNECTION_STRING,\n"
"AZURE_STORAGE_ACCOUNT and AZURE_STORAGE_KEY, or the config file's stores:\n"
"entry for CONTAINER-URL with credentials: FILE) for create, import,\n"
"export, snapshot, show, rewrap and verify; snapshot with either side a\n"
"URL copies only what is allocated and leases a blob source meanwhile.\n"
"copy moves a disk as it is (ciphertext, no key\n"
"needed) between any two stores, directory or URL, reading only what is\n"
"allocated; DEST must not exist, and a disk a mount holds is refused.\n"
"See ssefs-disk(1).\n";

/*
 * The path of a disk about to be made: one with a control character
 * would break every line-based list that names it (the vault's registry,
 * status), so it is refused as a usage error.  Return: 0 or EXIT_USAGE.
 */
static int new_disk_name(const char *cmd, const char *path)
{
	char esc[PATH_MAX];

	if (!name_has_ctrl(path))
		return 0;
	return cli_usage(disk_usage, "disk %s: %s: a control character "
			 "(newline, tab...) in a disk's name is refused", cmd,
			 name_escape(path, esc, sizeof(esc)));
}

/* disk_err(), saying what @e says of @r when it has more to say */
static int disk_verr(const char *path, const char *what, int r,
		     const struct vault_err *e)
{
	if (r == -EEXIST)
		return error("disk %s: already exists", path), EXIT_FAIL;
	if (r == -ENOTSUP)
		return error("disk %s: not an ssefs disk (no ssefs header)",
			     path), EXIT_FAIL;
	if (r == -EFBIG)	/* ftruncate(2) past the file system's limit */
		return error("disk %s: %s%sFile too large for the file system "
			     "that holds it (ext4 with 4 KiB blocks stops at "
			     "16 TiB; XFS and btrfs go further)", path,
			     what ? what : "", what ? ": " : ""), EXIT_FAIL;
	error("disk %s: %s%s%s", path, what ? what : "", what ? ": " : "",
	      svc_vault_strerror(e, r));
	return EXIT_FAIL;
}

static int disk_err(const char *path, const char *what, int r)
{
	return disk_verr(path, what, r, NULL);
}

/* A store's one line ("ssefs: WHAT: WHY") as error() prints it. */
static int blob_fail(const char *msg)
{
	error("%s", strncmp(msg, "ssefs: ", 7) ? msg : msg + 7);
	return EXIT_FAIL;
}

/* The one line of a failed backing op @r on @b. */
static int backing_fail(struct backing *b, int r)
{
	char msg[BLOB_MSG_MAX];

	blob_backing_why(b, r, msg, sizeof(msg));
	return blob_fail(msg);
}

/*
 * Open the backing of the disk at @path, a URL or a path (walked as
 * trusted_open() does), a URL with the options cli_blob_opts() finds for
 * it.  Prints the one line on failure.
 * Return: 0 or EXIT_FAIL.
 */
static int open_backing(struct cli_ctx *ctx, const char *path, int rdonly,
			struct backing **b)
{
	char msg[BLOB_MSG_MAX];
	struct blob_store_opts o;
	int fd, r;

	if (blob_is_url(path)) {
		if (cli_blob_opts(ctx, path, 1, &o) < 0)
			return EXIT_FAIL;
		r = blobdisk_open(b, path, rdonly ? BLOB_RDONLY : 0, &o, msg,
				  sizeof(msg));
		cli_blob_opts_free(&o);
		return r < 0 ? blob_fail(msg) : 0;
	}
	fd = trusted_open(path, (rdonly ? O_RDONLY : O_RDWR) | O_NOFOLLOW |
			  O_NONBLOCK, 0);
	if (fd < 0)
		return disk_err(path, NULL, fd);
	r = backing_file_new(b, fd, path);
	return r < 0 ? disk_err(path, NULL, r) : 0;
}

/* blobdisk_create() and blobdisk_delete() with cli_blob_opts()'s options;
 * -ENOKEY with nothing in @msg when the config file is at fault (one line
 * printed already). */
static int create_blob(struct cli_ctx *ctx, const char *url, uint64_t len,
		       struct backing **b, char *msg, size_t msglen)
{
	struct blob_store_opts o;
	int r;

	msg[0] = '\0';
	if (cli_blob_opts(ctx, url, 1, &o) < 0)
		return -ENOKEY;
	r = blobdisk_create(b, url, len, &o, msg, msglen);
	cli_blob_opts_free(&o);
	return r;
}

/* 1 when the blob @url exists (a HEAD), else 0: the create says why */
static int blob_exists(struct cli_ctx *ctx, const char *url)
{
	char msg[BLOB_MSG_MAX];
	struct blob_store_opts o;
	struct backing *b;
	int r;

	if (cli_blob_opts(ctx, url, 1, &o) < 0)
		return 0;
	r = blobdisk_open(&b, url, BLOB_RDONLY, &o, msg, sizeof(msg));
	cli_blob_opts_free(&o);
	if (r < 0)
		return 0;
	b->ops->close(b);
	return 1;
}

static void delete_blob(struct cli_ctx *ctx, const char *url)
{
	char msg[BLOB_MSG_MAX];
	struct blob_store_opts o;

	if (cli_blob_opts(ctx, url, 1, &o) < 0)
		return;
	blobdisk_delete(url, &o, msg, sizeof(msg));
	cli_blob_opts_free(&o);
}

/* @v's keyops for this command, whose failures leave their detail in
 * ctx->verr. */
static void disk_keyops(struct cli_ctx *ctx, struct vault *v,
			struct keyops *ops)
{
	ctx->keys.v = v;
	ctx->keys.err = &ctx->verr;
	vault_keyops(&ctx->keys, ops);
}

/* Register @path (its header) in the vault's disk registry. */
static int register_disk(struct vault *v, const char *path)
{
	struct vault_disk d;
	struct env_header h;
	char abs[PATH_MAX];
	int r;

	if (!realpath(path, abs))
		return -errno;
	r = vol_probe(abs, &h);
	if (r < 0)
		return r;
	registry_entry(&d, &h, abs);
	return vault_disk_put(v, &d);
}

/* --- choosing keys -------------------------------------------------- */

struct key_choice {
	char kid[ENV_MAX_LAYERS][ENV_KID_MAX + 1];
	char des[ENV_DES_MAX + 1];
	uint32_t type;
	unsigned int nlayers;
};

/* The kid must name a version that can wrap now. */
static int usable(struct vault *v, const char *what, const char *kid)
{
	enum key_state st = vault_key_state(v, kid, 0);

	if (st == KEY_USABLE)
		return 0;
	error("%s: %s is %s", what, kid, key_state_name(st));
	return -1;
}

static int choose_keys(struct vault *v, const char *des, const char *key,
		       struct key_choice *kc)
{
	char what[160];
	int r;

	memset(kc, 0, sizeof(*kc));
	kc->nlayers = 1;
	if (des) {
		struct des d;

		r = des_get(vault_dir(v), des, &d);
		if (r == -ENOENT) {
			error("des %s: no such disk encryption set", des);
			return -1;
		}
		if (r < 0) {
			error("des %s: %s", des, svc_strerror(r));
			return -1;
		}
		snprintf(kc->kid[0], sizeof(kc->kid[0]), "%s", d.active_kid);
		snprintf(kc->des, sizeof(kc->des), "%s", d.name);
		kc->type = d.type;
		snprintf(what, sizeof(what), "des %s", des);
		if (usable(v, what, kc->kid[0]) < 0)
			return -1;
		if (d.type == ENV_TYPE_PLATFORM_AND_CUSTOMER) {
			kc->nlayers = 2;
			r = vault_resolve(v, "platform", kc->kid[1],
					  sizeof(kc->kid[1]));
			if (r < 0) {
				error("vault %s: platform key: %s",
				      vault_dir(v), svc_strerror(r));
				return -1;
			}
		}
		return 0;
	}
	if (key) {
		r = vault_resolve(v, key, kc->kid[0], sizeof(kc->kid[0]));
		if (r < 0) {
			error("key %s: %s", key, svc_strerror(r));
			return -1;
		}
		kc->type = ENV_TYPE_CUSTOMER;
		snprintf(what, sizeof(what), "key %s", key);
		return usable(v, what, kc->kid[0]);
	}
	r = vault_resolve(v, "platform", kc->kid[0], sizeof(kc->kid[0]));
	if (r < 0) {
		error("vault %s: platform key: %s", vault_dir(v),
		      svc_strerror(r));
		return -1;
	}
	kc->type = ENV_TYPE_PLATFORM;
	return 0;
}

static void fill_format(struct vol_format *f, const struct key_choice *kc,
			uint64_t plain_size, uint32_t ss)
{
	memset(f, 0, sizeof(*f));
	f->plain_size = plain_size;
	f->sector_size = ss;
	f->enc_type = kc->type;
	f->des = kc->des;
	f->nlayers = kc->nlayers;
	f->kid[0] = kc->kid[0];
	f->kid[1] = kc->nlayers > 1 ? kc->kid[1] : NULL;
}

/* --- show ------------------------------------------------------------ */

static const char *copy_state(enum hdr_copy_state s)
{
	return s == HDR_COPY_OK ? "ok" : s == HDR_COPY_STALE ? "stale" : "bad";
}

static int print_header(const char *abs, const struct env_header *hp,
			const struct hdr_status *stp, uint64_t allocated,
			int json, const char *note);

/* show for a disk in a blob store: the allocated bytes are its ranges */
static int show_url(struct cli_ctx *ctx, const char *url, int json,
		    const char *note)
{
	struct backing *b;
	struct env_header h;
	struct hdr_status st;
	uint64_t alloc = 0;
	int r;

	if (open_backing(ctx, url, 1, &b))
		return EXIT_FAIL;
	r = hdr_get(b, &h, &st);
	if (r == 0)
		r = blobdisk_allocated(b, &alloc);
	if (r < 0 && r != -ENOTSUP && r != -EBADMSG &&
	    r != -EPROTONOSUPPORT)
		r = backing_fail(b, r);
	else if (r < 0)
		r = disk_err(url, NULL, r);
	else
		r = print_header(url, &h, &st, alloc, json, note);
	b->ops->close(b);
	return r;
}

static int show_header(struct cli_ctx *ctx, const char *path, int json,
		       const char *note)
{
	struct env_header h;
	struct hdr_status st;
	struct stat sb;
	char abs[PATH_MAX];
	int fd, r;

	if (blob_is_url(path))
		return show_url(ctx, path, json, note);
	fd = trusted_open(path, O_RDONLY, 0);
	if (fd < 0)
		return disk_err(path, NULL, fd);
	r = hdr_read(fd, &h, &st);
	/* what the store spends on it: a thin disk costs little */
	if (r == 0 && fstat(fd, &sb) < 0)
		r = -errno;
	close(fd);
	if (r < 0)
		return disk_err(path, NULL, r);
	if (!realpath(path, abs))
		snprintf(abs, sizeof(abs), "%s", path);
	return print_header(abs, &h, &st, (uint64_t)sb.st_blocks * 512, json,
			    note);
}

/* show's output for the disk @abs with header @hp */
static int print_header(const char *abs, const struct env_header *hp,
			const struct hdr_status *stp, uint64_t allocated,
			int json, const char *note)
{
	const struct env_header h = *hp;
	const struct hdr_status st = *stp;
	char uuid[37], t[32], sz[32];

	format_uuid(h.uuid, uuid);
	if (json) {
		struct json j;

		json_init(&j, stdout, JSON_PRETTY);
		json_obj_begin(&j, NULL);
		json_str(&j, "path", abs);
		json_str(&j, "uuid", uuid);
		json_uint(&j, "diskSizeBytes", h.plain_size >= 512 ?
			  h.plain_size - 512 : 0);
		json_uint(&j, "vhdSizeBytes", h.plain_size);
		json_uint(&j, "allocatedBytes", allocated);
		json_uint(&j, "sectorSize", h.sector_size);
		json_str(&j, "encryptionType", env_type_name(h.enc_type));
		json_str(&j, "des", *h.des ? h.des : NULL);
		json_time(&j, "created", (int64_t)h.created);
		json_time(&j, "lastRotated", (int64_t)h.rotated);
		snprintf(t, sizeof(t), "%u.%u", h.version_major,
			 h.version_minor);
		json_str(&j, "formatVersion", t);
		json_bool(&j, "boundFooter",
			  (h.ro_compat & ENV_RO_COMPAT_BOUND_FOOTER) != 0);
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
		for (unsigned int c = 0; c < ENV_NCOPIES; c++) {
			json_obj_begin(&j, NULL);
			json_uint(&j, "copy", c);
			json_str(&j, "state", copy_state(st.state[c]));
			if (st.state[c] != HDR_COPY_BAD)
				json_uint(&j, "seq", st.seq[c]);
			else
				json_null(&j, "seq");
			json_obj_end(&j);
		}
		json_arr_end(&j);
		if (note)
			json_str(&j, "result", note);
		json_obj_end(&j);
		return json_end(&j) < 0 ? EXIT_FAIL : EXIT_OK;
	}
	format_size(h.plain_size - 512, sz, sizeof(sz));
	{
		char esc[PATH_MAX];

		printf("path:             %s\n",
		       name_escape(abs, esc, sizeof(esc)));
	}
	printf("uuid:             %s\n", uuid);
	printf("disk size:        %s (%llu bytes; .vhd %llu bytes)\n", sz,
	       (unsigned long long)(h.plain_size - 512),
	       (unsigned long long)h.plain_size);
	printf("allocated:        %llu bytes in the store\n",
	       (unsigned long long)allocated);
	printf("sector size:      %u\n", h.sector_size);
	printf("encryption type:  %s\n", env_type_name(h.enc_type));
	printf("des:              %s\n", *h.des ? h.des : "-");
	for (unsigned int i = 0; i < h.nlayers; i++)
		printf("layer %u:          %s, %s key, %s, %s\n", i,
		       env_cipher_name(h.layer[i].cipher),
		       h.layer[i].key_source == ENV_KEY_PLATFORM ?
		       "platform" : "customer",
		       env_wrap_name(h.layer[i].wrap_alg), h.layer[i].kid);
	format_time((time_t)h.created, t, sizeof(t));
	printf("created:          %s\n", t);
	if (h.rotated)
		format_time((time_t)h.rotated, t, sizeof(t));
	printf("last rotated:     %s\n", h.rotated ? t : "never");
	printf("format version:   %u.%u\n", h.version_major, h.version_minor);
	printf("bound footer:     %s\n",
	       h.ro_compat & ENV_RO_COMPAT_BOUND_FOOTER ? "yes" : "no");
	for (unsigned int c = 0; c < ENV_NCOPIES; c++) {
		if (st.state[c] == HDR_COPY_BAD)
			printf("header copy %u:    bad\n", c);
		else
			printf("header copy %u:    %s (seq %llu)\n", c,
			       copy_state(st.state[c]),
			       (unsigned long long)st.seq[c]);
	}
	if (note)
		printf("result:           %s\n", note);
	return EXIT_OK;
}

/* --- create and import --------------------------------------------- */

struct import_src {
	int fd;
	uint64_t bytes;		/* of the source to copy */
	uint64_t footer_at;	/* where our footer goes */
	uint8_t footer[VHD_FOOTER_BYTES];
	struct progress *pg;	/* NULL: no progress line (create) */
};

static int is_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

static int fill_import(struct volume *vol, void *arg)
{
	struct import_src *s = arg;
	uint8_t *buf = malloc(COPY_CHUNK);
	uint64_t off = 0;
	int r = 0;

	if (!buf)
		return -ENOMEM;
	if (s->pg)
		progress_start(s->pg, "import", NULL, s->bytes);
	while (off < s->bytes && r == 0) {
		size_t n = s->bytes - off < COPY_CHUNK ?
			   (size_t)(s->bytes - off) : COPY_CHUNK;
		ssize_t got = io_pread_all(s->fd, buf, n, (off_t)off);

		if (got < 0) {
			r = (int)got;
			break;
		}
		if ((size_t)got < n) {
			r = -EIO;	/* the source shrank under us */
			break;
		}
		/* zeros stay holes: an imported image stays thin */
		if (!is_zero(buf, n)) {
			ssize_t w = vol_write(vol, buf, n, off);

			if (w < 0)
				r = (int)w;
		}
		off += n;
		if (s->pg)
			progress_update(s->pg, off);
	}
	if (s->pg)
		progress_finish(s->pg);
	secmem_wipe(buf, COPY_CHUNK);	/* plaintext of the image */
	free(buf);
	if (r == 0) {
		ssize_t w = vol_write(vol, s->footer, VHD_FOOTER_BYTES,
				      s->footer_at);

		if (w < 0)
			r = (int)w;
	}
	/* the footer carries the disk's UUID: bind the header to it */
	if (r == 0)
		r = vol_bind_footer(vol);
	return r;
}

static const struct option create_opts[] = {
	{ "size", required_argument, NULL, 's' },
	{ "des", required_argument, NULL, 'd' },
	{ "key", required_argument, NULL, 'k' },
	{ "sector-size", required_argument, NULL, 'S' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* Common to create and import: the options, the vault, the keys. */
struct make_args {
	const char *size, *des, *key;
	uint32_t ss;
	int nargs;
	char **args;
};

static int parse_make(int argc, char **argv, struct make_args *a,
		      int want_args, const char *cmd)
{
	char what[32];
	uint64_t v;
	int c;

	memset(a, 0, sizeof(*a));
	a->ss = 4096;
	snprintf(what, sizeof(what), "disk %s", cmd);
	optind = 1;
	opterr = 0;
	while ((c = cli_getopt(argc, argv, ":h", create_opts, what)) != -1) {
		switch (c) {
		case 's':
			a->size = optarg;
			break;
		case 'd':
			a->des = optarg;
			break;
		case 'k':
			a->key = optarg;
			break;
		case 'S':
			if (parse_size(optarg, &v) < 0 ||
			    (v != 512 && v != 4096))
				return cli_usage(disk_usage, "--sector-size "
						 "%s: must be 512 or 4096",
						 optarg);
			a->ss = (uint32_t)v;
			break;
		case 'h':
			fputs(disk_usage, stdout);
			return -1;
		default:
			return EXIT_USAGE;
		}
	}
	if (a->des && a->key)
		return cli_usage(disk_usage, "disk %s: --des and --key "
				 "exclude each other", cmd);
	if (argc - optind != want_args)
		return cli_usage(disk_usage, "disk %s: wrong number of "
				 "arguments", cmd);
	a->nargs = argc - optind;
	a->args = argv + optind;
	return 0;
}

static int finish_new_disk(struct cli_ctx *ctx, struct vault *v,
			   const char *path)
{
	int r = register_disk(v, path);

	if (r < 0) {
		/* the disk is fine; only the registry missed it */
		warning("disk %s: not entered in the vault's registry: %s",
			path, svc_strerror(r));
	}
	return show_header(ctx, path, ctx->json, NULL);
}

/*
 * The new disk at the URL @url: a page blob made all clear, the header
 * written under its lease, then filled through a volume that holds the
 * lease.  A blob store has no unnamed file to publish, so a failure
 * deletes the blob (a crash leaves it, and show names it as what it is).
 */
static int make_blob_disk(struct cli_ctx *ctx, const char *url,
			  const struct vol_format *f,
			  const struct keyops *ops, struct import_src *s,
			  const char *what)
{
	char msg[BLOB_MSG_MAX];
	struct volume *vol = NULL;
	struct backing *b;
	int r;

	r = create_blob(ctx, url, off_backing_len(f->plain_size,
						  f->sector_size), &b, msg,
			sizeof(msg));
	if (r == -EEXIST)
		return disk_err(url, NULL, r);
	if (r < 0)
		return msg[0] ? blob_fail(msg) : EXIT_FAIL;
	r = vol_format_backing(b, f, ops);
	if (r < 0) {
		blob_backing_why(b, r, msg, sizeof(msg));
		b->ops->close(b);
		goto fail;
	}
	/* the volume takes @b over, and holds its lease while it fills it */
	r = vol_open_backing(&vol, b, 0, ops);
	if (r == 0)
		r = fill_import(vol, s);
	if (r == 0)
		r = vol_close(vol);
	else
		vol_close(vol);
	if (r < 0)
		snprintf(msg, sizeof(msg), "ssefs: disk %s: %s: %s", url, what,
			 svc_vault_strerror(&ctx->verr, r));
fail:
	if (r < 0) {
		delete_blob(ctx, url);
		return blob_fail(msg);
	}
	return show_header(ctx, url, ctx->json, NULL);
}

/* Write the new disk at @path from @s, then finish_new_disk(); @what
 * names the step in an error ("cannot create"). */
static int make_new_disk(struct cli_ctx *ctx, struct vault *v,
			 const char *path, const struct vol_format *f,
			 struct import_src *s, const char *what)
{
	struct keyops ops;
	int r;

	disk_keyops(ctx, v, &ops);
	if (blob_is_url(path))
		return make_blob_disk(ctx, path, f, &ops, s, what);
	r = store_create(AT_FDCWD, path, f, &ops, fill_import, s);
	if (r < 0)
		return disk_err(path, what, r);
	return finish_new_disk(ctx, v, path);
}

static int disk_create(int argc, char **argv, struct cli_ctx *ctx)
{
	struct make_args a;
	struct key_choice kc;
	struct vol_format f;
	struct import_src s;
	struct vault *v = NULL;
	uint8_t uuid[16];
	uint64_t size;
	int r;

	r = parse_make(argc, argv, &a, 1, "create");
	if (r)
		return r < 0 ? EXIT_OK : r;
	r = new_disk_name("create", a.args[0]);
	if (r)
		return r;
	if (!a.size)
		return cli_usage(disk_usage, "disk create: --size is required");
	if (parse_size(a.size, &size) < 0 || size == 0 ||
	    size > VOL_MAX_SIZE - MiB)
		return cli_usage(disk_usage, "--size %s: not a size from 1 "
				 "byte to 1 EiB (e.g. 64M, 10G, 1T)", a.size);
	size = (size + MiB - 1) / MiB * MiB;	/* whole MiB, as the cloud */
	if (cli_open_vault(ctx, &v))
		return EXIT_FAIL;
	if (choose_keys(v, a.des, a.key, &kc) < 0) {
		r = EXIT_FAIL;
		goto out;
	}
	fill_format(&f, &kc, size + VHD_FOOTER_BYTES, a.ss);
	memset(&s, 0, sizeof(s));
	s.fd = -1;
	s.footer_at = size;
	/* the footer carries the disk's UUID, so make it first */
	rng_uuid(uuid);
	f.uuid = uuid;
	vhd_footer_build(s.footer, size, uuid, time(NULL));
	r = make_new_disk(ctx, v, a.args[0], &f, &s, "cannot create");
out:
	vault_close(v);
	return r;
}

/* What kind of image is @fd?  Sets s->bytes, footer_at and footer. */
static int classify_import(const char *src, int fd, struct import_src *s,
			   uint64_t *plain_size)
{
	uint8_t head[VHD_FOOTER_BYTES], tail[VHD_FOOTER_BYTES];
	struct vhd_info vi;
	struct stat st;
	uint64_t size, padded;
	int r;

	if (fstat(fd, &st) < 0)
		return error("%s: %s", src, strerror(errno)), -1;
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		return error("%s: not a regular file or block device", src), -1;
	size = (uint64_t)st.st_size;
	if (S_ISBLK(st.st_mode) && ioctl(fd, BLKGETSIZE64, &size) < 0)
		return error("%s: %s", src, strerror(errno)), -1;
	if (size == 0)
		return error("%s: empty image", src), -1;
	/* an ssefs disk holds ciphertext: imported as raw, it would become
	 * a disk whose plaintext is that ciphertext */
	r = S_ISREG(st.st_mode) ? vol_probe(src, NULL) : -ENOTSUP;
	if (r == 0 || r == -EBADMSG || r == -EPROTONOSUPPORT)
		return error("%s: an encrypted ssefs disk, not an image; copy "
			     "it with ssefs disk snapshot, or import what "
			     "ssefs disk export writes", src), -1;
	if (size >= VHD_FOOTER_BYTES &&
	    io_pread_all(fd, head, sizeof(head), 0) == (ssize_t)sizeof(head) &&
	    vhd_footer_parse(head, &vi) == 0 && vi.type != VHD_TYPE_FIXED) {
		error("%s: a dynamic or differencing VHD; convert it to a fixed "
		      "one first: qemu-img convert -f vpc -O vpc -o "
		      "subformat=fixed,force_size=on %s FIXED.vhd", src, src);
		return -1;
	}
	if (size > VHD_FOOTER_BYTES &&
	    io_pread_all(fd, tail, sizeof(tail),
			 (off_t)(size - VHD_FOOTER_BYTES)) ==
		    (ssize_t)sizeof(tail) &&
	    vhd_footer_parse(tail, &vi) == 0) {
		if (vi.type != VHD_TYPE_FIXED) {
			error("%s: a dynamic or differencing VHD; convert it "
			      "to a fixed one first: qemu-img convert -f vpc "
			      "-O vpc -o subformat=fixed,force_size=on %s "
			      "FIXED.vhd", src, src);
			return -1;
		}
		if (vi.size != size - VHD_FOOTER_BYTES) {
			error("%s: fixed VHD footer says %llu bytes, the file "
			      "holds %llu", src, (unsigned long long)vi.size,
			      (unsigned long long)(size - VHD_FOOTER_BYTES));
			return -1;
		}
		/* a fixed VHD is kept as it is, but for its footer's
		 * unique id, which becomes the disk's UUID */
		s->bytes = size - VHD_FOOTER_BYTES;
		s->footer_at = size - VHD_FOOTER_BYTES;
		memcpy(s->footer, tail, sizeof(tail));
		*plain_size = size;
		return 0;
	}
	/* raw: pad to a whole MiB and add a footer */
	padded = (size + MiB - 1) / MiB * MiB;
	if (padded != size)
		warning("%s: raw image of %llu bytes padded with zeros to "
			"%llu (a whole MiB)", src, (unsigned long long)size,
			(unsigned long long)padded);
	s->bytes = size;
	s->footer_at = padded;
	*plain_size = padded + VHD_FOOTER_BYTES;
	return 1;
}

static int disk_import(int argc, char **argv, struct cli_ctx *ctx)
{
	struct make_args a;
	struct key_choice kc;
	struct vol_format f;
	struct import_src s;
	struct vault *v = NULL;
	struct progress pg = { 0 };
	uint8_t uuid[16];
	uint64_t plain;
	int r, kind;

	r = parse_make(argc, argv, &a, 2, "import");
	if (r)
		return r < 0 ? EXIT_OK : r;
	r = new_disk_name("import", a.args[1]);
	if (r)
		return r;
	if (a.size)
		return cli_usage(disk_usage, "disk import: the size comes from "
				 "the image; --size is for create");
	/* before the image is looked at (and a padding warning given):
	 * the same one line as create; the create itself still refuses
	 * a DEST that appears meanwhile */
	if (access(a.args[1], F_OK) == 0)
		return disk_err(a.args[1], NULL, -EEXIST);
	memset(&s, 0, sizeof(s));
	s.fd = open(a.args[0], O_RDONLY | O_CLOEXEC);
	if (s.fd < 0) {
		error("%s: %s", a.args[0], strerror(errno));
		return EXIT_FAIL;
	}
	kind = classify_import(a.args[0], s.fd, &s, &plain);
	if (kind < 0) {
		close(s.fd);
		return EXIT_FAIL;
	}
	if (cli_open_vault(ctx, &v)) {
		close(s.fd);
		return EXIT_FAIL;
	}
	r = choose_keys(v, a.des, a.key, &kc);
	if (r < 0) {
		r = EXIT_FAIL;
		goto out;
	}
	fill_format(&f, &kc, plain, a.ss);
	rng_uuid(uuid);
	f.uuid = uuid;
	if (kind == 1)
		vhd_footer_build(s.footer, s.footer_at, uuid, time(NULL));
	else
		vhd_footer_set_uuid(s.footer, uuid);
	pg.on = cli_progress_on(ctx);
	s.pg = &pg;
	r = make_new_disk(ctx, v, a.args[1], &f, &s, "cannot import");
out:
	close(s.fd);
	vault_close(v);
	return r;
}

/* --- export and snapshot ------------------------------------------- */

/*
 * Export and snapshot read the disk's file: refuse while a mount holds it
 * open, and while a ReadWrite host cache that no mount serves may hold
 * newer sectors than the file (a mount that did not end cleanly).
 */
static int refuse_in_use(struct cli_ctx *ctx, const char *path)
{
	char store[PATH_MAX], dir[PATH_MAX];
	int r;

	if (blob_is_url(path)) {
		struct backing *b;

		/* a mount holds the blob's lease */
		if (open_backing(ctx, path, 1, &b))
			return EXIT_FAIL;
		r = b->ops->inuse(b);
		if (r < 0)
			r = backing_fail(b, r);
		else if (r > 0) {
			error("disk %s: in use by a mount (it holds the blob's "
			      "lease); copy it through the mount or unmount it "
			      "first", path);
			r = EXIT_FAIL;
		}
		b->ops->close(b);
		return r;
	}
	r = vol_in_use(path);

	if (r < 0)
		return disk_err(path, NULL, r);
	if (r > 0) {
		error("disk %s: in use by a mount; copy it through the mount "
		      "or unmount it first", path);
		return EXIT_FAIL;
	}
	r = hcm_unreplayed(path, store, sizeof(store), dir, sizeof(dir));
	if (r < 0)
		return disk_err(path, "cannot check the store's host cache", r);
	if (r > 0) {
		error("disk %s: the host cache %s may hold writes not yet in "
		      "the store %s (a mount with caching=ReadWrite did not end "
		      "cleanly): mount the store with -o host_cache=%s,"
		      "caching=ReadWrite once to write them back", path, dir,
		      store, dir);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

/*
 * A disk that cannot be opened because of its key: name the key id and
 * its state ("key vault://v/keys/k1/VER is disabled"), as SPEC.md asks;
 * a file without the ssefs magic as such; other failures as disk_err().
 */
static int key_at_fault(struct vault *v, const char *path, int r,
			const struct vault_err *e)
{
	struct env_header h;
	enum key_state st;

	if ((r == -EKEYREVOKED || r == -EKEYEXPIRED || r == -ENOKEY) &&
	    vol_probe(path, &h) == 0) {
		for (unsigned int i = 0; i < h.nlayers; i++) {
			st = vault_key_state(v, h.layer[i].kid, 0);
			if (st == KEY_USABLE)
				continue;
			error("disk %s: cannot open: key %s is %s", path,
			      h.layer[i].kid, key_state_name(st));
			return EXIT_FAIL;
		}
	}
	/* a file that is no disk at all is not a corrupt one */
	if (r == -EBADMSG && vol_probe(path, NULL) == -ENOTSUP)
		r = -ENOTSUP;
	return disk_verr(path, "cannot open", r, e);
}

static int open_disk(struct cli_ctx *ctx, const char *path, int flags,
		     struct vault **v, struct volume **vol)
{
	struct keyops ops;
	int r;

	if (cli_open_vault(ctx, v))
		return EXIT_FAIL;
	disk_keyops(ctx, *v, &ops);
	if (blob_is_url(path)) {
		struct backing *b;

		r = open_backing(ctx, path, flags & VOL_RDONLY, &b);
		if (r == 0) {
			r = vol_open_backing(vol, b, flags, &ops);
			if (r < 0)
				r = disk_verr(path, "cannot open", r,
					      &ctx->verr);
		}
		if (r) {
			vault_close(*v);
			*v = NULL;
		}
		return r;
	}
	r = vol_open(vol, path, flags, &ops);
	if (r < 0) {
		r = key_at_fault(*v, path, r, &ctx->verr);
		vault_close(*v);
		*v = NULL;
		return r;
	}
	return EXIT_OK;
}

/*
 * Never replace an encrypted disk (the source itself, or any file with
 * the ssefs magic) with plaintext: `export d.vhd d.vhd` would otherwise
 * put the whole plaintext into the store.
 */
static int refuse_plain_over_disk(const char *dest)
{
	int r = vol_probe(dest, NULL);

	if (r == -ENOENT || r == -ENOTSUP)
		return EXIT_OK;
	if (r == 0 || r == -EBADMSG || r == -EPROTONOSUPPORT) {
		error("disk %s: is an encrypted disk; refusing to overwrite "
		      "it with plaintext", dest);
		return EXIT_FAIL;
	}
	return EXIT_OK;		/* unreadable: the write will say why */
}

static int disk_export(int argc, char **argv, struct cli_ctx *ctx)
{
	struct volume *vol = NULL;
	struct vault *v = NULL;
	char tmp[PATH_MAX], into[PATH_MAX];
	const char *dest, *base;
	struct progress pg = { 0 };
	uint8_t *buf = NULL;
	uint64_t size, off;
	struct stat st;
	int fd = -1, r;

	if (argc != 3)
		return cli_usage(disk_usage, "disk export: needs PATH.vhd "
				 "and DEST");
	/* DEST a directory: DEST/NAME.vhd, as cp(1) does */
	dest = argv[2];
	if (stat(dest, &st) == 0 && S_ISDIR(st.st_mode)) {
		base = strrchr(argv[1], '/');
		base = base ? base + 1 : argv[1];
		if (!*base || snprintf(into, sizeof(into), "%s/%s", dest,
				       base) >= (int)sizeof(into))
			return disk_err(dest, "cannot write", -ENAMETOOLONG);
		dest = into;
	}
	r = refuse_in_use(ctx, argv[1]);
	if (r)
		return r;
	r = refuse_plain_over_disk(dest);
	if (r)
		return r;
	r = open_disk(ctx, argv[1], VOL_RDONLY, &v, &vol);
	if (r)
		return r;
	buf = malloc(COPY_CHUNK);
	fd = io_tmpfile_beside(dest, 0600, tmp, sizeof(tmp));
	if (!buf || fd < 0) {
		r = disk_err(dest, "cannot write", fd < 0 ? fd : -ENOMEM);
		goto out;
	}
	size = vol_size(vol);
	r = ftruncate(fd, (off_t)size) < 0 ? -errno : 0;
	pg.on = cli_progress_on(ctx);
	progress_start(&pg, "export", NULL, size);
	for (off = 0; r == 0 && off < size; off += COPY_CHUNK) {
		size_t n = size - off < COPY_CHUNK ? (size_t)(size - off) :
						     COPY_CHUNK;
		ssize_t got = vol_read(vol, buf, n, off);

		if (got != (ssize_t)n)
			r = got < 0 ? (int)got : -EIO;
		else if (!is_zero(buf, n))	/* keep the copy sparse */
			r = io_pwrite_all(fd, buf, n, (off_t)off);
		progress_update(&pg, off + n);
	}
	progress_finish(&pg);
	if (r == 0)
		r = io_commit_tmpfile(fd, tmp, dest);
	else
		unlink(tmp);
	if (r < 0) {
		r = disk_err(argv[1], "export failed", r);
		goto out;
	}
	if (ctx->json) {
		char abs[PATH_MAX], dabs[PATH_MAX];
		struct json j;

		json_init(&j, stdout, JSON_PRETTY);
		json_obj_begin(&j, NULL);
		json_str(&j, "path", realpath(argv[1], abs) ? abs : argv[1]);
		json_str(&j, "dest", realpath(dest, dabs) ? dabs : dest);
		json_uint(&j, "vhdSizeBytes", size);
		json_obj_end(&j);
		r = json_end(&j) < 0 ? EXIT_FAIL : EXIT_OK;
	}
out:
	if (fd >= 0)
		close(fd);
	if (buf) {
		secmem_wipe(buf, COPY_CHUNK);
		free(buf);
	}
	vol_close(vol);
	vault_close(v);
	return r;
}

/* Copy @src to @dst: a reflink where the file system can, else a sparse
 * copy of the data ranges; @pg counts the file's bytes, holes included. */
static int copy_backing(int src, int dst, struct progress *pg)
{
	struct stat st;
	off_t data = 0, hole;
	static char buf[1 << 20];

	if (fstat(src, &st) < 0)
		return -errno;
	progress_start(pg, "snapshot", NULL, (uint64_t)st.st_size);
	if (ioctl(dst, FICLONE, src) == 0) {
		progress_update(pg, (uint64_t)st.st_size);
		return 0;
	}
	if (ftruncate(dst, st.st_size) < 0)
		return -errno;
	for (;;) {
		data = lseek(src, data, SEEK_DATA);
		if (data < 0) {
			if (errno != ENXIO)
				return -errno;
			progress_update(pg, (uint64_t)st.st_size);
			return 0;
		}
		hole = lseek(src, data, SEEK_HOLE);
		if (hole < 0)
			return -errno;
		while (data < hole) {
			size_t n = (size_t)(hole - data) < sizeof(buf) ?
				   (size_t)(hole - data) : sizeof(buf);
			ssize_t got = io_pread_all(src, buf, n, data);
			int r;

			if (got <= 0)
				return got < 0 ? (int)got : -EIO;
			r = io_pwrite_all(dst, buf, (size_t)got, data);
			if (r < 0)
				return r;
			data += got;
			progress_update(pg, (uint64_t)data);
		}
	}
}

/* Give the fixed-VHD footer at the end of @vol the UUID @uuid. */
static int new_footer_uuid(struct volume *vol, const uint8_t uuid[16])
{
	uint8_t f[VHD_FOOTER_BYTES];
	uint64_t size = vol_size(vol);
	struct vhd_info vi;
	ssize_t n;

	if (size < VHD_FOOTER_BYTES)
		return 0;
	n = vol_read(vol, f, sizeof(f), size - VHD_FOOTER_BYTES);
	if (n != (ssize_t)sizeof(f))
		return n < 0 ? (int)n : -EIO;
	if (vhd_footer_parse(f, &vi) < 0)
		return 0;	/* not ours to fix: copied as it was */
	vhd_footer_build(f, vi.size, uuid, time(NULL));
	n = vol_write(vol, f, sizeof(f), size - VHD_FOOTER_BYTES);
	return n == (ssize_t)sizeof(f) ? 0 : (n < 0 ? (int)n : -EIO);
}

/*
 * The source of a copy or a snapshot, kept from every mount for the
 * copy's while: a directory store's disk that no mount holds and no host
 * cache owes writes (refuse_in_use()), opened read-only; a blob's lease,
 * taken and held until the backing is closed (a mount's open fails with
 * EBUSY meanwhile), or, where the credentials may not take a lease (a SAS
 * without write: 403), found free as a directory store's disk is.
 * Return: 0, or the exit code after one line.
 */
static int hold_source(struct cli_ctx *ctx, const char *path,
		       struct backing **b)
{
	int r;

	*b = NULL;
	if (blob_is_url(path)) {
		if (open_backing(ctx, path, 0, b))
			return EXIT_FAIL;
		r = (*b)->ops->hold_inuse(*b);
		if (r == 0)
			return EXIT_OK;
		if (r == -EBUSY)
			error("disk %s: in use by a mount (it holds the blob's "
			      "lease); copy it through the mount or unmount it "
			      "first", path);
		else if (r != -EACCES)
			backing_fail(*b, r);
		(*b)->ops->close(*b);
		*b = NULL;
		if (r != -EACCES)
			return EXIT_FAIL;
	}
	r = refuse_in_use(ctx, path);
	if (r)
		return r;
	return open_backing(ctx, path, 1, b);
}

/* The copy @nv of a disk becomes a disk of its own: a new UUID in its
 * header (re-MAC'd) and in its VHD footer, the header bound to that footer
 * again; a footer that is not ours stays as it was, unbound. */
static int make_own(struct volume *nv)
{
	struct env_header cur;
	int r;

	vol_get_header(nv, &cur);
	rng_uuid(cur.uuid);
	r = vol_set_header(nv, &cur);
	if (r == 0)
		r = new_footer_uuid(nv, cur.uuid);
	if (r == 0)
		r = vol_bind_footer(nv);
	return r == VOL_EFOREIGN ? 0 : r;
}

struct copy_pg {
	struct progress *pg;
	const char *what;	/* the progress line's word: "copy" */
	int started;
};

static void copy_progress(void *arg, uint64_t done, uint64_t total)
{
	struct copy_pg *c = arg;

	if (!c->started) {
		progress_start(c->pg, c->what, NULL, total);
		c->started = 1;
	}
	progress_update(c->pg, done);
}

/*
 * `disk snapshot SRC DEST` where either is a URL: the source held as
 * hold_source() says, its keys and MAC proven by opening it, its backing
 * copied thin (store_copy(): the allocated ranges only, no zero page
 * written) into DEST, a new blob or an unnamed file published at the end,
 * then made a disk of its own (make_own()).  A blob DEST holds its lease
 * meanwhile and is deleted again on failure.
 */
/*
 * Make @dst of @len bytes (a page blob, leased while it is made, or a new
 * file in the store not yet published: store_new_publish()) as *@db and
 * copy @sb into it with a progress line @what ("copy", "snapshot").
 * *@made: a blob was created, to be deleted if the command fails later.
 * Return: 0, or an exit code once one line said why.
 */
static int copy_to_new(struct cli_ctx *ctx, struct backing *sb,
		       const char *src, const char *dst, uint64_t len,
		       const char *what, struct backing **db,
		       struct backing_file *df, struct store_new *sn,
		       int *made)
{
	char msg[BLOB_MSG_MAX], why[32];
	struct progress pg = { 0 };
	struct copy_pg cp = { .pg = &pg, .what = what };
	int r, dst_url = blob_is_url(dst);

	*made = 0;
	if (dst_url) {
		r = create_blob(ctx, dst, len, db, msg, sizeof(msg));
		if (r < 0) {
			*db = NULL;
			return r == -EEXIST ? disk_err(dst, NULL, r) :
			       msg[0] ? blob_fail(msg) : EXIT_FAIL;
		}
		*made = 1;
		/* the lease for the copy's while: no one opens it half made */
		r = (*db)->ops->hold_inuse(*db);
	} else {
		r = store_new_begin(sn, AT_FDCWD, dst);
		if (r < 0)
			return disk_err(dst, NULL, r);
		backing_file_borrow(df, sn->fd);
		*db = &df->b;
	}
	pg.on = cli_progress_on(ctx);
	if (r == 0)
		r = store_copy(sb, *db, copy_progress, &cp);
	progress_finish(&pg);
	if (r == 0)
		return 0;
	/* a blob side has the service's word on it */
	snprintf(why, sizeof(why), "%s failed", what);
	return dst_url ? backing_fail(*db, r) :
	       blob_is_url(src) ? backing_fail(sb, r) : disk_err(dst, why, r);
}

static int snapshot_thin(struct cli_ctx *ctx, const char *src,
			 const char *dst)
{
	struct store_new sn = { .at = { .fd = -1 }, .fd = -1 };
	struct backing_file df;
	struct backing *sb = NULL, *db = NULL;
	struct volume *vol = NULL;
	struct vault *v = NULL;
	struct keyops ops;
	uint64_t len;
	int r, dst_url = blob_is_url(dst), made = 0, vfd;

	/* as on a directory store: an existing DEST before a busy source */
	if (dst_url ? blob_exists(ctx, dst) : access(dst, F_OK) == 0)
		return disk_err(dst, NULL, -EEXIST);
	r = hold_source(ctx, src, &sb);
	if (r)
		return r;
	/* opening it proves the keys and the MAC before anything is copied */
	r = open_disk(ctx, src, VOL_RDONLY, &v, &vol);
	if (r)
		goto out;
	vol_close(vol);
	vol = NULL;
	r = sb->ops->get_size(sb, &len);
	if (r < 0) {
		r = backing_fail(sb, r);
		goto out;
	}
	r = copy_to_new(ctx, sb, src, dst, len, "snapshot", &db, &df, &sn,
			&made);
	if (r)
		goto out;
	disk_keyops(ctx, v, &ops);
	if (dst_url) {
		r = vol_open_backing(&vol, db, 0, &ops);	/* takes @db */
		db = NULL;
	} else {
		vfd = dup(sn.fd);
		r = vfd < 0 ? -errno : vol_open_fd(&vol, vfd, dst, 0, &ops);
	}
	if (r == 0)
		r = make_own(vol);
	if (vol) {
		int c = vol_close(vol);

		vol = NULL;
		if (r == 0)
			r = c;
	}
	if (r == 0 && !dst_url)
		r = store_new_publish(&sn);
	if (r < 0) {
		r = disk_verr(dst, "snapshot failed", r, &ctx->verr);
		goto out;
	}
	made = 0;
	r = dst_url ? show_header(ctx, dst, ctx->json, NULL) :
		      finish_new_disk(ctx, v, dst);
out:
	if (db && dst_url)
		db->ops->close(db);
	if (made)
		delete_blob(ctx, dst);
	store_new_end(&sn);
	if (sb)
		sb->ops->close(sb);
	vault_close(v);
	return r;
}

static int disk_snapshot(int argc, char **argv, struct cli_ctx *ctx)
{
	struct volume *vol = NULL;
	struct vault *v = NULL;
	struct keyops ops;
	struct store_new sn = { .at = { .fd = -1 }, .fd = -1 };
	struct progress pg = { 0 };
	int src = -1, dst, r;

	if (argc != 3)
		return cli_usage(disk_usage, "disk snapshot: needs PATH.vhd "
				 "and DEST.vhd");
	r = new_disk_name("snapshot", argv[2]);
	if (r)
		return r;
	if (blob_is_url(argv[1]) || blob_is_url(argv[2]))
		return snapshot_thin(ctx, argv[1], argv[2]);
	if (access(argv[2], F_OK) == 0)
		return disk_err(argv[2], NULL, -EEXIST);
	r = refuse_in_use(ctx, argv[1]);
	if (r)
		return r;
	/* opening it proves the keys and the MAC before anything is copied */
	r = open_disk(ctx, argv[1], VOL_RDONLY, &v, &vol);
	if (r)
		return r;
	vol_close(vol);
	vol = NULL;
	src = trusted_open(argv[1], O_RDONLY | O_NOFOLLOW, 0);
	r = src < 0 ? src : store_new_begin(&sn, AT_FDCWD, argv[2]);
	dst = sn.fd;
	if (r < 0) {
		r = disk_err(src < 0 ? argv[1] : argv[2], NULL, r);
		goto out;
	}
	pg.on = cli_progress_on(ctx);
	r = copy_backing(src, dst, &pg);
	progress_finish(&pg);
	/* the copy is a disk of its own: a new UUID, the header re-MAC'd */
	if (r == 0) {
		struct volume *nv = NULL;
		int vfd = dup(dst);

		disk_keyops(ctx, v, &ops);
		r = vfd < 0 ? -errno : vol_open_fd(&nv, vfd, argv[2], 0, &ops);
		if (r == 0) {
			r = make_own(nv);
			vol_close(nv);
		}
	}
	if (r == 0)
		r = store_new_publish(&sn);
	if (r < 0) {
		r = disk_verr(argv[2], "snapshot failed", r, &ctx->verr);
		goto out;
	}
	r = finish_new_disk(ctx, v, argv[2]);
out:
	if (src >= 0)
		close(src);
	store_new_end(&sn);
	vault_close(v);
	return r;
}

/* --- copy between stores ------------------------------------------- */

/*
 * `disk copy SRC DEST`: the backing object as it is (header copies and
 * ciphertext, so no key is needed and the copy is the same disk), thin:
 * store_copy() reads the allocated ranges only.  A directory DEST is
 * built unnamed and published at the end (disk/store.h); a blob DEST is
 * created first and deleted again on failure.
 */
static int disk_copy(int argc, char **argv, struct cli_ctx *ctx)
{
	const char *src, *dst;
	struct store_new sn = { .at = { .fd = -1 }, .fd = -1 };
	struct backing_file df;
	struct backing *sb = NULL, *db = NULL;
	struct env_header h;
	uint64_t len;
	int r, dst_url, made = 0;

	if (argc != 3)
		return cli_usage(disk_usage, "disk copy: needs SRC.vhd and "
				 "DEST.vhd");
	src = argv[1];
	dst = argv[2];
	dst_url = blob_is_url(dst);
	r = new_disk_name("copy", dst);
	if (r)
		return r;
	if (!dst_url && access(dst, F_OK) == 0)
		return disk_err(dst, NULL, -EEXIST);
	r = hold_source(ctx, src, &sb);
	if (r)
		return r;
	/* only disks: a copy of anything else is not this command's job */
	r = hdr_get(sb, &h, NULL);
	if (r == 0)
		r = sb->ops->get_size(sb, &len);
	if (r < 0) {
		r = r == -ENOTSUP || r == -EBADMSG || r == -EPROTONOSUPPORT ?
		    disk_err(src, NULL, r) : backing_fail(sb, r);
		goto out;
	}
	r = copy_to_new(ctx, sb, src, dst, len, "copy", &db, &df, &sn, &made);
	if (r == 0 && !dst_url) {
		r = store_new_publish(&sn);
		if (r < 0)
			r = disk_err(dst, "copy failed", r);
	}
	if (r) {
		if (made) {
			db->ops->close(db);
			db = NULL;
			delete_blob(ctx, dst);
		}
		goto out;
	}
	if (dst_url) {
		db->ops->close(db);	/* releases the lease */
		db = NULL;
	}
	r = show_header(ctx, dst, ctx->json, NULL);
out:
	if (db && dst_url)
		db->ops->close(db);
	store_new_end(&sn);
	sb->ops->close(sb);
	return r;
}

/* --- rewrap and verify ---------------------------------------------- */

/* The rewrap target of a layer: its key's newest version. */
static int current_kid(struct vault *v, const char *kid, char *out,
		       size_t len)
{
	struct kid k;

	if (kid_parse(kid, &k) < 0)
		return -EINVAL;
	return vault_resolve(v, k.platform ? "platform" : k.name, out, len);
}

static const struct option rewrap_opts[] = {
	{ "des", required_argument, NULL, 'd' },
	{ "key", required_argument, NULL, 'k' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int disk_rewrap_cmd(int argc, char **argv, struct cli_ctx *ctx)
{
	char targets[ENV_MAX_LAYERS][ENV_KID_MAX + 1];
	char old[ENV_MAX_LAYERS][ENV_KID_MAX + 1];
	const char *t[ENV_MAX_LAYERS] = { NULL, NULL };
	const char *des = NULL, *key = NULL, *path;
	struct key_choice kc;
	struct rewrap_set set;
	struct vault *v = NULL;
	struct backing *b = NULL;
	struct env_header h;
	struct keyops ops;
	int c, r, changed = 0;

	optind = 1;
	opterr = 0;
	while ((c = cli_getopt(argc, argv, ":h", rewrap_opts,
			       "disk rewrap")) != -1) {
		switch (c) {
		case 'd':
			des = optarg;
			break;
		case 'k':
			key = optarg;
			break;
		case 'h':
			fputs(disk_usage, stdout);
			return EXIT_OK;
		default:
			return EXIT_USAGE;
		}
	}
	if (des && key)
		return cli_usage(disk_usage, "disk rewrap: --des and --key "
				 "exclude each other");
	if (argc - optind != 1)
		return cli_usage(disk_usage, "disk rewrap: needs PATH.vhd");
	path = argv[optind];
	if (blob_is_url(path)) {
		if (open_backing(ctx, path, 0, &b))
			return EXIT_FAIL;
		r = hdr_get(b, &h, NULL);
		if (r < 0) {
			r = r == -ENOTSUP || r == -EBADMSG ?
			    disk_err(path, NULL, r) : backing_fail(b, r);
			b->ops->close(b);
			return r;
		}
	} else {
		r = vol_probe(path, &h);
		if (r < 0)
			return disk_err(path, NULL, r);
	}
	if (cli_open_vault(ctx, &v)) {
		r = EXIT_FAIL;
		goto out;
	}
	if (des || key) {
		/* a change of set: the new set's keys, as create would */
		if (choose_keys(v, des, key, &kc) < 0) {
			r = EXIT_FAIL;
			goto out;
		}
		if (kc.nlayers != h.nlayers) {
			error("disk %s: is %s, %s %s is %s: changing the number "
			      "of encryption layers would re-encrypt the data; "
			      "make a new disk and copy it instead", path,
			      env_type_name(h.enc_type), des ? "des" : "key",
			      des ? des : key, env_type_name(kc.type));
			r = EXIT_FAIL;
			goto out;
		}
		for (unsigned int i = 0; i < h.nlayers; i++)
			t[i] = kc.kid[i];
		set.des = kc.des;
		set.enc_type = kc.type;
	}
	for (unsigned int i = 0; !(des || key) && i < h.nlayers; i++) {
		r = current_kid(v, h.layer[i].kid, targets[i],
				sizeof(targets[i]));
		if (r < 0) {
			error("disk %s: key of %s: %s", path,
			      h.layer[i].kid, svc_strerror(r));
			r = EXIT_FAIL;
			goto out;
		}
		t[i] = targets[i];
	}
	disk_keyops(ctx, v, &ops);
	if (b)
		r = disk_rewrap_backing(b, &ops, t, NULL,
					des || key ? &set : NULL, &changed,
					old);
	else
		r = disk_rewrap_set(path, &ops, t, des || key ? &set : NULL,
				    &changed, old);
	if (r == -EBUSY && b) {
		/* the lease: a mount has it open, and re-wraps it itself */
		error("disk %s: in use by a mount (it holds the blob's lease); "
		      "that mount re-wraps it", path);
		r = EXIT_FAIL;
		goto out;
	}
	if (b && (r == -EIO || r == -EACCES || r == -ESTALE)) {
		r = backing_fail(b, r);
		goto out;
	}
	if (r < 0) {
		r = disk_verr(path, "rewrap failed", r, &ctx->verr);
		goto out;
	}
	if (changed) {
		/* the registry holds paths; a blob store's disks are found
		 * by listing the store */
		if (!b)
			register_disk(v, path);
		vault_audit(v, des || key ? "disk.move" : "disk.rewrap",
			    t[0], 0);
	}
	if (!ctx->json) {
		for (unsigned int i = 0; i < h.nlayers; i++)
			printf("%s: layer %u: %s%s%s\n", path, i,
			       changed && strcmp(old[i], t[i]) ? old[i] : "",
			       changed && strcmp(old[i], t[i]) ? " -> " : "",
			       t[i]);
		if (changed && (des || key))
			printf("%s: %s%s%s -> %s%s%s\n", path,
			       env_type_name(h.enc_type), *h.des ? ", des " : "",
			       h.des, env_type_name(set.enc_type),
			       *set.des ? ", des " : "", set.des);
		if (!changed)
			printf("%s: already on %s\n", path,
			       des || key ? "that set and key version" :
			       "the current key version");
		r = EXIT_OK;
	} else {
		r = show_header(ctx, path, 1, changed ? "rewrapped" : "current");
	}
out:
	if (b)
		b->ops->close(b);
	vault_close(v);
	return r;
}

static int disk_verify(int argc, char **argv, struct cli_ctx *ctx)
{
	uint8_t footer[VHD_FOOTER_BYTES];
	struct volume *vol = NULL;
	struct vault *v = NULL;
	struct env_header h;
	struct hdr_status st;
	struct vhd_info vi;
	struct backing_file bf;
	struct backing *b = NULL;
	const char *note = "ok";
	int fd = -1, r, bad = -1;
	uint64_t size;

	if (argc != 2)
		return cli_usage(disk_usage, "disk verify: needs PATH.vhd");
	r = open_disk(ctx, argv[1], VOL_RDONLY, &v, &vol);
	if (r)
		return r;
	/* the MAC was checked by the open; now the footer */
	size = vol_size(vol);
	if (size < VHD_FOOTER_BYTES ||
	    vol_read(vol, footer, sizeof(footer), size - VHD_FOOTER_BYTES) !=
		    (ssize_t)sizeof(footer) ||
	    vhd_footer_parse(footer, &vi) < 0 || vi.type != VHD_TYPE_FIXED ||
	    vi.size != size - VHD_FOOTER_BYTES) {
		error("disk %s: the fixed-VHD footer is missing or damaged",
		      argv[1]);
		r = EXIT_FAIL;
		goto out;
	}
	vol_close(vol);
	vol = NULL;
	/* both copies: repair a bad or stale one from its valid twin */
	if (blob_is_url(argv[1])) {
		if (open_backing(ctx, argv[1], 0, &b)) {
			r = EXIT_FAIL;
			goto out;
		}
		r = b->ops->hdr_lock(b);	/* the lease, a while */
		if (r < 0) {
			r = r == -EBUSY ? (error("disk %s: in use by a mount "
						 "(it holds the blob's lease)",
						 argv[1]), EXIT_FAIL) :
			    backing_fail(b, r);
			goto out;
		}
	} else {
		fd = trusted_open(argv[1], O_RDWR, 0);
		if (fd >= 0)
			backing_file_borrow(&bf, fd);
		b = fd >= 0 ? &bf.b : NULL;
		r = fd < 0 ? fd : b->ops->hdr_lock(b);
		if (r < 0) {
			b = NULL;
			r = disk_err(argv[1], NULL, r);
			goto out;
		}
	}
	r = hdr_get(b, &h, &st);
	for (unsigned int c = 0; r == 0 && c < ENV_NCOPIES; c++)
		if (st.state[c] != HDR_COPY_OK)
			bad = (int)c;
	if (r == 0 && bad >= 0) {
		warning("disk %s: header copy %d is %s; repairing it from "
			"copy %d", argv[1], bad,
			copy_state(st.state[bad]), 1 - bad);
		r = hdr_put_copy(b, &h, (unsigned int)bad);
		note = "repaired";
	}
	b->ops->hdr_unlock(b);
	if (r < 0) {
		r = disk_err(argv[1], "repair failed", r);
		goto out;
	}
	r = show_header(ctx, argv[1], ctx->json, note);
out:
	if (b && b != &bf.b)
		b->ops->close(b);
	if (fd >= 0)
		close(fd);
	vol_close(vol);
	vault_close(v);
	return r;
}

int cmd_disk(int argc, char **argv, struct cli_ctx *ctx)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **, struct cli_ctx *);
	} subs[] = {
		{ "create", disk_create }, { "import", disk_import },
		{ "export", disk_export }, { "snapshot", disk_snapshot },
		{ "rewrap", disk_rewrap_cmd }, { "verify", disk_verify },
		{ "attach", disk_attach }, { "detach", disk_detach },
		{ "copy", disk_copy },
	};
	const char *sub = argc > 1 ? argv[1] : NULL;

	if (!sub)
		return cli_usage(disk_usage, "disk: needs a subcommand");
	if (!strcmp(sub, "-h") || !strcmp(sub, "--help")) {
		fputs(disk_usage, stdout);
		return EXIT_OK;
	}
	/* those with options of their own parse them themselves */
	if (strcmp(sub, "create") && strcmp(sub, "import") &&
	    strcmp(sub, "rewrap") && strcmp(sub, "attach")) {
		char what[32];
		int r;

		snprintf(what, sizeof(what), "disk %s", sub);
		argc--;
		argv++;
		r = cli_plain_args(&argc, &argv, what, disk_usage);
		if (r)
			return r < 0 ? EXIT_OK : r;
		argc++;
		argv--;
	}
	if (!strcmp(sub, "show")) {
		if (argc != 3)
			return cli_usage(disk_usage, "disk show: needs "
					 "PATH.vhd");
		return show_header(ctx, argv[2], ctx->json, NULL);
	}
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (!strcmp(sub, subs[i].name))
			return subs[i].fn(argc - 1, argv + 1, ctx);
	return cli_usage(disk_usage, "disk %s: unknown subcommand", sub);
}
