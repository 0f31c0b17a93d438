/*
 * check_xts.c - XTS (OpenSSL fast path and the generic code) and cascade
 */
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <check.h>
#include <openssl/evp.h>

#include "crypto/cascade.h"
#include "crypto/rng.h"
#include "crypto/secmem.h"
#include "crypto/xts.h"

Suite *suite_xts(void);

/* IEEE P1619/D16 vectors 10-14 share their keys and plaintext */
#define V10_KEY1 "2718281828459045235360287471352662497757247093699959574966967627"
#define V10_KEY2 "3141592653589793238462643383279502884197169399375105820974944592"

/* IEEE P1619/D16 vectors 10-14: XTS-AES-256, 512-byte data units */
static const struct {
	uint64_t dus;
	const char *ct;
} kat[] = {
	{	/* vector 10 */
		0xffULL,
		"1c3b3a102f770386e4836c99e370cf9bea00803f5e482357a4ae12d414a3e63b"
		"5d31e276f8fe4a8d66b317f9ac683f44680a86ac35adfc3345befecb4bb188fd"
		"5776926c49a3095eb108fd1098baec70aaa66999a72a82f27d848b21d4a741b0"
		"c5cd4d5fff9dac89aeba122961d03a757123e9870f8acf1000020887891429ca"
		"2a3e7a7d7df7b10355165c8b9a6d0a7de8b062c4500dc4cd120c0f7418dae3d0"
		"b5781c34803fa75421c790dfe1de1834f280d7667b327f6c8cd7557e12ac3a0f"
		"93ec05c52e0493ef31a12d3d9260f79a289d6a379bc70c50841473d1a8cc81ec"
		"583e9645e07b8d9670655ba5bbcfecc6dc3966380ad8fecb17b6ba02469a020a"
		"84e18e8f84252070c13e9f1f289be54fbc481457778f616015e1327a02b140f1"
		"505eb309326d68378f8374595c849d84f4c333ec4423885143cb47bd71c5edae"
		"9be69a2ffeceb1bec9de244fbe15992b11b77c040f12bd8f6a975a44a0f90c29"
		"a9abc3d4d893927284c58754cce294529f8614dcd2aba991925fedc4ae74ffac"
		"6e333b93eb4aff0479da9a410e4450e0dd7ae4c6e2910900575da401fc07059f"
		"645e8b7e9bfdef33943054ff84011493c27b3429eaedb4ed5376441a77ed4385"
		"1ad77f16f541dfd269d50d6a5f14fb0aab1cbb4c1550be97f7ab4066193c4caa"
		"773dad38014bd2092fa755c824bb5e54c4f36ffda9fcea70b9c6e693e148c151",
	},
	{	/* vector 11 */
		0xffffULL,
		"77a31251618a15e6b92d1d66dffe7b50b50bad552305ba0217a610688eff7e11"
		"e1d0225438e093242d6db274fde801d4cae06f2092c728b2478559df58e837c2"
		"469ee4a4fa794e4bbc7f39bc026e3cb72c33b0888f25b4acf56a2a9804f1ce6d"
		"3d6e1dc6ca181d4b546179d55544aa7760c40d06741539c7e3cd9d2f6650b201"
		"3fd0eeb8c2b8e3d8d240ccae2d4c98320a7442e1c8d75a42d6e6cfa4c2eca179"
		"8d158c7aecdf82490f24bb9b38e108bcda12c3faf9a21141c3613b58367f922a"
		"aa26cd22f23d708dae699ad7cb40a8ad0b6e2784973dcb605684c08b8d6998c6"
		"9aac049921871ebb65301a4619ca80ecb485a31d744223ce8ddc2394828d6a80"
		"470c092f5ba413c3378fa6054255c6f9df4495862bbb3287681f931b687c888a"
		"bf844dfc8fc28331e579928cd12bd2390ae123cf03818d14dedde5c0c24c8ab0"
		"18bfca75ca096f2d531f3d1619e785f1ada437cab92e980558b3dce1474afb75"
		"bfedbf8ff54cb2618e0244c9ac0d3c66fb51598cd2db11f9be39791abe447c63"
		"094f7c453b7ff87cb5bb36b7c79efb0872d17058b83b15ab0866ad8a58656c5a"
		"7e20dbdf308b2461d97c0ec0024a2715055249cf3b478ddd4740de654f75ca68"
		"6e0d7345c69ed50cdc2a8b332b1f8824108ac937eb050585608ee734097fc090"
		"54fbff89eeaeea791f4a7ab1f9868294a4f9e27b42af8100cb9d59cef9645803",
	},
	{	/* vector 12 */
		0xffffffULL,
		"e387aaa58ba483afa7e8eb469778317ecf4cf573aa9d4eac23f2cdf914e4e200"
		"a8b490e42ee646802dc6ee2b471b278195d60918ececb44bf79966f83faba049"
		"9298ebc699c0c8634715a320bb4f075d622e74c8c932004f25b41e361025b5a8"
		"7815391f6108fc4afa6a05d9303c6ba68a128a55705d415985832fdeaae6c8e1"
		"9110e84d1b1f199a2692119edc96132658f09da7c623efcec712537a3d94c0bf"
		"5d7e352ec94ae5797fdb377dc1551150721adf15bd26a8efc2fcaad56881fa9e"
		"62462c28f30ae1ceaca93c345cf243b73f542e2074a705bd2643bb9f7cc79bb6"
		"e7091ea6e232df0f9ad0d6cf502327876d82207abf2115cdacf6d5a48f6c1879"
		"a65b115f0f8b3cb3c59d15dd8c769bc014795a1837f3901b5845eb491adfefe0"
		"97b1fa30a12fc1f65ba22905031539971a10f2f36c321bb51331cdefb39e3964"
		"c7ef079994f5b69b2edd83a71ef549971ee93f44eac3938fcdd61d01fa71799d"
		"a3a8091c4c48aa9ed263ff0749df95d44fef6a0bb578ec69456aa5408ae32c7a"
		"f08ad7ba8921287e3bbee31b767be06a0e705c864a769137df28292283ea81a2"
		"480241b44d9921cdbec1bc28dc1fda114bd8e5217ac9d8ebafa720e9da4f9ace"
		"231cc949e5b96fe76ffc21063fddc83a6b8679c00d35e09576a875305bed5f36"
		"ed242c8900dd1fa965bc950dfce09b132263a1eef52dd6888c309f5a7d712826",
	},
	{	/* vector 13 */
		0xffffffffULL,
		"bf53d2dade78e822a4d949a9bc6766b01b06a8ef70d26748c6a7fc36d80ae4c5"
		"520f7c4ab0ac8544424fa405162fef5a6b7f229498063618d39f0003cb5fb8d1"
		"c86b643497da1ff945c8d3bedeca4f479702a7a735f043ddb1d6aaade3c4a0ac"
		"7ca7f3fa5279bef56f82cd7a2f38672e824814e10700300a055e1630b8f1cb0e"
		"919f5e942010a416e2bf48cb46993d3cb6a51c19bacf864785a00bc2ecff15d3"
		"50875b246ed53e68be6f55bd7e05cfc2b2ed6432198a6444b6d8c247fab941f5"
		"69768b5c429366f1d3f00f0345b96123d56204c01c63b22ce78baf116e525ed9"
		"0fdea39fa469494d3866c31e05f295ff21fea8d4e6e13d67e47ce722e9698a1c"
		"1048d68ebcde76b86fcf976eab8aa9790268b7068e017a8b9b749409514f1053"
		"027fd16c3786ea1bac5f15cb79711ee2abe82f5cf8b13ae73030ef5b9e4457e7"
		"5d1304f988d62dd6fc4b94ed38ba831da4b7634971b6cd8ec325d9c61c00f1df"
		"73627ed3745a5e8489f3a95c69639c32cd6e1d537a85f75cc844726e8a72fc00"
		"77ad22000f1d5078f6b866318c668f1ad03d5a5fced5219f2eabbd0aa5c0f460"
		"d183f04404a0d6f469558e81fab24a167905ab4c7878502ad3e38fdbe62a4155"
		"6cec37325759533ce8f25f367c87bb5578d667ae93f9e2fd99bcbc5f2fbba88c"
		"f6516139420fcff3b7361d86322c4bd84c82f335abb152c4a93411373aaa8220",
	},
	{	/* vector 14 */
		0xffffffffffULL,
		"64497e5a831e4a932c09be3e5393376daa599548b816031d224bbf50a818ed23"
		"50eae7e96087c8a0db51ad290bd00c1ac1620857635bf246c176ab463be30b80"
		"8da548081ac847b158e1264be25bb0910bbc92647108089415d45fab1b3d2604"
		"e8a8eff1ae4020cfa39936b66827b23f371b92200be90251e6d73c5f86de5fd4"
		"a950781933d79a28272b782a2ec313efdfcc0628f43d744c2dc2ff3dcb66999b"
		"50c7ca895b0c64791eeaa5f29499fb1c026f84ce5b5c72ba1083cddb5ce45434"
		"631665c333b60b11593fb253c5179a2c8db813782a004856a1653011e93fb6d8"
		"76c18366dd8683f53412c0c180f9c848592d593f8609ca736317d356e13e2bff"
		"3a9f59cd9aeb19cd482593d8c46128bb32423b37a9adfb482b99453fbe25a41b"
		"f6feb4aa0bef5ed24bf73c762978025482c13115e4015aac992e5613a3b5c2f6"
		"85b84795cb6e9b2656d8c88157e52c42f978d8634c43d06fea928f2822e465aa"
		"6576e9bf419384506cc3ce3c54ac1a6f67dc66f3b30191e698380bc999b05abc"
		"e19dc0c6dcc2dd001ec535ba18deb2df1a101023108318c75dc98611a09dc48a"
		"0acdec676fabdf222f07e026f059b672b56e5cbc8e1d21bbd867dd9272120546"
		"81d70ea737134cdfce93b6f82ae22423274e58a0821cc5502e2d0ab4585e94de"
		"6975be5e0b4efce51cd3e70c25a1fbbbd609d273ad5b0d59631c531f6a0a57b9",
	},
};

static void unhex(uint8_t *out, const char *hex, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned int v;

		ck_assert_int_eq(sscanf(hex + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

static struct secbuf *hexkey(const char *k1, const char *k2)
{
	struct secbuf *k = secbuf_new(XTS_KEYBYTES);

	ck_assert_ptr_nonnull(k);
	unhex(secbuf_data(k), k1, 32);
	unhex(secbuf_data(k) + 32, k2, 32);
	return k;
}

static struct secbuf *randkey(void)
{
	struct secbuf *k = secbuf_new(RNG_DEKBYTES);

	ck_assert_ptr_nonnull(k);
	ck_assert_int_eq(rng_dek(k), 0);
	return k;
}

static void check_kat(enum xts_cipher cipher)
{
	struct secbuf *k = hexkey(V10_KEY1, V10_KEY2);
	uint8_t buf[512], ct[512];
	struct xts_ctx *x = NULL;

	ck_assert_int_eq(xts_new(&x, cipher, k, 512), 0);
	for (size_t v = 0; v < sizeof(kat) / sizeof(kat[0]); v++) {
		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = (uint8_t)i;
		unhex(ct, kat[v].ct, sizeof(ct));
		ck_assert_int_eq(xts_encrypt(x, kat[v].dus, buf, sizeof(buf)),
				 0);
		ck_assert_mem_eq(buf, ct, sizeof(ct));
		ck_assert_int_eq(xts_decrypt(x, kat[v].dus, buf, sizeof(buf)),
				 0);
		for (size_t i = 0; i < sizeof(buf); i++)
			ck_assert_uint_eq(buf[i], (uint8_t)i);
	}
	xts_free(x);
	secbuf_free(k);
}

START_TEST(test_kat_fast)
{
	check_kat(XTS_AES256);
}
END_TEST

START_TEST(test_kat_generic)
{
	check_kat(XTS_AES256_GENERIC);
}
END_TEST

/* Generic over AES must equal OpenSSL's AES-256-XTS bit for bit. */
START_TEST(test_generic_equals_openssl)
{
	static const uint64_t fixed[] = {
		0, 1, 0xffffffffULL, 0x100000000ULL, 0xfffffffffffffff0ULL,
	};
	size_t ss = (_i & 1) ? 4096 : 512, nsec = 1 + (size_t)(_i % 5);
	size_t len = ss * nsec;
	struct xts_ctx *fast = NULL, *gen = NULL;
	struct secbuf *k = randkey();
	uint8_t *a = malloc(len), *b = malloc(len), *p = malloc(len);
	uint64_t sector;

	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_ptr_nonnull(p);
	if ((size_t)_i < sizeof(fixed) / sizeof(fixed[0]))
		sector = fixed[_i];
	else
		rng_bytes(&sector, sizeof(sector));
	if (_i % 7 == 6)	/* near 2^64, may wrap within the buffer */
		sector = UINT64_MAX - (uint64_t)(_i % 3);
	rng_bytes(p, len);
	memcpy(a, p, len);
	memcpy(b, p, len);
	ck_assert_int_eq(xts_new(&fast, XTS_AES256, k, ss), 0);
	ck_assert_int_eq(xts_new(&gen, XTS_AES256_GENERIC, k, ss), 0);
	ck_assert_int_eq(xts_encrypt(fast, sector, a, len), 0);
	ck_assert_int_eq(xts_encrypt(gen, sector, b, len), 0);
	ck_assert_mem_eq(a, b, len);
	ck_assert_int_ne(memcmp(a, p, len), 0);
	ck_assert_int_eq(xts_decrypt(gen, sector, a, len), 0);
	ck_assert_int_eq(xts_decrypt(fast, sector, b, len), 0);
	ck_assert_mem_eq(a, p, len);
	ck_assert_mem_eq(b, p, len);
	xts_free(fast);
	xts_free(gen);
	secbuf_free(k);
	free(a);
	free(b);
	free(p);
}
END_TEST

START_TEST(test_camellia)
{
	struct secbuf *k = randkey();
	struct xts_ctx *cam = NULL, *aes = NULL;
	uint8_t p[8192], c[8192], d[8192];

	rng_bytes(p, sizeof(p));
	ck_assert_int_eq(xts_new(&cam, XTS_CAMELLIA256, k, 4096), 0);
	ck_assert_int_eq(xts_new(&aes, XTS_AES256, k, 4096), 0);
	memcpy(c, p, sizeof(p));
	ck_assert_int_eq(xts_encrypt(cam, 1ULL << 40, c, sizeof(c)), 0);
	ck_assert_int_ne(memcmp(c, p, sizeof(p)), 0);
	memcpy(d, p, sizeof(p));
	ck_assert_int_eq(xts_encrypt(aes, 1ULL << 40, d, sizeof(d)), 0);
	ck_assert_int_ne(memcmp(c, d, sizeof(c)), 0);
	ck_assert_int_eq(xts_decrypt(cam, 1ULL << 40, c, sizeof(c)), 0);
	ck_assert_mem_eq(c, p, sizeof(p));
	/* the same plaintext in two sectors encrypts differently */
	memcpy(c, p, 4096);
	memcpy(c + 4096, p, 4096);
	ck_assert_int_eq(xts_encrypt(cam, 7, c, sizeof(c)), 0);
	ck_assert_int_ne(memcmp(c, c + 4096, 4096), 0);
	/* and the second sector alone matches sector 8 */
	memcpy(d, p, 4096);
	ck_assert_int_eq(xts_encrypt(cam, 8, d, 4096), 0);
	ck_assert_mem_eq(d, c + 4096, 4096);
	xts_free(cam);
	xts_free(aes);
	secbuf_free(k);
}
END_TEST

START_TEST(test_refusals)
{
	static const enum xts_cipher all[] = {
		XTS_AES256, XTS_CAMELLIA256, XTS_AES256_GENERIC,
	};
	struct secbuf *eq = secbuf_new(XTS_KEYBYTES), *k = randkey();
	struct secbuf *shortk = secbuf_new(32);
	struct xts_ctx *x = NULL;
	uint8_t buf[1024] = { 0 };

	memset(secbuf_data(eq), 0x5a, XTS_KEYBYTES);
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		ck_assert_int_eq(xts_new(&x, all[i], eq, 512), -EINVAL);
		ck_assert_ptr_null(x);
		ck_assert_int_eq(xts_new(&x, all[i], shortk, 512), -EINVAL);
		ck_assert_int_eq(xts_new(&x, all[i], k, 1024), -EINVAL);
		ck_assert_ptr_null(x);
		ck_assert_int_eq(xts_new(&x, all[i], k, 512), 0);
		ck_assert_uint_eq(xts_sector_size(x), 512);
		ck_assert_int_eq(xts_encrypt(x, 0, buf, 100), -EINVAL);
		ck_assert_int_eq(xts_decrypt(x, 0, buf, 513), -EINVAL);
		ck_assert_int_eq(xts_encrypt(x, 0, buf, 0), 0);
		xts_free(x);
		x = NULL;
	}
	ck_assert_int_eq(xts_new(&x, (enum xts_cipher)9, k, 512), -EINVAL);
	xts_free(NULL);
	secbuf_free(eq);
	secbuf_free(k);
	secbuf_free(shortk);
}
END_TEST

START_TEST(test_dup)
{
	static const enum xts_cipher all[] = {
		XTS_AES256, XTS_CAMELLIA256, XTS_AES256_GENERIC,
	};
	struct secbuf *k = randkey();
	uint8_t p[4096], a[4096], b[4096];

	rng_bytes(p, sizeof(p));
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		struct xts_ctx *x = NULL, *y = NULL;

		ck_assert_int_eq(xts_new(&x, all[i], k, 512), 0);
		ck_assert_int_eq(xts_dup(&y, x), 0);
		memcpy(a, p, sizeof(p));
		memcpy(b, p, sizeof(p));
		ck_assert_int_eq(xts_encrypt(x, 42, a, sizeof(a)), 0);
		xts_free(x);	/* the copy must not depend on the original */
		ck_assert_int_eq(xts_encrypt(y, 42, b, sizeof(b)), 0);
		ck_assert_mem_eq(a, b, sizeof(a));
		ck_assert_int_eq(xts_decrypt(y, 42, b, sizeof(b)), 0);
		ck_assert_mem_eq(b, p, sizeof(p));
		xts_free(y);
	}
	secbuf_free(k);
}
END_TEST

/* out of place: the same bytes as in place, and the source untouched */
START_TEST(test_out_of_place)
{
	static const enum xts_cipher all[] = {
		XTS_AES256, XTS_CAMELLIA256, XTS_AES256_GENERIC,
	};
	struct secbuf *k = randkey();
	uint8_t p[8192], keep[8192], in_place[8192], out[8192], back[8192];

	rng_bytes(p, sizeof(p));
	memcpy(keep, p, sizeof(p));
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		struct xts_ctx *x = NULL;

		ck_assert_int_eq(xts_new(&x, all[i], k, 4096), 0);
		memcpy(in_place, p, sizeof(p));
		ck_assert_int_eq(xts_encrypt(x, 1000, in_place,
					     sizeof(in_place)), 0);
		memset(out, 0, sizeof(out));
		ck_assert_int_eq(xts_encrypt_to(x, 1000, out, p, sizeof(p)), 0);
		ck_assert_mem_eq(out, in_place, sizeof(out));
		ck_assert_mem_eq(p, keep, sizeof(p));
		ck_assert_int_eq(xts_decrypt_to(x, 1000, back, out,
						sizeof(out)), 0);
		ck_assert_mem_eq(back, p, sizeof(p));
		ck_assert_mem_eq(out, in_place, sizeof(out));
		/* dst == src is in place */
		ck_assert_int_eq(xts_decrypt_to(x, 1000, out, out,
						sizeof(out)), 0);
		ck_assert_mem_eq(out, p, sizeof(p));
		ck_assert_int_eq(xts_encrypt_to(x, 0, out, p, 100), -EINVAL);
		xts_free(x);
	}
	secbuf_free(k);
}
END_TEST

START_TEST(test_cascade)
{
	struct secbuf *k1 = randkey(), *k2 = randkey();
	struct cascade_ctx *c = NULL, *d = NULL;
	struct xts_ctx *aes = NULL, *cam = NULL;
	const enum xts_cipher ciph[2] = { XTS_AES256, XTS_CAMELLIA256 };
	struct secbuf *keys[2] = { k1, k2 };
	uint8_t p[8192], a[8192], b[8192];

	rng_bytes(p, sizeof(p));
	ck_assert_int_eq(cascade_new(&c, 2, ciph, keys, 4096), 0);
	ck_assert_uint_eq(cascade_sector_size(c), 4096);
	ck_assert_int_eq(xts_new(&aes, XTS_AES256, k1, 4096), 0);
	ck_assert_int_eq(xts_new(&cam, XTS_CAMELLIA256, k2, 4096), 0);
	memcpy(a, p, sizeof(p));
	ck_assert_int_eq(cascade_encrypt(c, 99, a, sizeof(a)), 0);
	/* inner Camellia (key 2), then outer AES (key 1) */
	memcpy(b, p, sizeof(p));
	ck_assert_int_eq(xts_encrypt(cam, 99, b, sizeof(b)), 0);
	ck_assert_int_eq(xts_encrypt(aes, 99, b, sizeof(b)), 0);
	ck_assert_mem_eq(a, b, sizeof(a));
	ck_assert_int_eq(cascade_dup(&d, c), 0);
	cascade_free(c);
	ck_assert_int_eq(cascade_decrypt(d, 99, a, sizeof(a)), 0);
	ck_assert_mem_eq(a, p, sizeof(p));
	ck_assert_int_eq(cascade_encrypt(d, 0, a, 100), -EINVAL);
	/* out of place: the same ciphertext, @p untouched */
	ck_assert_int_eq(cascade_encrypt_to(d, 99, a, p, sizeof(p)), 0);
	ck_assert_mem_eq(a, b, sizeof(a));
	cascade_free(d);
	c = NULL;
	ck_assert_int_eq(cascade_new(&c, 2, ciph, keys, 333), -EINVAL);
	ck_assert_int_eq(cascade_new(&c, 3, ciph, keys, 4096), -EINVAL);
	ck_assert_ptr_null(c);
	xts_free(aes);
	xts_free(cam);
	secbuf_free(k1);
	secbuf_free(k2);
}
END_TEST

Suite *suite_xts(void)
{
	Suite *s = suite_create("xts");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_kat_fast);
	tcase_add_test(tc, test_kat_generic);
	tcase_add_loop_test(tc, test_generic_equals_openssl, 0, 64);
	tcase_add_test(tc, test_camellia);
	tcase_add_test(tc, test_refusals);
	tcase_add_test(tc, test_dup);
	tcase_add_test(tc, test_out_of_place);
	tcase_add_test(tc, test_cascade);
	suite_add_tcase(s, tc);
	return s;
}
