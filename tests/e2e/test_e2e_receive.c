/*
 * test_e2e_receive.c - inbound path: a message arrives at modemsim, which
 * stores it and announces +CMTI; gatewayd reads it, stores it, deletes it
 * from the SIM, and the API lists it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "harness.h"
#include "smsgw/clock.h"

/* The SIM is emptied once the message is stored. */
static void
assert_sim_empty(struct e2e *env)
{
	int64_t deadline = clock_mono_ms() + E2E_DEADLINE_MS;
	char *reply = NULL;
	int empty = 0;

	while (!empty && clock_mono_ms() < deadline) {
		assert_int_equal(e2e_sim(env, "stored", &reply), 0);
		empty = strcmp(reply, "OK 0") == 0 ||
		    strncmp(reply, "OK 0\n", 5) == 0;
		free(reply);
		reply = NULL;
		if (!empty)
			e2e_pause();
	}
	assert_true(empty);
}

static void
deliver(struct e2e *env, const char *from, const char *text,
    const char *expect)
{
	char cmd[2048], got[64] = "", *reply = NULL;
	int rc;

	snprintf(cmd, sizeof(cmd), "deliver %s %s", from, text);
	rc = e2e_sim(env, cmd, &reply);
	if (reply != NULL)
		snprintf(got, sizeof(got), "%s", reply);
	free(reply);
	assert_int_equal(rc, 0);
	assert_string_equal(got, expect);
}

static void
test_e2e_receive_single(void **state)
{
	struct e2e *env = *state;
	json_t *m;

	deliver(env, "+15557654321", "Yes, I will be there at 10", "OK 1");
	m = e2e_wait_inbound(env, "Yes, I will be there at 10");
	assert_non_null(m);
	assert_string_equal(json_string_value(json_object_get(m, "from")),
	    "+15557654321");
	assert_string_equal(json_string_value(json_object_get(m,
	    "direction")), "inbound");
	json_decref(m);
	assert_sim_empty(env);
}

static void
test_e2e_receive_multipart(void **state)
{
	struct e2e *env = *state;
	char text[600];
	json_t *m;
	size_t i;

	/* A UCS-2 text (á is not in the GSM alphabet) of 149 characters
	 * needs 3 parts of at most 67. */
	strcpy(text, "Recibirá ");
	for (i = strlen(text); i < 150; i++)
		text[i] = (char)('a' + i % 26);
	text[i] = '\0';
	deliver(env, "+34612345678", text, "OK 3");
	m = e2e_wait_inbound(env, text);
	assert_non_null(m);
	assert_string_equal(json_string_value(json_object_get(m, "from")),
	    "+34612345678");
	json_decref(m);
	assert_sim_empty(env);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_e2e_receive_single),
		cmocka_unit_test(test_e2e_receive_multipart),
	};

	return cmocka_run_group_tests(tests, e2e_group_setup,
	    e2e_group_teardown);
}
