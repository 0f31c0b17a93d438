/*
 * hsm.h - RSA keys whose private part lives in a PKCS#11 token
 *
 * The vault's "hsm" protection: the key pair is generated in the token
 * (sensitive, not extractable), the vault keeps only the public key and the
 * object's CKA_ID, and every unwrap is a C_Decrypt in the token.  The module
 * is loaded with dlopen() and driven through C_GetFunctionList(); no OpenSSL
 * engine or provider stands in between.
 *
 * One struct hsm is one logged-in session on one token.  Calls on it are
 * serialised by its own mutex (a PKCS#11 session runs one operation at a
 * time), so the daemon's threads may share it.  A call that finds the
 * session lost (closed, logged out, token removed and put back) opens a
 * new one, reading the PIN file again, and tries once more.  Functions
 * return 0 or a negative errno and never print; hsm_why() says what the
 * token said.
 */
#ifndef SSEFS_KEYVAULT_HSM_H
#define SSEFS_KEYVAULT_HSM_H

#include <stddef.h>
#include <stdint.h>

struct hsm;
struct secbuf;

#define HSM_ID_BYTES	16	/* CKA_ID: random, per key version */
#define HSM_LABEL_MAX	32	/* a token label, as C_GetTokenInfo */
#define HSM_PIN_MAX	256

/* Unwrap flags */
#define HSM_FORCE_RAW	(1 << 0)	/* skip CKM_RSA_PKCS_OAEP */

/*
 * hsm_open() - load @module, find the token labelled @token, open a
 * read-write session and log in as CKU_USER with the PIN read from
 * @pin_file (mode 0600 or stricter; one trailing newline dropped).
 * On failure @why (if not NULL) gets a lowercase reason.
 * Return: 0, -ENOENT (no module or PIN file), -ELIBBAD (not a PKCS#11
 * module), -ENODEV (no such token), -EPERM (PIN file readable by others),
 * -EACCES (wrong or locked PIN), -EIO (another token error), -ENOMEM.
 */
int hsm_open(struct hsm **out, const char *module, const char *token,
	     const char *pin_file, char *why, size_t whylen)
	__attribute__((warn_unused_result));
/* Close the session; finalize the module when the last user goes. */
void hsm_close(struct hsm *h);

/* The label of the token @h is logged in to. */
const char *hsm_token(const struct hsm *h);
/* What the token said on the last failure ("wrong pin", "CKR_...").
 * hsm_why() is for a single thread; hsm_why_copy() takes @h's lock. */
const char *hsm_why(const struct hsm *h);
void hsm_why_copy(struct hsm *h, char *buf, size_t len);

/*
 * hsm_generate_rsa() - generate an RSA key pair of @bits in the token as
 * token objects labelled @label with a fresh random CKA_ID (to @id); the
 * private key is CKA_SENSITIVE, not CKA_EXTRACTABLE, and may only decrypt
 * where the token allows that limit (hsm_usage_limited()).
 * *@pub gets the public key as DER SubjectPublicKeyInfo (malloc'd, *@publen
 * bytes; free()).
 */
int hsm_generate_rsa(struct hsm *h, int bits, const char *label,
		     uint8_t id[HSM_ID_BYTES], uint8_t **pub, size_t *publen)
	__attribute__((warn_unused_result));

/*
 * hsm_unwrap_oaep256() - RSA-OAEP-256 (SHA-256, MGF1-SHA-256, no label)
 * decryption of @in with the private key @id.  Asks the token for
 * CKM_RSA_PKCS_OAEP first; a token that refuses those parameters (SoftHSM2
 * does OAEP with SHA-1 only) is asked for CKM_RSA_X_509 instead and
 * OpenSSL checks and strips the OAEP padding.  The raw block only ever
 * sits in guarded memory.  *@out is set on success only.
 * Return: 0, -ENOKEY (no such object), -EBADMSG (bad ciphertext or
 * padding), -EACCES (not logged in), -EIO.
 */
int hsm_unwrap_oaep256(struct hsm *h, const uint8_t id[HSM_ID_BYTES],
		       const uint8_t *in, size_t inlen, int flags,
		       struct secbuf **out)
	__attribute__((warn_unused_result));

/* Whether the last key generated could be limited to encrypt/decrypt
 * (1), or the token refused CKA_SIGN/CKA_VERIFY/CKA_WRAP/CKA_UNWRAP false
 * and the key may sign too (0; TPM-backed tokens). */
int hsm_usage_limited(const struct hsm *h);

/* Whether the last unwrap used the token's own OAEP (1) or raw RSA (0). */
int hsm_used_oaep(const struct hsm *h);

/* Destroy every object (private and public key) with CKA_ID @id.
 * Return: 0 (also when none is left), -EIO. */
int hsm_destroy(struct hsm *h, const uint8_t id[HSM_ID_BYTES]);

/*
 * hsm_read_private_attr() - try to read attribute @type of private key @id
 * (for tests: CKA_PRIVATE_EXPONENT must not come out).  *@len gets its
 * length when readable.  Return: 0 (readable!), -EACCES (sensitive or
 * unextractable, as it should be), -ENOKEY, -EIO.
 */
int hsm_read_private_attr(struct hsm *h, const uint8_t id[HSM_ID_BYTES],
			  unsigned long type, size_t *len);

/* For tests: close the session behind @h's back, as a token pulled and
 * put back would.  The next call finds it lost and logs in again. */
void hsm_test_drop_session(struct hsm *h);

#endif /* SSEFS_KEYVAULT_HSM_H */
