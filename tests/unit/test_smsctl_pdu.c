/*
 * test_smsctl_pdu.c - `smsctl pdu decode|encode|count` against fixed
 * expected output.  The PDUs are the published samples quoted in
 * /work/shared/MODEMS.md (sources named at each) and PDUs laid out by
 * hand from TS 23.040.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "smsgw/smsctl.h"

/* What one run printed. */
struct run {
	int	 status;
	char	*out;
	char	*err;
};

/* Run `smsctl pdu ARGS...` (NULL terminated) in-process. */
static struct run
run_pdu(const char *arg, ...)
{
	char *argv[16];
	struct run r;
	size_t olen, elen;
	FILE *out, *err;
	va_list ap;
	int argc = 0;

	argv[argc++] = (char *)"pdu";
	va_start(ap, arg);
	for (; arg != NULL; arg = va_arg(ap, const char *)) {
		assert_true(argc < 15);
		argv[argc++] = (char *)arg;
	}
	va_end(ap);
	argv[argc] = NULL;

	out = open_memstream(&r.out, &olen);
	err = open_memstream(&r.err, &elen);
	assert_non_null(out);
	assert_non_null(err);
	r.status = smsctl_pdu_main(argc, argv, out, err);
	fclose(out);
	fclose(err);
	return r;
}

static void
run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

/* Exit 0, 'want' on stdout, nothing on stderr. */
static void
expect_ok(struct run r, const char *want)
{
	assert_int_equal(r.status, 0);
	assert_string_equal(r.err, "");
	assert_string_equal(r.out, want);
	run_free(&r);
}

/* Exit 1, nothing on stdout, exactly 'want' as one line on stderr. */
static void
expect_fail(struct run r, const char *want)
{
	assert_int_equal(r.status, 1);
	assert_string_equal(r.out, "");
	assert_string_equal(r.err, want);
	assert_non_null(strchr(r.err, '\n'));
	assert_true(strchr(r.err, '\n')[1] == '\0');
	run_free(&r);
}

static void
test_smsctl_pdu_decode_published(void **state)
{
	(void)state;
	/* AOSP GsmSmsTest. */
	expect_ok(run_pdu("decode", "07914151551512f2040B916105551511f1000060"
	    "60605130308A04D4F29C0E", (char *)NULL),
	    "{\"type\": \"deliver\", \"smsc\": \"+14155551212\", \"number\": "
	    "\"+16505551111\", \"encoding\": \"gsm7\", \"class\": null, "
	    "\"concat\": null, \"text\": \"Test\", \"timestamp\": "
	    "\"2006-06-06T15:03:03-07:00\"}\n");
	/* python-gsmmodem tests. */
	expect_ok(run_pdu("decode", "06917228195339040B917228214365F700003130"
	    "62315352800A800D8A5E98D337A910", (char *)NULL),
	    "{\"type\": \"deliver\", \"smsc\": \"+2782913593\", \"number\": "
	    "\"+27821234567\", \"encoding\": \"gsm7\", \"class\": null, "
	    "\"concat\": null, \"text\": \"@{t\xc3\xa9st}!\", \"timestamp\": "
	    "\"2013-03-26T13:35:25+02:00\"}\n");
	/* AOSP, UCS-2. */
	expect_ok(run_pdu("decode", "07912160130300F4040B914151245584F6000870"
	    "10807121352B10212200A900AE00680065006C006C006F", (char *)NULL),
	    "{\"type\": \"deliver\", \"smsc\": \"+12063130004\", \"number\": "
	    "\"+14154255486\", \"encoding\": \"ucs2\", \"class\": null, "
	    "\"concat\": null, \"text\": "
	    "\"\xe2\x84\xa2\xc2\xa9\xc2\xaehello\", \"timestamp\": "
	    "\"2007-01-08T17:12:53-08:00\"}\n");
	/* oFono unit tests, alphanumeric sender. */
	expect_ok(run_pdu("decode", "0791447758100650040DD0F334FC1CA697010000"
	    "8080312170224008D4F29CDE0EA7D9", (char *)NULL),
	    "{\"type\": \"deliver\", \"smsc\": \"+447785016005\", \"number\": "
	    "\"sipgate\", \"encoding\": \"gsm7\", \"class\": null, "
	    "\"concat\": null, \"text\": \"Testmail\", \"timestamp\": "
	    "\"2008-08-13T12:07:22+01:00\"}\n");
	/* python-messaging, status report. */
	expect_ok(run_pdu("decode", "0791538375000075061805810531F10190824165"
	    "00400190824165004000", (char *)NULL),
	    "{\"type\": \"status-report\", \"smsc\": \"+353857000057\", "
	    "\"number\": \"50131\", \"encoding\": \"gsm7\", \"class\": null, "
	    "\"concat\": null, \"text\": null, \"mr\": 24, \"status\": 0, "
	    "\"timestamp\": \"2010-09-28T14:56:00+01:00\", "
	    "\"discharge_time\": \"2010-09-28T14:56:00+01:00\"}\n");
	/* ModemManager tests, SMS-SUBMIT. */
	expect_ok(run_pdu("decode", "0001000B915155661632F400001954747A0E4ACF"
	    "41F27298CDCE83C6EF371B0481402010", (char *)NULL),
	    "{\"type\": \"submit\", \"smsc\": null, \"number\": "
	    "\"+15556661234\", \"encoding\": \"gsm7\", \"class\": null, "
	    "\"concat\": null, \"text\": \"This is really cool "
	    "\xce\x94\xce\x94\xce\x94\xce\x94\xce\x94\", \"mr\": 0, "
	    "\"status_report_requested\": false, \"validity_minutes\": "
	    "null}\n");
	/* python-messaging, SMS-SUBMIT with TP-SRR, as a bare TPDU. */
	expect_ok(run_pdu("decode", "--no-smsc",
	    "21000B914356143254F6000006E8721E947F03", (char *)NULL),
	    "{\"type\": \"submit\", \"smsc\": null, \"number\": "
	    "\"+34654123456\", \"encoding\": \"gsm7\", \"class\": null, "
	    "\"concat\": null, \"text\": \"hey yo\", \"mr\": 0, "
	    "\"status_report_requested\": true, \"validity_minutes\": "
	    "null}\n");
}

/* PDUs laid out from TS 23.040: concatenation, flash, 8-bit data,
 * compressed text, relative validity. */
static void
test_smsctl_pdu_decode_fields(void **state)
{
	(void)state;
	expect_ok(run_pdu("decode", "07914151551512F2440B916105551511F1000060"
	    "60605130308A0C050003420201906536FB0D", (char *)NULL),
	    "{\"type\": \"deliver\", \"smsc\": \"+14155551212\", \"number\": "
	    "\"+16505551111\", \"encoding\": \"gsm7\", \"class\": null, "
	    "\"concat\": {\"ref\": 66, \"part\": 1, \"total\": 2}, "
	    "\"text\": \"Hello\", \"timestamp\": "
	    "\"2006-06-06T15:03:03-07:00\"}\n");
	expect_ok(run_pdu("decode", "07914151551512F2040B916105551511F1001060"
	    "60605130308A05C8329BFD06", (char *)NULL),
	    "{\"type\": \"deliver\", \"smsc\": \"+14155551212\", \"number\": "
	    "\"+16505551111\", \"encoding\": \"gsm7\", \"class\": 0, "
	    "\"concat\": null, \"text\": \"Hello\", \"timestamp\": "
	    "\"2006-06-06T15:03:03-07:00\"}\n");
	expect_ok(run_pdu("decode", "07914151551512F2440B916105551511F100F560"
	    "60605130308A0A0605040B8423F0DEADBE", (char *)NULL),
	    "{\"type\": \"deliver\", \"smsc\": \"+14155551212\", \"number\": "
	    "\"+16505551111\", \"encoding\": \"8bit\", \"class\": 1, "
	    "\"concat\": null, \"text\": null, \"data\": \"DEADBE\", "
	    "\"timestamp\": \"2006-06-06T15:03:03-07:00\"}\n");
	expect_ok(run_pdu("decode", "07914151551512F2040B916105551511F1002060"
	    "60605130308A03010203", (char *)NULL),
	    "{\"type\": \"deliver\", \"smsc\": \"+14155551212\", \"number\": "
	    "\"+16505551111\", \"encoding\": \"gsm7\", \"class\": null, "
	    "\"concat\": null, \"text\": null, \"data\": \"010203\", "
	    "\"compressed\": true, \"timestamp\": "
	    "\"2006-06-06T15:03:03-07:00\"}\n");
	expect_ok(run_pdu("decode", "0011FF0B915155661632F40000A705C8329BFD06",
	    NULL),
	    "{\"type\": \"submit\", \"smsc\": null, \"number\": "
	    "\"+15556661234\", \"encoding\": \"gsm7\", \"class\": null, "
	    "\"concat\": null, \"text\": \"Hello\", \"mr\": 255, "
	    "\"status_report_requested\": false, \"validity_minutes\": "
	    "1440}\n");
	/* An invalid time stamp is null, the message still decodes. */
	expect_ok(run_pdu("decode", "07914151551512F2040B916105551511F10000FF"
	    "FFFFFFFFFFFF05C8329BFD06", (char *)NULL),
	    "{\"type\": \"deliver\", \"smsc\": \"+14155551212\", \"number\": "
	    "\"+16505551111\", \"encoding\": \"gsm7\", \"class\": null, "
	    "\"concat\": null, \"text\": \"Hello\", \"timestamp\": null}\n");
}

static void
test_smsctl_pdu_decode_errors(void **state)
{
	(void)state;
	expect_fail(run_pdu("decode", "0G", (char *)NULL),
	    "smsctl pdu: decode: not a valid hex string\n");
	expect_fail(run_pdu("decode", "07914151551512", (char *)NULL),
	    "smsctl pdu: decode: PDU truncated\n");
	expect_fail(run_pdu("decode", "0003", (char *)NULL),
	    "smsctl pdu: decode: unsupported message type\n");
	expect_fail(run_pdu("decode", (char *)NULL),
	    "smsctl pdu: decode: missing argument\n");
	expect_fail(run_pdu("decode", "00", "01", (char *)NULL),
	    "smsctl pdu: decode: too many arguments\n");
	expect_fail(run_pdu("decode", "--smart", "00", (char *)NULL),
	    "smsctl pdu: decode: unknown option --smart\n");
}

static void
test_smsctl_pdu_encode(void **state)
{
	(void)state;
	/* The ModemManager sample, AT+CMGS length 35. */
	expect_ok(run_pdu("encode", "+15556661234", "This is really cool "
	    "\xce\x94\xce\x94\xce\x94\xce\x94\xce\x94", (char *)NULL),
	    "35 0001000B915155661632F400001954747A0E4ACF41F27298CDCE83C6EF37"
	    "1B0481402010\n");
	/* The python-messaging sample with a status report. */
	expect_ok(run_pdu("encode", "--status-report", "+34654123456",
	    "hey yo", (char *)NULL),
	    "19 0021000B914356143254F6000006E8721E947F03\n");
	/* Every option: SMSC, validity 24 h (TP-VP 167), flash. */
	expect_ok(run_pdu("encode", "--smsc", "+14155551212", "--validity",
	    "1440", "--class", "0", "--status-report", "+15551234567",
	    "Hello", (char *)NULL),
	    "19 07914151551512F231000B915155214365F70010A705C8329BFD06\n");
	/* Forced UCS-2 with "--" before a text that looks like an option. */
	expect_ok(run_pdu("encode", "--ucs2", "--", "12345",
	    "--\xd0\xb6", (char *)NULL),
	    "16 00010005812143F5000806002D002D0436\n");
	/* Smart encoding keeps a pasted reminder in GSM 7-bit. */
	expect_ok(run_pdu("encode", "--smart", "+15551234567",
	    "\xe2\x80\x9cHi\xe2\x80\x9d", (char *)NULL),
	    "17 0001000B915155214365F700000422645A04\n");
}

static void
test_smsctl_pdu_encode_multipart(void **state)
{
	char text[162];

	(void)state;
	memset(text, 'a', 161);
	text[161] = '\0';
	expect_ok(run_pdu("encode", "--ref", "9", "+15551234567", text,
	    NULL),
	    "153 0041000B915155214365F70000A0050003090201C2E170381C0E87C3E1"
	    "70381C0E87C3E170381C0E87C3E170381C0E87C3E170381C0E87C3E170381C"
	    "0E87C3E170381C0E87C3E170381C0E87C3E170381C0E87C3E170381C0E87C3"
	    "E170381C0E87C3E170381C0E87C3E170381C0E87C3E170381C0E87C3E17038"
	    "1C0E87C3E170381C0E87C3E170381C0E87C3E170381C0E87C3E170381C0E87"
	    "C3\n"
	    "27 0041000B915155214365F700000F050003090202C2E170381C0E8701\n");
}

static void
test_smsctl_pdu_encode_errors(void **state)
{
	(void)state;
	expect_fail(run_pdu("encode", "+12a", "x", (char *)NULL),
	    "smsctl pdu: encode: invalid address\n");
	expect_fail(run_pdu("encode", "+1555", "", (char *)NULL),
	    "smsctl pdu: encode: text empty or not valid UTF-8\n");
	expect_fail(run_pdu("encode", "--class", "4", "+1555", "x",
	    (char *)NULL),
	    "smsctl pdu: bad value for --class: 4\n");
	expect_fail(run_pdu("encode", "--validity", "-5", "+1555", "x",
	    NULL), "smsctl pdu: bad value for --validity: -5\n");
	expect_fail(run_pdu("encode", "--validity", "12x", "+1555", "x",
	    NULL), "smsctl pdu: bad value for --validity: 12x\n");
	expect_fail(run_pdu("encode", "--ref", "256", "+1555", "x",
	    (char *)NULL),
	    "smsctl pdu: bad value for --ref: 256\n");
	expect_fail(run_pdu("encode", "+1555", "x", "--smsc", (char *)NULL),
	    "smsctl pdu: --smsc needs a value\n");
	expect_fail(run_pdu("encode", "--smsc", "SMSC", "+1555", "x",
	    (char *)NULL),
	    "smsctl pdu: encode: invalid address\n");
	expect_fail(run_pdu("encode", "+1555", (char *)NULL),
	    "smsctl pdu: encode: missing argument\n");
	expect_fail(run_pdu("encode", "--no-smsc", "+1555", "x", (char *)NULL),
	    "smsctl pdu: encode: unknown option --no-smsc\n");
}

static void
test_smsctl_pdu_count(void **state)
{
	char text[201];

	(void)state;
	expect_ok(run_pdu("count", "Su cita es ma\xc3\xb1" "ana a las 9",
	    NULL), "{\"encoding\": \"gsm7\", \"segments\": 1, "
	    "\"characters\": 25, \"remaining\": 135}\n");
	expect_ok(run_pdu("count", "Su cita est\xc3\xa1", (char *)NULL),
	    "{\"encoding\": \"ucs2\", \"segments\": 1, \"characters\": 12, "
	    "\"remaining\": 58}\n");
	memset(text, 'x', 200);
	text[200] = '\0';
	expect_ok(run_pdu("count", text, (char *)NULL),
	    "{\"encoding\": \"gsm7\", \"segments\": 2, \"characters\": 200, "
	    "\"remaining\": 106}\n");
	expect_ok(run_pdu("count", "--smart", "\xe2\x80\x9cHi\xe2\x80\x9d "
	    "\xe2\x80\x94 ok\xe2\x80\xa6", (char *)NULL),
	    "{\"encoding\": \"gsm7\", \"segments\": 1, \"characters\": 12, "
	    "\"remaining\": 148}\n");
	expect_ok(run_pdu("count", "\xe2\x80\x9cHi\xe2\x80\x9d", (char *)NULL),
	    "{\"encoding\": \"ucs2\", \"segments\": 1, \"characters\": 4, "
	    "\"remaining\": 66}\n");
	expect_fail(run_pdu("count", "", (char *)NULL),
	    "smsctl pdu: count: text empty or not valid UTF-8\n");
	expect_fail(run_pdu("count", "\xff", (char *)NULL),
	    "smsctl pdu: count: text empty or not valid UTF-8\n");
	expect_fail(run_pdu("count", (char *)NULL),
	    "smsctl pdu: count: missing argument\n");
	expect_fail(run_pdu("count", "--ucs2", "x", (char *)NULL),
	    "smsctl pdu: count: unknown option --ucs2\n");
}

static void
test_smsctl_pdu_commands(void **state)
{
	struct run r;

	(void)state;
	expect_fail(run_pdu(NULL),
	    "smsctl pdu: missing command (decode, encode, count)\n");
	expect_fail(run_pdu("frobnicate", (char *)NULL),
	    "smsctl pdu: unknown command frobnicate (decode, encode, "
	    "count)\n");
	r = run_pdu("help", (char *)NULL);
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.out, "usage: smsctl pdu decode"));
	assert_string_equal(r.err, "");
	run_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_smsctl_pdu_decode_published),
		cmocka_unit_test(test_smsctl_pdu_decode_fields),
		cmocka_unit_test(test_smsctl_pdu_decode_errors),
		cmocka_unit_test(test_smsctl_pdu_encode),
		cmocka_unit_test(test_smsctl_pdu_encode_multipart),
		cmocka_unit_test(test_smsctl_pdu_encode_errors),
		cmocka_unit_test(test_smsctl_pdu_count),
		cmocka_unit_test(test_smsctl_pdu_commands),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
