/*
 * bench_pdu.c - throughput of the PDU codec (include/smsgw/pdu.h).
 *
 *   bench_pdu [-n ITERATIONS] [-c CASE] [-l]
 *
 * Each case runs a fixed number of iterations (not a fixed time), so that
 * two runs do the same work and an instruction count under callgrind
 * (scripts/bench-pdu.sh with BENCH_CALLGRIND=1) can be compared across
 * commits.  One operation is one whole message: every part of a long
 * text is encoded, or decoded, in one operation.  Output, one line per
 * case:
 *
 *   pdu: case=NAME ops=N seconds=S per_sec=R
 *
 * Before a case is timed, its result is checked once (the parts count,
 * and a decode that gives back the text), so a broken codec fails the
 * benchmark instead of measuring how fast it fails.  Exit status: 0, 1 on
 * a wrong result, 2 on a usage error.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "smsgw/pdu.h"

#define BENCH_PDU_TO		"+15551234567"
#define BENCH_PDU_TEXT_MAX	4096

/* One benchmark case.  'text' is set for the encode and round-trip
 * cases, 'hex' for the decode of a published PDU. */
struct bench_pdu_case {
	const char	*name;
	int		decode;		/* 0 encode, 1 decode */
	long		iterations;	/* default count */
	const char	*text;
	size_t		parts;		/* expected parts of 'text' */
	const char	*hex;		/* with SMSC field */
	const char	*expect;	/* text or number the PDU holds */
};

/* Filled by bench_pdu_prepare() for the decode of an encoded text. */
struct bench_pdu_input {
	struct pdu_encoded	enc;
	const char		*hex[PDU_MAX_PARTS];
	size_t			nhex;
};

/* Written by every iteration, so the compiler cannot drop the work. */
static volatile unsigned long bench_pdu_sink;

static char bench_pdu_gsm60[BENCH_PDU_TEXT_MAX];
static char bench_pdu_gsm400[BENCH_PDU_TEXT_MAX];
static char bench_pdu_es150[BENCH_PDU_TEXT_MAX];

/* An emoji text: surrogate pairs in UCS-2, one part (46 UTF-16 units). */
static const char bench_pdu_emoji[] =
    "Felicidades por el nuevo trabajo! \xF0\x9F\x8E\x89\xF0\x9F\x91\x8F"
    " \xF0\x9F\x98\x80 Nos vemos";

static struct bench_pdu_case bench_pdu_cases[] = {
	{ "encode-gsm60", 0, 200000, bench_pdu_gsm60, 1, NULL, NULL },
	{ "decode-gsm60", 1, 200000, bench_pdu_gsm60, 1, NULL, NULL },
	{ "encode-gsm400", 0, 50000, bench_pdu_gsm400, 3, NULL, NULL },
	{ "decode-gsm400", 1, 50000, bench_pdu_gsm400, 3, NULL, NULL },
	{ "encode-ucs2-es150", 0, 200000, bench_pdu_es150, 3, NULL, NULL },
	{ "decode-ucs2-es150", 1, 200000, bench_pdu_es150, 3, NULL, NULL },
	{ "encode-emoji", 0, 500000, bench_pdu_emoji, 1, NULL, NULL },
	{ "decode-emoji", 1, 500000, bench_pdu_emoji, 1, NULL, NULL },
	/* The sample PDUs of /work/shared/MODEMS.md, with their sources. */
	{ "decode-md1-aosp-gsm7", 1, 1000000, NULL, 1,
	    "07914151551512f2040B916105551511f100006060605130308A04D4F29C0E",
	    "Test" },
	{ "decode-md2-gsmmodem-ext", 1, 1000000, NULL, 1,
	    "06917228195339040B917228214365F70000313062315352800A800D8A5E98"
	    "D337A910", "@{t\xC3\xA9st}!" },
	{ "decode-md3-aosp-ucs2", 1, 1000000, NULL, 1,
	    "07912160130300F4040B914151245584F600087010807121352B1021220"
	    "0A900AE00680065006C006C006F",
	    "\xE2\x84\xA2\xC2\xA9\xC2\xAEhello" },
	{ "decode-md4-ofono-alpha", 1, 1000000, NULL, 1,
	    "0791447758100650040DD0F334FC1CA6970100008080312170224008D4F29C"
	    "DE0EA7D9", "Testmail" },
	{ "decode-md5-report", 1, 1000000, NULL, 1,
	    "0791538375000075061805810531F1019082416500400190824165004000",
	    "50131" },
	{ "decode-md6-mm-submit", 1, 1000000, NULL, 1,
	    "0001000B915155661632F400001954747A0E4ACF41F27298CDCE83C6EF371B"
	    "0481402010",
	    "This is really cool \xCE\x94\xCE\x94\xCE\x94\xCE\x94\xCE\x94" },
	{ "decode-md7-submit-srr", 1, 1000000, NULL, 1,
	    "0021000B914356143254F6000006E8721E947F03", "hey yo" },
};

#define BENCH_PDU_NCASES \
	(sizeof(bench_pdu_cases) / sizeof(bench_pdu_cases[0]))

static double
bench_pdu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Repeat 'base' into 'out' until it holds exactly 'nchars' code points;
 * a multi-byte character is copied whole. */
static void
bench_pdu_fill(char *out, size_t outlen, const char *base, size_t nchars)
{
	size_t len = 0, chars = 0, i = 0, n;

	while (chars < nchars) {
		if (base[i] == '\0')
			i = 0;
		n = 1;
		while ((base[i + n] & 0xC0) == 0x80)
			n++;
		if (len + n >= outlen)
			break;
		memcpy(out + len, base + i, n);
		len += n;
		i += n;
		chars++;
	}
	out[len] = '\0';
}

static void
bench_pdu_texts(void)
{
	bench_pdu_fill(bench_pdu_gsm60, sizeof(bench_pdu_gsm60),
	    "Reminder: your appointment is on Tuesday at 9:30 in room 4B. ",
	    60);
	bench_pdu_fill(bench_pdu_gsm400, sizeof(bench_pdu_gsm400),
	    "Lesson 3 of 8: write one sentence about a job you did well, "
	    "then reply with it. Keep it short and honest. ", 400);
	/* 'a' with acute accent is not in the GSM alphabet: UCS-2. */
	bench_pdu_fill(bench_pdu_es150, sizeof(bench_pdu_es150),
	    "Su cita es ma\xC3\xB1" "ana a las 9:30; traiga su identificaci"
	    "\xC3\xB3n y el formulario de la \xC3\xBAltima sesi\xC3\xB3n. ",
	    150);
}

/* The parts of 'c->text', checked once: the parts count, and a decode of
 * each part that gives back the text.  Returns 0 or -1 after a message. */
static int
bench_pdu_prepare(const struct bench_pdu_case *c, struct bench_pdu_input *in)
{
	static struct pdu_message msg;
	static char text[BENCH_PDU_TEXT_MAX];
	struct pdu_submit_options opt;
	size_t i, len = 0;
	int rc;

	pdu_submit_options_init(&opt);
	opt.concat_ref = 42;
	rc = pdu_encode_submit(BENCH_PDU_TO, c->text, &opt, &in->enc);
	if (rc < 0) {
		fprintf(stderr, "bench_pdu: %s: encode: %s\n", c->name,
		    pdu_strerror(rc));
		return -1;
	}
	if (in->enc.nparts != c->parts) {
		fprintf(stderr, "bench_pdu: %s: %zu parts, expected %zu\n",
		    c->name, in->enc.nparts, c->parts);
		goto err;
	}
	for (i = 0; i < in->enc.nparts; i++) {
		in->hex[i] = in->enc.parts[i].hex;
		rc = pdu_decode_hex(in->hex[i], 1, &msg);
		if (rc < 0 || strlen(msg.text) >= sizeof(text) - len) {
			fprintf(stderr, "bench_pdu: %s: decode part %zu: %s\n",
			    c->name, i + 1, pdu_strerror(rc));
			goto err;
		}
		memcpy(text + len, msg.text, strlen(msg.text) + 1);
		len += strlen(msg.text);
	}
	in->nhex = in->enc.nparts;
	if (strcmp(text, c->text) != 0) {
		fprintf(stderr, "bench_pdu: %s: round trip changed the text\n",
		    c->name);
		goto err;
	}
	return 0;

err:
	pdu_encoded_release(&in->enc);
	return -1;
}

/* A published PDU decodes to what its source says. */
static int
bench_pdu_check_sample(const struct bench_pdu_case *c)
{
	static struct pdu_message msg;
	const char *got;
	int rc;

	rc = pdu_decode_hex(c->hex, 1, &msg);
	if (rc < 0) {
		fprintf(stderr, "bench_pdu: %s: %s\n", c->name,
		    pdu_strerror(rc));
		return -1;
	}
	got = msg.type == PDU_TYPE_STATUS_REPORT ? msg.number : msg.text;
	if (strcmp(got, c->expect) != 0) {
		fprintf(stderr, "bench_pdu: %s: got \"%s\", expected \"%s\"\n",
		    c->name, got, c->expect);
		return -1;
	}
	return 0;
}

/*
 * The timed loop; its own function, never inlined, so that callgrind's
 * --toggle-collect=bench_pdu_timed counts exactly the loop.  Returns 0 or
 * -1 when an iteration failed.
 */
__attribute__((noinline)) int
bench_pdu_timed(const struct bench_pdu_case *c,
    const struct bench_pdu_input *in, long iterations)
{
	static struct pdu_message msg;
	struct pdu_submit_options opt;
	struct pdu_encoded enc;
	unsigned long sum = 0;
	long n;
	size_t i;

	pdu_submit_options_init(&opt);
	for (n = 0; n < iterations; n++) {
		opt.concat_ref = (unsigned)n & 0xFF;
		if (!c->decode) {
			if (pdu_encode_submit(BENCH_PDU_TO, c->text, &opt,
			    &enc) < 0)
				return -1;
			sum += enc.parts[enc.nparts - 1].tpdu_len;
			pdu_encoded_release(&enc);
			continue;
		}
		for (i = 0; i < in->nhex; i++) {
			if (pdu_decode_hex(in->hex[i], 1, &msg) < 0)
				return -1;
			sum += msg.data_len;
		}
	}
	bench_pdu_sink += sum;
	return 0;
}

static int
bench_pdu_run(const struct bench_pdu_case *c, long iterations)
{
	struct bench_pdu_input in;
	double start, secs;
	int rc;

	memset(&in, 0, sizeof(in));
	if (c->hex != NULL) {
		if (bench_pdu_check_sample(c) < 0)
			return -1;
		in.hex[0] = c->hex;
		in.nhex = 1;
	} else if (bench_pdu_prepare(c, &in) < 0) {
		return -1;
	}

	start = bench_pdu_now();
	rc = bench_pdu_timed(c, &in, iterations);
	secs = bench_pdu_now() - start;
	if (c->hex == NULL)
		pdu_encoded_release(&in.enc);
	if (rc < 0) {
		fprintf(stderr, "bench_pdu: %s: failed while timed\n", c->name);
		return -1;
	}
	printf("pdu: case=%s ops=%ld seconds=%.3f per_sec=%.0f\n", c->name,
	    iterations, secs, secs > 0 ? (double)iterations / secs : 0.0);
	fflush(stdout);
	return 0;
}

static void
bench_pdu_usage(FILE *f)
{
	fprintf(f, "usage: bench_pdu [-n ITERATIONS] [-c CASE] [-l]\n");
}

int
main(int argc, char **argv)
{
	const char *only = NULL;
	long iterations = 0;
	char *end;
	size_t i;
	int opt, ran = 0, failed = 0;

	while ((opt = getopt(argc, argv, "n:c:lh")) != -1) {
		switch (opt) {
		case 'n':
			iterations = strtol(optarg, &end, 10);
			if (*end != '\0' || iterations < 1 ||
			    iterations > 100000000) {
				bench_pdu_usage(stderr);
				return 2;
			}
			break;
		case 'c':
			only = optarg;
			break;
		case 'l':
			for (i = 0; i < BENCH_PDU_NCASES; i++)
				printf("%s\n", bench_pdu_cases[i].name);
			return 0;
		case 'h':
			bench_pdu_usage(stdout);
			return 0;
		default:
			bench_pdu_usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		bench_pdu_usage(stderr);
		return 2;
	}

	bench_pdu_texts();
	for (i = 0; i < BENCH_PDU_NCASES; i++) {
		const struct bench_pdu_case *c = &bench_pdu_cases[i];

		if (only != NULL && strcmp(only, c->name) != 0)
			continue;
		ran++;
		if (bench_pdu_run(c, iterations > 0 ? iterations :
		    c->iterations) < 0)
			failed++;
	}
	if (ran == 0) {
		fprintf(stderr, "bench_pdu: no case named %s (-l lists them)\n",
		    only);
		return 2;
	}
	return failed > 0 ? 1 : 0;
}
