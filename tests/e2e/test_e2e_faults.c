/*
 * test_e2e_faults.c - the promises under faults: a permanent error fails
 * the message with its reason, a modem that took a PDU and never answered
 * makes the message unknown (never a resend), a crash while a part is with
 * the modem does the same, a pulled cable and line noise lose nothing, and
 * messages that arrived while the daemon was down are read at start.
 */
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"
#include "smsgw/clock.h"
#include "smsgw/pdu.h"

static struct e2e env;

static int
group_setup(void **state)
{
	(void)state;
	memset(&env, 0, sizeof(env));
	/* Short enough for a test, long enough for a loaded machine. */
	snprintf(env.modem_extra, sizeof(env.modem_extra),
	    "send_timeout = 5;");
	return e2e_setup_with(&env);
}

static int
group_teardown(void **state)
{
	(void)state;
	return e2e_teardown(&env);
}

static void
sim_ok(const char *command)
{
	char *reply = NULL;
	int rc = e2e_sim(&env, command, &reply);

	free(reply);
	assert_int_equal(rc, 0);
}

/* How many PDUs the modem has received whose text is 'text'. */
static size_t
sent_with_text(const char *text)
{
	struct pdu_message *m = malloc(sizeof(*m));
	char **pdus;
	size_t i, n = 0;

	assert_non_null(m);
	pdus = e2e_wait_sent(&env, 0);
	assert_non_null(pdus);
	for (i = 0; pdus[i] != NULL; i++)
		if (pdu_decode_hex(pdus[i], 1, m) == 0 &&
		    strcmp(m->text, text) == 0)
			n++;
	e2e_strv_free(pdus);
	free(m);
	return n;
}

static void
test_e2e_faults_permanent_error(void **state)
{
	json_t *m;
	const char *reason;
	long long id;

	(void)state;
	/* 21: short message transfer rejected (TS 24.011 E.2). */
	sim_ok("fault cms 21");
	id = e2e_send(&env, "+15551234567", "Rejected by the network");
	assert_true(id > 0);
	m = e2e_wait_state(&env, id, "failed");
	assert_non_null(m);
	reason = json_string_value(json_object_get(m, "reason"));
	assert_non_null(reason);
	assert_non_null(strstr(reason, "+CMS ERROR 21"));
	assert_int_equal(json_integer_value(json_object_get(m, "attempts")),
	    1);
	json_decref(m);
}

static void
test_e2e_faults_no_answer_is_unknown(void **state)
{
	const char *text = "The modem takes this one and goes quiet";
	long long id, next;
	json_t *m;

	(void)state;
	sim_ok("fault no-answer");
	id = e2e_send(&env, "+15551234567", text);
	assert_true(id > 0);
	m = e2e_wait_state(&env, id, "unknown");
	assert_non_null(m);
	json_decref(m);

	/* The queue goes on, and the unknown message is not sent again. */
	next = e2e_send(&env, "+15551234567", "Next in line");
	assert_true(next > id);
	m = e2e_wait_state(&env, next, "delivered");
	assert_non_null(m);
	json_decref(m);
	assert_int_equal(sent_with_text(text), 1);
	m = e2e_wait_state(&env, id, "unknown");
	assert_non_null(m);
	json_decref(m);
}

/* Wait until the modem holds a PDU between its Ctrl-Z and its answer. */
static int
wait_modem_sending(void)
{
	int64_t deadline = clock_mono_ms() + E2E_DEADLINE_MS;

	while (clock_mono_ms() < deadline) {
		char *reply = NULL;
		int sending;

		if (e2e_sim(&env, "status", &reply) != 0) {
			free(reply);
			return 0;
		}
		sending = strstr(reply, " chan=2 ") != NULL;
		free(reply);
		if (sending)
			return 1;
		e2e_pause();
	}
	return 0;
}

static void
test_e2e_faults_crash_while_sending(void **state)
{
	const char *text = "In flight when the power went";
	long long id, next;
	json_t *m;

	(void)state;
	sim_ok("latency 3000");
	id = e2e_send(&env, "+15551234567", text);
	assert_true(id > 0);
	assert_true(wait_modem_sending());
	e2e_gateway_kill(&env);
	sim_ok("latency 0");

	assert_int_equal(e2e_gateway_start(&env), 0);
	m = e2e_wait_state(&env, id, "unknown");
	assert_non_null(m);
	json_decref(m);

	next = e2e_send(&env, "+15551234567", "After the crash");
	m = e2e_wait_state(&env, next, "delivered");
	assert_non_null(m);
	json_decref(m);
	assert_int_equal(sent_with_text(text), 1);
}

/* Wait until the API shows the modem in a state other than "ready". */
static int
wait_modem_not_ready(void)
{
	int64_t deadline = clock_mono_ms() + E2E_DEADLINE_MS;

	while (clock_mono_ms() < deadline) {
		json_t *j = NULL, *m;
		const char *st;
		int down = 0;

		if (e2e_http(&env, "GET", "/api/v1/modems", NULL, env.token,
		    &j) == 200) {
			m = json_array_get(json_object_get(j, "modems"), 0);
			st = json_string_value(json_object_get(m, "state"));
			down = st != NULL && strcmp(st, "ready") != 0;
		}
		json_decref(j);
		if (down)
			return 1;
		e2e_pause();
	}
	return 0;
}

/*
 * A modem that stops answering altogether: the message is not blamed
 * (no prompt came, so the modem never had it); the daemon gives up on the
 * modem, shows it as not ready, and sends the message once it answers
 * again.
 */
static void
test_e2e_faults_hung_modem(void **state)
{
	const char *text = "Waiting for the modem to wake up";
	long long id;
	json_t *m;

	(void)state;
	sim_ok("fault hang");
	id = e2e_send(&env, "+15551234567", text);
	assert_true(id > 0);
	assert_true(wait_modem_not_ready());
	sim_ok("fault none");

	m = e2e_wait_state(&env, id, "delivered");
	assert_non_null(m);
	json_decref(m);
	assert_int_equal(sent_with_text(text), 1);
}

static void
test_e2e_faults_unplug(void **state)
{
	long long id;
	json_t *m;

	(void)state;
	/* The cable is out for two seconds; the message waits on disk. */
	sim_ok("fault unplug 2000");
	id = e2e_send(&env, "+15551234567", "Sent once the modem is back");
	assert_true(id > 0);
	m = e2e_wait_state(&env, id, "delivered");
	assert_non_null(m);
	json_decref(m);
	assert_int_equal(sent_with_text("Sent once the modem is back"), 1);
}

static void
test_e2e_faults_noise_and_urc_inside(void **state)
{
	long long id;
	json_t *m;

	(void)state;
	sim_ok("fault noise 3");
	sim_ok("fault urc-inside");
	sim_ok("deliver +15550002222 Arrives in the middle of a response");
	id = e2e_send(&env, "+15551234567", "Through the noise");
	assert_true(id > 0);
	/* "sent", not "delivered": with urc-inside the modem holds the
	 * report's +CDSI until the daemon's next command. */
	m = e2e_wait_state(&env, id, "sent");
	assert_non_null(m);
	json_decref(m);
	m = e2e_wait_inbound(&env, "Arrives in the middle of a response");
	assert_non_null(m);
	json_decref(m);
	sim_ok("fault none");
}

static void
test_e2e_faults_inbound_while_down(void **state)
{
	json_t *m;

	(void)state;
	assert_int_equal(e2e_gateway_stop(&env), 0);
	sim_ok("deliver +15550003333 Sent while the gateway was down");
	assert_int_equal(e2e_gateway_start(&env), 0);
	m = e2e_wait_inbound(&env, "Sent while the gateway was down");
	assert_non_null(m);
	json_decref(m);
}

/*
 * The daemon died between the "> " prompt and the Ctrl-Z: the modem still
 * waits for PDU text and would take every "AT" as part of it.  The next
 * start must get it back to commands (ESC) and run.
 */
static void
test_e2e_faults_modem_left_at_prompt(void **state)
{
	int64_t deadline;
	char buf[64] = "";
	size_t got = 0;
	long long id;
	json_t *m;
	int fd;

	(void)state;
	assert_int_equal(e2e_gateway_stop(&env), 0);

	fd = open(env.link, O_RDWR | O_NOCTTY | O_NONBLOCK);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "AT+CMGS=35\r", 11), 11);
	deadline = clock_mono_ms() + E2E_DEADLINE_MS;
	while (clock_mono_ms() < deadline && got < sizeof(buf) - 1) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, 100) <= 0)
			continue;
		n = read(fd, buf + got, sizeof(buf) - 1 - got);
		if (n > 0)
			got += (size_t)n;
		buf[got] = '\0';
		if (strstr(buf, "> ") != NULL)
			break;
	}
	assert_non_null(strstr(buf, "> "));
	/* Half a PDU, then the "crash". */
	assert_int_equal(write(fd, "0001000B91", 10), 10);
	close(fd);

	assert_int_equal(e2e_gateway_start(&env), 0);
	id = e2e_send(&env, "+15551234567", "After the half-sent PDU");
	assert_true(id > 0);
	m = e2e_wait_state(&env, id, "delivered");
	assert_non_null(m);
	json_decref(m);
}

/* Wait until message 'id' is queued again with 'attempts' claims. */
static json_t *
wait_requeued(long long id, long long attempts)
{
	int64_t deadline = clock_mono_ms() + E2E_DEADLINE_MS;
	char path[64];

	snprintf(path, sizeof(path), "/api/v1/messages/%lld", id);
	while (clock_mono_ms() < deadline) {
		json_t *j = NULL;
		const char *st;

		if (e2e_http(&env, "GET", path, NULL, env.token, &j) == 200) {
			st = json_string_value(json_object_get(j, "state"));
			if (st != NULL && strcmp(st, "queued") == 0 &&
			    json_integer_value(json_object_get(j,
			    "attempts")) == attempts)
				return j;
		}
		json_decref(j);
		e2e_pause();
	}
	return NULL;
}

/*
 * +CMS ERROR 330 (no SMSC address) is the modem's configuration, not the
 * message's fault: the message waits without failing and the modem shows
 * the error (it claims nothing more for a while, so the rest of the queue
 * keeps its retries).  Last in the group: the pause outlasts the test.
 */
static void
test_e2e_faults_modem_config_error(void **state)
{
	long long first;
	const char *reason, *st;
	json_t *m, *j = NULL;

	(void)state;
	sim_ok("fault cms 330 5");
	first = e2e_send(&env, "+15551234567", "Blocked by a missing SMSC");
	assert_true(first > 0);
	m = wait_requeued(first, 1);
	assert_non_null(m);
	reason = json_string_value(json_object_get(m, "reason"));
	assert_non_null(reason);
	assert_non_null(strstr(reason, "+CMS ERROR 330"));
	json_decref(m);

	assert_int_equal(e2e_http(&env, "GET", "/api/v1/modems", NULL,
	    env.token, &j), 200);
	st = json_string_value(json_object_get(json_array_get(
	    json_object_get(j, "modems"), 0), "state"));
	assert_non_null(st);
	assert_string_equal(st, "error");
	json_decref(j);
	sim_ok("fault none");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_e2e_faults_permanent_error),
		cmocka_unit_test(test_e2e_faults_no_answer_is_unknown),
		cmocka_unit_test(test_e2e_faults_crash_while_sending),
		cmocka_unit_test(test_e2e_faults_unplug),
		cmocka_unit_test(test_e2e_faults_hung_modem),
		cmocka_unit_test(test_e2e_faults_noise_and_urc_inside),
		cmocka_unit_test(test_e2e_faults_inbound_while_down),
		cmocka_unit_test(test_e2e_faults_modem_left_at_prompt),
		cmocka_unit_test(test_e2e_faults_modem_config_error),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
