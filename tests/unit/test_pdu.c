/*
 * test_pdu.c - the SMS PDU codec against PDUs whose meaning was published
 * by others (each cites its source), round trips and boundary lengths.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "smsgw/pdu.h"

/* ------------------------------------------------------------------ */
/* Published samples, quoted in /work/shared/MODEMS.md */

/* 1. AOSP GsmSmsTest: SMS-DELIVER, GSM 7-bit. */
#define SAMPLE_AOSP_DELIVER \
	"07914151551512f2040B916105551511f100006060605130308A04D4F29C0E"
/* 2. python-gsmmodem tests: GSM 7-bit with an accent and braces. */
#define SAMPLE_GSMMODEM_BRACES \
	"06917228195339040B917228214365F70000313062315352800A800D8A5E98D3" \
	"37A910"
/* 3. AOSP: UCS-2. */
#define SAMPLE_AOSP_UCS2 \
	"07912160130300F4040B914151245584F600087010807121352B10212200A900" \
	"AE00680065006C006C006F"
/* 4. oFono unit tests: alphanumeric sender. */
#define SAMPLE_OFONO_ALPHA \
	"0791447758100650040DD0F334FC1CA6970100008080312170224008D4F29CDE" \
	"0EA7D9"
/* 5. python-messaging: status report. */
#define SAMPLE_PYMSG_STATUS \
	"0791538375000075061805810531F1019082416500400190824165004000"
/* 6. ModemManager tests: SMS-SUBMIT, no validity, AT+CMGS length 35. */
#define SAMPLE_MM_SUBMIT \
	"0001000B915155661632F400001954747A0E4ACF41F27298CDCE83C6EF371B04" \
	"81402010"
/* 7. python-messaging: SMS-SUBMIT with a status report requested. */
#define SAMPLE_PYMSG_SRR "0021000B914356143254F6000006E8721E947F03"

static const char *const samples[] = {
	SAMPLE_AOSP_DELIVER, SAMPLE_GSMMODEM_BRACES, SAMPLE_AOSP_UCS2,
	SAMPLE_OFONO_ALPHA, SAMPLE_PYMSG_STATUS, SAMPLE_MM_SUBMIT,
	SAMPLE_PYMSG_SRR,
};

static struct pdu_message *
msg_new(void)
{
	struct pdu_message *m = malloc(sizeof(*m));

	assert_non_null(m);
	return m;
}

static void
test_pdu_decode_aosp_deliver(void **state)
{
	struct pdu_message *m = msg_new();

	(void)state;
	assert_int_equal(pdu_decode_hex(SAMPLE_AOSP_DELIVER, 1, m), 0);
	assert_int_equal(m->type, PDU_TYPE_DELIVER);
	assert_string_equal(m->smsc, "+14155551212");
	assert_string_equal(m->number, "+16505551111");
	assert_int_equal(m->number_toa, 0x91);
	assert_int_equal(m->encoding, PDU_ENC_GSM7);
	assert_int_equal(m->has_text, 1);
	assert_string_equal(m->text, "Test");
	assert_int_equal(m->msg_class, -1);
	assert_int_equal(m->mr, -1);
	assert_int_equal(m->status, -1);
	assert_int_equal(m->concat.present, 0);
	/* 06-06-06 15:03:03, zone 8A: minus 28 quarters. */
	assert_int_equal(m->scts.present, 1);
	assert_int_equal(m->scts.year, 2006);
	assert_int_equal(m->scts.month, 6);
	assert_int_equal(m->scts.day, 6);
	assert_int_equal(m->scts.hour, 15);
	assert_int_equal(m->scts.minute, 3);
	assert_int_equal(m->scts.second, 3);
	assert_int_equal(m->scts.tz_minutes, -7 * 60);
	free(m);
}

static void
test_pdu_decode_gsmmodem_braces(void **state)
{
	struct pdu_message *m = msg_new();

	(void)state;
	assert_int_equal(pdu_decode_hex(SAMPLE_GSMMODEM_BRACES, 1, m), 0);
	assert_int_equal(m->type, PDU_TYPE_DELIVER);
	assert_string_equal(m->number, "+27821234567");
	assert_string_equal(m->text, "@{t\xc3\xa9st}!");
	/* Escape pairs stay in the unpacked septets. */
	assert_int_equal(m->data_len, 10);
	assert_int_equal(m->data[1], 0x1b);
	assert_int_equal(m->data[2], 0x28);
	assert_int_equal(m->scts.tz_minutes, 120);
	free(m);
}

static void
test_pdu_decode_aosp_ucs2(void **state)
{
	struct pdu_message *m = msg_new();

	(void)state;
	assert_int_equal(pdu_decode_hex(SAMPLE_AOSP_UCS2, 1, m), 0);
	assert_string_equal(m->number, "+14154255486");
	assert_int_equal(m->encoding, PDU_ENC_UCS2);
	assert_int_equal(m->dcs, 0x08);
	assert_string_equal(m->text,
	    "\xe2\x84\xa2\xc2\xa9\xc2\xaehello");
	assert_int_equal(m->data_len, 16);
	free(m);
}

static void
test_pdu_decode_ofono_alphanumeric(void **state)
{
	struct pdu_message *m = msg_new();

	(void)state;
	assert_int_equal(pdu_decode_hex(SAMPLE_OFONO_ALPHA, 1, m), 0);
	assert_string_equal(m->number, "sipgate");
	assert_int_equal(m->number_toa, 0xd0);
	assert_string_equal(m->text, "Testmail");
	free(m);
}

static void
test_pdu_decode_pymsg_status_report(void **state)
{
	struct pdu_message *m = msg_new();

	(void)state;
	assert_int_equal(pdu_decode_hex(SAMPLE_PYMSG_STATUS, 1, m), 0);
	assert_int_equal(m->type, PDU_TYPE_STATUS_REPORT);
	assert_int_equal(m->mr, 24);
	assert_string_equal(m->number, "50131");
	assert_int_equal(m->status, 0);
	assert_int_equal(m->scts.present, 1);
	assert_int_equal(m->scts.year, 2010);
	assert_int_equal(m->scts.month, 9);
	assert_int_equal(m->scts.day, 28);
	assert_int_equal(m->scts.hour, 14);
	assert_int_equal(m->scts.minute, 56);
	assert_int_equal(m->scts.tz_minutes, 60);
	assert_int_equal(m->discharge.present, 1);
	assert_int_equal(m->discharge.day, 28);
	assert_int_equal(m->has_text, 0);
	free(m);
}

static void
test_pdu_decode_mm_submit(void **state)
{
	struct pdu_message *m = msg_new();

	(void)state;
	assert_int_equal(pdu_decode_hex(SAMPLE_MM_SUBMIT, 1, m), 0);
	assert_int_equal(m->type, PDU_TYPE_SUBMIT);
	assert_string_equal(m->smsc, "");
	assert_string_equal(m->number, "+15556661234");
	assert_string_equal(m->text, "This is really cool "
	    "\xce\x94\xce\x94\xce\x94\xce\x94\xce\x94");
	assert_int_equal(m->mr, 0);
	assert_int_equal(m->srr, 0);
	assert_int_equal(m->validity_minutes, -1);
	free(m);
}

static void
test_pdu_decode_pymsg_submit_srr(void **state)
{
	struct pdu_message *m = msg_new();

	(void)state;
	assert_int_equal(pdu_decode_hex(SAMPLE_PYMSG_SRR, 1, m), 0);
	assert_int_equal(m->type, PDU_TYPE_SUBMIT);
	assert_string_equal(m->number, "+34654123456");
	assert_string_equal(m->text, "hey yo");
	assert_int_equal(m->srr, 1);
	free(m);
}

/* The encoder reproduces the published SUBMIT PDUs octet for octet. */
static void
test_pdu_encode_submit_matches_published(void **state)
{
	struct pdu_submit_options opt;
	struct pdu_encoded e;

	(void)state;
	pdu_submit_options_init(&opt);
	assert_int_equal(pdu_encode_submit("+15556661234",
	    "This is really cool \xce\x94\xce\x94\xce\x94\xce\x94\xce\x94",
	    &opt, &e), 0);
	assert_int_equal(e.nparts, 1);
	assert_int_equal(e.encoding, PDU_ENC_GSM7);
	assert_int_equal(e.parts[0].tpdu_len, 35);
	assert_string_equal(e.parts[0].hex, SAMPLE_MM_SUBMIT);
	pdu_encoded_release(&e);

	opt.status_report = 1;
	assert_int_equal(pdu_encode_submit("+34654123456", "hey yo", &opt,
	    &e), 0);
	assert_int_equal(e.parts[0].tpdu_len, 19);
	assert_string_equal(e.parts[0].hex, SAMPLE_PYMSG_SRR);
	pdu_encoded_release(&e);
}

/* Every prefix of every sample is truncated, never read beyond. */
static void
test_pdu_decode_truncated(void **state)
{
	struct pdu_message *m = msg_new();
	uint8_t b[PDU_HEX_MAX / 2];
	size_t i, k;
	int n;

	(void)state;
	for (i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		n = pdu_hex_to_bytes(samples[i], b, sizeof(b));
		assert_true(n > 0);
		for (k = 0; k < (size_t)n; k++) {
			uint8_t *copy = malloc(k ? k : 1);

			memcpy(copy, b, k);
			assert_int_equal(pdu_decode(copy, k, 1, m),
			    PDU_ETRUNC);
			free(copy);
		}
		assert_int_equal(pdu_decode(b, (size_t)n, 1, m), 0);
	}
	free(m);
}

static void
test_pdu_decode_errors(void **state)
{
	struct pdu_message *m = msg_new();

	(void)state;
	memset(m, 0x5a, sizeof(*m));
	assert_int_equal(pdu_decode_hex("0", 1, m), PDU_EHEX);
	assert_int_equal(pdu_decode_hex("0G", 1, m), PDU_EHEX);
	assert_int_equal(pdu_decode_hex("00 01", 1, m), PDU_EHEX);
	assert_int_equal(pdu_decode_hex("", 1, m), PDU_ETRUNC);
	assert_int_equal(pdu_decode_hex(NULL, 1, m), PDU_EINVAL);
	assert_int_equal(pdu_decode_hex("00", 1, NULL), PDU_EINVAL);
	assert_int_equal(pdu_decode(NULL, 3, 1, m), PDU_EINVAL);
	/* TP-MTI 11 is reserved, TS 23.040 9.2.3.1. */
	assert_int_equal(pdu_decode_hex("0003", 1, m), PDU_ETYPE);
	/* SMSC field longer than 11 octets. */
	assert_int_equal(pdu_decode_hex("0C9111111111111111111111111104",
	    1, m), PDU_EADDR);
	/* Originator longer than 20 digits. */
	assert_int_equal(pdu_decode_hex("0004159111111111111111111111", 1,
	    m), PDU_EADDR);
	/* TP-UDL of 161 septets. */
	assert_int_equal(pdu_decode_hex("0004029181" "0000" "00000000000000"
	    "A1", 1, m), PDU_EFIELD);
	/* UCS-2 TP-UDL of 141 octets. */
	assert_int_equal(pdu_decode_hex("0004029181" "0008" "00000000000000"
	    "8D", 1, m), PDU_EFIELD);
	/* UDHI with a UDHL beyond TP-UDL. */
	assert_int_equal(pdu_decode_hex("0044029181" "0004" "00000000000000"
	    "020500", 1, m), PDU_EFIELD);
	/* An IE longer than the UDH. */
	assert_int_equal(pdu_decode_hex("0044029181" "0004" "00000000000000"
	    "0403000500", 1, m), PDU_EFIELD);
	/* Hex longer than any PDU. */
	{
		char big[2 * PDU_HEX_MAX + 1];

		memset(big, '0', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		assert_int_equal(pdu_decode_hex(big, 1, m), PDU_EFIELD);
	}
	/* Nothing was written on any failure. */
	assert_int_equal(((uint8_t *)m)[0], 0x5a);
	assert_int_equal(m->number[0], 0x5a);
	free(m);
}

static void
test_pdu_hex_helpers(void **state)
{
	uint8_t b[4];
	char hex[9];

	(void)state;
	assert_int_equal(pdu_hex_to_bytes("0aFf", b, sizeof(b)), 2);
	assert_int_equal(b[0], 0x0a);
	assert_int_equal(b[1], 0xff);
	assert_int_equal(pdu_hex_to_bytes("", b, sizeof(b)), 0);
	assert_int_equal(pdu_hex_to_bytes("abc", b, sizeof(b)), PDU_EHEX);
	assert_int_equal(pdu_hex_to_bytes("zz", b, sizeof(b)), PDU_EHEX);
	assert_int_equal(pdu_hex_to_bytes("0011223344", b, sizeof(b)),
	    PDU_EINVAL);
	assert_int_equal(pdu_hex_to_bytes(NULL, b, sizeof(b)), PDU_EINVAL);
	pdu_bytes_to_hex((const uint8_t *)"\x01\xab\x00\xff", 4, hex);
	assert_string_equal(hex, "01AB00FF");
}

static void
test_pdu_strerror_and_names(void **state)
{
	int e;

	(void)state;
	for (e = PDU_EFIELD; e <= PDU_EINVAL; e++)
		assert_string_not_equal(pdu_strerror(e), "unknown error");
	assert_string_equal(pdu_strerror(-99), "unknown error");
	assert_string_equal(pdu_encoding_name(PDU_ENC_GSM7), "gsm7");
	assert_string_equal(pdu_encoding_name(PDU_ENC_8BIT), "8bit");
	assert_string_equal(pdu_encoding_name(PDU_ENC_UCS2), "ucs2");
}


/* ------------------------------------------------------------------ */
/* Fields of TS 23.040 / 23.038, on PDUs built by hand from the spec */

/* An SMS-DELIVER from +16505551111 (sample 1's header) with TP-DCS 'dcs'
 * and TP-UDL + TP-UD 'ud'. */
static int
decode_with_fo(const char *fo, const char *dcs, const char *ud,
    struct pdu_message *m)
{
	char hex[PDU_HEX_MAX];

	snprintf(hex, sizeof(hex), "07914151551512F2%s0B916105551511F100%s"
	    "6060605130308A%s", fo, dcs, ud);
	return pdu_decode_hex(hex, 1, m);
}

static int
decode_with_dcs(const char *dcs, const char *ud, struct pdu_message *m)
{
	return decode_with_fo("04", dcs, ud, m);
}

/* Same with TP-UDHI set. */
static int
decode_with_udh(const char *dcs, const char *ud, struct pdu_message *m)
{
	return decode_with_fo("44", dcs, ud, m);
}

/* National language shift tables, TS 23.038 A.2 / A.3, selected by the
 * UDH elements of TS 23.040 9.2.3.24.15 and .16.  The septets were
 * looked up in the tables of the spec. */
static void
test_pdu_decode_national_languages(void **state)
{
	struct pdu_message *m = msg_new();

	(void)state;
	/* Spanish single shift (A.2.2). */
	assert_int_equal(pdu_decode_hex("07914151551512F2440B916105551511F1"
	    "00006060605130308A1E03240102206ED2611DA89D2EC8C76F7679CE0281"
	    "E79BF40FB4A902", 1, m), 0);
	assert_string_equal(m->text, "D\xc3\xad" "a: mi\xc3\xa9rcoles, "
	    "\xc2\xbfs\xc3\xad? \xc3\x9a");
	/* Portuguese locking (A.3.3) and single shift (A.2.3). */
	assert_int_equal(pdu_decode_hex("07914151551512F2440B916105551511F1"
	    "00006060605130308A1F06240103250103CEFD1B847E80C289FD1BF49F83"
	    "726816C8FE1E1300", 1, m), 0);
	assert_string_equal(m->text, "N\xc3\xa3o h\xc3\xa1 a\xc3\xa7\xc3\xa3o"
	    " \xc3\xa0s 9h, voc\xc3\xaa");
	/* Turkish locking (A.3.1) and single shift (A.2.1). */
	assert_int_equal(pdu_decode_hex("07914151551512F2440B916105551511F1"
	    "00006060605130308A20062401012501018930FBD069874167BFDB0F02CE"
	    "E961B7B8CE067508", 1, m), 0);
	assert_string_equal(m->text, "\xc3\x87" "al\xc4\xb1\xc5\x9f" "ma "
	    "g\xc3\xbcn\xc3\xbc \xc4\xb0stanbul \xc5\x9f\xe2\x82\xac");
	/* Hindi locking (A.3.6) and single shift (A.2.6). */
	assert_int_equal(pdu_decode_hex("07914151551512F2440B916105551511F1"
	    "00006060605130308A12062401062501062F21F37BCA8262B219", 1, m),
	    0);
	assert_string_equal(m->text, "\xe0\xa4\xa8\xe0\xa4\xae\xe0\xa4\xb8"
	    "\xe0\xa5\x8d\xe0\xa4\xa4\xe0\xa5\x87 123");
	/* Spanish has no locking shift table (A.3.2 is void): default. */
	assert_int_equal(pdu_decode_hex("07914151551512F2440B916105551511F1"
	    "00006060605130308A0603250102E803", 1, m), 0);
	assert_string_equal(m->text, "\xc3\xb1");
	/* An unknown language (0x55) reads as the default alphabet. */
	assert_int_equal(pdu_decode_hex("07914151551512F2440B916105551511F1"
	    "00006060605130308A0603250155E803", 1, m), 0);
	assert_string_equal(m->text, "\xc3\xb1");
	free(m);
}

/* TP-DCS, TS 23.038 4. */
static void
test_pdu_decode_dcs_groups(void **state)
{
	struct pdu_message *m = msg_new();
	static const struct {
		const char	*dcs;
		int		 enc, cls, compressed, mwi_type, mwi_active;
	} cases[] = {
		{ "00", PDU_ENC_GSM7, -1, 0, -1, 0 },
		{ "10", PDU_ENC_GSM7, 0, 0, -1, 0 },	/* flash */
		{ "11", PDU_ENC_GSM7, 1, 0, -1, 0 },
		{ "12", PDU_ENC_GSM7, 2, 0, -1, 0 },
		{ "13", PDU_ENC_GSM7, 3, 0, -1, 0 },
		{ "0C", PDU_ENC_GSM7, -1, 0, -1, 0 },	/* reserved alphabet */
		{ "4A", PDU_ENC_UCS2, -1, 0, -1, 0 },	/* auto-deletion */
		{ "F0", PDU_ENC_GSM7, 0, 0, -1, 0 },
		{ "F1", PDU_ENC_GSM7, 1, 0, -1, 0 },
		{ "F6", PDU_ENC_8BIT, 2, 0, -1, 0 },
		{ "C8", PDU_ENC_GSM7, -1, 0, 0, 1 },	/* discard, voicemail */
		{ "D1", PDU_ENC_GSM7, -1, 0, 1, 0 },	/* store, fax, clear */
		{ "DA", PDU_ENC_GSM7, -1, 0, 2, 1 },	/* store, e-mail */
		{ "EB", PDU_ENC_UCS2, -1, 0, 3, 1 },	/* store UCS-2, other */
		{ "80", PDU_ENC_GSM7, -1, 0, -1, 0 },	/* reserved group */
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *ud = cases[i].enc == PDU_ENC_UCS2 ?
		    "0400480069" : "02C834";

		assert_int_equal(decode_with_dcs(cases[i].dcs, ud, m), 0);
		assert_int_equal(m->encoding, cases[i].enc);
		assert_int_equal(m->msg_class, cases[i].cls);
		assert_int_equal(m->mwi_type, cases[i].mwi_type);
		assert_int_equal(m->mwi_active, cases[i].mwi_active);
		assert_int_equal(m->compressed, 0);
		if (cases[i].enc == PDU_ENC_8BIT) {
			assert_int_equal(m->has_text, 0);
			assert_int_equal(m->data_len, 2);
			assert_int_equal(m->data[0], 0xc8);
		} else {
			assert_int_equal(m->has_text, 1);
			assert_string_equal(m->text, "Hi");
		}
	}

	/* Compressed GSM 7-bit (bit 5): UDL counts octets, the text is
	 * reported as not decoded rather than garbled. */
	assert_int_equal(decode_with_dcs("20", "03010203", m), 0);
	assert_int_equal(m->compressed, 1);
	assert_int_equal(m->has_text, 0);
	assert_string_equal(m->text, "");
	assert_int_equal(m->data_len, 3);
	assert_int_equal(m->data[2], 3);
	/* Compressed UCS-2 with class 1. */
	assert_int_equal(decode_with_dcs("39", "020102", m), 0);
	assert_int_equal(m->compressed, 1);
	assert_int_equal(m->encoding, PDU_ENC_UCS2);
	assert_int_equal(m->msg_class, 1);
	assert_int_equal(m->has_text, 0);
	free(m);
}

/* TP-UDH, TS 23.040 9.2.3.24. */
static void
test_pdu_decode_udh(void **state)
{
	struct pdu_message *m = msg_new();

	(void)state;
	/* 8-bit reference, 1 fill bit after the 6-octet UDH. */
	assert_int_equal(decode_with_udh("00", "0C050003420201906536FB0D",
	    m), 0);
	assert_int_equal(m->concat.present, 1);
	assert_int_equal(m->concat.ref, 0x42);
	assert_int_equal(m->concat.total, 2);
	assert_int_equal(m->concat.part, 1);
	assert_int_equal(m->concat.ref16, 0);
	assert_string_equal(m->text, "Hello");
	/* 16-bit reference, no fill bits after the 7-octet UDH. */
	assert_int_equal(decode_with_udh("00", "0D06080412340202C8329BFD06",
	    m), 0);
	assert_int_equal(m->concat.ref, 0x1234);
	assert_int_equal(m->concat.ref16, 1);
	assert_int_equal(m->concat.part, 2);
	assert_string_equal(m->text, "Hello");
	/* An unknown element (IEI 0x70) and application ports (0x05) are
	 * skipped; the concatenation after them is found. */
	assert_int_equal(decode_with_udh("08", "120F7002AABB0504157C0000"
	    "0003070301" "0048", m), 0);
	assert_int_equal(m->concat.present, 1);
	assert_int_equal(m->concat.ref, 7);
	assert_int_equal(m->concat.part, 1);
	assert_string_equal(m->text, "H");
	/* Sequence 0 or above the total voids the element, 9.2.3.24.1. */
	assert_int_equal(decode_with_udh("04", "0605000301020041", m), 0);
	assert_int_equal(m->concat.present, 0);
	assert_int_equal(decode_with_udh("04", "0605000301020341", m), 0);
	assert_int_equal(m->concat.present, 0);
	/* A concatenation element with the wrong length is ignored. */
	assert_int_equal(decode_with_udh("04", "060500020102" "41", m), 0);
	assert_int_equal(m->concat.present, 0);
	/* UDHI set and UDL 0: no room for the UDHL. */
	assert_int_equal(decode_with_udh("04", "00", m), PDU_EFIELD);
	m->has_text = 0;
	/* A 7-bit UDH whose septets exceed TP-UDL. */
	assert_int_equal(decode_with_udh("00", "02050003420201", m),
	    PDU_EFIELD);
	free(m);
}

static void
test_pdu_decode_timestamps_and_numbers(void **state)
{
	struct pdu_message *m = msg_new();

	(void)state;
	/* Zone "80": tens semi-octet 0 positive, units 8: +2 hours. */
	assert_int_equal(pdu_decode_hex(SAMPLE_GSMMODEM_BRACES, 1, m), 0);
	assert_int_equal(m->scts.tz_minutes, 120);
	assert_int_equal(m->scts.year, 2013);
	/* Non-BCD time stamp: the message still decodes, without time. */
	assert_int_equal(pdu_decode_hex("07914151551512F2040B916105551511F1"
	    "0000FFFFFFFFFFFFFF05C8329BFD06", 1, m), 0);
	assert_int_equal(m->scts.present, 0);
	assert_string_equal(m->text, "Hello");
	/* Month 13 is out of range. */
	assert_int_equal(pdu_decode_hex("07914151551512F2040B916105551511F1"
	    "00006031605130308A05C8329BFD06", 1, m), 0);
	assert_int_equal(m->scts.present, 0);
	/* National number (TOA 0xA1), digits '*' '#', odd length. */
	assert_int_equal(pdu_decode_hex("00040DA11032547698BAF100006060605130"
	    "308A00", 1, m), 0);
	assert_string_equal(m->number, "0123456789*#1");
	assert_int_equal(m->number_toa, 0xa1);
	/* Alphanumeric "sipgate" (oFono sample) with its length given as
	 * 14 semi-octets instead of 13: no trailing '@'. */
	assert_int_equal(pdu_decode_hex("00040ED0F334FC1CA697010000808031217"
	    "0224008D4F29CDE0EA7D9", 1, m), 0);
	assert_string_equal(m->number, "sipgate");
	/* No SMSC field: a bare TPDU. */
	assert_int_equal(pdu_decode_hex(SAMPLE_PYMSG_SRR + 2, 0, m), 0);
	assert_string_equal(m->number, "+34654123456");
	free(m);
}

/* TP-VP in its three formats, TS 23.040 9.2.3.12. */
static void
test_pdu_decode_submit_validity(void **state)
{
	struct pdu_message *m = msg_new();

	(void)state;
	/* Relative 167: 12 h + 24 * 30 min. */
	assert_int_equal(pdu_decode_hex("0011FF0B915155661632F40000A705C832"
	    "9BFD06", 1, m), 0);
	assert_int_equal(m->validity_minutes, 24 * 60);
	assert_int_equal(m->mr, 255);
	assert_string_equal(m->text, "Hello");
	/* Enhanced, relative as semi-octets 00:51:03. */
	assert_int_equal(pdu_decode_hex("0009000B915155661632F4000003001530"
	    "00000005C8329BFD06", 1, m), 0);
	assert_int_equal(m->validity_minutes, 51);
	/* Enhanced, relative in the 9.2.3.12.1 form (0 = 5 min). */
	assert_int_equal(pdu_decode_hex("0009000B915155661632F4000001000000"
	    "00000005C8329BFD06", 1, m), 0);
	assert_int_equal(m->validity_minutes, 5);
	/* Absolute: a date, not a period. */
	assert_int_equal(pdu_decode_hex("0019000B915155661632F400006060605130"
	    "308A05C8329BFD06", 1, m), 0);
	assert_int_equal(m->validity_minutes, -1);
	assert_string_equal(m->text, "Hello");
	/* TP-RD and TP-SRR. */
	assert_int_equal(pdu_decode_hex("0035000B915155661632F40000A705C832"
	    "9BFD06", 1, m), 0);
	assert_int_equal(m->reject_duplicates, 1);
	assert_int_equal(m->srr, 1);
	/* Relative VP announced but missing. */
	assert_int_equal(pdu_decode_hex("0011000B915155661632F40000", 1, m),
	    PDU_ETRUNC);
	free(m);
}

/* The optional TP-PI tail of a status report, TS 23.040 9.2.3.27. */
static void
test_pdu_decode_status_report_pi(void **state)
{
	struct pdu_message *m = msg_new();

	(void)state;
	assert_int_equal(pdu_decode_hex("0046180B915155661632F46060605130308A"
	    "6060605130308A400700000C050003010101906536FB0D", 1, m), 0);
	assert_int_equal(m->type, PDU_TYPE_STATUS_REPORT);
	assert_int_equal(m->status, 0x40);
	assert_string_equal(m->number, "+15556661234");
	assert_string_equal(m->text, "Hello");
	assert_int_equal(m->concat.present, 1);
	assert_int_equal(m->discharge.present, 1);
	assert_int_equal(m->discharge.tz_minutes, -420);
	/* An extension octet after TP-PI, then nothing announced. */
	assert_int_equal(pdu_decode_hex("00061805810531F16060605130308A60606051"
	    "30308A658001", 1, m), 0);
	assert_int_equal(m->status, 0x65);
	assert_int_equal(m->has_text, 0);
	/* TP-PI announces TP-PID and TP-UDL that are missing. */
	assert_int_equal(pdu_decode_hex("00061805810531F16060605130308A60606051"
	    "30308A6505", 1, m), PDU_ETRUNC);
	assert_int_equal(pdu_decode_hex("00061805810531F16060605130308A60606051"
	    "30308A650405", 1, m), PDU_ETRUNC);
	free(m);
}

/* ------------------------------------------------------------------ */
/* Round trips and boundaries */

static char *
repeat(const char *unit, size_t n)
{
	size_t ul = strlen(unit), i;
	char *s = malloc(ul * n + 1);

	assert_non_null(s);
	for (i = 0; i < n; i++)
		memcpy(s + i * ul, unit, ul);
	s[ul * n] = '\0';
	return s;
}

/*
 * Encode 'text' and decode every part back: the parts must join to the
 * text, carry consistent concatenation elements, and fit in a TPDU.
 * Returns the number of parts; part 'k' text goes to 'parts[k]' if given.
 */
static size_t
roundtrip(const char *text, const struct pdu_submit_options *opt,
    enum pdu_encoding want, char **first_part)
{
	struct pdu_message *m = msg_new();
	struct pdu_encoded e;
	size_t k, len = 0;
	char *joined = malloc(strlen(text) + 1);

	assert_non_null(joined);
	joined[0] = '\0';
	assert_int_equal(pdu_encode_submit("+15551234567", text, opt, &e),
	    0);
	assert_int_equal(e.encoding, want);
	for (k = 0; k < e.nparts; k++) {
		assert_int_equal(pdu_decode_hex(e.parts[k].hex, 1, m), 0);
		assert_true(e.parts[k].tpdu_len <= PDU_TPDU_MAX);
		assert_int_equal(strlen(e.parts[k].hex),
		    2 * (e.parts[k].tpdu_len + 1));
		assert_int_equal(m->encoding, want);
		assert_string_equal(m->number, "+15551234567");
		if (e.nparts > 1) {
			assert_int_equal(m->concat.present, 1);
			assert_int_equal(m->concat.part, k + 1);
			assert_int_equal(m->concat.total, e.nparts);
			assert_int_equal(m->concat.ref, opt->concat_ref);
			assert_int_equal(m->concat.ref16, opt->concat_ref16);
		} else {
			assert_int_equal(m->concat.present, 0);
		}
		assert_true(len + strlen(m->text) <= strlen(text));
		memcpy(joined + len, m->text, strlen(m->text) + 1);
		len += strlen(m->text);
		if (k == 0 && first_part != NULL)
			*first_part = strdup(m->text);
	}
	assert_string_equal(joined, text);
	k = e.nparts;
	pdu_encoded_release(&e);
	free(joined);
	free(m);
	return k;
}

static void
test_pdu_encode_gsm7_boundaries(void **state)
{
	struct pdu_submit_options opt;
	char *s;

	(void)state;
	pdu_submit_options_init(&opt);
	opt.concat_ref = 0x42;
	s = repeat("a", 160);
	assert_int_equal(roundtrip(s, &opt, PDU_ENC_GSM7, NULL), 1);
	free(s);
	s = repeat("a", 161);
	assert_int_equal(roundtrip(s, &opt, PDU_ENC_GSM7, NULL), 2);
	free(s);
	s = repeat("a", 306);
	assert_int_equal(roundtrip(s, &opt, PDU_ENC_GSM7, NULL), 2);
	free(s);
	s = repeat("a", 307);
	assert_int_equal(roundtrip(s, &opt, PDU_ENC_GSM7, NULL), 3);
	free(s);
	/* 80 euro signs are 160 septets: one part. */
	s = repeat("\xe2\x82\xac", 80);
	assert_int_equal(roundtrip(s, &opt, PDU_ENC_GSM7, NULL), 1);
	free(s);
	/* 153 euro signs: 76 per part, never a split pair, so 3 parts. */
	s = repeat("\xe2\x82\xac", 153);
	assert_int_equal(roundtrip(s, &opt, PDU_ENC_GSM7, NULL), 3);
	free(s);
}

/* An escape pair that would straddle septets 153/154 moves whole to the
 * next part. */
static void
test_pdu_encode_escape_at_boundary(void **state)
{
	struct pdu_submit_options opt;
	char *a = repeat("a", 152), *s, *first = NULL;
	size_t n = strlen(a);

	(void)state;
	s = malloc(n + 3 + 11);
	memcpy(s, a, n);
	memcpy(s + n, "\xe2\x82\xac" "bbbbbbbbbb", 14);
	pdu_submit_options_init(&opt);
	assert_int_equal(roundtrip(s, &opt, PDU_ENC_GSM7, &first), 2);
	assert_string_equal(first, a);
	free(first);
	free(s);
	free(a);
}

static void
test_pdu_encode_ucs2_boundaries(void **state)
{
	struct pdu_submit_options opt;
	char *s, *first = NULL, *t;

	(void)state;
	pdu_submit_options_init(&opt);
	s = repeat("\xd0\xb6", 70);	/* Cyrillic zhe */
	assert_int_equal(roundtrip(s, &opt, PDU_ENC_UCS2, NULL), 1);
	free(s);
	s = repeat("\xd0\xb6", 71);
	assert_int_equal(roundtrip(s, &opt, PDU_ENC_UCS2, NULL), 2);
	free(s);
	s = repeat("\xd0\xb6", 134);
	assert_int_equal(roundtrip(s, &opt, PDU_ENC_UCS2, NULL), 2);
	free(s);
	s = repeat("\xd0\xb6", 135);
	assert_int_equal(roundtrip(s, &opt, PDU_ENC_UCS2, NULL), 3);
	free(s);

	/* 66 units then an emoji (a surrogate pair) at units 67-68: the
	 * pair moves whole to part 2. */
	t = repeat("\xd0\xb6", 66);
	s = malloc(strlen(t) + 4 + 6 + 1);
	strcpy(s, t);
	strcat(s, "\xf0\x9f\x98\x80" "\xd0\xb6\xd0\xb6\xd0\xb6");
	assert_int_equal(roundtrip(s, &opt, PDU_ENC_UCS2, &first), 2);
	assert_string_equal(first, t);
	free(first);
	free(s);
	free(t);

	/* 35 emoji are exactly 70 units: one part. */
	s = repeat("\xf0\x9f\x98\x80", 35);
	assert_int_equal(roundtrip(s, &opt, PDU_ENC_UCS2, NULL), 1);
	free(s);
}

static void
test_pdu_encode_ref16_and_options(void **state)
{
	struct pdu_submit_options opt;
	struct pdu_message *m = msg_new();
	struct pdu_encoded e;
	char *s;

	(void)state;
	pdu_submit_options_init(&opt);
	opt.concat_ref16 = 1;
	opt.concat_ref = 0xbeef;
	s = repeat("x", 305);	/* 152 + 152 + 1 */
	assert_int_equal(roundtrip(s, &opt, PDU_ENC_GSM7, NULL), 3);
	free(s);
	s = repeat("\xd0\xb6", 133);	/* 66 + 66 + 1 */
	assert_int_equal(roundtrip(s, &opt, PDU_ENC_UCS2, NULL), 3);
	free(s);

	pdu_submit_options_init(&opt);
	opt.smsc = "+14155551212";
	opt.validity_minutes = 24 * 60;
	opt.msg_class = 0;
	opt.reject_duplicates = 1;
	opt.pid = 0x40;
	opt.mr = 7;
	opt.force_ucs2 = 1;
	assert_int_equal(pdu_encode_submit("12345", "hi", &opt, &e), 0);
	assert_int_equal(e.encoding, PDU_ENC_UCS2);
	assert_int_equal(pdu_decode_hex(e.parts[0].hex, 1, m), 0);
	assert_string_equal(m->smsc, "+14155551212");
	assert_string_equal(m->number, "12345");
	assert_int_equal(m->number_toa, 0x81);
	assert_int_equal(m->validity_minutes, 24 * 60);
	assert_int_equal(m->msg_class, 0);
	assert_int_equal(m->reject_duplicates, 1);
	assert_int_equal(m->pid, 0x40);
	assert_int_equal(m->mr, 7);
	assert_string_equal(m->text, "hi");
	/* SMSC field "07 91 4151551512F2" is not in the TPDU length. */
	assert_int_equal(strlen(e.parts[0].hex), 2 * (8 + e.parts[0].tpdu_len));
	pdu_encoded_release(&e);
	free(m);
}

static void
test_pdu_encode_errors(void **state)
{
	struct pdu_submit_options opt;
	struct pdu_encoded e;
	char *s;

	(void)state;
	pdu_submit_options_init(&opt);
	assert_int_equal(pdu_encode_submit("+1555", "", &opt, &e),
	    PDU_ETEXT);
	assert_int_equal(pdu_encode_submit("+1555", "\xc3", &opt, &e),
	    PDU_ETEXT);
	assert_int_equal(pdu_encode_submit("+1555", "\xc0\xaf", &opt, &e),
	    PDU_ETEXT);
	assert_int_equal(pdu_encode_submit("+1555", "\xed\xa0\x80", &opt,
	    &e), PDU_ETEXT);
	assert_int_equal(pdu_encode_submit("", "x", &opt, &e), PDU_EADDR);
	assert_int_equal(pdu_encode_submit("+", "x", &opt, &e), PDU_EADDR);
	assert_int_equal(pdu_encode_submit("+12a", "x", &opt, &e),
	    PDU_EADDR);
	assert_int_equal(pdu_encode_submit("123456789012345678901", "x",
	    &opt, &e), PDU_EADDR);
	assert_int_equal(pdu_encode_submit("TwelveChars!", "x", &opt, &e),
	    PDU_EADDR);
	assert_int_equal(pdu_encode_submit("\xd0\xb6", "x", &opt, &e),
	    PDU_EADDR);
	assert_int_equal(pdu_encode_submit(NULL, "x", &opt, &e), PDU_EADDR);
	opt.smsc = "SMSC";
	assert_int_equal(pdu_encode_submit("+1555", "x", &opt, &e),
	    PDU_EADDR);
	pdu_submit_options_init(&opt);
	opt.msg_class = 4;
	assert_int_equal(pdu_encode_submit("+1555", "x", &opt, &e),
	    PDU_EINVAL);
	pdu_submit_options_init(&opt);
	opt.concat_ref = 256;
	assert_int_equal(pdu_encode_submit("+1555", "x", &opt, &e),
	    PDU_EINVAL);
	pdu_submit_options_init(&opt);
	opt.pid = 256;
	assert_int_equal(pdu_encode_submit("+1555", "x", &opt, &e),
	    PDU_EINVAL);
	pdu_submit_options_init(&opt);
	opt.mr = 256;
	assert_int_equal(pdu_encode_submit("+1555", "x", &opt, &e),
	    PDU_EINVAL);
	pdu_submit_options_init(&opt);
	assert_int_equal(pdu_encode_submit("+1555", NULL, &opt, &e),
	    PDU_EINVAL);
	assert_int_equal(pdu_encode_submit("+1555", "x", &opt, NULL),
	    PDU_EINVAL);
	/* 256 parts of 153 septets. */
	s = repeat("a", 153 * 255 + 1);
	assert_int_equal(pdu_encode_submit("+1555", s, &opt, &e),
	    PDU_ETOOLONG);
	free(s);
	s = repeat("a", 153 * 255);
	assert_int_equal(pdu_encode_submit("+1555", s, &opt, &e), 0);
	assert_int_equal(e.nparts, 255);
	pdu_encoded_release(&e);
	free(s);
}

static void
test_pdu_encode_alphanumeric_destination(void **state)
{
	struct pdu_submit_options opt;
	struct pdu_message *m = msg_new();
	struct pdu_encoded e;

	(void)state;
	pdu_submit_options_init(&opt);
	assert_int_equal(pdu_encode_submit("sipgate", "Testmail", &opt, &e),
	    0);
	/* Same address octets as the oFono sample. */
	assert_non_null(strstr(e.parts[0].hex, "0DD0F334FC1CA69701"));
	assert_int_equal(pdu_decode_hex(e.parts[0].hex, 1, m), 0);
	assert_string_equal(m->number, "sipgate");
	pdu_encoded_release(&e);

	/* An extension character costs two of the 11 septets. */
	assert_int_equal(pdu_encode_submit("Caf\xe2\x82\xac{x}", "x", &opt,
	    &e), 0);
	assert_int_equal(pdu_decode_hex(e.parts[0].hex, 1, m), 0);
	assert_string_equal(m->number, "Caf\xe2\x82\xac{x}");
	pdu_encoded_release(&e);
	assert_int_equal(pdu_encode_submit("Caf\xe2\x82\xac{xyz}", "x",
	    &opt, &e), PDU_EADDR);
	free(m);
}

static void
test_pdu_encode_deliver_roundtrip(void **state)
{
	struct pdu_time t = { 1, 2024, 2, 29, 23, 59, 58, -5 * 60 - 30 };
	struct pdu_message *m = msg_new();
	struct pdu_encoded e;
	char *s = repeat("\xc3\xb1", 200);	/* n tilde, GSM 7-bit */

	(void)state;
	assert_int_equal(pdu_encode_deliver("+16505551111", s,
	    "+14155551212", &t, 9, &e), 0);
	assert_int_equal(e.nparts, 2);
	assert_int_equal(pdu_decode_hex(e.parts[1].hex, 1, m), 0);
	assert_int_equal(m->type, PDU_TYPE_DELIVER);
	assert_string_equal(m->smsc, "+14155551212");
	assert_string_equal(m->number, "+16505551111");
	assert_int_equal(m->concat.ref, 9);
	assert_int_equal(m->concat.part, 2);
	assert_int_equal(m->scts.year, 2024);
	assert_int_equal(m->scts.month, 2);
	assert_int_equal(m->scts.day, 29);
	assert_int_equal(m->scts.hour, 23);
	assert_int_equal(m->scts.minute, 59);
	assert_int_equal(m->scts.second, 58);
	assert_int_equal(m->scts.tz_minutes, -330);
	assert_int_equal(strlen(m->text), 2 * (200 - 153));
	pdu_encoded_release(&e);

	/* The sample's fields give back the sample. */
	t = (struct pdu_time){ 1, 2006, 6, 6, 15, 3, 3, -7 * 60 };
	assert_int_equal(pdu_encode_deliver("+16505551111", "Test",
	    "+14155551212", &t, 0, &e), 0);
	assert_string_equal(e.parts[0].hex,
	    "07914151551512F2040B916105551511F100006060605130308A04D4F29C0E");
	pdu_encoded_release(&e);

	assert_int_equal(pdu_encode_deliver("+1", "x", NULL, &t, 256, &e),
	    PDU_EINVAL);
	assert_int_equal(pdu_encode_deliver("+1", "x", NULL, &t, 0, NULL),
	    PDU_EINVAL);
	assert_int_equal(pdu_encode_deliver("", "x", NULL, &t, 0, &e),
	    PDU_EADDR);
	assert_int_equal(pdu_encode_deliver("+1", "x", "+1x", &t, 0, &e),
	    PDU_EADDR);
	assert_int_equal(pdu_encode_deliver("+1", "", NULL, &t, 0, &e),
	    PDU_ETEXT);
	t.tz_minutes = 10;	/* not quarter hours */
	assert_int_equal(pdu_encode_deliver("+1", "x", NULL, &t, 0, &e),
	    PDU_EINVAL);
	t.tz_minutes = -80 * 15;	/* beyond two BCD digits */
	assert_int_equal(pdu_encode_deliver("+1", "x", NULL, &t, 0, &e),
	    PDU_EINVAL);
	t.tz_minutes = 0;
	t.year = 2090;
	assert_int_equal(pdu_encode_deliver("+1", "x", NULL, &t, 0, &e),
	    PDU_EINVAL);
	t.year = 2006;
	t.month = 13;
	assert_int_equal(pdu_encode_deliver("+1", "x", NULL, &t, 0, &e),
	    PDU_EINVAL);
	assert_int_equal(pdu_encode_deliver("+1", "x", NULL, NULL, 0, &e),
	    PDU_EINVAL);
	free(s);
	free(m);
}

static void
test_pdu_encode_status_report_roundtrip(void **state)
{
	struct pdu_time t = { 1, 2010, 9, 28, 14, 56, 0, 60 };
	struct pdu_message *m = msg_new();
	char hex[PDU_HEX_MAX];
	int n;

	(void)state;
	/* The python-messaging sample without its SMSC address. */
	n = pdu_encode_status_report(24, "50131", 0, &t, &t, hex);
	assert_int_equal(n, 22);
	assert_string_equal(hex,
	    "00061805810531F1019082416500400190824165004000");
	assert_int_equal(pdu_decode_hex(hex, 1, m), 0);
	assert_int_equal(m->mr, 24);
	assert_int_equal(m->status, 0);
	assert_int_equal(pdu_encode_status_report(256, "1", 0, &t, &t, hex),
	    PDU_EINVAL);
	assert_int_equal(pdu_encode_status_report(1, "1", 256, &t, &t, hex),
	    PDU_EINVAL);
	assert_int_equal(pdu_encode_status_report(1, "", 0, &t, &t, hex),
	    PDU_EADDR);
	assert_int_equal(pdu_encode_status_report(1, "1", 0, &t, NULL, hex),
	    PDU_EINVAL);
	free(m);
}

static void
test_pdu_count_text(void **state)
{
	struct pdu_count c;
	char *s;

	(void)state;
	assert_int_equal(pdu_count_text("hello", 0, &c), 0);
	assert_int_equal(c.encoding, PDU_ENC_GSM7);
	assert_int_equal(c.segments, 1);
	assert_int_equal(c.characters, 5);
	assert_int_equal(c.remaining, 155);

	assert_int_equal(pdu_count_text("\xe2\x82\xac", 0, &c), 0);
	assert_int_equal(c.characters, 1);
	assert_int_equal(c.remaining, 158);

	s = repeat("a", 161);
	assert_int_equal(pdu_count_text(s, 0, &c), 0);
	assert_int_equal(c.segments, 2);
	assert_int_equal(c.remaining, 153 - 8);
	free(s);

	/* Spanish: "mañana" is GSM 7-bit, "á" is not (MODEMS.md). */
	assert_int_equal(pdu_count_text("Su cita es ma\xc3\xb1" "ana", 0, &c),
	    0);
	assert_int_equal(c.encoding, PDU_ENC_GSM7);
	assert_int_equal(pdu_count_text("est\xc3\xa1", 0, &c), 0);
	assert_int_equal(c.encoding, PDU_ENC_UCS2);
	assert_int_equal(c.remaining, 70 - 4);

	assert_int_equal(pdu_count_text("\xf0\x9f\x98\x80", 0, &c), 0);
	assert_int_equal(c.characters, 1);
	assert_int_equal(c.remaining, 68);

	assert_int_equal(pdu_count_text("", 0, &c), PDU_ETEXT);
	assert_int_equal(pdu_count_text("\xff", 0, &c), PDU_ETEXT);
	assert_int_equal(pdu_count_text(NULL, 0, &c), PDU_ETEXT);
	assert_int_equal(pdu_count_text("x", 0, NULL), PDU_EINVAL);
}

static void
test_pdu_smart_encoding(void **state)
{
	/* "It’s — “ok”…" with a no-break space. */
	const char *t = "It\xe2\x80\x99s\xc2\xa0\xe2\x80\x94 \xe2\x80\x9c"
	    "ok\xe2\x80\x9d\xe2\x80\xa6";
	struct pdu_submit_options opt;
	struct pdu_message *m = msg_new();
	struct pdu_encoded e;
	struct pdu_count c;

	(void)state;
	assert_int_equal(pdu_count_text(t, 0, &c), 0);
	assert_int_equal(c.encoding, PDU_ENC_UCS2);
	assert_int_equal(pdu_count_text(t, 1, &c), 0);
	assert_int_equal(c.encoding, PDU_ENC_GSM7);
	assert_int_equal(c.characters, 14);

	pdu_submit_options_init(&opt);
	opt.smart = 1;
	assert_int_equal(pdu_encode_submit("+1555", t, &opt, &e), 0);
	assert_int_equal(e.encoding, PDU_ENC_GSM7);
	assert_int_equal(pdu_decode_hex(e.parts[0].hex, 1, m), 0);
	assert_string_equal(m->text, "It's - \"ok\"...");
	pdu_encoded_release(&e);

	/* A text that needs UCS-2 anyway keeps its typography. */
	assert_int_equal(pdu_encode_submit("+1555", "\xd0\xb6\xe2\x80\x99",
	    &opt, &e), 0);
	assert_int_equal(e.encoding, PDU_ENC_UCS2);
	assert_int_equal(pdu_decode_hex(e.parts[0].hex, 1, m), 0);
	assert_string_equal(m->text, "\xd0\xb6\xe2\x80\x99");
	pdu_encoded_release(&e);
	free(m);
}

/* Random strings over a mix of alphabets survive encode + decode. */
static void
test_pdu_roundtrip_random_unicode(void **state)
{
	static const char *const pool[] = {
		"a", "Z", " ", "@", "\n", "\xc3\xa9", "\xe2\x82\xac", "{",
		"\\", "\xce\xa9", "\xc3\x9f", "\xd0\xb6", "\xe4\xb8\xad",
		"\xf0\x9f\x98\x80", "\xf0\x90\x8d\x88", "\xc3\xa1", "~",
	};
	struct pdu_submit_options opt;
	unsigned seed = 12345;
	char buf[2048];
	int iter, i, n, narrow;

	(void)state;
	pdu_submit_options_init(&opt);
	for (iter = 0; iter < 300; iter++) {
		size_t len = 0;

		seed = seed * 1103515245u + 12345u;
		n = 1 + (int)((seed >> 8) % 400);
		narrow = iter % 2;	/* half the strings stay GSM 7-bit */
		for (i = 0; i < n; i++) {
			const char *u;

			seed = seed * 1103515245u + 12345u;
			u = pool[(seed >> 8) % (narrow ? 12 - 3 : 17)];
			memcpy(buf + len, u, strlen(u));
			len += strlen(u);
		}
		buf[len] = '\0';
		opt.concat_ref = (unsigned)iter & 0xff;
		{
			struct pdu_count c;

			assert_int_equal(pdu_count_text(buf, 0, &c), 0);
			assert_int_equal(roundtrip(buf, &opt, c.encoding,
			    NULL), c.segments);
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pdu_decode_aosp_deliver),
		cmocka_unit_test(test_pdu_decode_gsmmodem_braces),
		cmocka_unit_test(test_pdu_decode_aosp_ucs2),
		cmocka_unit_test(test_pdu_decode_ofono_alphanumeric),
		cmocka_unit_test(test_pdu_decode_pymsg_status_report),
		cmocka_unit_test(test_pdu_decode_mm_submit),
		cmocka_unit_test(test_pdu_decode_pymsg_submit_srr),
		cmocka_unit_test(test_pdu_encode_submit_matches_published),
		cmocka_unit_test(test_pdu_decode_truncated),
		cmocka_unit_test(test_pdu_decode_errors),
		cmocka_unit_test(test_pdu_decode_national_languages),
		cmocka_unit_test(test_pdu_decode_dcs_groups),
		cmocka_unit_test(test_pdu_decode_udh),
		cmocka_unit_test(test_pdu_decode_timestamps_and_numbers),
		cmocka_unit_test(test_pdu_decode_submit_validity),
		cmocka_unit_test(test_pdu_decode_status_report_pi),
		cmocka_unit_test(test_pdu_hex_helpers),
		cmocka_unit_test(test_pdu_strerror_and_names),
		cmocka_unit_test(test_pdu_encode_gsm7_boundaries),
		cmocka_unit_test(test_pdu_encode_escape_at_boundary),
		cmocka_unit_test(test_pdu_encode_ucs2_boundaries),
		cmocka_unit_test(test_pdu_encode_ref16_and_options),
		cmocka_unit_test(test_pdu_encode_errors),
		cmocka_unit_test(test_pdu_encode_alphanumeric_destination),
		cmocka_unit_test(test_pdu_encode_deliver_roundtrip),
		cmocka_unit_test(test_pdu_encode_status_report_roundtrip),
		cmocka_unit_test(test_pdu_count_text),
		cmocka_unit_test(test_pdu_smart_encoding),
		cmocka_unit_test(test_pdu_roundtrip_random_unicode),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
