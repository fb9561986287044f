/*
 * pdu.c - the SMS PDU codec, 3GPP TS 23.040 (TPDU layout) and TS 23.038
 * (alphabets, data coding scheme).  See pdu.h for the contract.
 *
 * Decoding reads untrusted bytes through a bounds-checked cursor (struct
 * rd): every field is read only after a length check, fills a local
 * struct pdu_message, and the caller's structure is written once at the
 * end, on success.
 *
 * Encoding goes in two steps: text_plan() turns UTF-8 into code points,
 * chooses the cheapest exact alphabet and cuts the text into parts at
 * code point boundaries (so an escape pair or a surrogate pair is never
 * split); then each part is laid out as one TPDU.
 */
#include "smsgw/pdu.h"
#include "smsgw/gsm7.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parts and units, TS 23.040 9.2.3.16 and 9.2.3.24. */
#define SEPTETS_MAX	160	/* 140 octets of TP-UD */
#define UDH_CONCAT8_LEN	6	/* 05 00 03 ref total seq */
#define UDH_CONCAT16_LEN 7	/* 06 08 04 refH refL total seq */

/* TP-MTI, TS 23.040 9.2.3.1 (bits 1-0 of the first octet). */
#define MTI_DELIVER	0x00
#define MTI_SUBMIT	0x01
#define MTI_STATUS	0x02

/* First-octet flags, TS 23.040 9.2.3.2 - 9.2.3.23. */
#define FO_MMS		0x04	/* DELIVER/STATUS: no more messages, 9.2.3.2 */
#define FO_RD		0x04	/* SUBMIT: reject duplicates, 9.2.3.25 */
#define FO_VPF_MASK	0x18	/* SUBMIT: validity period format, 9.2.3.3 */
#define FO_VPF_NONE	0x00
#define FO_VPF_ENH	0x08
#define FO_VPF_REL	0x10
#define FO_VPF_ABS	0x18
#define FO_SRR		0x20	/* SRR, SRI or SRQ, 9.2.3.4/.5/.26 */
#define FO_UDHI		0x40	/* user data header indicator, 9.2.3.23 */

/* Type of address, TS 23.040 9.1.2.5: bit 7 set, type of number in bits
 * 6-4, numbering plan in bits 3-0. */
#define TOA_TON_MASK	0x70
#define TOA_TON_INTL	0x10
#define TOA_TON_ALPHA	0x50
#define TOA_INTL	0x91	/* international, ISDN/E.164 */
#define TOA_UNKNOWN	0x81	/* unknown, ISDN/E.164 */
#define TOA_ALPHA	0xd0	/* alphanumeric, GSM 7-bit packed */

/* An address holds at most 20 semi-octets, TS 23.040 9.1.2.5; an
 * alphanumeric one 11 septets in those 10 octets. */
#define ADDR_DIGITS_MAX	20
#define ADDR_ALPHA_MAX	11

/* Information element identifiers, TS 23.040 9.2.3.24. */
#define IEI_CONCAT8	0x00	/* 9.2.3.24.1 */
#define IEI_CONCAT16	0x08	/* 9.2.3.24.8 */
#define IEI_SINGLE	0x24	/* national single shift, 9.2.3.24.15 */
#define IEI_LOCKING	0x25	/* national locking shift, 9.2.3.24.16 */

const char *
pdu_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
	case PDU_EINVAL:
		return "invalid argument";
	case PDU_ETRUNC:
		return "PDU truncated";
	case PDU_EHEX:
		return "not a valid hex string";
	case PDU_EADDR:
		return "invalid address";
	case PDU_ETYPE:
		return "unsupported message type";
	case PDU_ETEXT:
		return "text empty or not valid UTF-8";
	case PDU_ETOOLONG:
		return "text needs too many parts";
	case PDU_EFIELD:
		return "invalid field value";
	}
	return "unknown error";
}

const char *
pdu_encoding_name(enum pdu_encoding enc)
{
	switch (enc) {
	case PDU_ENC_GSM7:
		return "gsm7";
	case PDU_ENC_8BIT:
		return "8bit";
	case PDU_ENC_UCS2:
		return "ucs2";
	}
	return "unknown";
}

/* ------------------------------------------------------------------ */
/* Hex */

static int
hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
pdu_hex_to_bytes(const char *hex, uint8_t *out, size_t outlen)
{
	size_t n, i;

	if (hex == NULL || (out == NULL && outlen > 0))
		return PDU_EINVAL;
	n = strlen(hex);
	if (n % 2 != 0)
		return PDU_EHEX;
	for (i = 0; i < n; i++) {
		if (hex_digit(hex[i]) < 0)
			return PDU_EHEX;
	}
	if (n / 2 > outlen || n / 2 > (size_t)0x7fffffff)
		return PDU_EINVAL;
	for (i = 0; i < n / 2; i++)
		out[i] = (uint8_t)(hex_digit(hex[2 * i]) << 4 |
		    hex_digit(hex[2 * i + 1]));
	return (int)(n / 2);
}

void
pdu_bytes_to_hex(const uint8_t *bytes, size_t len, char *hex)
{
	static const char digits[] = "0123456789ABCDEF";
	size_t i;

	for (i = 0; i < len; i++) {
		hex[2 * i] = digits[bytes[i] >> 4];
		hex[2 * i + 1] = digits[bytes[i] & 0x0f];
	}
	hex[2 * len] = '\0';
}

/* ------------------------------------------------------------------ */
/* UTF-8 */

/*
 * Decode strict UTF-8 (no overlong forms, no surrogates, nothing above
 * U+10FFFF) into a new array of code points.  Returns 0 or PDU_ETEXT;
 * PDU_EINVAL when out of memory.
 */
static int
utf8_to_cps(const char *s, uint32_t **out, size_t *outn)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s), i = 0, n = 0;
	uint32_t *cps, cp, min;
	int k, j;

	cps = malloc((len + 1) * sizeof(*cps));
	if (cps == NULL)
		return PDU_EINVAL;
	while (i < len) {
		if (p[i] < 0x80) {
			cps[n++] = p[i++];
			continue;
		}
		if ((p[i] & 0xe0) == 0xc0) {
			k = 1, cp = p[i] & 0x1f, min = 0x80;
		} else if ((p[i] & 0xf0) == 0xe0) {
			k = 2, cp = p[i] & 0x0f, min = 0x800;
		} else if ((p[i] & 0xf8) == 0xf0) {
			k = 3, cp = p[i] & 0x07, min = 0x10000;
		} else {
			goto bad;
		}
		if (len - i - 1 < (size_t)k)
			goto bad;
		for (j = 1; j <= k; j++) {
			if ((p[i + j] & 0xc0) != 0x80)
				goto bad;
			cp = cp << 6 | (p[i + j] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			goto bad;
		cps[n++] = cp;
		i += (size_t)k + 1;
	}
	*out = cps;
	*outn = n;
	return 0;
bad:
	free(cps);
	return PDU_ETEXT;
}

/* Bounded UTF-8 writer; 'overflow' latches when 'cap' is reached. */
struct wr {
	char	*buf;
	size_t	 cap;
	size_t	 len;
	int	 overflow;
};

static void
wr_cp(struct wr *w, uint32_t cp)
{
	char tmp[4];
	size_t n;

	/* A NUL would end the C string early: drop it. */
	if (cp == 0)
		return;
	if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		cp = 0xfffd;
	if (cp < 0x80) {
		tmp[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		tmp[0] = (char)(0xc0 | cp >> 6);
		tmp[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		tmp[0] = (char)(0xe0 | cp >> 12);
		tmp[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		tmp[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		tmp[0] = (char)(0xf0 | cp >> 18);
		tmp[1] = (char)(0x80 | (cp >> 12 & 0x3f));
		tmp[2] = (char)(0x80 | (cp >> 6 & 0x3f));
		tmp[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	if (w->overflow || w->cap - w->len <= n) {
		w->overflow = 1;
		return;
	}
	memcpy(w->buf + w->len, tmp, n);
	w->len += n;
	w->buf[w->len] = '\0';
}

/* ------------------------------------------------------------------ */
/* GSM 7-bit packing, TS 23.038 6.1.2.1.1 */

/* Septet number 'i' of packed data 'ud' of 'len' octets; the caller has
 * checked that the septet lies within 'len'. */
static uint8_t
septet_get(const uint8_t *ud, size_t len, size_t i)
{
	size_t bit = i * 7, byte = bit / 8;
	unsigned shift = bit % 8, v;

	v = ud[byte] >> shift;
	if (shift > 1 && byte + 1 < len)
		v |= (unsigned)ud[byte + 1] << (8 - shift);
	return (uint8_t)(v & 0x7f);
}

/* Store septet number 'i' into zeroed packed data 'ud'. */
static void
septet_put(uint8_t *ud, size_t i, uint8_t septet)
{
	size_t bit = i * 7, byte = bit / 8;
	unsigned shift = bit % 8;

	ud[byte] |= (uint8_t)(septet << shift);
	if (shift > 1)
		ud[byte + 1] |= (uint8_t)(septet >> (8 - shift));
}

/* Octets that 'n' septets occupy. */
static size_t
septets_octets(size_t n)
{
	return (n * 7 + 7) / 8;
}

/*
 * Decode 'n' unpacked septets to UTF-8 with the given locking shift
 * (basic) and single shift (after escape) tables, TS 23.038 6.2.1.1 and
 * Annex A.  An escape followed by an undefined position shows the basic
 * table's character, as 6.2.1.1 asks; a trailing or doubled escape shows
 * a space.
 */
static void
septets_to_utf8(const uint8_t *s, size_t n, unsigned locking,
    unsigned single, struct wr *w)
{
	const uint16_t *basic = gsm7_locking_table(locking);
	const uint16_t *ext = gsm7_single_table(single);
	const uint16_t *dflt = gsm7_locking_table(GSM7_LANG_DEFAULT);
	size_t i;
	uint16_t cp;

	for (i = 0; i < n; i++) {
		if (s[i] != GSM7_ESC) {
			cp = basic[s[i]] ? basic[s[i]] : dflt[s[i]];
			wr_cp(w, cp);
			continue;
		}
		if (i + 1 >= n || s[i + 1] == GSM7_ESC) {
			wr_cp(w, ' ');
			i++;
			continue;
		}
		i++;
		cp = ext[s[i]] ? ext[s[i]] : basic[s[i]];
		wr_cp(w, cp ? cp : dflt[s[i]]);
	}
}

/* ------------------------------------------------------------------ */
/* Smart encoding: typographic characters to GSM equivalents */

/* The replacement of 'cp' (up to three code points into 'rep'); returns
 * how many, 0 to drop the character, -1 to keep it as it is. */
static int
smart_map(uint32_t cp, uint32_t rep[3])
{
	switch (cp) {
	case 0x2018: case 0x2019: case 0x201a: case 0x201b:
	case 0x2032: case 0x2035: case 0x00b4: case 0x02bc: case 0x02b9:
		rep[0] = '\'';
		return 1;
	case 0x201c: case 0x201d: case 0x201e: case 0x201f:
	case 0x2033: case 0x2036: case 0x00ab: case 0x00bb:
		rep[0] = '"';
		return 1;
	case 0x2010: case 0x2011: case 0x2012: case 0x2013: case 0x2014:
	case 0x2015: case 0x2212: case 0x00ad:
		rep[0] = '-';
		return 1;
	case 0x00a0: case 0x2000: case 0x2001: case 0x2002: case 0x2003:
	case 0x2004: case 0x2005: case 0x2006: case 0x2007: case 0x2008:
	case 0x2009: case 0x200a: case 0x202f: case 0x205f: case 0x3000:
		rep[0] = ' ';
		return 1;
	case 0x2026:
		rep[0] = rep[1] = rep[2] = '.';
		return 3;
	case 0x2039:
		rep[0] = '<';
		return 1;
	case 0x203a:
		rep[0] = '>';
		return 1;
	case 0x2022: case 0x00b7: case 0x2027:
		rep[0] = '*';
		return 1;
	case 0x02c6:
		rep[0] = '^';
		return 1;
	case 0x02dc:
		rep[0] = '~';
		return 1;
	case 0x200b: case 0x200c: case 0x200d: case 0x2060: case 0xfeff:
		return 0;
	}
	return -1;
}

/* ------------------------------------------------------------------ */
/* Text planning: alphabet choice and cutting into parts */

struct plan {
	enum pdu_encoding enc;
	uint32_t	*cps;		/* owned */
	size_t		 ncps;
	size_t		 nparts;
	size_t		*start;		/* owned; nparts + 1 entries */
	unsigned	 last_units;	/* units used in the last part */
	unsigned	 part_cap;	/* units per part */
};

static void
plan_release(struct plan *p)
{
	free(p->cps);
	free(p->start);
	memset(p, 0, sizeof(*p));
}

/* Units 'cp' costs: septets in GSM 7-bit (2 for an escape pair, TS 23.038
 * 6.2.1.1), 16-bit units in UCS-2 (2 for a surrogate pair). */
static unsigned
cp_cost(uint32_t cp, enum pdu_encoding enc)
{
	if (enc == PDU_ENC_UCS2)
		return cp > 0xffff ? 2 : 1;
	return gsm7_default_septet(cp) >= 0 ? 1 : 2;
}

static int
cps_all_gsm7(const uint32_t *cps, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (gsm7_default_septet(cps[i]) < 0 &&
		    gsm7_ext_septet(cps[i]) < 0)
			return 0;
	}
	return 1;
}

/*
 * Apply smart_map() to 'p->cps' when the result fits GSM 7-bit; leave the
 * text as it is otherwise, since a UCS-2 message carries the typographic
 * characters at no extra cost.
 */
static int
plan_smart(struct plan *p)
{
	uint32_t *m, rep[3];
	size_t i, n = 0;
	int k;

	m = malloc((p->ncps * 3 + 1) * sizeof(*m));
	if (m == NULL)
		return PDU_EINVAL;
	for (i = 0; i < p->ncps; i++) {
		k = smart_map(p->cps[i], rep);
		if (k < 0) {
			m[n++] = p->cps[i];
			continue;
		}
		memcpy(m + n, rep, (size_t)k * sizeof(*m));
		n += (size_t)k;
	}
	if (n == 0 || !cps_all_gsm7(m, n)) {
		free(m);
		return 0;
	}
	free(p->cps);
	p->cps = m;
	p->ncps = n;
	return 0;
}

/* Cut the text into parts of at most 'cap' units, at code point
 * boundaries. */
static int
plan_cut(struct plan *p, unsigned cap)
{
	size_t i, np = 0;
	unsigned used = 0, c;

	p->start = malloc((p->ncps + 2) * sizeof(*p->start));
	if (p->start == NULL)
		return PDU_EINVAL;
	p->start[np++] = 0;
	for (i = 0; i < p->ncps; i++) {
		c = cp_cost(p->cps[i], p->enc);
		if (used + c > cap) {
			p->start[np++] = i;
			used = 0;
		}
		used += c;
	}
	p->nparts = np;
	p->start[np] = p->ncps;
	p->last_units = used;
	p->part_cap = cap;
	return 0;
}

static int
text_plan(const char *utf8, int smart, int force_ucs2, int ref16,
    struct plan *p)
{
	unsigned total = 0, single, multi;
	size_t i;
	int rc;

	memset(p, 0, sizeof(*p));
	if (utf8 == NULL)
		return PDU_EINVAL;
	rc = utf8_to_cps(utf8, &p->cps, &p->ncps);
	if (rc < 0)
		return rc;
	if (p->ncps == 0) {
		rc = PDU_ETEXT;
		goto err;
	}
	if (smart && (rc = plan_smart(p)) < 0)
		goto err;

	/*
	 * The cheapest exact alphabet, TS 23.038 4 and 6.2.1.
	 * XXX: the encoder never uses the national language shift tables
	 * (TS 23.038 A.2/A.3): a Turkish or Portuguese text with letters
	 * outside the default alphabet goes out as UCS-2, 70 characters a
	 * part.  Handsets' support for receiving them is uneven, so this
	 * wants a config switch before it is worth doing.
	 */
	p->enc = !force_ucs2 && cps_all_gsm7(p->cps, p->ncps) ?
	    PDU_ENC_GSM7 : PDU_ENC_UCS2;
	for (i = 0; i < p->ncps; i++)
		total += cp_cost(p->cps[i], p->enc);

	/* One part alone: 160 septets / 70 units; with the concatenation
	 * header (TS 23.040 9.2.3.24.1 / .8) 153/67 or 152/66. */
	if (p->enc == PDU_ENC_GSM7) {
		single = SEPTETS_MAX;
		multi = ref16 ? 152 : 153;
	} else {
		single = PDU_UD_MAX / 2;
		multi = ref16 ? 66 : 67;
	}
	rc = plan_cut(p, total <= single ? single : multi);
	if (rc < 0)
		goto err;
	return 0;
err:
	plan_release(p);
	return rc;
}

int
pdu_count_text(const char *utf8, int smart, struct pdu_count *out)
{
	struct plan p;
	int rc;

	if (out == NULL)
		return PDU_EINVAL;
	/* A count above PDU_MAX_PARTS is still reported: a compose box
	 * wants to show it. */
	rc = text_plan(utf8, smart, 0, 0, &p);
	if (rc < 0)
		return PDU_ETEXT;
	out->encoding = p.enc;
	out->segments = (unsigned)p.nparts;
	out->characters = (unsigned)p.ncps;
	out->remaining = p.part_cap - p.last_units;
	plan_release(&p);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Encoding of fields */

/* Semi-octet value of a dialling digit, TS 23.040 9.1.2.3 (digits, '*'
 * and '#'), or -1. */
static int
bcd_of_char(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c == '*')
		return 0x0a;
	if (c == '#')
		return 0x0b;
	return -1;
}

/* Pack 'digits' as swapped semi-octets with an F filler, TS 23.040
 * 9.1.2.3; returns the octets written. */
static size_t
bcd_pack(const char *digits, size_t n, uint8_t *out)
{
	size_t i;

	for (i = 0; i < n; i += 2) {
		uint8_t lo = (uint8_t)bcd_of_char(digits[i]);
		uint8_t hi = i + 1 < n ? (uint8_t)bcd_of_char(digits[i + 1]) :
		    0x0f;
		out[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	return (n + 1) / 2;
}

/* An alphanumeric address, TS 23.040 9.1.2.5: GSM 7-bit packed, at most
 * 11 septets, length counted in useful semi-octets. */
static int
addr_encode_alpha(const char *addr, uint8_t *out, size_t *outlen)
{
	uint8_t sept[ADDR_ALPHA_MAX];
	uint32_t *cps;
	size_t ncps, n = 0, i;
	int s, e;

	if (utf8_to_cps(addr, &cps, &ncps) < 0)
		return PDU_EADDR;
	for (i = 0; i < ncps; i++) {
		s = gsm7_default_septet(cps[i]);
		e = s < 0 ? gsm7_ext_septet(cps[i]) : -1;
		if ((s < 0 && e < 0) || n + (s < 0 ? 2 : 1) > ADDR_ALPHA_MAX) {
			free(cps);
			return PDU_EADDR;
		}
		if (s < 0) {
			sept[n++] = GSM7_ESC;
			s = e;
		}
		sept[n++] = (uint8_t)s;
	}
	free(cps);
	memset(out, 0, 2 + septets_octets(n));
	out[0] = (uint8_t)((n * 7 + 3) / 4);
	out[1] = TOA_ALPHA;
	for (i = 0; i < n; i++)
		septet_put(out + 2, i, sept[i]);
	*outlen = 2 + septets_octets(n);
	return 0;
}

/*
 * Encode an address field into 'out' (12 octets): TP-DA/TP-OA/TP-RA,
 * TS 23.040 9.1.2.5, whose length octet counts digits; or with 'smsc' the
 * SMSC field of the modem's PDU mode (TS 24.011 8.2.5.2 RP address,
 * length in octets, "00" when empty).  "+" selects the international
 * type of number; anything not a dialling string is alphanumeric (not
 * allowed for an SMSC).
 */
static int
addr_encode(const char *addr, int smsc, uint8_t *out, size_t *outlen)
{
	const char *d = addr;
	size_t n, i;
	int intl = 0;

	if (smsc && (addr == NULL || addr[0] == '\0')) {
		out[0] = 0;
		*outlen = 1;
		return 0;
	}
	if (addr == NULL || addr[0] == '\0')
		return PDU_EADDR;
	if (d[0] == '+') {
		intl = 1;
		d++;
	}
	n = strlen(d);
	for (i = 0; i < n; i++) {
		if (bcd_of_char(d[i]) < 0)
			break;
	}
	if (i < n || n == 0) {
		if (smsc || intl)
			return PDU_EADDR;
		return addr_encode_alpha(addr, out, outlen);
	}
	if (n > ADDR_DIGITS_MAX)
		return PDU_EADDR;
	out[0] = (uint8_t)(smsc ? 1 + (n + 1) / 2 : n);
	out[1] = intl ? TOA_INTL : TOA_UNKNOWN;
	*outlen = 2 + bcd_pack(d, n, out + 2);
	return 0;
}

/* Two digits as swapped semi-octets, TS 23.040 9.2.3.11. */
static uint8_t
bcd_swapped(int v)
{
	return (uint8_t)((v % 10) << 4 | (v / 10) % 10);
}

/* TP-SCTS / TP-DT, TS 23.040 9.2.3.11: seven swapped semi-octet pairs;
 * the time zone in quarter hours, its sign in bit 3 of the first
 * (tens) semi-octet. */
static int
time_encode(const struct pdu_time *t, uint8_t out[7])
{
	int q;

	if (t == NULL || t->month < 1 || t->month > 12 || t->day < 1 ||
	    t->day > 31 || t->hour < 0 || t->hour > 23 || t->minute < 0 ||
	    t->minute > 59 || t->second < 0 || t->second > 59 ||
	    t->year < 1990 || t->year > 2089 || t->tz_minutes % 15 != 0)
		return PDU_EINVAL;
	q = abs(t->tz_minutes) / 15;
	if (q > 79)
		return PDU_EINVAL;
	out[0] = bcd_swapped(t->year % 100);
	out[1] = bcd_swapped(t->month);
	out[2] = bcd_swapped(t->day);
	out[3] = bcd_swapped(t->hour);
	out[4] = bcd_swapped(t->minute);
	out[5] = bcd_swapped(t->second);
	out[6] = (uint8_t)(bcd_swapped(q) | (t->tz_minutes < 0 ? 0x08 : 0));
	return 0;
}

/* Minutes a relative TP-VP octet stands for, TS 23.040 9.2.3.12.1. */
static int
vp_minutes(uint8_t vp)
{
	if (vp <= 143)
		return (vp + 1) * 5;
	if (vp <= 167)
		return 12 * 60 + (vp - 143) * 30;
	if (vp <= 196)
		return (vp - 166) * 24 * 60;
	return (vp - 192) * 7 * 24 * 60;
}

/* The smallest relative TP-VP lasting at least 'minutes' (so a message
 * never expires earlier than asked), capped at 63 weeks. */
static uint8_t
vp_encode(int minutes)
{
	int vp;

	for (vp = 0; vp < 255; vp++) {
		if (vp_minutes((uint8_t)vp) >= minutes)
			break;
	}
	return (uint8_t)vp;
}

/* ------------------------------------------------------------------ */
/* Laying out TPDUs */

/* The fixed fields of every part of one message. */
struct tpdu_head {
	uint8_t	smsc[12];	/* SMSC field as the modem takes it */
	size_t	smsc_len;
	uint8_t	fo;		/* first octet without TP-UDHI */
	int	has_mr;
	uint8_t	mr;
	uint8_t	addr[12];	/* TP-DA or TP-OA */
	size_t	addr_len;
	uint8_t	pid;
	uint8_t	dcs;
	int	has_vp;
	uint8_t	vp;
	int	has_scts;
	uint8_t	scts[7];
};

/* Build the TP-UD of septets/units [a, b) of the plan behind 'udh'.
 * Returns the TP-UDL and the octets used in '*udlen'. */
static int
ud_build(const struct plan *p, size_t a, size_t b, const uint8_t *udh,
    size_t udhlen, uint8_t ud[PDU_UD_MAX], size_t *udlen)
{
	size_t i, n = 0, hs;
	int s;

	memset(ud, 0, PDU_UD_MAX);
	memcpy(ud, udh, udhlen);
	if (p->enc == PDU_ENC_UCS2) {
		n = udhlen;
		for (i = a; i < b; i++) {
			uint32_t cp = p->cps[i];

			if (cp > 0xffff) {
				/* A surrogate pair, kept in one part. */
				cp -= 0x10000;
				ud[n++] = (uint8_t)(0xd8 | cp >> 18);
				ud[n++] = (uint8_t)(cp >> 10);
				cp = 0xdc00 | (cp & 0x3ff);
			}
			ud[n++] = (uint8_t)(cp >> 8);
			ud[n++] = (uint8_t)cp;
		}
		*udlen = n;
		return (int)n;
	}

	/* 7-bit text after a UDH starts at the next septet boundary: the
	 * fill bits of TS 23.040 9.2.3.24. */
	hs = (udhlen * 8 + 6) / 7;
	for (i = a; i < b; i++) {
		s = gsm7_default_septet(p->cps[i]);
		if (s < 0) {
			septet_put(ud, hs + n++, GSM7_ESC);
			s = gsm7_ext_septet(p->cps[i]);
		}
		septet_put(ud, hs + n++, (uint8_t)s);
	}
	*udlen = septets_octets(hs + n);
	return (int)(hs + n);
}

/* Lay out part 'k' of plan 'p' as one TPDU and its hex. */
static void
part_build(const struct tpdu_head *h, const struct plan *p, size_t k,
    unsigned ref, int ref16, struct pdu_part *out)
{
	uint8_t b[PDU_TPDU_MAX + 12], udh[UDH_CONCAT16_LEN], ud[PDU_UD_MAX];
	size_t n = 0, udhlen = 0, udlen;
	int udl;

	if (p->nparts > 1 && ref16) {
		/* 16-bit reference concatenation, TS 23.040 9.2.3.24.8. */
		udh[0] = 6, udh[1] = IEI_CONCAT16, udh[2] = 4;
		udh[3] = (uint8_t)(ref >> 8), udh[4] = (uint8_t)ref;
		udh[5] = (uint8_t)p->nparts, udh[6] = (uint8_t)(k + 1);
		udhlen = UDH_CONCAT16_LEN;
	} else if (p->nparts > 1) {
		/* 8-bit reference concatenation, TS 23.040 9.2.3.24.1. */
		udh[0] = 5, udh[1] = IEI_CONCAT8, udh[2] = 3;
		udh[3] = (uint8_t)ref;
		udh[4] = (uint8_t)p->nparts, udh[5] = (uint8_t)(k + 1);
		udhlen = UDH_CONCAT8_LEN;
	}
	udl = ud_build(p, p->start[k], p->start[k + 1], udh, udhlen, ud,
	    &udlen);

	memcpy(b, h->smsc, h->smsc_len);
	n = h->smsc_len;
	b[n++] = (uint8_t)(h->fo | (udhlen ? FO_UDHI : 0));
	if (h->has_mr)
		b[n++] = h->mr;
	memcpy(b + n, h->addr, h->addr_len);
	n += h->addr_len;
	b[n++] = h->pid;
	b[n++] = h->dcs;
	if (h->has_vp)
		b[n++] = h->vp;
	if (h->has_scts) {
		memcpy(b + n, h->scts, 7);
		n += 7;
	}
	b[n++] = (uint8_t)udl;
	memcpy(b + n, ud, udlen);
	n += udlen;

	out->tpdu_len = (unsigned)(n - h->smsc_len);
	pdu_bytes_to_hex(b, n, out->hex);
}

/* TP-DCS for text, TS 23.038 4 general data coding group 00xx: bit 4
 * says bits 1-0 hold a class, bits 3-2 the alphabet. */
static uint8_t
dcs_encode(enum pdu_encoding enc, int msg_class)
{
	uint8_t dcs = enc == PDU_ENC_UCS2 ? 0x08 : 0x00;

	if (msg_class >= 0)
		dcs |= (uint8_t)(0x10 | msg_class);
	return dcs;
}

static int
parts_build(const struct tpdu_head *h, const struct plan *p, unsigned ref,
    int ref16, struct pdu_encoded *out)
{
	struct pdu_part *parts;
	size_t k;

	if (p->nparts > PDU_MAX_PARTS)
		return PDU_ETOOLONG;
	parts = calloc(p->nparts, sizeof(*parts));
	if (parts == NULL)
		return PDU_EINVAL;
	for (k = 0; k < p->nparts; k++)
		part_build(h, p, k, ref, ref16, &parts[k]);
	out->encoding = p->enc;
	out->nparts = p->nparts;
	out->parts = parts;
	return 0;
}

void
pdu_submit_options_init(struct pdu_submit_options *opt)
{
	memset(opt, 0, sizeof(*opt));
	opt->smsc = NULL;
	opt->validity_minutes = -1;
	opt->msg_class = -1;
}

int
pdu_encode_submit(const char *to, const char *utf8,
    const struct pdu_submit_options *opt, struct pdu_encoded *out)
{
	struct pdu_submit_options def;
	struct tpdu_head h;
	struct plan p;
	int rc;

	if (opt == NULL) {
		pdu_submit_options_init(&def);
		opt = &def;
	}
	if (out == NULL || opt->msg_class < -1 || opt->msg_class > 3 ||
	    opt->pid > 0xff || opt->mr > 0xff ||
	    opt->concat_ref > (opt->concat_ref16 ? 0xffffu : 0xffu))
		return PDU_EINVAL;

	/* SMS-SUBMIT, TS 23.040 9.2.2.2. */
	memset(&h, 0, sizeof(h));
	if ((rc = addr_encode(opt->smsc, 1, h.smsc, &h.smsc_len)) < 0 ||
	    (rc = addr_encode(to, 0, h.addr, &h.addr_len)) < 0)
		return rc;
	h.fo = MTI_SUBMIT;
	if (opt->reject_duplicates)
		h.fo |= FO_RD;
	if (opt->status_report)
		h.fo |= FO_SRR;
	if (opt->validity_minutes >= 0) {
		h.fo |= FO_VPF_REL;
		h.has_vp = 1;
		h.vp = vp_encode(opt->validity_minutes);
	}
	h.has_mr = 1;
	h.mr = (uint8_t)opt->mr;
	h.pid = (uint8_t)opt->pid;

	rc = text_plan(utf8, opt->smart, opt->force_ucs2, opt->concat_ref16,
	    &p);
	if (rc < 0)
		return rc;
	h.dcs = dcs_encode(p.enc, opt->msg_class);
	rc = parts_build(&h, &p, opt->concat_ref, opt->concat_ref16, out);
	plan_release(&p);
	return rc;
}

int
pdu_encode_deliver(const char *from, const char *utf8, const char *smsc,
    const struct pdu_time *scts, unsigned concat_ref,
    struct pdu_encoded *out)
{
	struct tpdu_head h;
	struct plan p;
	int rc;

	if (out == NULL || concat_ref > 0xff)
		return PDU_EINVAL;

	/* SMS-DELIVER, TS 23.040 9.2.2.1: no more messages waiting. */
	memset(&h, 0, sizeof(h));
	if ((rc = addr_encode(smsc, 1, h.smsc, &h.smsc_len)) < 0 ||
	    (rc = addr_encode(from, 0, h.addr, &h.addr_len)) < 0)
		return rc;
	h.fo = MTI_DELIVER | FO_MMS;
	h.has_scts = 1;
	if ((rc = time_encode(scts, h.scts)) < 0)
		return rc;

	rc = text_plan(utf8, 0, 0, 0, &p);
	if (rc < 0)
		return rc;
	h.dcs = dcs_encode(p.enc, -1);
	rc = parts_build(&h, &p, concat_ref, 0, out);
	plan_release(&p);
	return rc;
}

int
pdu_encode_status_report(unsigned mr, const char *recipient, int status,
    const struct pdu_time *scts, const struct pdu_time *dt, char *hex)
{
	uint8_t b[1 + 2 + 12 + 7 + 7 + 1];
	size_t n = 0, alen;
	int rc;

	if (hex == NULL || mr > 0xff || status < 0 || status > 0xff)
		return PDU_EINVAL;

	/* SMS-STATUS-REPORT, TS 23.040 9.2.2.3, behind an empty SMSC
	 * field; no TP-PI, so no PID, DCS or UD. */
	b[n++] = 0x00;
	b[n++] = MTI_STATUS | FO_MMS;
	b[n++] = (uint8_t)mr;
	rc = addr_encode(recipient, 0, b + n, &alen);
	if (rc < 0)
		return rc;
	n += alen;
	if ((rc = time_encode(scts, b + n)) < 0 ||
	    (rc = time_encode(dt, b + n + 7)) < 0)
		return rc;
	n += 14;
	b[n++] = (uint8_t)status;
	pdu_bytes_to_hex(b, n, hex);
	return (int)(n - 1);
}

void
pdu_encoded_release(struct pdu_encoded *enc)
{
	if (enc == NULL)
		return;
	free(enc->parts);
	enc->parts = NULL;
	enc->nparts = 0;
}

/* ------------------------------------------------------------------ */
/* Decoding */

/* A cursor over untrusted bytes: every read checks the length first. */
struct rd {
	const uint8_t	*p;
	size_t		 len;
	size_t		 pos;
};

static int
rd_u8(struct rd *r, uint8_t *v)
{
	if (r->len - r->pos < 1)
		return PDU_ETRUNC;
	*v = r->p[r->pos++];
	return 0;
}

static int
rd_n(struct rd *r, size_t n, const uint8_t **v)
{
	if (r->len - r->pos < n)
		return PDU_ETRUNC;
	*v = r->p + r->pos;
	r->pos += n;
	return 0;
}

/* Dialling digits of swapped semi-octets, TS 23.040 9.1.2.3: 0-9, '*',
 * '#', 'a'-'c'; the F filler ends the number. */
static void
bcd_unpack(const uint8_t *b, size_t ndigits, char *out)
{
	static const char digit[] = "0123456789*#abc";
	size_t i, n = 0;
	unsigned v;

	for (i = 0; i < ndigits; i++) {
		v = i % 2 ? b[i / 2] >> 4 : b[i / 2] & 0x0f;
		if (v == 0x0f)
			break;
		out[n++] = digit[v];
	}
	out[n] = '\0';
}

/* The value of an address field: 'toa', then 'vlen' octets of which
 * 'ndigits' semi-octets are used, TS 23.040 9.1.2.5. */
static void
addr_value_decode(uint8_t toa, const uint8_t *v, size_t vlen,
    size_t ndigits, char out[PDU_ADDR_MAX])
{
	uint8_t sept[ADDR_ALPHA_MAX + 1];
	struct wr w = { out, PDU_ADDR_MAX, 0, 0 };
	size_t n, i;

	out[0] = '\0';
	if ((toa & TOA_TON_MASK) == TOA_TON_ALPHA) {
		/* Alphanumeric: GSM 7-bit packed, 9.1.2.5. */
		n = ndigits * 4 / 7;
		for (i = 0; i < n && i <= ADDR_ALPHA_MAX; i++)
			sept[i] = septet_get(v, vlen, i);

		/* Some senders count whole octets (14 semi-octets for 7
		 * characters), which makes the 7 zero pad bits of a full
		 * octet look like an eighth septet, '@'.  Drop it. */
		if (i > 0 && i % 8 == 0 && ndigits % 2 == 0 &&
		    sept[i - 1] == 0)
			i--;
		septets_to_utf8(sept, i, GSM7_LANG_DEFAULT,
		    GSM7_LANG_DEFAULT, &w);
		return;
	}
	n = 0;
	if ((toa & TOA_TON_MASK) == TOA_TON_INTL)
		out[n++] = '+';
	bcd_unpack(v, ndigits, out + n);
}

/*
 * Read an address field: the SMSC field (TS 24.011 8.2.5.2; length in
 * octets, 0 when absent) when 'smsc', else TP-OA/DA/RA (TS 23.040
 * 9.1.2.5; length in semi-octets, at most 20).
 */
static int
addr_decode(struct rd *r, int smsc, char out[PDU_ADDR_MAX], unsigned *toa)
{
	const uint8_t *v;
	uint8_t len, t;
	size_t vlen, ndigits;
	int rc;

	if ((rc = rd_u8(r, &len)) < 0)
		return rc;
	if (smsc && len == 0) {
		out[0] = '\0';
		*toa = 0;
		return 0;
	}
	if (smsc) {
		if (len > 1 + ADDR_DIGITS_MAX / 2)
			return PDU_EADDR;
		vlen = len - 1u;
		ndigits = vlen * 2;
	} else {
		if (len > ADDR_DIGITS_MAX)
			return PDU_EADDR;
		vlen = (len + 1u) / 2;
		ndigits = len;
	}
	if ((rc = rd_u8(r, &t)) < 0 || (rc = rd_n(r, vlen, &v)) < 0)
		return rc;
	addr_value_decode(t, v, vlen, ndigits, out);
	*toa = t;
	return 0;
}

/* Two swapped BCD semi-octets, or -1 when either is not a digit. */
static int
bcd_value(uint8_t b)
{
	if ((b & 0x0f) > 9 || (b >> 4) > 9)
		return -1;
	return (b & 0x0f) * 10 + (b >> 4);
}

/*
 * TP-SCTS / TP-DT, TS 23.040 9.2.3.11.  A time stamp with non-BCD digits
 * or out of range is marked absent rather than failing the message: the
 * text matters more than a service centre's bad clock.
 */
static void
time_decode(const uint8_t b[7], struct pdu_time *t)
{
	int v[6], i, q;

	memset(t, 0, sizeof(*t));
	for (i = 0; i < 6; i++) {
		if ((v[i] = bcd_value(b[i])) < 0)
			return;
	}
	if ((b[6] & 0x07) > 9 || (b[6] >> 4) > 9)
		return;
	q = (b[6] & 0x07) * 10 + (b[6] >> 4);
	if (v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31 || v[3] > 23 ||
	    v[4] > 59 || v[5] > 59)
		return;
	t->year = v[0] < 90 ? 2000 + v[0] : 1900 + v[0];
	t->month = v[1];
	t->day = v[2];
	t->hour = v[3];
	t->minute = v[4];
	t->second = v[5];
	t->tz_minutes = (b[6] & 0x08 ? -q : q) * 15;
	t->present = 1;
}

/* TP-DCS, TS 23.038 4: alphabet, class, compression and the message
 * waiting indication groups. */
static void
dcs_decode(uint8_t dcs, struct pdu_message *m)
{
	m->dcs = dcs;
	m->encoding = PDU_ENC_GSM7;
	switch (dcs >> 4) {
	case 0x0: case 0x1: case 0x2: case 0x3:	/* general data coding */
	case 0x4: case 0x5: case 0x6: case 0x7:	/* automatic deletion */
		m->compressed = (dcs & 0x20) != 0;
		if (dcs & 0x10)
			m->msg_class = dcs & 0x03;
		/* Bits 3-2; the reserved value 11 reads as GSM 7-bit. */
		if ((dcs & 0x0c) == 0x04)
			m->encoding = PDU_ENC_8BIT;
		else if ((dcs & 0x0c) == 0x08)
			m->encoding = PDU_ENC_UCS2;
		break;
	case 0xc: case 0xd: case 0xe:	/* message waiting groups */
		if ((dcs >> 4) == 0xe)
			m->encoding = PDU_ENC_UCS2;
		m->mwi_active = (dcs & 0x08) != 0;
		m->mwi_type = dcs & 0x03;
		break;
	case 0xf:			/* data coding / message class */
		if (dcs & 0x04)
			m->encoding = PDU_ENC_8BIT;
		m->msg_class = dcs & 0x03;
		break;
	default:
		/* 1000-1011 reserved: GSM 7-bit, TS 23.038 4. */
		break;
	}
}

/* What the UDH says, TS 23.040 9.2.3.24. */
struct udh_info {
	struct pdu_concat concat;
	unsigned	single;		/* national single shift language */
	unsigned	locking;	/* national locking shift language */
};

/* One information element of the UDH. */
static void
udh_ie(uint8_t iei, const uint8_t *d, uint8_t dl, struct udh_info *u)
{
	struct pdu_concat c = { 1, 0, 0, 0, 0 };

	switch (iei) {
	case IEI_CONCAT8:	/* 9.2.3.24.1 */
		if (dl != 3)
			return;
		c.ref = d[0], c.total = d[1], c.part = d[2];
		break;
	case IEI_CONCAT16:	/* 9.2.3.24.8 */
		if (dl != 4)
			return;
		c.ref = (unsigned)d[0] << 8 | d[1];
		c.total = d[2], c.part = d[3], c.ref16 = 1;
		break;
	case IEI_SINGLE:	/* 9.2.3.24.15 */
		if (dl == 1)
			u->single = d[0];
		return;
	case IEI_LOCKING:	/* 9.2.3.24.16 */
		if (dl == 1)
			u->locking = d[0];
		return;
	default:
		/* Unknown elements are skipped, 9.2.3.24. */
		return;
	}

	/* A zero total or sequence number, or one above the total, voids
	 * the element, 9.2.3.24.1. */
	if (c.total == 0 || c.part == 0 || c.part > c.total)
		return;
	u->concat = c;
}

/* Parse the UDH at the start of 'ud' ('len' octets); its length with the
 * UDHL octet goes to '*hlen'. */
static int
udh_parse(const uint8_t *ud, size_t len, size_t *hlen, struct udh_info *u)
{
	size_t end, i;
	uint8_t dl;

	if (len < 1)
		return PDU_EFIELD;	/* UDHI set but no UDHL */
	end = 1 + (size_t)ud[0];
	if (end > len)
		return PDU_EFIELD;	/* UDHL beyond TP-UDL */
	for (i = 1; end - i >= 2; i += 2 + (size_t)dl) {
		dl = ud[i + 1];
		if (end - i - 2 < dl)
			return PDU_EFIELD;	/* IEDL beyond the UDH */
		udh_ie(ud[i], ud + i + 2, dl, u);
	}
	*hlen = end;
	return 0;
}

/* UCS-2 (read as UTF-16BE, so that pairs from handsets survive) to
 * UTF-8; a lone surrogate becomes U+FFFD, an odd last octet is dropped. */
static void
ucs2_to_utf8(const uint8_t *b, size_t n, struct wr *w)
{
	size_t i;
	uint32_t u, lo;

	for (i = 0; i + 1 < n; i += 2) {
		u = (uint32_t)b[i] << 8 | b[i + 1];
		if (u >= 0xd800 && u <= 0xdbff && i + 3 < n) {
			lo = (uint32_t)b[i + 2] << 8 | b[i + 3];
			if (lo >= 0xdc00 && lo <= 0xdfff) {
				u = 0x10000 + ((u - 0xd800) << 10) +
				    (lo - 0xdc00);
				i += 2;
			}
		}
		wr_cp(w, u);
	}
}

/* 7-bit TP-UD, TS 23.040 9.2.3.16: 'udl' counts septets, the UDH
 * included, and the text starts at the septet after the UDH's fill
 * bits. */
static int
ud_decode_gsm7(struct rd *r, uint8_t udl, int udhi, struct pdu_message *m)
{
	struct udh_info u = { { 0, 0, 0, 0, 0 }, 0, 0 };
	struct wr w = { m->text, sizeof(m->text), 0, 0 };
	const uint8_t *ud;
	size_t olen = septets_octets(udl), hlen = 0, hs = 0, i;
	int rc;

	if (udl > SEPTETS_MAX)
		return PDU_EFIELD;
	if ((rc = rd_n(r, olen, &ud)) < 0)
		return rc;
	if (udhi) {
		if ((rc = udh_parse(ud, olen, &hlen, &u)) < 0)
			return rc;
		hs = (hlen * 8 + 6) / 7;
		if (hs > udl)
			return PDU_EFIELD;
	}
	for (i = hs; i < udl; i++)
		m->data[i - hs] = septet_get(ud, olen, i);
	m->data_len = udl - hs;
	m->concat = u.concat;
	septets_to_utf8(m->data, m->data_len, u.locking, u.single, &w);
	m->has_text = 1;
	return 0;
}

/* 8-bit, UCS-2 or compressed TP-UD: 'udl' counts octets, 9.2.3.16. */
static int
ud_decode_octets(struct rd *r, uint8_t udl, int udhi,
    struct pdu_message *m)
{
	struct udh_info u = { { 0, 0, 0, 0, 0 }, 0, 0 };
	struct wr w = { m->text, sizeof(m->text), 0, 0 };
	const uint8_t *ud;
	size_t hlen = 0;
	int rc;

	if (udl > PDU_UD_MAX)
		return PDU_EFIELD;
	if ((rc = rd_n(r, udl, &ud)) < 0)
		return rc;
	if (udhi && (rc = udh_parse(ud, udl, &hlen, &u)) < 0)
		return rc;
	memcpy(m->data, ud + hlen, udl - hlen);
	m->data_len = udl - hlen;
	m->concat = u.concat;
	if (m->encoding == PDU_ENC_UCS2 && !m->compressed) {
		ucs2_to_utf8(m->data, m->data_len, &w);
		m->has_text = 1;
	}
	return 0;
}

/* TP-UDL and TP-UD, TS 23.040 9.2.3.16 and 9.2.3.24. */
static int
ud_decode(struct rd *r, int udhi, struct pdu_message *m)
{
	uint8_t udl;
	int rc;

	if ((rc = rd_u8(r, &udl)) < 0)
		return rc;
	if (m->encoding == PDU_ENC_GSM7 && !m->compressed)
		return ud_decode_gsm7(r, udl, udhi, m);
	return ud_decode_octets(r, udl, udhi, m);
}

/* TP-PID, TS 23.040 9.2.3.9, and TP-DCS, 9.2.3.10. */
static int
pid_dcs_decode(struct rd *r, struct pdu_message *m)
{
	uint8_t pid, dcs;
	int rc;

	/* TP-PID 9.2.3.9, TP-DCS 9.2.3.10. */
	if ((rc = rd_u8(r, &pid)) < 0 || (rc = rd_u8(r, &dcs)) < 0)
		return rc;
	m->pid = pid;
	dcs_decode(dcs, m);
	return 0;
}

/* SMS-DELIVER, TS 23.040 9.2.2.1. */
static int
deliver_decode(struct rd *r, uint8_t fo, struct pdu_message *m)
{
	const uint8_t *scts;
	int rc;

	m->type = PDU_TYPE_DELIVER;
	m->srr = (fo & FO_SRR) != 0;	/* TP-SRI, 9.2.3.4 */
	if ((rc = addr_decode(r, 0, m->number, &m->number_toa)) < 0 ||
	    (rc = pid_dcs_decode(r, m)) < 0 ||
	    (rc = rd_n(r, 7, &scts)) < 0)
		return rc;
	time_decode(scts, &m->scts);
	return ud_decode(r, (fo & FO_UDHI) != 0, m);
}

/* TP-VP in the format TP-VPF names, TS 23.040 9.2.3.12; only relative
 * periods become minutes. */
static int
vp_decode(struct rd *r, uint8_t fo, struct pdu_message *m)
{
	const uint8_t *e;
	int rc, h, mi, s;

	switch (fo & FO_VPF_MASK) {
	case FO_VPF_REL:	/* 9.2.3.12.1 */
		if ((rc = rd_n(r, 1, &e)) < 0)
			return rc;
		m->validity_minutes = vp_minutes(e[0]);
		return 0;
	case FO_VPF_ABS:	/* 9.2.3.12.2: a date, not a period */
		return rd_n(r, 7, &e);
	case FO_VPF_ENH:	/* 9.2.3.12.3 */
		if ((rc = rd_n(r, 7, &e)) < 0)
			return rc;
		if ((e[0] & 0x07) == 0x01) {
			m->validity_minutes = vp_minutes(e[1]);
		} else if ((e[0] & 0x07) == 0x02) {
			m->validity_minutes = e[1] / 60;
		} else if ((e[0] & 0x07) == 0x03) {
			h = bcd_value(e[1]), mi = bcd_value(e[2]);
			s = bcd_value(e[3]);
			if (h >= 0 && mi >= 0 && s >= 0)
				m->validity_minutes = h * 60 + mi;
		}
		return 0;
	}
	return 0;
}

/* SMS-SUBMIT, TS 23.040 9.2.2.2. */
static int
submit_decode(struct rd *r, uint8_t fo, struct pdu_message *m)
{
	uint8_t mr;
	int rc;

	m->type = PDU_TYPE_SUBMIT;
	m->reject_duplicates = (fo & FO_RD) != 0;	/* 9.2.3.25 */
	m->srr = (fo & FO_SRR) != 0;			/* 9.2.3.5 */
	if ((rc = rd_u8(r, &mr)) < 0)			/* 9.2.3.6 */
		return rc;
	m->mr = mr;
	if ((rc = addr_decode(r, 0, m->number, &m->number_toa)) < 0 ||
	    (rc = pid_dcs_decode(r, m)) < 0 ||
	    (rc = vp_decode(r, fo, m)) < 0)
		return rc;
	return ud_decode(r, (fo & FO_UDHI) != 0, m);
}

/* The optional tail of a status report after TP-ST: TP-PI and the
 * fields it announces, TS 23.040 9.2.3.27. */
static int
status_tail_decode(struct rd *r, uint8_t fo, struct pdu_message *m)
{
	uint8_t pi, ext, v;
	int rc;

	if (r->pos == r->len)
		return 0;
	if ((rc = rd_u8(r, &pi)) < 0)
		return rc;
	for (ext = pi; ext & 0x80;) {
		/* Extension octets carry nothing we know; skip them. */
		if ((rc = rd_u8(r, &ext)) < 0)
			return rc;
	}
	if ((pi & 0x01) && (rc = rd_u8(r, &v)) == 0)
		m->pid = v;
	if (rc < 0)
		return rc;
	if ((pi & 0x02) && (rc = rd_u8(r, &v)) == 0)
		dcs_decode(v, m);
	if (rc < 0)
		return rc;
	if (pi & 0x04)
		return ud_decode(r, (fo & FO_UDHI) != 0, m);
	return 0;
}

/* SMS-STATUS-REPORT, TS 23.040 9.2.2.3. */
static int
status_decode(struct rd *r, uint8_t fo, struct pdu_message *m)
{
	const uint8_t *scts, *dt;
	uint8_t mr, st;
	int rc;

	m->type = PDU_TYPE_STATUS_REPORT;
	if ((rc = rd_u8(r, &mr)) < 0 ||				/* 9.2.3.6 */
	    (rc = addr_decode(r, 0, m->number, &m->number_toa)) < 0 ||
	    (rc = rd_n(r, 7, &scts)) < 0 ||			/* 9.2.3.11 */
	    (rc = rd_n(r, 7, &dt)) < 0 ||			/* 9.2.3.13 */
	    (rc = rd_u8(r, &st)) < 0)				/* 9.2.3.15 */
		return rc;
	m->mr = mr;
	time_decode(scts, &m->scts);
	time_decode(dt, &m->discharge);
	m->status = st;
	return status_tail_decode(r, fo, m);
}

int
pdu_decode(const uint8_t *bytes, size_t len, int has_smsc,
    struct pdu_message *out)
{
	struct pdu_message m;
	struct rd r = { bytes, len, 0 };
	unsigned toa;
	uint8_t fo;
	int rc;

	if ((bytes == NULL && len > 0) || out == NULL)
		return PDU_EINVAL;
	memset(&m, 0, sizeof(m));
	m.mr = m.msg_class = m.mwi_type = m.status = -1;
	m.validity_minutes = -1;

	if (has_smsc && (rc = addr_decode(&r, 1, m.smsc, &toa)) < 0)
		return rc;
	if ((rc = rd_u8(&r, &fo)) < 0)
		return rc;

	/* TP-MTI, TS 23.040 9.2.3.1, as seen by the mobile station. */
	switch (fo & 0x03) {
	case MTI_DELIVER:
		rc = deliver_decode(&r, fo, &m);
		break;
	case MTI_SUBMIT:
		rc = submit_decode(&r, fo, &m);
		break;
	case MTI_STATUS:
		rc = status_decode(&r, fo, &m);
		break;
	default:
		rc = PDU_ETYPE;
		break;
	}
	if (rc < 0)
		return rc;
	memcpy(out, &m, sizeof(m));
	return 0;
}

int
pdu_decode_hex(const char *hex, int has_smsc, struct pdu_message *out)
{
	uint8_t b[PDU_HEX_MAX / 2];
	int n;

	if (hex == NULL || out == NULL)
		return PDU_EINVAL;
	n = pdu_hex_to_bytes(hex, b, sizeof(b));
	if (n == PDU_EINVAL)
		return PDU_EFIELD;	/* longer than any PDU */
	if (n < 0)
		return n;
	return pdu_decode(b, (size_t)n, has_smsc, out);
}
