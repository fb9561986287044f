/*
 * test_e2e_send.c - outbound path: HTTP request -> gatewayd -> serial bytes
 * -> modemsim, checked by decoding what the virtual modem received.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "harness.h"
#include "smsgw/pdu.h"

static size_t pdus_seen;	/* PDUs the modem had before this test */

/*
 * Send 'text', wait until the API says delivered (modemsim answers every
 * status report request with a report), and check that the modem got
 * 'parts' SMS-SUBMIT PDUs to 'to' whose texts join to 'text'.
 */
static void
send_and_check(struct e2e *env, const char *to, const char *text,
    const char *encoding, size_t parts)
{
	struct pdu_message *m = malloc(sizeof(*m));
	char joined[4096] = "";
	json_t *msg;
	char **pdus;
	long long id;
	size_t i;

	assert_non_null(m);
	id = e2e_send(env, to, text);
	assert_true(id > 0);
	msg = e2e_wait_state(env, id, "delivered");
	assert_non_null(msg);
	assert_string_equal(json_string_value(json_object_get(msg,
	    "encoding")), encoding);
	assert_int_equal(json_integer_value(json_object_get(msg,
	    "segments")), parts);
	json_decref(msg);

	pdus = e2e_wait_sent(env, pdus_seen + parts);
	assert_non_null(pdus);
	for (i = 0; i < parts; i++) {
		assert_non_null(pdus[pdus_seen + i]);
		assert_int_equal(pdu_decode_hex(pdus[pdus_seen + i], 1, m), 0);
		assert_int_equal(m->type, PDU_TYPE_SUBMIT);
		assert_string_equal(m->number, to);
		assert_string_equal(pdu_encoding_name(m->encoding), encoding);
		if (parts > 1) {
			assert_true(m->concat.present);
			assert_int_equal(m->concat.part, i + 1);
			assert_int_equal(m->concat.total, parts);
		} else {
			assert_false(m->concat.present);
		}
		strcat(joined, m->text);
	}
	assert_string_equal(joined, text);
	pdus_seen += parts;
	e2e_strv_free(pdus);
	free(m);
}

static void
test_e2e_send_ascii(void **state)
{
	struct e2e *env = *state;
	send_and_check(env, "+15551234567",
	    "Reminder: your appointment at the job centre is on Monday at "
	    "10:00.", "gsm7", 1);
}

static void
test_e2e_send_gsm_extension(void **state)
{
	struct e2e *env = *state;
	send_and_check(env, "+15551234567", "Fee: 5€ [form A] {room 2} ~ ^ \\ |",
	    "gsm7", 1);
}

static void
test_e2e_send_spanish_ucs2(void **state)
{
	struct e2e *env = *state;
	send_and_check(env, "+34612345678",
	    "Su cita es mañana a las 9. ¿Podrá venir? Traiga su currículum.",
	    "ucs2", 1);
}

static void
test_e2e_send_emoji(void **state)
{
	struct e2e *env = *state;
	send_and_check(env, "+15551234567", "Great news, you got the job 🎉👍",
	    "ucs2", 1);
}

static void
test_e2e_send_concatenated(void **state)
{
	struct e2e *env = *state;
	char text[401];
	size_t i;

	for (i = 0; i < 400; i++)
		text[i] = (char)('a' + i % 26);
	text[400] = '\0';
	send_and_check(env, "+15551234567", text, "gsm7", 3);
}

/* Smart encoding: typographic characters become their GSM equivalents,
 * so the text costs one GSM segment instead of a UCS-2 one. */
static void
test_e2e_send_smart_encoding(void **state)
{
	struct e2e *env = *state;
	struct pdu_message *m = malloc(sizeof(*m));
	json_t *req, *resp = NULL, *msg;
	char **pdus, *body;
	long long id;

	assert_non_null(m);
	req = json_pack("{s:s, s:s, s:b}", "to", "+15551234567", "text",
	    "\u201cHello\u201d \u2014 it\u2019s\u2026 ok", "smart_encoding", 1);
	body = json_dumps(req, 0);
	json_decref(req);
	assert_int_equal(e2e_http(env, "POST", "/api/v1/messages", body,
	    env->token, &resp), 202);
	free(body);
	assert_string_equal(json_string_value(json_object_get(resp,
	    "encoding")), "gsm7");
	id = json_integer_value(json_object_get(resp, "id"));
	json_decref(resp);

	msg = e2e_wait_state(env, id, "delivered");
	assert_non_null(msg);
	json_decref(msg);
	pdus = e2e_wait_sent(env, pdus_seen + 1);
	assert_non_null(pdus);
	assert_int_equal(pdu_decode_hex(pdus[pdus_seen], 1, m), 0);
	assert_int_equal(m->encoding, PDU_ENC_GSM7);
	assert_string_equal(m->text, "\"Hello\" - it's... ok");
	pdus_seen++;
	e2e_strv_free(pdus);
	free(m);
}

static void
expect_error(struct e2e *env, const char *body, const char *token, long status,
    const char *code)
{
	json_t *j = NULL;
	const char *got;

	assert_int_equal(e2e_http(env, "POST", "/api/v1/messages", body,
	    token, &j), status);
	assert_non_null(j);
	got = json_string_value(json_object_get(json_object_get(j, "error"),
	    "code"));
	assert_non_null(got);
	assert_string_equal(got, code);
	json_decref(j);
}

static void
test_e2e_send_unauthorized(void **state)
{
	struct e2e *env = *state;
	const char *body = "{\"to\": \"+15551234567\", \"text\": \"hi\"}";

	expect_error(env, body, NULL, 401, "unauthorized");
	expect_error(env, body, "not-the-token-at-all", 401, "unauthorized");
}

static void
test_e2e_send_bad_requests(void **state)
{
	struct e2e *env = *state;
	expect_error(env, "{\"to\": \"+1555", env->token, 400, "invalid_json");
	expect_error(env, "{\"to\": \"call me\", \"text\": \"hi\"}", env->token,
	    400, "invalid_number");
	expect_error(env, "{\"to\": \"+15551234567\", \"text\": \"\"}",
	    env->token,
	    400, "empty_text");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_e2e_send_ascii),
		cmocka_unit_test(test_e2e_send_gsm_extension),
		cmocka_unit_test(test_e2e_send_spanish_ucs2),
		cmocka_unit_test(test_e2e_send_emoji),
		cmocka_unit_test(test_e2e_send_concatenated),
		cmocka_unit_test(test_e2e_send_smart_encoding),
		cmocka_unit_test(test_e2e_send_unauthorized),
		cmocka_unit_test(test_e2e_send_bad_requests),
	};

	return cmocka_run_group_tests(tests, e2e_group_setup,
	    e2e_group_teardown);
}
