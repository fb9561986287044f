/*
 * test_e2e_restart.c - the daemon stops and starts again with its data
 * intact: sent and received messages are still there, and it goes on
 * sending.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "harness.h"
#include "smsgw/clock.h"

static long long
wait_inbound_id(struct e2e *env)
{
	int64_t deadline = clock_mono_ms() + E2E_DEADLINE_MS;
	long long id = -1;

	while (id < 0 && clock_mono_ms() < deadline) {
		json_t *j = NULL, *m;

		if (e2e_http(env, "GET", "/api/v1/messages?direction=inbound",
		    NULL, env->token, &j) == 200) {
			m = json_array_get(json_object_get(j, "messages"), 0);
			if (m != NULL)
				id = json_integer_value(json_object_get(m,
				    "id"));
		}
		json_decref(j);
		if (id < 0)
			e2e_pause();
	}
	return id;
}

static void
assert_message(struct e2e *env, long long id, const char *state,
    const char *key, const char *value)
{
	char path[64];
	json_t *j = NULL;

	snprintf(path, sizeof(path), "/api/v1/messages/%lld", id);
	assert_int_equal(e2e_http(env, "GET", path, NULL, env->token, &j),
	    200);
	assert_string_equal(json_string_value(json_object_get(j, "state")),
	    state);
	assert_string_equal(json_string_value(json_object_get(j, key)),
	    value);
	json_decref(j);
}

static void
test_e2e_restart_keeps_data(void **state)
{
	struct e2e *env = *state;
	long long out, in, again;
	char *reply = NULL;
	json_t *j;

	out = e2e_send(env, "+15551234567", "Before the restart");
	assert_true(out > 0);
	j = e2e_wait_state(env, out, "delivered");
	assert_non_null(j);
	json_decref(j);
	assert_int_equal(e2e_sim(env, "deliver +15550001111 Got it, thanks",
	    &reply), 0);
	free(reply);
	in = wait_inbound_id(env);
	assert_true(in > 0);

	/* A clean stop: exit status 0, no sanitizer report. */
	assert_int_equal(e2e_gateway_stop(env), 0);
	assert_int_equal(e2e_gateway_start(env), 0);

	assert_message(env, out, "delivered", "text", "Before the restart");
	assert_message(env, out, "delivered", "to", "+15551234567");
	assert_message(env, in, "received", "text", "Got it, thanks");
	assert_message(env, in, "received", "from", "+15550001111");

	again = e2e_send(env, "+15551234567", "After the restart");
	assert_true(again > out);
	j = e2e_wait_state(env, again, "delivered");
	assert_non_null(j);
	json_decref(j);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_e2e_restart_keeps_data),
	};

	return cmocka_run_group_tests(tests, e2e_group_setup,
	    e2e_group_teardown);
}
