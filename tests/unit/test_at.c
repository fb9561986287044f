/*
 * test_at.c - the AT channel against a scripted modem on a pty pair.
 *
 * A thread plays the modem on the master side: for each step it reads one
 * command (up to CR, or Ctrl-Z for a PDU, or ESC), checks it, and writes
 * the scripted reply in fragments, waiting after each until the channel
 * has taken it so that the fragments really arrive apart.  Tests that
 * need no command write to the master from the test thread and call
 * at_chan_poll().
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "smsgw/at.h"
#include "smsgw/transport.h"

#define WAIT_MS		3000
#define CMD_TIMEOUT	3000

/* SMS-DELIVER from AOSP GsmSmsTest: from +16505551111, "Test". */
#define PDU_DELIVER \
	"07914151551512F2040B916105551511F100006060605130308A04D4F29C0E"
/* SMS-STATUS-REPORT from python-messaging: MR 24, TP-ST 0. */
#define PDU_REPORT \
	"0791538375000075061805810531F1019082416500400190824165004000"
/* SMS-SUBMIT from ModemManager's tests, AT+CMGS length 35. */
#define PDU_SUBMIT \
	"0001000B915155661632F400001954747A0E4ACF41F27298CDCE83C6EF371B04" \
	"81402010"

struct fm_step {
	const char	*expect;	/* NULL: write without reading */
	char		term;		/* ends the command; 0 = CR */
	int		hangup;		/* close the master instead */
	const char	*reply[10];	/* fragments, NULL-terminated */
};

struct fake_modem {
	int			master;
	int			slave_fd;	/* the channel's side */
	const struct fm_step	*steps;
	size_t			nsteps;
	pthread_t		thread;
	char			error[256];
};

struct urc_log {
	int	count;
	char	lines[16][512];
	struct at_chan *chan;	/* for handlers that misbehave */
	int	command_rc;
};

struct fixture {
	int			master;
	struct at_chan		*chan;
	struct urc_log		urcs;
	struct fake_modem	fm;
};

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait (bounded) until the channel's side has read what we wrote. */
static void
fm_settle(const struct fake_modem *fm)
{
	long long deadline = now_ms() + 500;
	int pending = 0;

	do {
		if (ioctl(fm->slave_fd, FIONREAD, &pending) != 0)
			return;
		if (pending == 0)
			return;
		sched_yield();
	} while (now_ms() < deadline);
}

/* Read one command from the master into 'buf', up to 'term'. */
static int
fm_read_command(struct fake_modem *fm, char *buf, size_t len, char term)
{
	struct pollfd pfd = { .fd = fm->master, .events = POLLIN };
	size_t got = 0;
	char c;

	for (;;) {
		if (poll(&pfd, 1, WAIT_MS) <= 0)
			return -1;
		if (read(fm->master, &c, 1) != 1)
			return -1;
		if (c == term)
			break;
		if (got + 1 < len)
			buf[got++] = c;
	}
	buf[got] = '\0';
	return 0;
}

static void *
fm_run(void *arg)
{
	struct fake_modem *fm = arg;
	char cmd[1024];
	size_t i, j;

	for (i = 0; i < fm->nsteps; i++) {
		const struct fm_step *s = &fm->steps[i];

		if (s->expect != NULL) {
			if (fm_read_command(fm, cmd, sizeof(cmd),
			    s->term ? s->term : '\r') != 0) {
				snprintf(fm->error, sizeof(fm->error),
				    "step %zu: no command (want %s)", i,
				    s->expect);
				return NULL;
			}
			if (strcmp(cmd, s->expect) != 0) {
				snprintf(fm->error, sizeof(fm->error),
				    "step %zu: got '%.100s' want '%.100s'", i,
				    cmd, s->expect);
				return NULL;
			}
		}
		if (s->hangup) {
			close(fm->master);
			fm->master = -1;
			return NULL;
		}
		for (j = 0; s->reply[j] != NULL; j++) {
			size_t n = strlen(s->reply[j]);

			if (write(fm->master, s->reply[j], n) != (ssize_t)n) {
				snprintf(fm->error, sizeof(fm->error),
				    "step %zu: write failed", i);
				return NULL;
			}
			fm_settle(fm);
		}
	}
	return NULL;
}

static void
fm_start(struct fixture *f, const struct fm_step *steps, size_t nsteps)
{
	f->fm.master = f->master;
	f->fm.slave_fd = at_chan_fd(f->chan);
	f->fm.steps = steps;
	f->fm.nsteps = nsteps;
	f->fm.error[0] = '\0';
	assert_int_equal(pthread_create(&f->fm.thread, NULL, fm_run, &f->fm),
	    0);
}

static void
fm_finish(struct fixture *f)
{
	pthread_join(f->fm.thread, NULL);
	if (f->fm.error[0] != '\0')
		fail_msg("fake modem: %s", f->fm.error);
	f->master = f->fm.master;
}

#define FM_START(f, steps) fm_start((f), (steps), \
	sizeof(steps) / sizeof(*(steps)))

static void
record_urc(const char *line, const char *pdu, void *arg)
{
	struct urc_log *log = arg;

	if (log->count < 16)
		snprintf(log->lines[log->count], sizeof(log->lines[0]),
		    "%s|%s", line, pdu ? pdu : "");
	log->count++;
}

static int
setup(void **state)
{
	struct fixture *f;
	struct transport *t;
	char path[64], err[256];

	f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->master = posix_openpt(O_RDWR | O_NOCTTY);
	assert_true(f->master >= 0);
	assert_int_equal(grantpt(f->master), 0);
	assert_int_equal(unlockpt(f->master), 0);
	assert_int_equal(ptsname_r(f->master, path, sizeof(path)), 0);
	assert_int_equal(transport_open(path, 0, TRANSPORT_FLOW_NONE, &t,
	    err, sizeof(err)), 0);
	f->chan = at_chan_new(t, "test");
	assert_non_null(f->chan);
	at_chan_set_urc_handler(f->chan, record_urc, &f->urcs);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	if (f->chan != NULL)
		at_chan_free(f->chan);
	if (f->master >= 0)
		close(f->master);
	free(f);
	return 0;
}

/* Write 'bytes' as the modem and let the channel read them. */
static int
modem_says(struct fixture *f, const char *bytes)
{
	struct pollfd pfd = { .fd = at_chan_fd(f->chan), .events = POLLIN };
	long long deadline = now_ms() + WAIT_MS;
	size_t n = strlen(bytes);
	int pending = 0;

	assert_int_equal(write(f->master, bytes, n), (ssize_t)n);
	assert_true(poll(&pfd, 1, WAIT_MS) > 0);

	/* The pty may hand a long write over in pieces: wait for all. */
	while (ioctl(pfd.fd, FIONREAD, &pending) == 0 &&
	    (size_t)pending < n && now_ms() < deadline)
		sched_yield();
	return at_chan_poll(f->chan);
}

static void
test_at_urc_table(void **state)
{
	(void)state;
	assert_true(at_is_urc("+CMTI: \"SM\",3"));
	assert_false(at_urc_has_pdu("+CMTI: \"SM\",3"));
	assert_true(at_is_urc("+CMT: ,24"));
	assert_true(at_urc_has_pdu("+CMT: ,24"));
	assert_true(at_urc_has_pdu("+CDS: 25"));
	assert_true(at_is_urc("+CDSI: \"SM\",1"));
	assert_false(at_urc_has_pdu("+CDSI: \"SM\",1"));
	assert_true(at_is_urc("RING"));
	assert_false(at_is_urc("RINGING"));
	assert_true(at_is_urc("RDY"));
	assert_true(at_is_urc("SMS DONE"));
	assert_true(at_is_urc("+QIND: SMS DONE"));
	assert_true(at_is_urc("^RSSI: 17"));
	assert_true(at_is_urc("+CREG: 1"));
	assert_false(at_is_urc("OK"));
	assert_false(at_is_urc("+CSQ: 20,99"));
	assert_false(at_is_urc("+CMGS: 12"));
	assert_false(at_urc_has_pdu("OK"));
}

static void
test_at_command_with_echo(void **state)
{
	static const struct fm_step steps[] = {
		{ "AT+CSQ", 0, 0, { "AT+CSQ\r", "\r\n+CSQ: 21,99\r\n",
		    "\r\nOK\r\n", NULL } },
	};
	struct fixture *f = *state;
	struct at_response r;

	FM_START(f, steps);
	assert_int_equal(at_chan_command(f->chan, "AT+CSQ", "+CSQ:",
	    CMD_TIMEOUT, &r), 0);
	fm_finish(f);
	assert_int_equal(r.result, AT_RESULT_OK);
	assert_int_equal(r.error, -1);
	assert_int_equal(r.nlines, 1);
	assert_string_equal(r.lines[0], "+CSQ: 21,99");
	assert_int_equal(f->urcs.count, 0);
	at_response_release(&r);
}

static void
test_at_command_bare_lines(void **state)
{
	static const struct fm_step steps[] = {
		{ "AT+CGMI", 0, 0, { "\r\nQuec", "tel\r\n\r\nOK\r\n", NULL } },
	};
	struct fixture *f = *state;
	struct at_response r;

	FM_START(f, steps);
	assert_int_equal(at_chan_command(f->chan, "AT+CGMI", NULL,
	    CMD_TIMEOUT, &r), 0);
	fm_finish(f);
	assert_int_equal(r.result, AT_RESULT_OK);
	assert_int_equal(r.nlines, 1);
	assert_string_equal(r.lines[0], "Quectel");
	at_response_release(&r);
}

static void
test_at_urc_between_response_lines(void **state)
{
	static const struct fm_step steps[] = {
		{ "AT+CMGL=4", 0, 0, {
		    "\r\n+CMGL: 1,0,,31\r\n" PDU_DELIVER "\r\n",
		    "\r\n+CMTI: \"SM\",5\r\n",
		    "+CMGL: 2,1,,31\r\n" PDU_DELIVER "\r\n",
		    "\r\nRING\r\n\r\nOK\r\n", NULL } },
	};
	struct fixture *f = *state;
	struct at_response r;

	FM_START(f, steps);
	assert_int_equal(at_chan_command(f->chan, "AT+CMGL=4", "+CMGL:",
	    CMD_TIMEOUT, &r), 0);
	fm_finish(f);
	assert_int_equal(r.result, AT_RESULT_OK);
	assert_int_equal(r.nlines, 4);
	assert_string_equal(r.lines[0], "+CMGL: 1,0,,31");
	assert_string_equal(r.lines[1], PDU_DELIVER);
	assert_string_equal(r.lines[2], "+CMGL: 2,1,,31");
	assert_string_equal(r.lines[3], PDU_DELIVER);
	assert_int_equal(f->urcs.count, 2);
	assert_string_equal(f->urcs.lines[0], "+CMTI: \"SM\",5|");
	assert_string_equal(f->urcs.lines[1], "RING|");
	at_response_release(&r);
}

static void
test_at_urc_inside_echo(void **state)
{
	static const struct fm_step steps[] = {
		{ "AT+CSQ", 0, 0, { "AT+C", "\r\n+CMTI: \"ME\",7\r\n", "SQ\r",
		    "\r\n+CSQ: 9,99\r\n\r\nOK\r\n", NULL } },
	};
	struct fixture *f = *state;
	struct at_response r;

	FM_START(f, steps);
	assert_int_equal(at_chan_command(f->chan, "AT+CSQ", "+CSQ:",
	    CMD_TIMEOUT, &r), 0);
	fm_finish(f);
	assert_int_equal(r.result, AT_RESULT_OK);
	assert_int_equal(r.nlines, 1);
	assert_string_equal(r.lines[0], "+CSQ: 9,99");
	assert_int_equal(f->urcs.count, 1);
	assert_string_equal(f->urcs.lines[0], "+CMTI: \"ME\",7|");
	at_response_release(&r);
}

/* "+CREG: 0,1" answers AT+CREG? although +CREG: is a URC prefix; a
 * +CPIN: URC in the same response is not taken for the answer. */
static void
test_at_prefix_answer_beats_urc(void **state)
{
	static const struct fm_step steps[] = {
		{ "AT+CREG?", 0, 0, { "\r\n+CPIN: READY\r\n",
		    "\r\n+CREG: 0,1\r\n\r\nOK\r\n", NULL } },
	};
	struct fixture *f = *state;
	struct at_response r;

	FM_START(f, steps);
	assert_int_equal(at_chan_command(f->chan, "AT+CREG?", "+CREG:",
	    CMD_TIMEOUT, &r), 0);
	fm_finish(f);
	assert_int_equal(r.nlines, 1);
	assert_string_equal(r.lines[0], "+CREG: 0,1");
	assert_int_equal(f->urcs.count, 1);
	assert_string_equal(f->urcs.lines[0], "+CPIN: READY|");
	at_response_release(&r);
}

static void
test_at_cds_pdu_during_command(void **state)
{
	static const struct fm_step steps[] = {
		{ "AT+CSQ", 0, 0, { "\r\n+CDS: 25\r\n", PDU_REPORT "\r\n",
		    "\r\n+CSQ: 15,99\r\n\r\nOK\r\n", NULL } },
	};
	struct fixture *f = *state;
	struct at_response r;

	FM_START(f, steps);
	assert_int_equal(at_chan_command(f->chan, "AT+CSQ", "+CSQ:",
	    CMD_TIMEOUT, &r), 0);
	fm_finish(f);
	assert_int_equal(r.nlines, 1);
	assert_int_equal(f->urcs.count, 1);
	assert_string_equal(f->urcs.lines[0], "+CDS: 25|" PDU_REPORT);
	at_response_release(&r);
}

static void
test_at_cmt_pdu_in_fragments(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(modem_says(f, "\r\n+CMT: ,2"), 0);
	assert_int_equal(modem_says(f, "4\r\n07914151551512F2040B91"), 0);
	assert_int_equal(f->urcs.count, 0);
	assert_int_equal(modem_says(f,
	    "6105551511F100006060605130308A04D4F29C0E\r\n"), 0);
	assert_int_equal(f->urcs.count, 1);
	assert_string_equal(f->urcs.lines[0], "+CMT: ,24|" PDU_DELIVER);

	/* A +CMT whose PDU line never came is reported bare. */
	assert_int_equal(modem_says(f, "\r\n+CMT: ,24\r\nRING\r\n"), 0);
	assert_int_equal(f->urcs.count, 3);
	assert_string_equal(f->urcs.lines[1], "+CMT: ,24|");
	assert_string_equal(f->urcs.lines[2], "RING|");
}

static void
test_at_poll_drops_stray_results(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(modem_says(f, "\r\nOK\r\n\r\nERROR\r\n"), 0);
	assert_int_equal(f->urcs.count, 0);
	assert_int_equal(modem_says(f, "\r\n+CFUN: 1\r\n"), 0);
	assert_int_equal(f->urcs.count, 1);
}

static void
test_at_overlong_line_dropped(void **state)
{
	struct fixture *f = *state;
	char junk[3000];

	memset(junk, 'A', sizeof(junk) - 1);
	junk[sizeof(junk) - 1] = '\0';
	assert_int_equal(modem_says(f, junk), 0);
	assert_int_equal(modem_says(f, "AAAA\r\n+CMTI: \"SM\",1\r\n"), 0);
	assert_int_equal(f->urcs.count, 1);
	assert_string_equal(f->urcs.lines[0], "+CMTI: \"SM\",1|");
}

/* The channel's receive buffer (2 * AT_LINE_MAX in at.c): a line that
 * fills it is dropped as noise. */
#define AT_TEST_RX_MAX	2048

/* An overlong line that fills the buffer exactly, its line end in the
 * next chunk: the line after it is kept. */
static void
test_at_overlong_line_exact_fill(void **state)
{
	struct fixture *f = *state;
	char junk[AT_TEST_RX_MAX];

	memset(junk, 'X', sizeof(junk) - 1);
	junk[sizeof(junk) - 1] = '\0';
	assert_int_equal(modem_says(f, junk), 0);
	assert_int_equal(modem_says(f, "\r\n+CMTI: \"SM\",2\r\n"), 0);
	assert_int_equal(f->urcs.count, 1);
	assert_string_equal(f->urcs.lines[0], "+CMTI: \"SM\",2|");
}

static void
check_final(struct fixture *f, const char *reply, enum at_result result,
    int error)
{
	struct fm_step steps[1] = { { "AT+CMGD=1", 0, 0, { NULL } } };
	struct at_response r;

	steps[0].reply[0] = reply;
	FM_START(f, steps);
	assert_int_equal(at_chan_command(f->chan, "AT+CMGD=1", NULL,
	    CMD_TIMEOUT, &r), 0);
	fm_finish(f);
	assert_int_equal(r.result, result);
	assert_int_equal(r.error, error);
	assert_int_equal(r.nlines, 0);
	at_response_release(&r);
}

static void
test_at_final_result_table(void **state)
{
	struct fixture *f = *state;

	check_final(f, "\r\n+CME ERROR: 10\r\n", AT_RESULT_CME_ERROR, 10);
	check_final(f, "\r\n+CMS ERROR: 321\r\n", AT_RESULT_CMS_ERROR, 321);
	check_final(f, "\r\n+CME ERROR: SIM PIN required\r\n",
	    AT_RESULT_CME_ERROR, 11);
	check_final(f, "\r\n+CMS ERROR: something odd\r\n",
	    AT_RESULT_CMS_ERROR, -1);
	check_final(f, "\r\nERROR\r\n", AT_RESULT_ERROR, -1);
	check_final(f, "\r\nCOMMAND NOT SUPPORT\r\n", AT_RESULT_ERROR, -1);
	check_final(f, "\r\nTOO MANY PARAMETERS\r\n", AT_RESULT_ERROR, -1);
	check_final(f, "\r\nNO CARRIER\r\n", AT_RESULT_NO_CARRIER, -1);
	check_final(f, "\r\nBUSY\r\n", AT_RESULT_NO_CARRIER, -1);
}

static void
test_at_cmgr_pdu_line(void **state)
{
	static const struct fm_step steps[] = {
		{ "AT+CMGR=3", 0, 0, { "\r\n+CMGR: 0,,24\r\n",
		    PDU_DELIVER "\r\n\r\nOK\r\n", NULL } },
		/* An empty slot: no PDU line, and OK is not eaten as one. */
		{ "AT+CMGR=4", 0, 0, { "\r\n+CMGR: 0,,0\r\n\r\nOK\r\n",
		    NULL } },
	};
	struct fixture *f = *state;
	struct at_response r;

	FM_START(f, steps);
	assert_int_equal(at_chan_command(f->chan, "AT+CMGR=3", "+CMGR:",
	    CMD_TIMEOUT, &r), 0);
	assert_int_equal(r.nlines, 2);
	assert_string_equal(r.lines[1], PDU_DELIVER);
	at_response_release(&r);

	assert_int_equal(at_chan_command(f->chan, "AT+CMGR=4", "+CMGR:",
	    CMD_TIMEOUT, &r), 0);
	fm_finish(f);
	assert_int_equal(r.result, AT_RESULT_OK);
	assert_int_equal(r.nlines, 1);
	at_response_release(&r);
}

static void
test_at_send_pdu_ok(void **state)
{
	static const struct fm_step steps[] = {
		{ "AT+CMGS=35", 0, 0, { "\r\n>", " ", NULL } },
		{ PDU_SUBMIT, '\x1a', 0, { "\r\n+CMGS: 42\r\n",
		    "\r\nOK\r\n", NULL } },
	};
	struct fixture *f = *state;
	enum at_pdu_stage stage = AT_PDU_NOT_SENT;
	struct at_response r;

	FM_START(f, steps);
	assert_int_equal(at_chan_send_pdu(f->chan, 35, PDU_SUBMIT, CMD_TIMEOUT,
	    CMD_TIMEOUT, &r, &stage), 0);
	fm_finish(f);
	assert_int_equal(stage, AT_PDU_SUBMITTED);
	assert_int_equal(r.result, AT_RESULT_OK);
	assert_int_equal(r.nlines, 1);
	assert_string_equal(r.lines[0], "+CMGS: 42");
	at_response_release(&r);
}

/* With echo still on, the modem repeats both the command and the PDU. */
static void
test_at_send_pdu_with_echo(void **state)
{
	static const struct fm_step steps[] = {
		{ "AT+CMGS=35", 0, 0, { "AT+CMGS=35\r", "\r\n> ", NULL } },
		{ PDU_SUBMIT, '\x1a', 0, { PDU_SUBMIT, "\x1a",
		    "\r\n+CMGS: 7\r\n\r\nOK\r\n", NULL } },
	};
	struct fixture *f = *state;
	enum at_pdu_stage stage = AT_PDU_NOT_SENT;
	struct at_response r;

	FM_START(f, steps);
	assert_int_equal(at_chan_send_pdu(f->chan, 35, PDU_SUBMIT, CMD_TIMEOUT,
	    CMD_TIMEOUT, &r, &stage), 0);
	fm_finish(f);
	assert_int_equal(stage, AT_PDU_SUBMITTED);
	assert_int_equal(r.result, AT_RESULT_OK);
	assert_int_equal(r.nlines, 1);
	assert_string_equal(r.lines[0], "+CMGS: 7");
	assert_int_equal(f->urcs.count, 0);
	at_response_release(&r);
}

static void
test_at_send_pdu_rejected(void **state)
{
	static const struct fm_step steps[] = {
		{ "AT+CMGS=35", 0, 0, { "\r\n> ", NULL } },
		{ PDU_SUBMIT, '\x1a', 0, { "\r\n+CMS ERROR: 500\r\n", NULL } },
		/* Refused before the prompt. */
		{ "AT+CMGS=35", 0, 0, { "\r\n+CMS ERROR: 304\r\n", NULL } },
	};
	struct fixture *f = *state;
	enum at_pdu_stage stage;
	struct at_response r;

	FM_START(f, steps);
	assert_int_equal(at_chan_send_pdu(f->chan, 35, PDU_SUBMIT, CMD_TIMEOUT,
	    CMD_TIMEOUT, &r, &stage), 0);
	assert_int_equal(stage, AT_PDU_SUBMITTED);
	assert_int_equal(r.result, AT_RESULT_CMS_ERROR);
	assert_int_equal(r.error, 500);
	at_response_release(&r);

	assert_int_equal(at_chan_send_pdu(f->chan, 35, PDU_SUBMIT, CMD_TIMEOUT,
	    CMD_TIMEOUT, &r, &stage), 0);
	fm_finish(f);
	assert_int_equal(stage, AT_PDU_NOT_SENT);
	assert_int_equal(r.result, AT_RESULT_CMS_ERROR);
	assert_int_equal(r.error, 304);
	at_response_release(&r);
}

static void
test_at_send_pdu_prompt_timeout(void **state)
{
	static const struct fm_step steps[] = {
		{ "AT+CMGS=35", 0, 0, { NULL } },
		/* The ESC that abandons the command. */
		{ "", '\x1b', 0, { NULL } },
	};
	struct fixture *f = *state;
	enum at_pdu_stage stage;
	struct at_response r;

	FM_START(f, steps);
	assert_int_equal(at_chan_send_pdu(f->chan, 35, PDU_SUBMIT, 200,
	    CMD_TIMEOUT, &r, &stage), -ETIMEDOUT);
	fm_finish(f);
	assert_int_equal(stage, AT_PDU_NOT_SENT);
	assert_int_equal(r.nlines, 0);
	assert_null(r.lines);
}

static void
test_at_send_pdu_timeout_after_submit(void **state)
{
	static const struct fm_step steps[] = {
		{ "AT+CMGS=35", 0, 0, { "\r\n> ", NULL } },
		{ PDU_SUBMIT, '\x1a', 0, { NULL } },
	};
	struct fixture *f = *state;
	enum at_pdu_stage stage;
	struct at_response r;

	FM_START(f, steps);
	assert_int_equal(at_chan_send_pdu(f->chan, 35, PDU_SUBMIT, CMD_TIMEOUT,
	    200, &r, &stage), -ETIMEDOUT);
	fm_finish(f);
	assert_int_equal(stage, AT_PDU_SUBMITTED);
	assert_int_equal(r.nlines, 0);
}

static void
test_at_send_pdu_bad_args(void **state)
{
	struct fixture *f = *state;
	enum at_pdu_stage stage = AT_PDU_SUBMITTED;
	struct at_response r;

	assert_int_equal(at_chan_send_pdu(f->chan, 35, "00112", CMD_TIMEOUT,
	    CMD_TIMEOUT, &r, &stage), -EINVAL);
	assert_int_equal(stage, AT_PDU_NOT_SENT);
	assert_int_equal(at_chan_send_pdu(f->chan, 35, "0G", CMD_TIMEOUT,
	    CMD_TIMEOUT, &r, &stage), -EINVAL);
	assert_int_equal(at_chan_send_pdu(f->chan, 0, PDU_SUBMIT, CMD_TIMEOUT,
	    CMD_TIMEOUT, &r, &stage), -EINVAL);
}

static void
test_at_command_timeout(void **state)
{
	static const struct fm_step steps[] = {
		{ "AT+CSQ", 0, 0, { "AT+CSQ\r", NULL } },
	};
	struct fixture *f = *state;
	struct at_response r;
	long long start = now_ms();

	FM_START(f, steps);
	assert_int_equal(at_chan_command(f->chan, "AT+CSQ", "+CSQ:", 200, &r),
	    -ETIMEDOUT);
	fm_finish(f);
	assert_true(now_ms() - start >= 200);
	assert_int_equal(r.nlines, 0);
	assert_null(r.lines);

	/* The late answer is dropped, not given to the next command. */
	assert_int_equal(modem_says(f, "\r\n+CSQ: 3,99\r\n\r\nOK\r\n"), 0);
	assert_int_equal(f->urcs.count, 1);
	assert_string_equal(f->urcs.lines[0], "+CSQ: 3,99|");
}

static void
test_at_device_gone(void **state)
{
	static const struct fm_step steps[] = {
		{ "AT+CSQ", 0, 1, { NULL } },
	};
	struct fixture *f = *state;
	struct at_response r;

	FM_START(f, steps);
	assert_int_equal(at_chan_command(f->chan, "AT+CSQ", "+CSQ:",
	    CMD_TIMEOUT, &r), -EIO);
	fm_finish(f);
	assert_int_equal(r.nlines, 0);
	assert_int_equal(at_chan_poll(f->chan), -EIO);
}

static void
handler_issues_command(const char *line, const char *pdu, void *arg)
{
	struct urc_log *log = arg;
	struct at_response r;

	(void)line;
	(void)pdu;
	log->command_rc = at_chan_command(log->chan, "AT", NULL, 100, &r);
	log->count++;
}

static void
test_at_handler_cannot_command(void **state)
{
	struct fixture *f = *state;

	f->urcs.chan = f->chan;
	at_chan_set_urc_handler(f->chan, handler_issues_command, &f->urcs);
	assert_int_equal(modem_says(f, "\r\nRING\r\n"), 0);
	assert_int_equal(f->urcs.count, 1);
	assert_int_equal(f->urcs.command_rc, -EBUSY);
}

static void
handler_frees_channel(const char *line, const char *pdu, void *arg)
{
	struct urc_log *log = arg;

	(void)line;
	(void)pdu;
	log->count++;
	at_chan_free(log->chan);
}

static void
test_at_handler_frees_channel(void **state)
{
	struct fixture *f = *state;

	f->urcs.chan = f->chan;
	at_chan_set_urc_handler(f->chan, handler_frees_channel, &f->urcs);
	/* Two URCs: the second must not reach a freed channel. */
	assert_int_equal(modem_says(f, "\r\nRING\r\n\r\nRING\r\n"),
	    -ECANCELED);
	f->chan = NULL;
	assert_int_equal(f->urcs.count, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_at_urc_table),
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_at_command_with_echo),
		T(test_at_command_bare_lines),
		T(test_at_urc_between_response_lines),
		T(test_at_urc_inside_echo),
		T(test_at_prefix_answer_beats_urc),
		T(test_at_cds_pdu_during_command),
		T(test_at_cmt_pdu_in_fragments),
		T(test_at_poll_drops_stray_results),
		T(test_at_overlong_line_dropped),
		T(test_at_overlong_line_exact_fill),
		T(test_at_final_result_table),
		T(test_at_cmgr_pdu_line),
		T(test_at_send_pdu_ok),
		T(test_at_send_pdu_with_echo),
		T(test_at_send_pdu_rejected),
		T(test_at_send_pdu_prompt_timeout),
		T(test_at_send_pdu_timeout_after_submit),
		T(test_at_send_pdu_bad_args),
		T(test_at_command_timeout),
		T(test_at_device_gone),
		T(test_at_handler_cannot_command),
		T(test_at_handler_frees_channel),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
