/*
 * hsm.c - RSA keys in a PKCS#11 token, through the module's function list
 *
 * A module may be initialised once per process, so loaded modules are kept
 * in a small process-wide table with a use count: the first user calls
 * C_Initialize (with CKF_OS_LOCKING_OK), the last one C_Finalize.
 */

/* RSA_padding_check_PKCS1_OAEP_mgf1() is deprecated in OpenSSL 3 but is
 * the only public way to check OAEP padding on a block decrypted
 * elsewhere; it is still built and tested in OpenSSL 3.0. */
#define OPENSSL_SUPPRESS_DEPRECATED

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <sodium.h>

#include "crypto/secmem.h"
#include "keyvault/hsm.h"

/* Last: its compatibility macros (value, count, params...) must not reach
 * the headers above. */
#include <p11-kit-1/p11-kit/pkcs11.h>

struct hsm {
	pthread_mutex_t mu;
	struct module *mod;
	CK_SESSION_HANDLE session;
	int have_session;
	int oaep_refused;		/* the token said no to OAEP-256 */
	int used_oaep;
	CK_RV last_rv;			/* of the last failed call */
	int limited;			/* last key: decrypt-only */
	int limits_refused;		/* the token said no to them */
	char token[HSM_LABEL_MAX + 1];
	char pin_file[PATH_MAX];	/* read again at each login */
	char why[256];
};

struct module {
	void *dl;
	CK_FUNCTION_LIST_PTR f;
	int users;
	int finalize;			/* we initialised it */
};

#define MAX_MODULES	8
#define USAGE_LIMITS	2	/* see hsm_generate_rsa() */

static pthread_mutex_t modules_mu = PTHREAD_MUTEX_INITIALIZER;
static struct module modules[MAX_MODULES];

/* ---- errors ---- */

#define RV(x)	{ x, #x }

static const struct {
	CK_RV rv;
	const char *name;
} rv_names[] = {
	RV(CKR_ARGUMENTS_BAD), RV(CKR_ATTRIBUTE_SENSITIVE),
	RV(CKR_DEVICE_ERROR), RV(CKR_DEVICE_REMOVED),
	RV(CKR_ENCRYPTED_DATA_INVALID), RV(CKR_ENCRYPTED_DATA_LEN_RANGE),
	RV(CKR_FUNCTION_FAILED), RV(CKR_GENERAL_ERROR), RV(CKR_HOST_MEMORY),
	RV(CKR_KEY_FUNCTION_NOT_PERMITTED), RV(CKR_MECHANISM_INVALID),
	RV(CKR_MECHANISM_PARAM_INVALID), RV(CKR_OBJECT_HANDLE_INVALID),
	RV(CKR_PIN_INCORRECT), RV(CKR_PIN_LOCKED), RV(CKR_SESSION_CLOSED),
	RV(CKR_SESSION_HANDLE_INVALID), RV(CKR_TEMPLATE_INCONSISTENT),
	RV(CKR_TOKEN_NOT_PRESENT), RV(CKR_USER_NOT_LOGGED_IN),
};

static const char *rv_name(CK_RV rv)
{
	size_t i;

	for (i = 0; i < sizeof(rv_names) / sizeof(rv_names[0]); i++)
		if (rv_names[i].rv == rv)
			return rv_names[i].name;
	return NULL;
}

/* Note what the token said in @h->why and map it to an errno. */
static int fail(struct hsm *h, const char *what, CK_RV rv)
{
	const char *n = rv_name(rv);

	h->last_rv = rv;
	if (n)
		snprintf(h->why, sizeof(h->why), "%s: %s", what, n);
	else
		snprintf(h->why, sizeof(h->why), "%s: CKR 0x%lx", what,
			 (unsigned long)rv);
	switch (rv) {
	case CKR_PIN_INCORRECT:
	case CKR_PIN_LOCKED:
	case CKR_USER_NOT_LOGGED_IN:
		return -EACCES;
	case CKR_ENCRYPTED_DATA_INVALID:
	case CKR_ENCRYPTED_DATA_LEN_RANGE:
		return -EBADMSG;
	case CKR_HOST_MEMORY:
		return -ENOMEM;
	case CKR_TOKEN_NOT_PRESENT:
	case CKR_DEVICE_REMOVED:
		return -ENODEV;
	default:
		return -EIO;
	}
}

const char *hsm_why(const struct hsm *h)
{
	return h ? h->why : "";
}

void hsm_why_copy(struct hsm *h, char *buf, size_t len)
{
	pthread_mutex_lock(&h->mu);
	snprintf(buf, len, "%s", h->why);
	pthread_mutex_unlock(&h->mu);
}

const char *hsm_token(const struct hsm *h)
{
	return h->token;
}

int hsm_usage_limited(const struct hsm *h)
{
	return h->limited;
}

int hsm_used_oaep(const struct hsm *h)
{
	return h->used_oaep;
}

/* ---- modules ---- */

static int module_get(const char *path, struct module **out, char *why,
		      size_t whylen)
{
	CK_C_GetFunctionList getfl;
	CK_C_INITIALIZE_ARGS ia;
	CK_FUNCTION_LIST_PTR f = NULL;
	struct module *m = NULL;
	void *dl;
	CK_RV rv;
	int i, err = 0;

	if (access(path, R_OK) < 0) {
		err = errno;
		snprintf(why, whylen, "module %s: %s", path, strerror(err));
		return err == ENOENT ? -ENOENT : -ELIBBAD;
	}
	dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!dl) {
		const char *e = dlerror();

		snprintf(why, whylen, "module %s: cannot load it%s%s", path,
			 e ? ": " : "", e ? e : "");
		return -ELIBBAD;
	}
	pthread_mutex_lock(&modules_mu);
	for (i = 0; i < MAX_MODULES; i++)
		if (modules[i].users && modules[i].dl == dl) {
			m = &modules[i];
			break;
		}
	if (m) {
		/* dlopen() counted one more reference: keep it balanced */
		dlclose(dl);
		m->users++;
		goto out;
	}
	for (i = 0; i < MAX_MODULES && !m; i++)
		if (!modules[i].users)
			m = &modules[i];
	getfl = (CK_C_GetFunctionList)dlsym(dl, "C_GetFunctionList");
	if (!m || !getfl || getfl(&f) != CKR_OK || !f) {
		snprintf(why, whylen, "module %s: not a PKCS#11 module", path);
		err = m ? -ELIBBAD : -EMFILE;
		dlclose(dl);
		goto out;
	}
	memset(&ia, 0, sizeof(ia));
	ia.flags = CKF_OS_LOCKING_OK;
	rv = f->C_Initialize(&ia);
	if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		snprintf(why, whylen, "module %s: C_Initialize: 0x%lx", path,
			 (unsigned long)rv);
		err = -EIO;
		dlclose(dl);
		goto out;
	}
	m->dl = dl;
	m->f = f;
	m->users = 1;
	m->finalize = rv == CKR_OK;
out:
	pthread_mutex_unlock(&modules_mu);
	if (!err)
		*out = m;
	return err;
}

static void module_put(struct module *m)
{
	if (!m)
		return;
	pthread_mutex_lock(&modules_mu);
	if (--m->users == 0) {
		if (m->finalize)
			m->f->C_Finalize(NULL);
		dlclose(m->dl);
		memset(m, 0, sizeof(*m));
	}
	pthread_mutex_unlock(&modules_mu);
}

/* ---- open and close ---- */

/* The PIN from @path, which only its owner may read. */
static int read_pin(const char *path, struct secbuf **pin, char *why,
		    size_t whylen)
{
	char buf[HSM_PIN_MAX + 2];
	struct stat st;
	ssize_t n;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		err = -errno;
		snprintf(why, whylen, "pin file %s: %s", path,
			 strerror(errno));
		return err;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "pin file %s: not a regular file", path);
		err = -EINVAL;
	} else if (st.st_mode & 077) {
		snprintf(why, whylen, "pin file %s: permissions %04o are too "
			 "open (want 0600)", path,
			 (unsigned int)(st.st_mode & 07777));
		err = -EPERM;
	}
	if (!err) {
		n = read(fd, buf, sizeof(buf));
		if (n > 0 && buf[n - 1] == '\n')
			n--;
		if (n > 0 && buf[n - 1] == '\r')
			n--;
		if (n <= 0 || n > HSM_PIN_MAX) {
			snprintf(why, whylen, "pin file %s: %s", path,
				 n < 0 ? strerror(errno) : n ? "too long" :
				 "empty");
			err = n < 0 ? -EIO : -EINVAL;
		} else {
			*pin = secbuf_from(buf, (size_t)n);
			if (!*pin)
				err = -ENOMEM;
		}
	}
	sodium_memzero(buf, sizeof(buf));
	close(fd);
	return err;
}

/* The PIN file is there and only its owner may read it. */
static int read_pin_check(const char *path, char *why, size_t whylen)
{
	struct secbuf *pin = NULL;
	int err = read_pin(path, &pin, why, whylen);

	secbuf_free(pin);
	return err;
}

/* The first slot whose token is labelled @label (blank-padded to 32). */
static int find_slot(struct hsm *h, const char *label, CK_SLOT_ID *slot)
{
	CK_FUNCTION_LIST_PTR f = h->mod->f;
	CK_SLOT_ID *slots = NULL;
	CK_TOKEN_INFO ti;
	CK_ULONG n = 0, i;
	char want[32];
	size_t len = strlen(label);
	CK_RV rv;
	int err = -ENODEV;

	memset(want, ' ', sizeof(want));
	memcpy(want, label, len > 32 ? 32 : len);
	rv = f->C_GetSlotList(CK_TRUE, NULL, &n);
	if (rv != CKR_OK)
		return fail(h, "C_GetSlotList", rv);
	slots = calloc(n ? n : 1, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	rv = f->C_GetSlotList(CK_TRUE, slots, &n);
	if (rv != CKR_OK) {
		err = fail(h, "C_GetSlotList", rv);
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (f->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
			continue;
		if (!memcmp(ti.label, want, sizeof(want))) {
			*slot = slots[i];
			err = 0;
			break;
		}
	}
	if (err)
		snprintf(h->why, sizeof(h->why), "no token labelled '%s'",
			 label);
out:
	free(slots);
	return err;
}

/*
 * Find the token, open a read-write session and log in with the PIN read
 * now from h->pin_file.  On failure h->why says why and no session is
 * left open.
 */
static int session_open(struct hsm *h)
{
	struct secbuf *pin = NULL;
	CK_SLOT_ID slot;
	CK_RV rv;
	int err;

	err = read_pin(h->pin_file, &pin, h->why, sizeof(h->why));
	if (err)
		return err;
	err = find_slot(h, h->token, &slot);
	if (err)
		goto out;
	rv = h->mod->f->C_OpenSession(slot, CKF_SERIAL_SESSION |
				      CKF_RW_SESSION, NULL, NULL, &h->session);
	if (rv != CKR_OK) {
		err = fail(h, "C_OpenSession", rv);
		goto out;
	}
	h->have_session = 1;
	rv = h->mod->f->C_Login(h->session, CKU_USER, secbuf_data(pin),
				secbuf_len(pin));
	if (rv == CKR_PIN_INCORRECT) {
		snprintf(h->why, sizeof(h->why), "wrong pin (from %.200s)",
			 h->pin_file);
		err = -EACCES;
	} else if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
		err = fail(h, "C_Login", rv);
	}
	if (err) {
		h->mod->f->C_CloseSession(h->session);
		h->have_session = 0;
	}
out:
	secbuf_free(pin);
	return err;
}

/* Did the last failure lose the session (token pulled and put back,
 * session closed behind our back, login gone)? */
static int session_lost(const struct hsm *h)
{
	switch (h->last_rv) {
	case CKR_SESSION_HANDLE_INVALID:
	case CKR_SESSION_CLOSED:
	case CKR_USER_NOT_LOGGED_IN:
	case CKR_DEVICE_REMOVED:
	case CKR_TOKEN_NOT_PRESENT:
		return 1;
	default:
		return 0;
	}
}

/* After session_lost(): a new session, once.  The mutex is held. */
static int session_reopen(struct hsm *h)
{
	if (h->have_session)
		h->mod->f->C_CloseSession(h->session);
	h->have_session = 0;
	h->last_rv = CKR_OK;
	h->oaep_refused = 0;
	*h->why = 0;
	return session_open(h);
}

void hsm_test_drop_session(struct hsm *h)
{
	pthread_mutex_lock(&h->mu);
	if (h->have_session)
		h->mod->f->C_CloseSession(h->session);
	pthread_mutex_unlock(&h->mu);
}

int hsm_open(struct hsm **out, const char *module, const char *token,
	     const char *pin_file, char *why, size_t whylen)
{
	struct hsm *h;
	char dummy[8];
	int err;

	if (!why) {
		why = dummy;
		whylen = sizeof(dummy);
	}
	*why = 0;
	if (!module || !*module || !token || !*token ||
	    strlen(token) > HSM_LABEL_MAX || !pin_file || !*pin_file ||
	    strlen(pin_file) >= PATH_MAX) {
		snprintf(why, whylen, "the token is not configured");
		return -EINVAL;
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	pthread_mutex_init(&h->mu, NULL);
	snprintf(h->token, sizeof(h->token), "%s", token);
	snprintf(h->pin_file, sizeof(h->pin_file), "%s", pin_file);
	/* A PIN file with loose permissions is refused before anything is
	 * loaded. */
	err = read_pin_check(pin_file, why, whylen);
	if (err)
		goto fail;
	err = module_get(module, &h->mod, why, whylen);
	if (err)
		goto fail;
	err = session_open(h);
	if (err) {
		snprintf(why, whylen, "%s", h->why);
		goto fail;
	}
	*out = h;
	return 0;
fail:
	hsm_close(h);
	return err;
}

void hsm_close(struct hsm *h)
{
	if (!h)
		return;
	if (h->have_session)
		h->mod->f->C_CloseSession(h->session);
	module_put(h->mod);
	pthread_mutex_destroy(&h->mu);
	free(h);
}

/* ---- objects ---- */

/* The one object of @class with CKA_ID @id.  The mutex is held. */
static int find_object(struct hsm *h, CK_OBJECT_CLASS class,
		       const uint8_t id[HSM_ID_BYTES], CK_OBJECT_HANDLE *obj)
{
	CK_FUNCTION_LIST_PTR f = h->mod->f;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &class, sizeof(class) },
		{ CKA_ID, (void *)id, HSM_ID_BYTES },
	};
	CK_OBJECT_HANDLE found[2];
	CK_ULONG n = 0;
	CK_RV rv;

	rv = f->C_FindObjectsInit(h->session, tmpl, 2);
	if (rv != CKR_OK)
		return fail(h, "C_FindObjectsInit", rv);
	rv = f->C_FindObjects(h->session, found, 2, &n);
	f->C_FindObjectsFinal(h->session);
	if (rv != CKR_OK)
		return fail(h, "C_FindObjects", rv);
	if (n != 1) {
		snprintf(h->why, sizeof(h->why), "%s",
			 n ? "two objects have the key's CKA_ID" :
			 "the key's object is not in the token");
		return n ? -EIO : -ENOKEY;
	}
	*obj = found[0];
	return 0;
}

/* The DER SubjectPublicKeyInfo of public key object @obj. */
static int export_public(struct hsm *h, CK_OBJECT_HANDLE obj, uint8_t **pub,
			 size_t *publen)
{
	CK_FUNCTION_LIST_PTR f = h->mod->f;
	CK_ATTRIBUTE a[2] = {
		{ CKA_MODULUS, NULL, 0 },
		{ CKA_PUBLIC_EXPONENT, NULL, 0 },
	};
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *p = NULL;
	EVP_PKEY_CTX *pc = NULL;
	EVP_PKEY *pk = NULL;
	BIGNUM *n = NULL, *e = NULL;
	unsigned char *der = NULL;
	int len, err = -EIO;
	CK_RV rv;

	rv = f->C_GetAttributeValue(h->session, obj, a, 2);
	if (rv != CKR_OK)
		return fail(h, "C_GetAttributeValue", rv);
	a[0].pValue = malloc(a[0].ulValueLen);
	a[1].pValue = malloc(a[1].ulValueLen);
	if (!a[0].pValue || !a[1].pValue) {
		err = -ENOMEM;
		goto out;
	}
	rv = f->C_GetAttributeValue(h->session, obj, a, 2);
	if (rv != CKR_OK) {
		err = fail(h, "C_GetAttributeValue", rv);
		goto out;
	}
	n = BN_bin2bn(a[0].pValue, (int)a[0].ulValueLen, NULL);
	e = BN_bin2bn(a[1].pValue, (int)a[1].ulValueLen, NULL);
	bld = OSSL_PARAM_BLD_new();
	if (!n || !e || !bld ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
		goto out;
	p = OSSL_PARAM_BLD_to_param(bld);
	pc = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	if (!p || !pc || EVP_PKEY_fromdata_init(pc) != 1 ||
	    EVP_PKEY_fromdata(pc, &pk, EVP_PKEY_PUBLIC_KEY, p) != 1)
		goto out;
	len = i2d_PUBKEY(pk, &der);
	if (len <= 0)
		goto out;
	*pub = malloc((size_t)len);
	if (!*pub) {
		err = -ENOMEM;
		goto out;
	}
	memcpy(*pub, der, (size_t)len);
	*publen = (size_t)len;
	err = 0;
out:
	if (err == -EIO && !*h->why)
		snprintf(h->why, sizeof(h->why), "cannot read the public key");
	OPENSSL_free(der);
	EVP_PKEY_free(pk);
	EVP_PKEY_CTX_free(pc);
	OSSL_PARAM_free(p);
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(e);
	free(a[0].pValue);
	free(a[1].pValue);
	return err;
}

int hsm_generate_rsa(struct hsm *h, int bits, const char *label,
		     uint8_t id[HSM_ID_BYTES], uint8_t **pub, size_t *publen)
{
	CK_FUNCTION_LIST_PTR f = h->mod->f;
	CK_MECHANISM mech = { CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0 };
	CK_ULONG modbits = (CK_ULONG)bits;
	CK_BYTE e65537[] = { 0x01, 0x00, 0x01 };
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_OBJECT_HANDLE pubobj, privobj;
	uint8_t newid[HSM_ID_BYTES];
	/* The last USAGE_LIMITS of each template forbid every use but
	 * encrypt/decrypt; a token whose keys cannot be limited so (a TPM's
	 * RSA keys both sign and decrypt) gets the templates without them. */
	CK_ATTRIBUTE pubt[] = {
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_PRIVATE, &no, sizeof(no) },
		{ CKA_ENCRYPT, &yes, sizeof(yes) },
		{ CKA_MODULUS_BITS, &modbits, sizeof(modbits) },
		{ CKA_PUBLIC_EXPONENT, e65537, sizeof(e65537) },
		{ CKA_ID, newid, sizeof(newid) },
		{ CKA_LABEL, (void *)label, strlen(label) },
		{ CKA_VERIFY, &no, sizeof(no) },
		{ CKA_WRAP, &no, sizeof(no) },
	};
	CK_ATTRIBUTE privt[] = {
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_PRIVATE, &yes, sizeof(yes) },
		{ CKA_SENSITIVE, &yes, sizeof(yes) },
		{ CKA_EXTRACTABLE, &no, sizeof(no) },
		{ CKA_DECRYPT, &yes, sizeof(yes) },
		{ CKA_ID, newid, sizeof(newid) },
		{ CKA_LABEL, (void *)label, strlen(label) },
		{ CKA_SIGN, &no, sizeof(no) },
		{ CKA_UNWRAP, &no, sizeof(no) },
	};
	CK_ULONG npub = sizeof(pubt) / sizeof(pubt[0]);
	CK_ULONG npriv = sizeof(privt) / sizeof(privt[0]);
	CK_RV rv;
	int err;

	if (bits != 2048 && bits != 3072 && bits != 4096)
		return -EINVAL;
	randombytes_buf(newid, sizeof(newid));
	pthread_mutex_lock(&h->mu);
	*h->why = 0;
	if (h->limits_refused) {
		npub -= USAGE_LIMITS;
		npriv -= USAGE_LIMITS;
	}
	rv = f->C_GenerateKeyPair(h->session, &mech, pubt, npub, privt, npriv,
				  &pubobj, &privobj);
	if (rv != CKR_OK && (fail(h, "", rv), session_lost(h))) {
		err = session_reopen(h);
		if (err)
			goto out;
		rv = f->C_GenerateKeyPair(h->session, &mech, pubt, npub,
					  privt, npriv, &pubobj, &privobj);
	}
	h->limited = !h->limits_refused;
	if (!h->limits_refused && (rv == CKR_TEMPLATE_INCONSISTENT ||
	    rv == CKR_ATTRIBUTE_VALUE_INVALID || rv == CKR_GENERAL_ERROR ||
	    rv == CKR_FUNCTION_FAILED)) {
		h->limits_refused = 1;
		h->limited = 0;
		rv = f->C_GenerateKeyPair(h->session, &mech, pubt,
					  npub - USAGE_LIMITS, privt,
					  npriv - USAGE_LIMITS, &pubobj,
					  &privobj);
	}
	if (rv != CKR_OK) {
		err = fail(h, "C_GenerateKeyPair", rv);
		goto out;
	}
	err = export_public(h, pubobj, pub, publen);
	if (err) {
		f->C_DestroyObject(h->session, privobj);
		f->C_DestroyObject(h->session, pubobj);
		goto out;
	}
	memcpy(id, newid, sizeof(newid));
out:
	pthread_mutex_unlock(&h->mu);
	return err;
}

int hsm_destroy(struct hsm *h, const uint8_t id[HSM_ID_BYTES])
{
	CK_FUNCTION_LIST_PTR f = h->mod->f;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_ID, (void *)id, HSM_ID_BYTES },
	};
	CK_OBJECT_HANDLE found[8];
	CK_ULONG n = 0, i;
	CK_RV rv;
	int err = 0;

	pthread_mutex_lock(&h->mu);
	*h->why = 0;
	rv = f->C_FindObjectsInit(h->session, tmpl, 1);
	if (rv != CKR_OK && (fail(h, "", rv), session_lost(h))) {
		err = session_reopen(h);
		if (err)
			goto out;
		rv = f->C_FindObjectsInit(h->session, tmpl, 1);
	}
	if (rv != CKR_OK) {
		err = fail(h, "C_FindObjectsInit", rv);
		goto out;
	}
	rv = f->C_FindObjects(h->session, found, 8, &n);
	f->C_FindObjectsFinal(h->session);
	if (rv != CKR_OK) {
		err = fail(h, "C_FindObjects", rv);
		goto out;
	}
	for (i = 0; i < n && !err; i++) {
		rv = f->C_DestroyObject(h->session, found[i]);
		if (rv != CKR_OK)
			err = fail(h, "C_DestroyObject", rv);
	}
out:
	pthread_mutex_unlock(&h->mu);
	return err;
}

int hsm_read_private_attr(struct hsm *h, const uint8_t id[HSM_ID_BYTES],
			  unsigned long type, size_t *len)
{
	CK_ATTRIBUTE a = { type, NULL, 0 };
	CK_OBJECT_HANDLE obj;
	CK_RV rv;
	int err;

	pthread_mutex_lock(&h->mu);
	*h->why = 0;
	err = find_object(h, CKO_PRIVATE_KEY, id, &obj);
	if (err)
		goto out;
	rv = h->mod->f->C_GetAttributeValue(h->session, obj, &a, 1);
	if (rv == CKR_ATTRIBUTE_SENSITIVE ||
	    a.ulValueLen == CK_UNAVAILABLE_INFORMATION) {
		fail(h, "C_GetAttributeValue", CKR_ATTRIBUTE_SENSITIVE);
		err = -EACCES;
	} else if (rv != CKR_OK) {
		err = fail(h, "C_GetAttributeValue", rv);
	} else {
		*len = a.ulValueLen;
	}
out:
	pthread_mutex_unlock(&h->mu);
	return err;
}

/* ---- unwrap ---- */

/* The token's own RSA-OAEP with SHA-256 and MGF1-SHA-256.  1: the token
 * refused these parameters (try raw RSA); 0 or a negative errno. */
static int decrypt_oaep(struct hsm *h, CK_OBJECT_HANDLE obj,
			const uint8_t *in, size_t inlen, struct secbuf *m,
			size_t *mlen)
{
	CK_FUNCTION_LIST_PTR f = h->mod->f;
	CK_RSA_PKCS_OAEP_PARAMS op = {
		.hashAlg = CKM_SHA256,
		.mgf = CKG_MGF1_SHA256,
		.source = CKZ_DATA_SPECIFIED,
		.pSourceData = NULL,
		.ulSourceDataLen = 0,
	};
	CK_MECHANISM mech = { CKM_RSA_PKCS_OAEP, &op, sizeof(op) };
	CK_ULONG n = secbuf_len(m);
	CK_RV rv;

	rv = f->C_DecryptInit(h->session, &mech, obj);
	if (rv == CKR_ARGUMENTS_BAD || rv == CKR_MECHANISM_PARAM_INVALID ||
	    rv == CKR_MECHANISM_INVALID)
		return 1;
	if (rv != CKR_OK)
		return fail(h, "C_DecryptInit", rv);
	rv = f->C_Decrypt(h->session, (CK_BYTE_PTR)in, inlen,
			  secbuf_data(m), &n);
	if (rv == CKR_ARGUMENTS_BAD || rv == CKR_MECHANISM_PARAM_INVALID)
		return 1;
	if (rv != CKR_OK)
		return fail(h, "C_Decrypt", rv);
	*mlen = n;
	return 0;
}

/* Raw RSA in the token, then OpenSSL checks and strips OAEP-256. */
static int decrypt_raw(struct hsm *h, CK_OBJECT_HANDLE obj,
		       const uint8_t *in, size_t inlen, struct secbuf *m,
		       size_t *mlen)
{
	CK_FUNCTION_LIST_PTR f = h->mod->f;
	CK_MECHANISM mech = { CKM_RSA_X_509, NULL, 0 };
	struct secbuf *em = NULL;
	CK_ULONG n = inlen;
	int r, err;
	CK_RV rv;

	if (inlen < 2 * 32 + 2 || inlen > 4096 / 8)
		return -EBADMSG;
	em = secbuf_new(inlen);
	if (!em)
		return -ENOMEM;
	rv = f->C_DecryptInit(h->session, &mech, obj);
	if (rv != CKR_OK) {
		err = fail(h, "C_DecryptInit(CKM_RSA_X_509)", rv);
		goto out;
	}
	rv = f->C_Decrypt(h->session, (CK_BYTE_PTR)in, inlen,
			  secbuf_data(em), &n);
	if (rv != CKR_OK) {
		err = fail(h, "C_Decrypt(CKM_RSA_X_509)", rv);
		goto out;
	}
	if (n > inlen) {
		err = -EIO;
		goto out;
	}
	/* A token may drop the leading zero bytes: put them back. */
	if (n < inlen) {
		memmove(secbuf_data(em) + (inlen - n), secbuf_data(em), n);
		memset(secbuf_data(em), 0, inlen - n);
	}
	r = RSA_padding_check_PKCS1_OAEP_mgf1(secbuf_data(m),
					      (int)secbuf_len(m),
					      secbuf_data(em), (int)inlen,
					      (int)inlen, NULL, 0,
					      EVP_sha256(), EVP_sha256());
	if (r < 0) {
		snprintf(h->why, sizeof(h->why), "OAEP padding check failed");
		err = -EBADMSG;
		goto out;
	}
	*mlen = (size_t)r;
	err = 0;
out:
	secbuf_free(em);
	return err;
}

int hsm_unwrap_oaep256(struct hsm *h, const uint8_t id[HSM_ID_BYTES],
		       const uint8_t *in, size_t inlen, int flags,
		       struct secbuf **out)
{
	CK_OBJECT_HANDLE obj;
	struct secbuf *m;
	size_t mlen = 0;
	int err;

	if (!inlen || inlen > 4096 / 8)
		return -EBADMSG;
	m = secbuf_new(inlen);
	if (!m)
		return -ENOMEM;
	pthread_mutex_lock(&h->mu);
	*h->why = 0;
	err = find_object(h, CKO_PRIVATE_KEY, id, &obj);
	if (err && session_lost(h)) {
		err = session_reopen(h);
		if (!err)
			err = find_object(h, CKO_PRIVATE_KEY, id, &obj);
	}
	if (err)
		goto out;
	err = 1;
	if (!(flags & HSM_FORCE_RAW) && !h->oaep_refused) {
		err = decrypt_oaep(h, obj, in, inlen, m, &mlen);
		if (err == 1)
			h->oaep_refused = 1;
		h->used_oaep = err == 0;
	}
	if (err == 1) {
		h->used_oaep = 0;
		err = decrypt_raw(h, obj, in, inlen, m, &mlen);
	}
	if (!err) {
		*out = secbuf_from(secbuf_data(m), mlen);
		if (!*out)
			err = -ENOMEM;
	}
out:
	pthread_mutex_unlock(&h->mu);
	secbuf_free(m);
	return err;
}
