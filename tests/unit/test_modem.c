/*
 * test_modem.c - the generic 3GPP driver against a scripted fake modem.
 *
 * The fake modem is a thread on the master side of a pty pair.  It reads
 * commands (ended by CR, or by Ctrl-Z / ESC after a "> " prompt), looks
 * each up in the test's table, then in a table of plain answers, and
 * writes the reply; a command in neither gets ERROR.  Every command is
 * logged so that tests can check what was (not) sent, and in which
 * order.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "smsgw/modem.h"

/* Test hooks in modem.c. */

#define WAIT_MS	3000

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

#define OK	"\r\nOK\r\n"

enum fm_action {
	FM_REPLY,
	FM_SILENT,	/* say nothing: a hung modem */
	FM_HANGUP,	/* close the master: a pulled cable */
};

struct fm_entry {
	const char	*cmd;
	const char	*reply;
	int		uses;		/* 0: any number of times */
	enum fm_action	action;
};

/* What a healthy Quectel-like modem answers. */
static const struct fm_entry fm_defaults[] = {
	{ "AT", OK, 0, FM_REPLY },
	{ "ATE0", OK, 0, FM_REPLY },
	{ "AT+CMEE=1", OK, 0, FM_REPLY },
	{ "AT+CPIN?", "\r\n+CPIN: READY\r\n" OK, 0, FM_REPLY },
	{ "AT+CMGF=0", OK, 0, FM_REPLY },
	{ "AT+CSMS=0", "\r\n+CSMS: 1,1,1\r\n" OK, 0, FM_REPLY },
	{ "AT+CPMS=?", "\r\n+CPMS: (\"SM\",\"ME\",\"MT\"),(\"SM\",\"ME\","
	    "\"MT\"),(\"SM\",\"ME\",\"MT\")\r\n" OK, 0, FM_REPLY },
	{ "AT+CPMS=\"SM\",\"SM\",\"SM\"", "\r\n+CPMS: 0,50,0,50,0,50\r\n" OK,
	    0, FM_REPLY },
	{ "AT+CNMI=2,1,0,2,0", OK, 0, FM_REPLY },
	{ "AT+CREG=1", OK, 0, FM_REPLY },
	{ "AT+CGMI", "\r\nQuectel\r\n" OK, 0, FM_REPLY },
	{ "AT+CGMM", "\r\nEC25\r\n" OK, 0, FM_REPLY },
	{ "AT+CGMR", "\r\nRevision: EC25EFAR06A09M4G\r\n" OK, 0, FM_REPLY },
	{ "AT+CGSN", "\r\n+CGSN: \"867698041234567\"\r\n" OK, 0, FM_REPLY },
	{ "AT+CSQ", "\r\n+CSQ: 20,99\r\n" OK, 0, FM_REPLY },
	{ "AT+CREG?", "\r\n+CREG: 1,5\r\n" OK, 0, FM_REPLY },
};

struct fake_modem {
	int			master;
	int			stop[2];	/* pipe: end the thread */
	int			echo;		/* until ATE0 */
	const char		*boot;		/* written at start */
	struct fm_entry		table[24];
	size_t			ntable;
	int			used[24];
	pthread_t		thread;
	pthread_mutex_t		lock;
	char			log[64][512];	/* commands received */
	size_t			nlog;
};

struct event_log {
	int	count;
	struct {
		enum modem_event_type type;
		char storage[8];
		int index;
		char pdu[400];
		int value;
	} ev[16];
	struct modem *modem;	/* for handlers that act */
	int	read_rc;
	int	close_in_handler;
};

struct fixture {
	struct fake_modem	fm;
	struct modem		*modem;
	struct event_log	events;
	char			path[64];
	int			started;
};

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
fm_write(struct fake_modem *fm, const char *s)
{
	size_t n = strlen(s);

	if (fm->master >= 0 && write(fm->master, s, n) != (ssize_t)n)
		fprintf(stderr, "fake modem: short write\n");
}

static const struct fm_entry *
fm_lookup(struct fake_modem *fm, const char *cmd)
{
	size_t i;

	for (i = 0; i < fm->ntable; i++) {
		const struct fm_entry *e = &fm->table[i];

		if (strcmp(e->cmd, cmd) != 0)
			continue;
		if (e->uses != 0 && fm->used[i] >= e->uses)
			continue;
		fm->used[i]++;
		return e;
	}
	for (i = 0; i < sizeof(fm_defaults) / sizeof(*fm_defaults); i++)
		if (strcmp(fm_defaults[i].cmd, cmd) == 0)
			return &fm_defaults[i];
	return NULL;
}

static void
fm_handle(struct fake_modem *fm, const char *cmd)
{
	const struct fm_entry *e;

	pthread_mutex_lock(&fm->lock);
	if (fm->nlog < 64)
		snprintf(fm->log[fm->nlog++], sizeof(fm->log[0]), "%s", cmd);
	pthread_mutex_unlock(&fm->lock);

	if (fm->echo) {
		fm_write(fm, cmd);
		fm_write(fm, "\r");
	}
	if (strcmp(cmd, "ATE0") == 0)
		fm->echo = 0;

	e = fm_lookup(fm, cmd);
	if (e == NULL) {
		fm_write(fm, "\r\nERROR\r\n");
		return;
	}
	if (e->action == FM_HANGUP) {
		close(fm->master);
		fm->master = -1;
		return;
	}
	if (e->action == FM_REPLY)
		fm_write(fm, e->reply);
}

static void *
fm_run(void *arg)
{
	struct fake_modem *fm = arg;
	struct pollfd pfd[2];
	char cmd[512], c;
	size_t len = 0;

	if (fm->boot != NULL)
		fm_write(fm, fm->boot);
	while (fm->master >= 0) {
		pfd[0] = (struct pollfd){ .fd = fm->master, .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = fm->stop[0], .events = POLLIN };
		if (poll(pfd, 2, -1) < 0 || (pfd[1].revents & POLLIN))
			break;
		if (!(pfd[0].revents & POLLIN))
			break;
		if (read(fm->master, &c, 1) != 1)
			break;
		if (c == '\r' || c == '\x1a' || c == '\x1b') {
			cmd[len] = '\0';
			len = 0;
			if (c == '\x1b')
				continue;	/* an abandoned PDU */
			fm_handle(fm, cmd);
		} else if (c != '\n' && len + 1 < sizeof(cmd)) {
			cmd[len++] = c;
		}
	}
	return NULL;
}

static int
setup(void **state)
{
	struct fixture *f;

	f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->fm.master = posix_openpt(O_RDWR | O_NOCTTY);
	assert_true(f->fm.master >= 0);
	assert_int_equal(grantpt(f->fm.master), 0);
	assert_int_equal(unlockpt(f->fm.master), 0);
	assert_int_equal(ptsname_r(f->fm.master, f->path, sizeof(f->path)),
	    0);
	assert_int_equal(pipe(f->fm.stop), 0);
	pthread_mutex_init(&f->fm.lock, NULL);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	if (f->started) {
		assert_int_equal(write(f->fm.stop[1], "x", 1), 1);
		pthread_join(f->fm.thread, NULL);
	}
	if (f->modem != NULL)
		modem_close(f->modem);
	if (f->fm.master >= 0)
		close(f->fm.master);
	close(f->fm.stop[0]);
	close(f->fm.stop[1]);
	pthread_mutex_destroy(&f->fm.lock);
	free(f);
	return 0;
}

static void
record_event(const struct modem_event *ev, void *arg)
{
	struct event_log *log = arg;

	if (log->count < 16) {
		log->ev[log->count].type = ev->type;
		snprintf(log->ev[log->count].storage,
		    sizeof(log->ev[0].storage), "%s", ev->storage);
		log->ev[log->count].index = ev->index;
		snprintf(log->ev[log->count].pdu, sizeof(log->ev[0].pdu), "%s",
		    ev->pdu ? ev->pdu : "");
		log->ev[log->count].value = ev->value;
	}
	log->count++;
}

/* Add test-specific answers (looked up before the defaults). */
static void
fm_add(struct fixture *f, const char *cmd, const char *reply, int uses,
    enum fm_action action)
{
	struct fm_entry *e;

	assert_true(f->fm.ntable < 24);
	e = &f->fm.table[f->fm.ntable++];
	e->cmd = cmd;
	e->reply = reply;
	e->uses = uses;
	e->action = action;
}

/* Open the modem on the pty and start the fake. */
static void
start(struct fixture *f)
{
	char err[256];

	assert_int_equal(modem_open("test", f->path, 115200,
	    TRANSPORT_FLOW_NONE, &f->modem, err, sizeof(err)), 0);
	modem_set_event_handler(f->modem, record_event, &f->events);
	f->events.modem = f->modem;
	assert_int_equal(pthread_create(&f->fm.thread, NULL, fm_run, &f->fm),
	    0);
	f->started = 1;
}

static void
start_ready(struct fixture *f)
{
	char err[256];

	start(f);
	assert_int_equal(modem_init(f->modem, NULL, err, sizeof(err)), 0);
}

/* How many times 'cmd' reached the modem. */
static int
fm_count(struct fixture *f, const char *cmd)
{
	size_t i;
	int n = 0;

	pthread_mutex_lock(&f->fm.lock);
	for (i = 0; i < f->fm.nlog; i++)
		if (strcmp(f->fm.log[i], cmd) == 0)
			n++;
	pthread_mutex_unlock(&f->fm.lock);
	return n;
}

/* Position of the first 'cmd' in the log, or -1. */
static int
fm_pos(struct fixture *f, const char *cmd)
{
	size_t i;
	int pos = -1;

	pthread_mutex_lock(&f->fm.lock);
	for (i = 0; i < f->fm.nlog; i++)
		if (strcmp(f->fm.log[i], cmd) == 0) {
			pos = (int)i;
			break;
		}
	pthread_mutex_unlock(&f->fm.lock);
	return pos;
}

/* Let the modem say 'bytes' by itself; poll until 'count' events. */
static void
urc_until(struct fixture *f, const char *bytes, int count)
{
	struct pollfd pfd = { .fd = modem_fd(f->modem), .events = POLLIN };
	long long deadline = now_ms() + WAIT_MS;

	fm_write(&f->fm, bytes);
	while (f->events.count < count && now_ms() < deadline) {
		if (poll(&pfd, 1, (int)(deadline - now_ms())) > 0)
			assert_int_equal(modem_poll(f->modem), 0);
	}
	assert_int_equal(f->events.count, count);
}

/* ----- init ---------------------------------------------------------- */

static void
test_modem_init_ok(void **state)
{
	struct fixture *f = *state;
	const struct modem_info *info;

	start_ready(f);
	info = modem_info_peek(f->modem);
	assert_string_equal(info->manufacturer, "Quectel");
	assert_string_equal(info->model, "EC25");
	assert_string_equal(info->revision, "EC25EFAR06A09M4G");
	assert_string_equal(info->imei, "867698041234567");
	assert_int_equal(info->rssi, 20);
	assert_int_equal(info->signal_dbm, -73);
	assert_int_equal(info->registration, 5);
	assert_string_equal(modem_registration_name(info->registration),
	    "roaming");
	assert_int_equal(info->sim_ready, 1);
	assert_string_equal(modem_name(f->modem), "test");

	/* The order the modem needs. */
	assert_true(fm_pos(f, "AT") < fm_pos(f, "ATE0"));
	assert_true(fm_pos(f, "ATE0") < fm_pos(f, "AT+CPIN?"));
	assert_true(fm_pos(f, "AT+CMEE=1") < fm_pos(f, "AT+CPIN?"));
	assert_true(fm_pos(f, "AT+CPIN?") < fm_pos(f, "AT+CMGF=0"));
	assert_true(fm_pos(f, "AT+CMGF=0") < fm_pos(f, "AT+CNMI=2,1,0,2,0"));
	assert_int_equal(fm_count(f, "AT+CPMS=\"SM\",\"SM\",\"SM\""), 1);
	assert_int_equal(f->events.count, 0);
}

static void
test_modem_init_sync_through_noise(void **state)
{
	struct fixture *f = *state;
	char err[256];

	/* Echo on, boot chatter, and a first AT that gets no answer. */
	f->fm.echo = 1;
	f->fm.boot = "\r\nRDY\r\n\xff\xfe\r\n+CFUN: 1\r\n";
	fm_add(f, "AT", NULL, 1, FM_SILENT);
	start(f);
	assert_int_equal(modem_init(f->modem, NULL, err, sizeof(err)), 0);
	assert_int_equal(fm_count(f, "AT"), 2);
	assert_string_equal(modem_info_peek(f->modem)->model, "EC25");
	/* RDY during init is the boot, not a reset to report. */
	assert_int_equal(f->events.count, 0);
}

static void
test_modem_init_pin_entered(void **state)
{
	struct fixture *f = *state;
	char err[256];

	fm_add(f, "AT+CPIN?", "\r\n+CPIN: SIM PIN\r\n" OK, 1, FM_REPLY);
	fm_add(f, "AT+CPINR=\"SIM PIN\"", "\r\n+CPINR: SIM PIN,3,3\r\n" OK, 0,
	    FM_REPLY);
	fm_add(f, "AT+CPIN=\"1234\"", OK, 0, FM_REPLY);
	/* The SIM is busy for a moment after the PIN. */
	fm_add(f, "AT+CPIN?", "\r\n+CME ERROR: 14\r\n", 1, FM_REPLY);
	start(f);
	assert_int_equal(modem_init(f->modem, "1234", err, sizeof(err)), 0);
	assert_int_equal(fm_count(f, "AT+CPIN=\"1234\""), 1);
	assert_int_equal(modem_info_peek(f->modem)->sim_ready, 1);
}

static void
test_modem_init_pin_missing(void **state)
{
	struct fixture *f = *state;
	char err[256] = "";

	fm_add(f, "AT+CPIN?", "\r\n+CPIN: SIM PIN\r\n" OK, 0, FM_REPLY);
	start(f);
	assert_int_equal(modem_init(f->modem, NULL, err, sizeof(err)),
	    -EACCES);
	assert_non_null(strstr(err, "PIN"));
	assert_int_equal(modem_info_peek(f->modem)->sim_ready, 0);
}

static void
test_modem_init_pin_wrong_never_retried(void **state)
{
	struct fixture *f = *state;
	struct modem *again;
	char err[256];

	fm_add(f, "AT+CPIN?", "\r\n+CPIN: SIM PIN\r\n" OK, 0, FM_REPLY);
	fm_add(f, "AT+CPIN=\"1111\"", "\r\n+CME ERROR: 16\r\n", 0, FM_REPLY);
	start(f);
	assert_int_equal(modem_init(f->modem, "1111", err, sizeof(err)),
	    -EACCES);
	assert_non_null(strstr(err, "rejected"));
	assert_int_equal(modem_init(f->modem, "1111", err, sizeof(err)),
	    -EACCES);
	assert_int_equal(fm_count(f, "AT+CPIN=\"1111\""), 1);

	/* Not through a new modem object on the same device either (the
	 * worker reopens after a failed init).  The old one is closed only
	 * afterwards: a pty whose every slave closed hangs up its master. */
	assert_int_equal(modem_open("test", f->path, 115200,
	    TRANSPORT_FLOW_NONE, &again, err, sizeof(err)), 0);
	modem_close(f->modem);
	f->modem = again;
	assert_int_equal(modem_init(f->modem, "1111", err, sizeof(err)),
	    -EACCES);
	assert_int_equal(fm_count(f, "AT+CPIN=\"1111\""), 1);
}

/* "SIM busy" is no verdict on the PIN: it is tried again next time. */
static void
test_modem_init_pin_sim_busy_retried(void **state)
{
	struct fixture *f = *state;
	char err[256] = "";

	fm_add(f, "AT+CPIN?", "\r\n+CPIN: SIM PIN\r\n" OK, 0, FM_REPLY);
	fm_add(f, "AT+CPIN=\"2222\"", "\r\n+CME ERROR: 14\r\n", 0, FM_REPLY);
	start(f);
	assert_int_equal(modem_init(f->modem, "2222", err, sizeof(err)),
	    -EAGAIN);
	assert_non_null(strstr(err, "did not take"));
	assert_int_equal(modem_init(f->modem, "2222", err, sizeof(err)),
	    -EAGAIN);
	assert_int_equal(fm_count(f, "AT+CPIN=\"2222\""), 2);
}

static void
test_modem_init_pin_last_attempt(void **state)
{
	struct fixture *f = *state;
	char err[256];

	fm_add(f, "AT+CPIN?", "\r\n+CPIN: SIM PIN\r\n" OK, 0, FM_REPLY);
	fm_add(f, "AT+CPINR=\"SIM PIN\"", "\r\n+CPINR: SIM PIN,1,3\r\n" OK, 0,
	    FM_REPLY);
	start(f);
	assert_int_equal(modem_init(f->modem, "1234", err, sizeof(err)),
	    -EACCES);
	assert_int_equal(fm_count(f, "AT+CPIN=\"1234\""), 0);
}

static void
test_modem_init_pin_invalid(void **state)
{
	struct fixture *f = *state;
	char err[256];

	fm_add(f, "AT+CPIN?", "\r\n+CPIN: SIM PIN\r\n" OK, 0, FM_REPLY);
	start(f);
	assert_int_equal(modem_init(f->modem, "12a4", err, sizeof(err)),
	    -EINVAL);
}

static void
test_modem_init_puk(void **state)
{
	struct fixture *f = *state;
	char err[256];

	fm_add(f, "AT+CPIN?", "\r\n+CPIN: SIM PUK\r\n" OK, 0, FM_REPLY);
	start(f);
	assert_int_equal(modem_init(f->modem, "1234", err, sizeof(err)),
	    -EACCES);
	assert_non_null(strstr(err, "SIM PUK"));
}

static void
test_modem_init_no_sim(void **state)
{
	struct fixture *f = *state;
	char err[256];

	fm_add(f, "AT+CPIN?", "\r\n+CME ERROR: 10\r\n", 0, FM_REPLY);
	start(f);
	assert_int_equal(modem_init(f->modem, NULL, err, sizeof(err)),
	    -ENXIO);
	assert_non_null(strstr(err, "no SIM"));
}

static void
test_modem_init_cnmi_fallback(void **state)
{
	struct fixture *f = *state;
	char err[256];

	fm_add(f, "AT+CNMI=2,1,0,2,0", "\r\nERROR\r\n", 0, FM_REPLY);
	fm_add(f, "AT+CNMI=2,1,0,1,0", "\r\n+CMS ERROR: 303\r\n", 0,
	    FM_REPLY);
	fm_add(f, "AT+CNMI=1,1,0,2,0", OK, 0, FM_REPLY);
	start(f);
	assert_int_equal(modem_init(f->modem, NULL, err, sizeof(err)), 0);
	assert_true(fm_pos(f, "AT+CNMI=2,1,0,2,0") <
	    fm_pos(f, "AT+CNMI=2,1,0,1,0"));
	assert_true(fm_pos(f, "AT+CNMI=2,1,0,1,0") <
	    fm_pos(f, "AT+CNMI=1,1,0,2,0"));
	assert_int_equal(fm_count(f, "AT+CNMI=1,1,0,1,0"), 0);
}

static void
test_modem_init_cnmi_all_refused(void **state)
{
	struct fixture *f = *state;
	char err[256];

	/* No CNMI entry answers OK (the default one is used up): init
	 * still succeeds, messages are then found by listing. */
	fm_add(f, "AT+CNMI=2,1,0,2,0", "\r\nERROR\r\n", 0, FM_REPLY);
	start(f);
	assert_int_equal(modem_init(f->modem, NULL, err, sizeof(err)), 0);
	assert_int_equal(fm_count(f, "AT+CNMI=1,1,0,0,0"), 1);
}

static void
test_modem_init_storage_partial(void **state)
{
	struct fixture *f = *state;
	char err[256];

	/* SM is not offered for reading: ME is the common choice. */
	fm_add(f, "AT+CPMS=?", "\r\n+CPMS: (\"ME\",\"MT\"),(\"ME\",\"MT\"),"
	    "(\"SM\",\"ME\")\r\n" OK, 0, FM_REPLY);
	fm_add(f, "AT+CPMS=\"ME\",\"ME\",\"ME\"", "\r\n+CPMS: 0,9,0,9,0,9\r\n"
	    OK, 0, FM_REPLY);
	/* SIMCom-style identity, with its "+CGMR:" label; a vendor URC the
	 * AT layer does not know arrives before the model. */
	fm_add(f, "AT+CGMR", "\r\n+CGMR: LE20B04SIM7600G22\r\n" OK, 0,
	    FM_REPLY);
	fm_add(f, "AT+CGMM", "\r\n+QIURC: \"pdpdeact\",1\r\n\r\nSIMCOM_SIM7600G"
	    "\r\n" OK, 0, FM_REPLY);
	fm_add(f, "AT+CGSN", "\r\n866272040123456\r\n" OK, 0, FM_REPLY);
	start(f);
	assert_int_equal(modem_init(f->modem, NULL, err, sizeof(err)), 0);
	assert_string_equal(modem_info_peek(f->modem)->revision,
	    "LE20B04SIM7600G22");
	assert_string_equal(modem_info_peek(f->modem)->model,
	    "SIMCOM_SIM7600G");
	assert_string_equal(modem_info_peek(f->modem)->imei,
	    "866272040123456");
	assert_int_equal(fm_count(f, "AT+CPMS=\"ME\",\"ME\",\"ME\""), 1);
}

static void
test_modem_init_no_pdu_mode(void **state)
{
	struct fixture *f = *state;
	char err[256];

	fm_add(f, "AT+CMGF=0", "\r\nERROR\r\n", 0, FM_REPLY);
	start(f);
	assert_int_equal(modem_init(f->modem, NULL, err, sizeof(err)),
	    -EPROTO);
	assert_non_null(strstr(err, "PDU mode"));
}

static void
test_modem_init_device_gone(void **state)
{
	struct fixture *f = *state;
	char err[256] = "";

	fm_add(f, "AT", NULL, 0, FM_HANGUP);
	start(f);
	assert_int_equal(modem_init(f->modem, NULL, err, sizeof(err)), -EIO);
	assert_non_null(strstr(err, "test"));
}

static void
test_modem_open_bad_device(void **state)
{
	struct modem *m = NULL;
	char err[256] = "";

	(void)state;
	assert_true(modem_open("x", "tcp://nowhere", 0, TRANSPORT_FLOW_NONE,
	    &m, err, sizeof(err)) < 0);
	assert_null(m);
	assert_non_null(strstr(err, "tcp://nowhere"));
}

/* ----- sending ------------------------------------------------------- */

static void
test_modem_send_ok(void **state)
{
	struct fixture *f = *state;
	struct modem_send_result res;

	fm_add(f, "AT+CMGS=35", "\r\n> ", 0, FM_REPLY);
	fm_add(f, PDU_SUBMIT, "\r\n+CMGS: 42\r\n" OK, 0, FM_REPLY);
	start_ready(f);
	assert_int_equal(modem_send_pdu(f->modem, 35, PDU_SUBMIT, &res), 0);
	assert_int_equal(res.outcome, MODEM_SEND_OK);
	assert_int_equal(res.mr, 42);
	assert_int_equal(res.cms_error, -1);
	assert_int_equal(res.cme_error, -1);
	assert_int_equal(res.device_gone, 0);
}

static void
test_modem_send_rejected(void **state)
{
	struct fixture *f = *state;
	struct modem_send_result res;

	fm_add(f, "AT+CMGS=35", "\r\n> ", 1, FM_REPLY);
	fm_add(f, PDU_SUBMIT, "\r\n+CMS ERROR: 500\r\n", 0, FM_REPLY);
	/* The second time, refused before the prompt. */
	fm_add(f, "AT+CMGS=35", "\r\n+CME ERROR: 30\r\n", 1, FM_REPLY);
	start_ready(f);

	assert_int_equal(modem_send_pdu(f->modem, 35, PDU_SUBMIT, &res), 0);
	assert_int_equal(res.outcome, MODEM_SEND_REJECTED);
	assert_int_equal(res.cms_error, 500);
	assert_int_equal(res.cme_error, -1);
	assert_int_equal(res.mr, -1);

	assert_int_equal(modem_send_pdu(f->modem, 35, PDU_SUBMIT, &res), 0);
	assert_int_equal(res.outcome, MODEM_SEND_REJECTED);
	assert_int_equal(res.cme_error, 30);
	assert_int_equal(res.cms_error, -1);
}

static void
test_modem_send_timeout_unknown(void **state)
{
	struct fixture *f = *state;
	struct modem_send_result res;

	fm_add(f, "AT+CMGS=35", "\r\n> ", 0, FM_REPLY);
	fm_add(f, PDU_SUBMIT, NULL, 0, FM_SILENT);
	start_ready(f);
	modem_set_timeouts(f->modem, 10000, 200);
	assert_int_equal(modem_send_pdu(f->modem, 35, PDU_SUBMIT, &res), 0);
	assert_int_equal(res.outcome, MODEM_SEND_UNKNOWN);
	assert_int_equal(res.device_gone, 0);
}

/* OK where the prompt belongs (a late answer to an earlier command):
 * the PDU never left, so the message is not sent. */
static void
test_modem_send_ok_instead_of_prompt(void **state)
{
	struct fixture *f = *state;
	struct modem_send_result res;

	fm_add(f, "AT+CMGS=35", "\r\nOK\r\n", 0, FM_REPLY);
	start_ready(f);
	assert_int_equal(modem_send_pdu(f->modem, 35, PDU_SUBMIT, &res), 0);
	assert_int_equal(res.outcome, MODEM_SEND_NOT_SENT);
	assert_int_equal(fm_count(f, PDU_SUBMIT), 0);
}

static void
test_modem_send_prompt_timeout_not_sent(void **state)
{
	struct fixture *f = *state;
	struct modem_send_result res;

	fm_add(f, "AT+CMGS=35", NULL, 0, FM_SILENT);
	start_ready(f);
	modem_set_timeouts(f->modem, 200, MODEM_SEND_TIMEOUT_MS);
	assert_int_equal(modem_send_pdu(f->modem, 35, PDU_SUBMIT, &res), 0);
	assert_int_equal(res.outcome, MODEM_SEND_NOT_SENT);
	assert_int_equal(res.device_gone, 0);
	/* The PDU never went out. */
	assert_int_equal(fm_count(f, PDU_SUBMIT), 0);
}

static void
test_modem_send_device_gone(void **state)
{
	struct fixture *f = *state;
	struct modem_send_result res;

	fm_add(f, "AT+CMGS=35", "\r\n> ", 0, FM_REPLY);
	fm_add(f, PDU_SUBMIT, NULL, 0, FM_HANGUP);
	start_ready(f);
	assert_int_equal(modem_send_pdu(f->modem, 35, PDU_SUBMIT, &res), 0);
	assert_int_equal(res.outcome, MODEM_SEND_UNKNOWN);
	assert_int_equal(res.device_gone, 1);
}

static void
test_modem_send_device_gone_before_prompt(void **state)
{
	struct fixture *f = *state;
	struct modem_send_result res;

	fm_add(f, "AT+CMGS=35", NULL, 0, FM_HANGUP);
	start_ready(f);
	assert_int_equal(modem_send_pdu(f->modem, 35, PDU_SUBMIT, &res), 0);
	assert_int_equal(res.outcome, MODEM_SEND_NOT_SENT);
	assert_int_equal(res.device_gone, 1);
}

static void
test_modem_send_bad_pdu(void **state)
{
	struct fixture *f = *state;
	struct modem_send_result res;

	start_ready(f);
	assert_int_equal(modem_send_pdu(f->modem, 35, "XYZ", &res), -EINVAL);
	assert_int_equal(res.outcome, MODEM_SEND_REJECTED);
	assert_int_equal(fm_count(f, "AT+CMGS=35"), 0);
}

/* ----- storage ------------------------------------------------------- */

static void
test_modem_list_stored(void **state)
{
	struct fixture *f = *state;
	struct modem_stored *list = NULL;
	size_t n = 0;

	fm_add(f, "AT+CMGL=4",
	    "\r\n+CMGL: 1,0,,24\r\n" PDU_DELIVER "\r\n"
	    "+CMTI: \"SM\",9\r\n"
	    "+CMGL: 4,1,\"\",24\r\n" PDU_DELIVER "\r\n"
	    "+CMGL: 5,x\r\n" PDU_DELIVER "\r\n"	/* malformed: skipped */
	    "+CMGL: 6,3,,25\r\n" PDU_REPORT "\r\n" OK, 1, FM_REPLY);
	fm_add(f, "AT+CMGL=4", OK, 1, FM_REPLY);
	fm_add(f, "AT+CMGL=4", "\r\n+CMS ERROR: 321\r\n", 1, FM_REPLY);
	fm_add(f, "AT+CMGL=4", "\r\n+CMS ERROR: 310\r\n", 1, FM_REPLY);
	start_ready(f);

	assert_int_equal(modem_list_stored(f->modem, &list, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(list[0].index, 1);
	assert_int_equal(list[0].status, 0);
	assert_string_equal(list[0].pdu, PDU_DELIVER);
	assert_int_equal(list[1].index, 4);
	assert_int_equal(list[1].status, 1);
	assert_int_equal(list[2].index, 6);
	assert_int_equal(list[2].status, 3);
	assert_string_equal(list[2].pdu, PDU_REPORT);
	modem_stored_free(list, n);

	/* The +CMTI in the middle became an event after the command. */
	assert_int_equal(f->events.count, 1);
	assert_int_equal(f->events.ev[0].type, MODEM_EVENT_NEW_MESSAGE);
	assert_int_equal(f->events.ev[0].index, 9);

	assert_int_equal(modem_list_stored(f->modem, &list, &n), 0);
	assert_int_equal(n, 0);
	modem_stored_free(list, n);
	assert_int_equal(modem_list_stored(f->modem, &list, &n), 0);
	assert_int_equal(n, 0);
	modem_stored_free(list, n);

	list = NULL;
	n = 77;
	assert_int_equal(modem_list_stored(f->modem, &list, &n), -EPROTO);
	assert_null(list);
	assert_int_equal(n, 77);
}

static void
test_modem_read_stored(void **state)
{
	struct fixture *f = *state;
	char *pdu = NULL;

	fm_add(f, "AT+CMGR=3", "\r\n+CMGR: 0,,24\r\n" PDU_DELIVER "\r\n" OK,
	    0, FM_REPLY);
	fm_add(f, "AT+CMGR=4", OK, 0, FM_REPLY);
	fm_add(f, "AT+CMGR=5", "\r\n+CMS ERROR: 321\r\n", 0, FM_REPLY);
	fm_add(f, "AT+CMGR=6", "\r\n+CMGR: 0,,0\r\n" OK, 0, FM_REPLY);
	fm_add(f, "AT+CMGR=7", "\r\nERROR\r\n", 0, FM_REPLY);
	start_ready(f);

	assert_int_equal(modem_read_stored(f->modem, 3, &pdu), 0);
	assert_string_equal(pdu, PDU_DELIVER);
	free(pdu);
	pdu = NULL;
	assert_int_equal(modem_read_stored(f->modem, 4, &pdu), -ENOENT);
	assert_int_equal(modem_read_stored(f->modem, 5, &pdu), -ENOENT);
	assert_int_equal(modem_read_stored(f->modem, 6, &pdu), -ENOENT);
	assert_int_equal(modem_read_stored(f->modem, 7, &pdu), -EPROTO);
	assert_int_equal(modem_read_stored(f->modem, -1, &pdu), -EINVAL);
	assert_null(pdu);
}

static void
test_modem_delete_stored(void **state)
{
	struct fixture *f = *state;

	fm_add(f, "AT+CMGD=3", OK, 0, FM_REPLY);
	fm_add(f, "AT+CMGD=4", "\r\n+CMS ERROR: 321\r\n", 0, FM_REPLY);
	fm_add(f, "AT+CMGD=5", "\r\nERROR\r\n", 0, FM_REPLY);
	fm_add(f, "AT+CMGD=6", NULL, 0, FM_HANGUP);
	start_ready(f);

	assert_int_equal(modem_delete_stored(f->modem, 3), 0);
	assert_int_equal(modem_delete_stored(f->modem, 4), 0);
	assert_int_equal(modem_delete_stored(f->modem, 5), -EPROTO);
	assert_int_equal(modem_delete_stored(f->modem, -2), -EINVAL);
	assert_int_equal(modem_delete_stored(f->modem, 6), -EIO);
}

/* ----- health and events --------------------------------------------- */

static void
test_modem_refresh_health(void **state)
{
	struct fixture *f = *state;
	const struct modem_info *info;

	/* Second round: weak signal; CS not registered but EPS is. */
	fm_add(f, "AT+CSQ", "\r\n+CSQ: 20,99\r\n" OK, 1, FM_REPLY);
	fm_add(f, "AT+CREG?", "\r\n+CREG: 1,5\r\n" OK, 1, FM_REPLY);
	fm_add(f, "AT+CSQ", "\r\n+CSQ: 99,99\r\n" OK, 1, FM_REPLY);
	fm_add(f, "AT+CREG?", "\r\n+CREG: 1,0\r\n" OK, 1, FM_REPLY);
	fm_add(f, "AT+CEREG?", "\r\n+CEREG: 0,1\r\n" OK, 1, FM_REPLY);
	start_ready(f);

	assert_int_equal(modem_refresh_health(f->modem), 0);
	info = modem_info_peek(f->modem);
	assert_int_equal(info->rssi, 99);
	assert_int_equal(info->signal_dbm, 0);
	assert_int_equal(info->registration, 1);
}

static void
test_modem_registration_names(void **state)
{
	(void)state;
	assert_string_equal(modem_registration_name(0), "not-registered");
	assert_string_equal(modem_registration_name(1), "home");
	assert_string_equal(modem_registration_name(2), "searching");
	assert_string_equal(modem_registration_name(3), "denied");
	assert_string_equal(modem_registration_name(4), "unknown");
	assert_string_equal(modem_registration_name(5), "roaming");
	assert_string_equal(modem_registration_name(-1), "unknown");
	assert_string_equal(modem_registration_name(42), "unknown");
}

static void
test_modem_urc_events(void **state)
{
	struct fixture *f = *state;
	struct event_log *e = &f->events;

	start_ready(f);
	urc_until(f, "\r\n+CMTI: \"SM\",3\r\n", 1);
	assert_int_equal(e->ev[0].type, MODEM_EVENT_NEW_MESSAGE);
	assert_string_equal(e->ev[0].storage, "SM");
	assert_int_equal(e->ev[0].index, 3);
	assert_string_equal(e->ev[0].pdu, "");

	urc_until(f, "\r\n+CDSI: \"ME\",12\r\n", 2);
	assert_int_equal(e->ev[1].type, MODEM_EVENT_STATUS_REPORT);
	assert_string_equal(e->ev[1].storage, "ME");
	assert_int_equal(e->ev[1].index, 12);

	urc_until(f, "\r\n+CDS: 25\r\n" PDU_REPORT "\r\n", 3);
	assert_int_equal(e->ev[2].type, MODEM_EVENT_STATUS_REPORT);
	assert_int_equal(e->ev[2].index, -1);
	assert_string_equal(e->ev[2].pdu, PDU_REPORT);

	urc_until(f, "\r\n+CMT: ,24\r\n" PDU_DELIVER "\r\n", 4);
	assert_int_equal(e->ev[3].type, MODEM_EVENT_DELIVER);
	assert_string_equal(e->ev[3].pdu, PDU_DELIVER);

	/* Ignored chatter, then a registration change. */
	urc_until(f, "\r\n^RSSI: 12\r\n+CSQN: 3\r\n+CREG: 2\r\n", 5);
	assert_int_equal(e->ev[4].type, MODEM_EVENT_REGISTRATION);
	assert_int_equal(e->ev[4].value, 2);
	assert_int_equal(modem_info_peek(f->modem)->registration, 2);

	urc_until(f, "\r\nRDY\r\n", 6);
	assert_int_equal(e->ev[5].type, MODEM_EVENT_RESET);

	/* Malformed ones are dropped, not turned into events. */
	urc_until(f, "\r\n+CMTI: \"SM\"\r\n+CMTI: \"SM\",4\r\n", 7);
	assert_int_equal(e->ev[6].index, 4);
}

/* The handler reads the message right away, from inside modem_poll(). */
static void
read_on_event(const struct modem_event *ev, void *arg)
{
	struct event_log *log = arg;
	char *pdu = NULL;

	record_event(ev, arg);
	if (ev->type != MODEM_EVENT_NEW_MESSAGE)
		return;
	log->read_rc = modem_read_stored(log->modem, ev->index, &pdu);
	if (pdu != NULL)
		snprintf(log->ev[0].pdu, sizeof(log->ev[0].pdu), "%s", pdu);
	free(pdu);
}

static void
test_modem_handler_may_command(void **state)
{
	struct fixture *f = *state;

	fm_add(f, "AT+CMGR=2", "\r\n+CMGR: 0,,24\r\n" PDU_DELIVER "\r\n" OK,
	    0, FM_REPLY);
	start_ready(f);
	modem_set_event_handler(f->modem, read_on_event, &f->events);
	urc_until(f, "\r\n+CMTI: \"SM\",2\r\n", 1);
	assert_int_equal(f->events.read_rc, 0);
	assert_string_equal(f->events.ev[0].pdu, PDU_DELIVER);
}

static void
close_on_event(const struct modem_event *ev, void *arg)
{
	struct event_log *log = arg;

	record_event(ev, arg);
	modem_close(log->modem);
}

static void
test_modem_handler_may_close(void **state)
{
	struct fixture *f = *state;
	struct pollfd pfd;
	long long deadline = now_ms() + WAIT_MS;

	start_ready(f);
	modem_set_event_handler(f->modem, close_on_event, &f->events);
	pfd = (struct pollfd){ .fd = modem_fd(f->modem), .events = POLLIN };

	/* Two events in one read: the second must not reach freed memory. */
	fm_write(&f->fm, "\r\n+CMTI: \"SM\",1\r\n+CMTI: \"SM\",2\r\n");
	while (f->events.count == 0 && now_ms() < deadline) {
		if (poll(&pfd, 1, (int)(deadline - now_ms())) > 0)
			modem_poll(f->modem);
	}
	assert_int_equal(f->events.count, 1);
	f->modem = NULL;	/* closed by the handler */
}

#define TEMP	MODEM_CMS_TEMPORARY
#define PERM	MODEM_CMS_PERMANENT
#define LOCAL	MODEM_CMS_LOCAL
#define DUP	MODEM_CMS_DUPLICATE_RISK

/* Every code MODEMS.md names, and a few it does not. */
static void
test_modem_cms_classify(void **state)
{
	static const struct {
		int			code;
		enum modem_cms_class	cls;
	} cases[] = {
		{ 1, PERM }, { 8, PERM }, { 10, PERM }, { 21, PERM },
		{ 27, TEMP }, { 28, PERM }, { 29, PERM }, { 30, PERM },
		{ 38, TEMP }, { 41, TEMP }, { 42, TEMP }, { 47, TEMP },
		{ 50, PERM }, { 69, PERM }, { 95, LOCAL }, { 99, LOCAL },
		{ 111, TEMP }, { 128, LOCAL }, { 159, LOCAL }, { 192, TEMP },
		{ 193, PERM }, { 194, TEMP }, { 195, PERM }, { 196, PERM },
		{ 300, LOCAL }, { 302, LOCAL }, { 303, LOCAL }, { 304, LOCAL },
		{ 305, LOCAL }, { 310, LOCAL }, { 318, LOCAL }, { 322, LOCAL },
		{ 330, LOCAL }, { 331, TEMP }, { 332, DUP }, { 500, TEMP },
		{ 512, TEMP }, { 515, TEMP },
		/* Not in the table. */
		{ 17, TEMP }, { 340, LOCAL }, { 600, TEMP }, { -1, TEMP },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		if (modem_cms_classify(cases[i].code) != cases[i].cls)
			fail_msg("code %d: class %d, want %d", cases[i].code,
			    (int)modem_cms_classify(cases[i].code),
			    (int)cases[i].cls);
	}
}

#undef TEMP
#undef PERM
#undef LOCAL
#undef DUP

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_modem_init_ok),
		T(test_modem_init_sync_through_noise),
		T(test_modem_init_pin_entered),
		T(test_modem_init_pin_missing),
		T(test_modem_init_pin_wrong_never_retried),
		T(test_modem_init_pin_sim_busy_retried),
		T(test_modem_init_pin_last_attempt),
		T(test_modem_init_pin_invalid),
		T(test_modem_init_puk),
		T(test_modem_init_no_sim),
		T(test_modem_init_cnmi_fallback),
		T(test_modem_init_cnmi_all_refused),
		T(test_modem_init_storage_partial),
		T(test_modem_init_no_pdu_mode),
		T(test_modem_init_device_gone),
		cmocka_unit_test(test_modem_open_bad_device),
		T(test_modem_send_ok),
		T(test_modem_send_rejected),
		T(test_modem_send_timeout_unknown),
		T(test_modem_send_ok_instead_of_prompt),
		T(test_modem_send_prompt_timeout_not_sent),
		T(test_modem_send_device_gone),
		T(test_modem_send_device_gone_before_prompt),
		T(test_modem_send_bad_pdu),
		T(test_modem_list_stored),
		T(test_modem_read_stored),
		T(test_modem_delete_stored),
		T(test_modem_refresh_health),
		cmocka_unit_test(test_modem_registration_names),
		T(test_modem_urc_events),
		T(test_modem_handler_may_command),
		T(test_modem_handler_may_close),
		cmocka_unit_test(test_modem_cms_classify),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
