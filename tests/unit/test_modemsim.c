/*
 * test_modemsim.c - the virtual modem, spoken to as the daemon would:
 * raw AT bytes on its pty slave, exact answers compared byte for byte.
 *
 * PDUs used as input are published samples (see /work/shared/MODEMS.md):
 * the SMS-SUBMIT of ModemManager's tests (to +15556661234, AT+CMGS
 * length 35), the SMS-SUBMIT with TP-SRR of python-messaging (to
 * +34654123456) and the SMS-DELIVER of AOSP's GsmSmsTest ("Test").
 *
 * Every wait is a read with a deadline; "nothing was written" is shown
 * by a later command whose answer must be the very next bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "smsgw/modemsim.h"
#include "smsgw/pdu.h"

#define T_DEADLINE_MS	5000

/* ModemManager's SMS-SUBMIT, no SMSC address, TPDU 35 octets. */
#define T_SUBMIT	"0001000B915155661632F400001954747A0E4ACF41F27298" \
			"CDCE83C6EF371B0481402010"
/* The same TPDU behind the SMSC address +14155551212. */
#define T_SUBMIT_SMSC	"07914151551512F2" \
			"01000B915155661632F400001954747A0E4ACF41F27298" \
			"CDCE83C6EF371B0481402010"
/* python-messaging's SMS-SUBMIT with TP-SRR, TPDU 19 octets. */
#define T_SUBMIT_SRR	"0021000B914356143254F6000006E8721E947F03"
/* AOSP's SMS-DELIVER "Test" from +16505551111. */
#define T_DELIVER	"07914151551512F2040B916105551511F100006060605130" \
			"308A04D4F29C0E"

#define T_BOOT_READY	"\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n" \
			"\r\n+QUSIM: 1\r\n\r\n+QIND: SMS DONE\r\n" \
			"\r\n+QIND: PB DONE\r\n"

struct t_sim {
	struct modemsim	*sim;
	int		fd;
	char		dir[64];
	char		sock[128];
	char		link[128];
};

static int64_t
t_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
t_print_escaped(const char *label, const char *s, size_t n)
{
	size_t i;

	fprintf(stderr, "%s: \"", label);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\r')
			fputs("\\r", stderr);
		else if (c == '\n')
			fputs("\\n", stderr);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(stderr, "\\x%02x", c);
		else
			fputc(c, stderr);
	}
	fputs("\"\n", stderr);
}

/* Read until 'n' bytes or the deadline; returns the count read. */
static size_t
t_read_n(int fd, char *buf, size_t n, int timeout_ms)
{
	int64_t deadline = t_now_ms() + timeout_ms;
	struct pollfd p = { fd, POLLIN, 0 };
	size_t got = 0;
	ssize_t r;

	while (got < n) {
		int64_t left = deadline - t_now_ms();

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			break;
		r = read(fd, buf + got, n - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	return got;
}

/* The next bytes from the modem must be exactly 'expect'. */
static void
t_expect(int fd, const char *expect)
{
	size_t n = strlen(expect), got;
	char *buf = malloc(n + 1);

	assert_non_null(buf);
	got = t_read_n(fd, buf, n, T_DEADLINE_MS);
	if (got != n || memcmp(buf, expect, n) != 0) {
		t_print_escaped("expected", expect, n);
		t_print_escaped("received", buf, got);
		free(buf);
		fail();
	}
	free(buf);
}

/* Read until 'needle' has been seen; returns a heap copy of everything
 * read (to free). */
static char *
t_read_until(int fd, const char *needle)
{
	int64_t deadline = t_now_ms() + T_DEADLINE_MS;
	size_t len = 0, cap = 65536;
	char *buf = malloc(cap);
	size_t got;

	assert_non_null(buf);
	buf[0] = '\0';
	/* memmem: the modem may write NUL bytes (fault noise). */
	while (memmem(buf, len, needle, strlen(needle)) == NULL) {
		int64_t left = deadline - t_now_ms();

		if (left <= 0 || len + 1 >= cap) {
			t_print_escaped("waiting for", needle, strlen(needle));
			t_print_escaped("received", buf, len);
			free(buf);
			fail();
		}
		got = t_read_n(fd, buf + len, 1, (int)left);
		len += got;
		buf[len] = '\0';
	}
	return buf;
}

static void
t_write(int fd, const char *s)
{
	size_t n = strlen(s);

	assert_int_equal(write(fd, s, n), (ssize_t)n);
}

static void
t_cmd(struct t_sim *t, const char *cmd, const char *expect)
{
	t_write(t->fd, cmd);
	t_expect(t->fd, expect);
}

static void
t_ctl(struct t_sim *t, const char *command, const char *expect)
{
	char *reply = NULL;
	int rc;

	rc = modemsim_control(t->sim, command, &reply);
	assert_non_null(reply);
	if (strcmp(reply, expect) != 0)
		fprintf(stderr, "control \"%s\" -> \"%s\"\n", command, reply);
	assert_string_equal(reply, expect);
	assert_int_equal(rc, strncmp(expect, "OK", 2) == 0 ? 0 : 1);
	free(reply);
}

static void
t_open_device(struct t_sim *t)
{
	t->fd = open(modemsim_device(t->sim), O_RDWR | O_NOCTTY | O_NONBLOCK);
	assert_true(t->fd >= 0);
}

/* Start a modem with 'config' (NULL: defaults) and open its pty. */
static void
t_start(struct t_sim *t, struct modemsim_config *config)
{
	struct modemsim_config dflt;
	char err[256];

	memset(t, 0, sizeof(*t));
	snprintf(t->dir, sizeof(t->dir), "/tmp/test_modemsim.XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->sock, sizeof(t->sock), "%s/sim.sock", t->dir);
	snprintf(t->link, sizeof(t->link), "%s/modem", t->dir);
	if (config == NULL) {
		memset(&dflt, 0, sizeof(dflt));
		config = &dflt;
	}
	config->quiet = 1;
	config->control_path = t->sock;
	config->link_path = t->link;
	assert_int_equal(modemsim_start(config, &t->sim, err, sizeof(err)),
	    0);
	t_open_device(t);
}

static void
t_start_ready(struct t_sim *t, struct modemsim_config *config)
{
	t_start(t, config);
	t_expect(t->fd, T_BOOT_READY);
	t_cmd(t, "ATE0\r", "ATE0\r\r\nOK\r\n");
}

static void
t_stop(struct t_sim *t)
{
	close(t->fd);
	modemsim_stop(t->sim);
	/* The modem removes its socket and link. */
	assert_int_equal(access(t->sock, F_OK), -1);
	assert_int_equal(access(t->link, F_OK), -1);
	assert_int_equal(rmdir(t->dir), 0);
}

/* AT+CMGS=<len>, the prompt, the PDU and Ctrl-Z (echo off). */
static void
t_send_pdu(struct t_sim *t, unsigned len, const char *hex)
{
	char cmd[64];

	snprintf(cmd, sizeof(cmd), "AT+CMGS=%u\r", len);
	t_cmd(t, cmd, "\r\n> ");
	t_write(t->fd, hex);
	t_write(t->fd, "\x1a");
}

/* Parse "+CMGR: <stat>,,<len>\r\n<hex>\r\n\r\nOK\r\n" into a decoded
 * message; returns <stat>. */
static int
t_cmgr(struct t_sim *t, int idx, struct pdu_message *msg)
{
	char cmd[32], hex[1100], *text, *p;
	unsigned len;
	int stat;

	snprintf(cmd, sizeof(cmd), "AT+CMGR=%d\r", idx);
	t_write(t->fd, cmd);
	text = t_read_until(t->fd, "\r\nOK\r\n");
	p = strstr(text, "+CMGR: ");
	assert_non_null(p);
	assert_int_equal(sscanf(p, "+CMGR: %d,,%u\r\n%1099[0-9A-Fa-f]",
	    &stat, &len, hex), 3);
	assert_int_equal(strlen(hex) / 2, len + 1 + (unsigned)
	    strtoul((char[3]){ hex[0], hex[1], 0 }, NULL, 16));
	assert_int_equal(pdu_decode_hex(hex, 1, msg), 0);
	free(text);
	return stat;
}

/* ------------------------------------------------------------------ */

static void
test_modemsim_boot_urcs(void **state)
{
	struct t_sim t;
	struct stat st;
	char target[128];
	ssize_t n;

	(void)state;
	t_start(&t, NULL);
	t_expect(t.fd, T_BOOT_READY);

	/* --link points at the pty the modem announced. */
	assert_int_equal(lstat(t.link, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	n = readlink(t.link, target, sizeof(target) - 1);
	assert_true(n > 0);
	target[n] = '\0';
	assert_string_equal(target, modemsim_device(t.sim));
	t_stop(&t);
}

static void
test_modemsim_echo(void **state)
{
	struct t_sim t;

	(void)state;
	t_start(&t, NULL);
	t_expect(t.fd, T_BOOT_READY);

	/* Echo is on after boot, byte for byte, in any fragments. */
	t_write(t.fd, "A");
	t_expect(t.fd, "A");
	t_write(t.fd, "t");
	t_expect(t.fd, "t");
	t_cmd(&t, "\r", "\r\r\nOK\r\n");
	t_cmd(&t, "at+csq\r\n", "at+csq\r\r\n+CSQ: 21,99\r\n\r\nOK\r\n\n");

	/* ATE0 is echoed itself, then nothing is. */
	t_cmd(&t, "ATE0\r", "ATE0\r\r\nOK\r\n");
	t_cmd(&t, "AT\r\n", "\r\nOK\r\n");
	t_cmd(&t, "AT+CMEE?\r", "\r\n+CMEE: 1\r\n\r\nOK\r\n");
	t_cmd(&t, "ATE1\r", "\r\nOK\r\n");
	t_cmd(&t, "AT\r", "AT\r\r\nOK\r\n");

	/* An empty line and text without the AT prefix get no answer:
	 * the next bytes are the next command's. */
	t_cmd(&t, "ATE0\r", "ATE0\r\r\nOK\r\n");
	t_write(t.fd, "\r");
	t_write(t.fd, "hello\r");
	t_cmd(&t, "AT\r", "\r\nOK\r\n");

	/* Several commands on one line, each with its own block. */
	t_cmd(&t, "AT+CMGF=0;+CMGF?;+CSQ\r",
	    "\r\n+CMGF: 0\r\n\r\n+CSQ: 21,99\r\n\r\nOK\r\n");
	t_stop(&t);
}

static void
test_modemsim_identity(void **state)
{
	struct t_sim t;
	char *text, imei[16];
	int sum = 0, i, d;

	(void)state;
	t_start_ready(&t, NULL);
	t_cmd(&t, "ATI\r",
	    "\r\nQuectel\r\nEC25\r\nRevision: EC25EFAR06A06M4G\r\n\r\nOK\r\n");
	t_cmd(&t, "AT+CGMI\r", "\r\nQuectel\r\n\r\nOK\r\n");
	t_cmd(&t, "AT+CGMM\r", "\r\nEC25\r\n\r\nOK\r\n");
	t_cmd(&t, "AT+CGMR\r", "\r\nEC25EFAR06A06M4G\r\n\r\nOK\r\n");
	t_cmd(&t, "AT+CIMI\r", "\r\n001010123456789\r\n\r\nOK\r\n");
	t_cmd(&t, "AT+CREG?\r", "\r\n+CREG: 0,1\r\n\r\nOK\r\n");
	t_cmd(&t, "AT+CREG=2\r", "\r\nOK\r\n");
	t_cmd(&t, "AT+CREG?\r",
	    "\r\n+CREG: 2,1,\"1A2B\",\"01A2B3C\",7\r\n\r\nOK\r\n");
	t_cmd(&t, "AT+CEREG?\r", "\r\n+CEREG: 0,1\r\n\r\nOK\r\n");
	t_cmd(&t, "AT+CSCA?\r",
	    "\r\n+CSCA: \"+15555550000\",145\r\n\r\nOK\r\n");
	t_cmd(&t, "AT+COPS?\r",
	    "\r\n+COPS: 0,0,\"Sim Mobile\",7\r\n\r\nOK\r\n");
	t_cmd(&t, "AT+CPMS=?\r",
	    "\r\n+CPMS: (\"SM\"),(\"SM\"),(\"SM\")\r\n\r\nOK\r\n");
	t_cmd(&t, "AT+CPMS=\"SM\",\"SM\",\"SM\"\r",
	    "\r\n+CPMS: 0,30,0,30,0,30\r\n\r\nOK\r\n");
	t_cmd(&t, "AT+CPMS=\"ME\"\r", "\r\n+CMS ERROR: 302\r\n");
	t_cmd(&t, "AT+CSMS=0\r", "\r\n+CSMS: 1,1,1\r\n\r\nOK\r\n");
	t_cmd(&t, "AT+CMGF=1\r", "\r\nOK\r\n");
	t_cmd(&t, "AT+CMGF?\r", "\r\n+CMGF: 1\r\n\r\nOK\r\n");
	t_cmd(&t, "AT+CMGF=2\r", "\r\nERROR\r\n");
	t_cmd(&t, "AT+CNMI=2,1,0,2,0\r", "\r\nOK\r\n");
	t_cmd(&t, "AT+CNMI?\r", "\r\n+CNMI: 2,1,0,2,0\r\n\r\nOK\r\n");
	t_cmd(&t, "AT+CNMI=9\r", "\r\n+CMS ERROR: 303\r\n");

	/* The IMEI has 15 digits and a valid Luhn check digit. */
	t_write(t.fd, "AT+CGSN\r");
	text = t_read_until(t.fd, "\r\nOK\r\n");
	assert_int_equal(sscanf(text, "\r\n%15[0-9]\r\n", imei), 1);
	assert_int_equal(strlen(imei), 15);
	for (i = 0; i < 15; i++) {
		d = imei[14 - i] - '0';
		if (i % 2 == 1)
			d = d * 2 > 9 ? d * 2 - 9 : d * 2;
		sum += d;
	}
	assert_int_equal(sum % 10, 0);
	free(text);
	t_stop(&t);
}

static void
test_modemsim_cmee_formats(void **state)
{
	struct t_sim t;

	(void)state;
	t_start_ready(&t, NULL);
	/* Default 1: numeric. */
	t_cmd(&t, "AT+CMGR=99\r", "\r\n+CMS ERROR: 321\r\n");
	t_cmd(&t, "AT+CPIN=\"1234\"\r", "\r\n+CME ERROR: 3\r\n");
	t_cmd(&t, "AT+CMEE=0\r", "\r\nOK\r\n");
	t_cmd(&t, "AT+CMGR=99\r", "\r\nERROR\r\n");
	t_cmd(&t, "AT+CPIN=\"1234\"\r", "\r\nERROR\r\n");
	t_cmd(&t, "AT+CMEE=2\r", "\r\nOK\r\n");
	t_cmd(&t, "AT+CMGR=99\r", "\r\n+CMS ERROR: invalid memory index\r\n");
	t_cmd(&t, "AT+CPIN=\"1234\"\r",
	    "\r\n+CME ERROR: operation not allowed\r\n");
	t_cmd(&t, "AT+CMEE=3\r", "\r\nERROR\r\n");
	t_cmd(&t, "AT+CMEE?\r", "\r\n+CMEE: 2\r\n\r\nOK\r\n");

	/* Unknown commands and bad syntax: plain ERROR whatever CMEE. */
	t_cmd(&t, "AT+NOSUCH\r", "\r\nERROR\r\n");
	t_cmd(&t, "ATY\r", "\r\nERROR\r\n");
	t_cmd(&t, "AT+CSCA=\"unterminated\r", "\r\nERROR\r\n");
	/* A failing command stops the line; earlier output stays. */
	t_cmd(&t, "AT+CSQ;+NOSUCH;+CSQ\r",
	    "\r\n+CSQ: 21,99\r\n\r\nERROR\r\n");
	t_stop(&t);
}

static void
test_modemsim_pin_flow(void **state)
{
	struct modemsim_config c;
	struct t_sim t;

	(void)state;
	memset(&c, 0, sizeof(c));
	c.pin = "1234";
	t_start(&t, &c);
	t_expect(t.fd, "\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: SIM PIN\r\n"
	    "\r\n+QUSIM: 1\r\n");
	t_cmd(&t, "ATE0\r", "ATE0\r\r\nOK\r\n");
	t_cmd(&t, "AT+CPIN?\r", "\r\n+CPIN: SIM PIN\r\n\r\nOK\r\n");
	t_cmd(&t, "AT+CMGL=4\r", "\r\n+CMS ERROR: 311\r\n");
	t_cmd(&t, "AT+CIMI\r", "\r\n+CME ERROR: 11\r\n");
	t_cmd(&t, "AT+CREG?\r", "\r\n+CREG: 0,0\r\n\r\nOK\r\n");

	/* A message sent to a locked modem waits in the network. */
	t_ctl(&t, "deliver +15550001111 held", "OK 1");
	t_cmd(&t, "AT+CPIN=\"0000\"\r", "\r\n+CME ERROR: 16\r\n");
	t_cmd(&t, "AT+CPIN=\"1234\"\r", "\r\nOK\r\n\r\n+CPIN: READY\r\n"
	    "\r\n+QIND: SMS DONE\r\n\r\n+QIND: PB DONE\r\n"
	    "\r\n+CMTI: \"SM\",0\r\n");
	t_cmd(&t, "AT+CPIN?\r", "\r\n+CPIN: READY\r\n\r\nOK\r\n");
	t_cmd(&t, "AT+CREG?\r", "\r\n+CREG: 0,1\r\n\r\nOK\r\n");
	t_stop(&t);
}

static void
test_modemsim_pin_puk(void **state)
{
	struct modemsim_config c;
	struct t_sim t;

	(void)state;
	memset(&c, 0, sizeof(c));
	c.pin = "1234";
	t_start(&t, &c);
	t_expect(t.fd, "\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: SIM PIN\r\n"
	    "\r\n+QUSIM: 1\r\n");
	t_cmd(&t, "ATE0\r", "ATE0\r\r\nOK\r\n");
	t_cmd(&t, "AT+CPIN=\"1111\"\r", "\r\n+CME ERROR: 16\r\n");
	t_cmd(&t, "AT+CPIN=\"2222\"\r", "\r\n+CME ERROR: 16\r\n");
	t_cmd(&t, "AT+CPIN=\"3333\"\r", "\r\n+CME ERROR: 16\r\n");
	t_cmd(&t, "AT+CPIN?\r", "\r\n+CPIN: SIM PUK\r\n\r\nOK\r\n");
	/* The right PIN no longer helps. */
	t_cmd(&t, "AT+CPIN=\"1234\"\r", "\r\n+CME ERROR: 12\r\n");
	t_cmd(&t, "AT+CMGS=35\r", "\r\n+CMS ERROR: 316\r\n");
	t_cmd(&t, "AT+CPIN=\"00000000\",\"4321\"\r", "\r\n+CME ERROR: 16\r\n");
	t_cmd(&t, "AT+CPIN=\"12345678\",\"4321\"\r",
	    "\r\nOK\r\n\r\n+CPIN: READY\r\n\r\n+QIND: SMS DONE\r\n"
	    "\r\n+QIND: PB DONE\r\n");
	t_cmd(&t, "AT+CPIN?\r", "\r\n+CPIN: READY\r\n\r\nOK\r\n");
	t_stop(&t);
}

static void
test_modemsim_cmgs_mr_wrap(void **state)
{
	struct t_sim t;
	char expect[64], *reply = NULL;
	const char *tail;
	int i;

	(void)state;
	t_start_ready(&t, NULL);
	for (i = 0; i < 258; i++) {
		t_send_pdu(&t, 35, T_SUBMIT);
		snprintf(expect, sizeof(expect), "\r\n+CMGS: %d\r\n\r\nOK\r\n",
		    i & 0xff);
		t_expect(t.fd, expect);
	}

	/* Every PDU is recorded with its reference, oldest first. */
	assert_int_equal(modemsim_control(t.sim, "sent", &reply), 0);
	tail = "\n255 " T_SUBMIT "\n0 " T_SUBMIT "\n1 " T_SUBMIT;
	assert_true(strncmp(reply, "OK 258\n0 " T_SUBMIT "\n1 ",
	    strlen("OK 258\n0 " T_SUBMIT "\n1 ")) == 0);
	assert_true(strlen(reply) > strlen(tail));
	assert_string_equal(reply + strlen(reply) - strlen(tail), tail);
	free(reply);
	t_stop(&t);
}

static void
test_modemsim_cmgs_echo_and_fragments(void **state)
{
	struct t_sim t;

	(void)state;
	t_start(&t, NULL);
	t_expect(t.fd, T_BOOT_READY);
	/* With echo on, the command and the PDU are echoed, not Ctrl-Z. */
	t_cmd(&t, "AT+CMGS=35\r", "AT+CMGS=35\r\r\n> ");
	t_cmd(&t, "0001000B9151", "0001000B9151");
	t_cmd(&t, "55661632F400001954747A0E4ACF41F2",
	    "55661632F400001954747A0E4ACF41F2");
	t_cmd(&t, "7298CDCE83C6EF371B0481402010",
	    "7298CDCE83C6EF371B0481402010");
	t_cmd(&t, "\x1a", "\r\n+CMGS: 0\r\n\r\nOK\r\n");
	t_stop(&t);
}

static void
test_modemsim_cmgs_invalid(void **state)
{
	struct t_sim t;

	(void)state;
	t_start_ready(&t, NULL);
	/* <length> must be the TPDU length without the SMSC field. */
	t_send_pdu(&t, 34, T_SUBMIT);
	t_expect(t.fd, "\r\n+CMS ERROR: 304\r\n");
	t_send_pdu(&t, 36, T_SUBMIT);
	t_expect(t.fd, "\r\n+CMS ERROR: 304\r\n");
	/* Not hex, odd length, not a SUBMIT, truncated. */
	t_send_pdu(&t, 35, "0001000B915155661632F400001954747A0E4ACF41F2729"
	    "8CDCE83C6EF371B04814020XY");
	t_expect(t.fd, "\r\n+CMS ERROR: 304\r\n");
	t_send_pdu(&t, 35, T_SUBMIT "0");
	t_expect(t.fd, "\r\n+CMS ERROR: 304\r\n");
	t_send_pdu(&t, 23, T_DELIVER);
	t_expect(t.fd, "\r\n+CMS ERROR: 304\r\n");
	t_send_pdu(&t, 3, "0001000B");
	t_expect(t.fd, "\r\n+CMS ERROR: 304\r\n");
	t_cmd(&t, "AT+CMGS=0\r", "\r\n+CMS ERROR: 304\r\n");
	t_cmd(&t, "AT+CMGS=\r", "\r\n+CMS ERROR: 304\r\n");

	/* ESC cancels: OK, nothing sent, no reference used. */
	t_cmd(&t, "AT+CMGS=35\r", "\r\n> ");
	t_write(t.fd, T_SUBMIT "\x1b");
	t_expect(t.fd, "\r\nOK\r\n");
	t_ctl(&t, "sent", "OK 0");

	/* Text mode sends are refused (only PDU mode is simulated). */
	t_cmd(&t, "AT+CMGF=1\r", "\r\nOK\r\n");
	t_cmd(&t, "AT+CMGS=35\r", "\r\n+CMS ERROR: 302\r\n");
	t_cmd(&t, "AT+CMGF=0\r", "\r\nOK\r\n");
	t_send_pdu(&t, 35, T_SUBMIT);
	t_expect(t.fd, "\r\n+CMGS: 0\r\n\r\nOK\r\n");

	/* With an SMSC address in the PDU, <length> still excludes it. */
	t_send_pdu(&t, 35, T_SUBMIT_SMSC);
	t_expect(t.fd, "\r\n+CMGS: 1\r\n\r\nOK\r\n");
	t_send_pdu(&t, 43, T_SUBMIT_SMSC);
	t_expect(t.fd, "\r\n+CMS ERROR: 304\r\n");
	t_stop(&t);
}

static void
test_modemsim_cmgs_latency(void **state)
{
	struct modemsim_config c;
	struct t_sim t;
	int64_t start;

	(void)state;
	memset(&c, 0, sizeof(c));
	c.send_latency_ms = 300;
	t_start_ready(&t, &c);
	start = t_now_ms();
	t_send_pdu(&t, 35, T_SUBMIT);

	/* The modem keeps serving the control socket while it waits, and
	 * holds the +CMTI and the next command until the answer. */
	t_ctl(&t, "stored", "OK 0");
	t_ctl(&t, "deliver +15550001111 during the send", "OK 1");
	t_write(t.fd, "AT+CSQ\r");
	t_expect(t.fd, "\r\n+CMGS: 0\r\n\r\nOK\r\n\r\n+CMTI: \"SM\",0\r\n"
	    "\r\n+CSQ: 21,99\r\n\r\nOK\r\n");
	assert_true(t_now_ms() - start >= 250);

	t_ctl(&t, "latency 0", "OK");
	t_send_pdu(&t, 35, T_SUBMIT);
	t_expect(t.fd, "\r\n+CMGS: 1\r\n\r\nOK\r\n");
	t_stop(&t);
}

static void
test_modemsim_status_report(void **state)
{
	struct pdu_message *msg = malloc(sizeof(*msg));
	struct t_sim t;
	char *text;
	int len;

	(void)state;
	assert_non_null(msg);
	t_start_ready(&t, NULL);
	t_ctl(&t, "report-delay 0", "OK");

	/* Default CNMI ds=0: the report is not routed. */
	t_send_pdu(&t, 19, T_SUBMIT_SRR);
	t_expect(t.fd, "\r\n+CMGS: 0\r\n\r\nOK\r\n");
	t_cmd(&t, "AT\r", "\r\nOK\r\n");
	t_ctl(&t, "stored", "OK 0");

	/* ds=2: stored and announced with +CDSI. */
	t_cmd(&t, "AT+CNMI=2,1,0,2,0\r", "\r\nOK\r\n");
	t_send_pdu(&t, 19, T_SUBMIT_SRR);
	t_expect(t.fd, "\r\n+CMGS: 1\r\n\r\nOK\r\n\r\n+CDSI: \"SM\",0\r\n");
	assert_int_equal(t_cmgr(&t, 0, msg), 0);
	assert_int_equal(msg->type, PDU_TYPE_STATUS_REPORT);
	assert_int_equal(msg->mr, 1);
	assert_int_equal(msg->status, 0);
	assert_string_equal(msg->number, "+34654123456");

	/* ds=1: +CDS with the PDU on the next line, not stored. */
	t_cmd(&t, "AT+CNMI=2,1,0,1,0\r", "\r\nOK\r\n");
	t_send_pdu(&t, 19, T_SUBMIT_SRR);
	t_expect(t.fd, "\r\n+CMGS: 2\r\n\r\nOK\r\n\r\n+CDS: ");
	text = t_read_until(t.fd, "\r\n");
	assert_true(sscanf(text, "%d\r\n", &len) == 1 && len > 0);
	free(text);
	text = t_read_until(t.fd, "\r\n");
	*strstr(text, "\r\n") = '\0';
	assert_int_equal(pdu_decode_hex(text, 1, msg), 0);
	assert_int_equal(msg->type, PDU_TYPE_STATUS_REPORT);
	assert_int_equal(msg->mr, 2);
	free(text);
	t_ctl(&t, "stored", "OK 1");
	free(msg);
	t_stop(&t);
}

static void
test_modemsim_status_report_delay(void **state)
{
	struct t_sim t;
	int64_t answered;

	(void)state;
	t_start_ready(&t, NULL);
	t_cmd(&t, "AT+CNMI=2,1,0,2,0\r", "\r\nOK\r\n");
	t_ctl(&t, "report-delay 300", "OK");
	t_send_pdu(&t, 19, T_SUBMIT_SRR);
	t_expect(t.fd, "\r\n+CMGS: 0\r\n\r\nOK\r\n");
	answered = t_now_ms();
	/* The network takes its time; the modem answers meanwhile. */
	t_cmd(&t, "AT\r", "\r\nOK\r\n");
	t_expect(t.fd, "\r\n+CDSI: \"SM\",0\r\n");
	assert_true(t_now_ms() - answered >= 250);
	t_stop(&t);
}

static void
test_modemsim_deliver_read(void **state)
{
	struct pdu_message *msg = malloc(sizeof(*msg));
	struct t_sim t;
	char long_text[201], *text;

	(void)state;
	assert_non_null(msg);
	t_start_ready(&t, NULL);
	t_ctl(&t, "deliver +15551234567 Hello world, {braces}", "OK 1");
	t_expect(t.fd, "\r\n+CMTI: \"SM\",0\r\n");

	assert_int_equal(t_cmgr(&t, 0, msg), 0);	/* REC UNREAD */
	assert_int_equal(msg->type, PDU_TYPE_DELIVER);
	assert_string_equal(msg->number, "+15551234567");
	assert_string_equal(msg->text, "Hello world, {braces}");
	assert_true(msg->scts.present);
	/* Reading it made it REC READ. */
	assert_int_equal(t_cmgr(&t, 0, msg), 1);

	/* A long text arrives as concatenated parts with one reference. */
	memset(long_text, 'x', 200);
	long_text[200] = '\0';
	text = malloc(300);
	assert_non_null(text);
	snprintf(text, 300, "deliver +15551234567 %s", long_text);
	t_ctl(&t, text, "OK 2");
	free(text);
	t_expect(t.fd, "\r\n+CMTI: \"SM\",1\r\n\r\n+CMTI: \"SM\",2\r\n");
	assert_int_equal(t_cmgr(&t, 1, msg), 0);
	assert_true(msg->concat.present);
	assert_int_equal(msg->concat.part, 1);
	assert_int_equal(msg->concat.total, 2);
	assert_int_equal(t_cmgr(&t, 2, msg), 0);
	assert_int_equal(msg->concat.part, 2);
	t_ctl(&t, "stored", "OK 3");

	/* AT+CMGL=4 lists all three, each with its PDU line. */
	t_write(t.fd, "AT+CMGL=4\r");
	text = t_read_until(t.fd, "\r\nOK\r\n");
	assert_true(strncmp(text, "\r\n+CMGL: 0,1,,", 14) == 0);
	assert_non_null(strstr(text, "\r\n+CMGL: 1,1,,"));
	assert_non_null(strstr(text, "\r\n+CMGL: 2,1,,"));
	free(text);
	/* Nothing is unread any more. */
	t_cmd(&t, "AT+CMGL=0\r", "\r\nOK\r\n");
	t_cmd(&t, "AT+CMGL=5\r", "\r\n+CMS ERROR: 302\r\n");

	/* deliver-pdu stores the PDU exactly as given. */
	t_ctl(&t, "deliver-pdu " T_DELIVER, "OK 1");
	t_expect(t.fd, "\r\n+CMTI: \"SM\",3\r\n");
	t_cmd(&t, "AT+CMGR=3\r", "\r\n+CMGR: 0,,23\r\n" T_DELIVER
	    "\r\n\r\nOK\r\n");
	t_cmd(&t, "AT+CMGL\r", "\r\nOK\r\n");
	free(msg);
	t_stop(&t);
}

static void
test_modemsim_direct_cmt(void **state)
{
	struct t_sim t;

	(void)state;
	t_start_ready(&t, NULL);
	/* mt=2: the message goes straight to the host, not to the SIM. */
	t_cmd(&t, "AT+CNMI=2,2,0,0,0\r", "\r\nOK\r\n");
	t_ctl(&t, "deliver-pdu " T_DELIVER, "OK 1");
	t_expect(t.fd, "\r\n+CMT: ,23\r\n" T_DELIVER "\r\n");
	t_ctl(&t, "stored", "OK 0");
	/* mt=0: stored silently. */
	t_cmd(&t, "AT+CNMI=2,0,0,0,0\r", "\r\nOK\r\n");
	t_ctl(&t, "deliver-pdu " T_DELIVER, "OK 1");
	t_cmd(&t, "AT\r", "\r\nOK\r\n");
	t_ctl(&t, "stored", "OK 1");
	t_stop(&t);
}

static void
test_modemsim_cmgd(void **state)
{
	struct t_sim t;

	(void)state;
	t_start_ready(&t, NULL);
	t_ctl(&t, "deliver-pdu " T_DELIVER, "OK 1");
	t_ctl(&t, "deliver-pdu " T_DELIVER, "OK 1");
	t_ctl(&t, "deliver-pdu " T_DELIVER, "OK 1");
	t_expect(t.fd, "\r\n+CMTI: \"SM\",0\r\n\r\n+CMTI: \"SM\",1\r\n"
	    "\r\n+CMTI: \"SM\",2\r\n");

	t_cmd(&t, "AT+CMGD=1\r", "\r\nOK\r\n");
	t_cmd(&t, "AT+CMGR=1\r", "\r\nOK\r\n");	/* empty: OK alone */
	t_ctl(&t, "stored", "OK 2");
	t_cmd(&t, "AT+CMGD=?\r", "\r\n+CMGD: (0,2),(0-4)\r\n\r\nOK\r\n");
	/* The freed slot is the lowest free one. */
	t_ctl(&t, "deliver-pdu " T_DELIVER, "OK 1");
	t_expect(t.fd, "\r\n+CMTI: \"SM\",1\r\n");

	/* delflag 1 deletes read messages only. */
	t_cmd(&t, "AT+CMGR=0\r", "\r\n+CMGR: 0,,23\r\n" T_DELIVER
	    "\r\n\r\nOK\r\n");
	t_cmd(&t, "AT+CMGD=0,1\r", "\r\nOK\r\n");
	t_ctl(&t, "stored", "OK 2");
	t_cmd(&t, "AT+CMGD=0,4\r", "\r\nOK\r\n");
	t_ctl(&t, "stored", "OK 0");

	t_cmd(&t, "AT+CMGD=30\r", "\r\n+CMS ERROR: 321\r\n");
	t_cmd(&t, "AT+CMGD=1,5\r", "\r\nERROR\r\n");
	t_cmd(&t, "AT+CMGD\r", "\r\nERROR\r\n");
	t_stop(&t);
}

static void
test_modemsim_storage_full(void **state)
{
	struct modemsim_config c;
	struct t_sim t;
	char *reply = NULL;

	(void)state;
	memset(&c, 0, sizeof(c));
	c.storage_slots = 2;
	t_start_ready(&t, &c);
	t_ctl(&t, "deliver-pdu " T_DELIVER, "OK 1");
	t_ctl(&t, "deliver-pdu " T_DELIVER, "OK 1");
	t_ctl(&t, "deliver-pdu " T_DELIVER, "OK 1");
	/* The third is dropped without a word, like a Quectel. */
	t_expect(t.fd, "\r\n+CMTI: \"SM\",0\r\n\r\n+CMTI: \"SM\",1\r\n");
	t_cmd(&t, "AT+CPMS?\r",
	    "\r\n+CPMS: \"SM\",2,2,\"SM\",2,2,\"SM\",2,2\r\n\r\nOK\r\n");
	t_ctl(&t, "stored", "OK 2");
	assert_int_equal(modemsim_control(t.sim, "status", &reply), 0);
	assert_non_null(strstr(reply, " dropped=1 "));
	free(reply);

	/* fault full: no room even with free slots. */
	t_cmd(&t, "AT+CMGD=0,4\r", "\r\nOK\r\n");
	t_ctl(&t, "fault full", "OK");
	t_ctl(&t, "deliver-pdu " T_DELIVER, "OK 1");
	t_cmd(&t, "AT+CPMS?\r",
	    "\r\n+CPMS: \"SM\",2,2,\"SM\",2,2,\"SM\",2,2\r\n\r\nOK\r\n");
	t_ctl(&t, "stored", "OK 0");
	t_ctl(&t, "fault none", "OK");
	t_ctl(&t, "deliver-pdu " T_DELIVER, "OK 1");
	t_expect(t.fd, "\r\n+CMTI: \"SM\",0\r\n");
	t_stop(&t);
}

/* Wait until the modem has read 'total' bytes from its pty. */
static void
t_wait_rx(struct t_sim *t, unsigned long total)
{
	int64_t deadline = t_now_ms() + T_DEADLINE_MS;
	unsigned long rx = 0;
	char *status, *p;

	for (;;) {
		assert_int_equal(modemsim_control(t->sim, "status", &status),
		    0);
		p = strstr(status, " rx=");
		assert_non_null(p);
		rx = strtoul(p + 4, NULL, 10);
		free(status);
		if (rx >= total || t_now_ms() > deadline)
			break;
		poll(NULL, 0, 5);
	}
	assert_true(rx >= total);
}

static void
test_modemsim_fault_hang(void **state)
{
	struct t_sim t;

	(void)state;
	t_start_ready(&t, NULL);
	t_ctl(&t, "fault hang", "OK");
	t_write(t.fd, "AT\r");
	t_write(t.fd, "AT+CSQ\r");
	/* "ATE0\r" was read before: 5 + 3 + 7 bytes. */
	t_wait_rx(&t, 15);
	t_ctl(&t, "deliver-pdu " T_DELIVER, "OK 1");
	/* Recovered: the first bytes are the answer to a new command, so
	 * nothing was written while it hung; the message is stored. */
	t_ctl(&t, "fault none", "OK");
	t_cmd(&t, "AT\r", "\r\nOK\r\n");
	t_ctl(&t, "stored", "OK 1");
	t_stop(&t);
}

static void
test_modemsim_fault_unplug(void **state)
{
	struct t_sim t;
	struct pollfd p;
	char buf[16], target[128] = { 0 }, *status;
	int64_t deadline;
	ssize_t n;
	int plugged;

	(void)state;
	t_start_ready(&t, NULL);
	t_ctl(&t, "deliver-pdu " T_DELIVER, "OK 1");
	t_expect(t.fd, "\r\n+CMTI: \"SM\",0\r\n");

	/* The daemon's side hangs up. */
	t_ctl(&t, "fault unplug 100", "OK");
	p = (struct pollfd){ t.fd, POLLIN, 0 };
	assert_int_equal(poll(&p, 1, T_DEADLINE_MS), 1);
	assert_true(p.revents & POLLHUP);
	/* A hung-up tty: reads see end of file (or EIO), writes EIO. */
	n = read(t.fd, buf, sizeof(buf));
	assert_true(n == 0 || (n < 0 && errno == EIO));
	assert_int_equal(write(t.fd, "AT\r", 3), -1);
	assert_int_equal(errno, EIO);
	close(t.fd);

	/* A new device appears behind the link, and boots again. */
	deadline = t_now_ms() + T_DEADLINE_MS;
	for (;;) {
		assert_int_equal(modemsim_control(t.sim, "status", &status), 0);
		plugged = strstr(status, " plugs=2 ") != NULL &&
		    strstr(status, " chan=0 ") != NULL;
		free(status);
		if (plugged || t_now_ms() > deadline)
			break;
		poll(NULL, 0, 10);
	}
	assert_true(plugged);
	assert_int_equal(readlink(t.link, target, sizeof(target) - 1),
	    (ssize_t)strlen(modemsim_device(t.sim)));
	t.fd = open(t.link, O_RDWR | O_NOCTTY | O_NONBLOCK);
	assert_true(t.fd >= 0);
	t_expect(t.fd, T_BOOT_READY);
	/* Settings are back to defaults (echo on); the SIM kept its
	 * message. */
	t_cmd(&t, "AT\r", "AT\r\r\nOK\r\n");
	t_ctl(&t, "stored", "OK 1");
	t_stop(&t);
}

static void
test_modemsim_fault_cms(void **state)
{
	struct t_sim t;

	(void)state;
	t_start_ready(&t, NULL);
	t_ctl(&t, "fault cms 41 2", "OK");
	t_send_pdu(&t, 35, T_SUBMIT);
	t_expect(t.fd, "\r\n+CMS ERROR: 41\r\n");
	t_send_pdu(&t, 35, T_SUBMIT);
	t_expect(t.fd, "\r\n+CMS ERROR: 41\r\n");
	t_send_pdu(&t, 35, T_SUBMIT);
	t_expect(t.fd, "\r\n+CMGS: 0\r\n\r\nOK\r\n");
	t_ctl(&t, "sent", "OK 1\n0 " T_SUBMIT);

	/* Default count 1; CMEE=0 hides the code. */
	t_ctl(&t, "fault cms 500", "OK");
	t_cmd(&t, "AT+CMEE=0\r", "\r\nOK\r\n");
	t_send_pdu(&t, 35, T_SUBMIT);
	t_expect(t.fd, "\r\nERROR\r\n");
	t_send_pdu(&t, 35, T_SUBMIT);
	t_expect(t.fd, "\r\n+CMGS: 1\r\n\r\nOK\r\n");
	t_stop(&t);
}

static void
test_modemsim_fault_no_answer(void **state)
{
	struct t_sim t;

	(void)state;
	t_start_ready(&t, NULL);
	t_ctl(&t, "fault no-answer", "OK");
	t_send_pdu(&t, 35, T_SUBMIT);
	/* No +CMGS ever; the next command is answered normally and the
	 * PDU did go out (the doubt the daemon must record). */
	t_cmd(&t, "AT\r", "\r\nOK\r\n");
	t_ctl(&t, "sent", "OK 1\n0 " T_SUBMIT);
	t_send_pdu(&t, 35, T_SUBMIT);
	t_expect(t.fd, "\r\n+CMGS: 1\r\n\r\nOK\r\n");
	t_stop(&t);
}

static void
test_modemsim_fault_noise(void **state)
{
	struct t_sim t;
	char *text;

	(void)state;
	t_start_ready(&t, NULL);
	t_ctl(&t, "fault noise 2", "OK");
	t_write(t.fd, "AT\r");
	text = t_read_until(t.fd, "\r\nOK\r\n");
	/* Garbage first (with a NUL and 8-bit bytes), then the answer. */
	assert_int_equal((unsigned char)text[0], 0xff);
	free(text);
	t_cmd(&t, "AT+CSQ\r", "\r\n+CSQ: 21,99\r\n\r\nOK\r\n");
	t_stop(&t);
}

static void
test_modemsim_fault_urc_inside(void **state)
{
	struct t_sim t;

	(void)state;
	t_start_ready(&t, NULL);
	t_ctl(&t, "fault urc-inside", "OK");
	t_ctl(&t, "deliver-pdu " T_DELIVER, "OK 1");
	t_cmd(&t, "AT+CSQ\r", "\r\n+CSQ: 21,99\r\n\r\n+CMTI: \"SM\",0\r\n"
	    "\r\nOK\r\n");
	t_ctl(&t, "deliver-pdu " T_DELIVER, "OK 1");
	t_cmd(&t, "AT\r", "\r\n+CMTI: \"SM\",1\r\n\r\nOK\r\n");
	t_ctl(&t, "deliver-pdu " T_DELIVER, "OK 1");
	t_send_pdu(&t, 35, T_SUBMIT);
	t_expect(t.fd, "\r\n+CMGS: 0\r\n\r\n+CMTI: \"SM\",2\r\n\r\nOK\r\n");
	/* fault none: waiting URCs go out at once. */
	t_ctl(&t, "deliver-pdu " T_DELIVER, "OK 1");
	t_ctl(&t, "fault none", "OK");
	t_expect(t.fd, "\r\n+CMTI: \"SM\",3\r\n");
	t_stop(&t);
}

static void
test_modemsim_control_socket(void **state)
{
	struct t_sim t;
	char *reply = NULL, path[200];

	(void)state;
	t_start_ready(&t, NULL);
	assert_int_equal(modemsim_control_client(t.sock, "stored",
	    T_DEADLINE_MS, &reply), 0);
	assert_string_equal(reply, "OK 0");
	free(reply);
	reply = NULL;

	t_send_pdu(&t, 35, T_SUBMIT);
	t_expect(t.fd, "\r\n+CMGS: 0\r\n\r\nOK\r\n");
	t_send_pdu(&t, 19, T_SUBMIT_SRR);
	t_expect(t.fd, "\r\n+CMGS: 1\r\n\r\nOK\r\n");
	assert_int_equal(modemsim_control_client(t.sock, "sent",
	    T_DEADLINE_MS, &reply), 0);
	assert_string_equal(reply, "OK 2\n0 " T_SUBMIT "\n1 " T_SUBMIT_SRR);
	free(reply);
	reply = NULL;

	assert_int_equal(modemsim_control_client(t.sock,
	    "deliver +15550001111 via socket", T_DEADLINE_MS, &reply), 0);
	assert_string_equal(reply, "OK 1");
	free(reply);
	reply = NULL;
	t_expect(t.fd, "\r\n+CMTI: \"SM\",0\r\n");

	assert_int_equal(modemsim_control_client(t.sock, "bogus",
	    T_DEADLINE_MS, &reply), 1);
	assert_true(strncmp(reply, "ERR ", 4) == 0);
	free(reply);
	reply = NULL;

	/* Socket failures are negative errnos and leave 'reply' alone. */
	snprintf(path, sizeof(path), "%s/none.sock", t.dir);
	assert_int_equal(modemsim_control_client(path, "stored",
	    T_DEADLINE_MS, &reply), -ENOENT);
	assert_null(reply);
	memset(path, 'x', sizeof(path) - 1);
	path[sizeof(path) - 1] = '\0';
	assert_int_equal(modemsim_control_client(path, "stored",
	    T_DEADLINE_MS, &reply), -ENAMETOOLONG);
	assert_int_equal(modemsim_control_client(t.sock, "two\nlines",
	    T_DEADLINE_MS, &reply), -EINVAL);
	assert_null(reply);
	t_stop(&t);
}

static void
test_modemsim_control_errors(void **state)
{
	struct t_sim t;

	(void)state;
	t_start_ready(&t, NULL);
	t_ctl(&t, "", "ERR unknown command");
	t_ctl(&t, "stored extra", "ERR unknown command");
	t_ctl(&t, "deliver", "ERR usage: deliver <from> <text>");
	t_ctl(&t, "deliver +15550001111", "ERR usage: deliver <from> <text>");
	t_ctl(&t, "deliver-pdu", "ERR bad pdu");
	t_ctl(&t, "deliver-pdu 0", "ERR bad pdu");
	t_ctl(&t, "deliver-pdu zz11", "ERR bad pdu");
	t_ctl(&t, "deliver-pdu 0700", "ERR bad pdu");	/* SMSC only */
	t_ctl(&t, "latency", "ERR usage: latency <ms>");
	t_ctl(&t, "latency -5", "ERR usage: latency <ms>");
	t_ctl(&t, "report-delay x", "ERR usage: report-delay <ms>");
	t_ctl(&t, "fault", "ERR unknown command");
	t_ctl(&t, "fault cms", "ERR usage: fault cms <code> [count]");
	t_ctl(&t, "fault cms x", "ERR bad number");
	t_ctl(&t, "fault cms 41 0", "ERR bad count");
	t_ctl(&t, "fault melt", "ERR unknown fault melt");
	/* Nothing reached the modem's line. */
	t_cmd(&t, "AT\r", "\r\nOK\r\n");
	t_stop(&t);
}

static void
test_modemsim_start_errors(void **state)
{
	struct modemsim_config c;
	struct modemsim *sim = NULL;
	char err[256], path[200];

	(void)state;
	memset(&c, 0, sizeof(c));
	c.quiet = 1;
	c.storage_slots = -1;
	assert_int_equal(modemsim_start(&c, &sim, err, sizeof(err)),
	    -EINVAL);
	assert_null(sim);

	c.storage_slots = 0;
	c.send_latency_ms = -1;
	assert_int_equal(modemsim_start(&c, &sim, err, sizeof(err)),
	    -EINVAL);

	c.send_latency_ms = 0;
	memset(path, 'x', sizeof(path) - 1);
	path[sizeof(path) - 1] = '\0';
	c.control_path = path;
	assert_int_equal(modemsim_start(&c, &sim, err, sizeof(err)),
	    -ENAMETOOLONG);
	assert_null(sim);

	c.control_path = NULL;
	c.link_path = "/nonexistent-dir/modem";
	assert_int_equal(modemsim_start(&c, &sim, err, sizeof(err)),
	    -ENOENT);
	assert_non_null(strstr(err, "/nonexistent-dir/modem"));
	assert_null(sim);

	/* Without link or socket it still runs. */
	c.link_path = NULL;
	assert_int_equal(modemsim_start(&c, &sim, err, sizeof(err)), 0);
	assert_non_null(modemsim_device(sim));
	modemsim_stop(sim);
}

/* The modemsim program, from $SMSGW_BUILD (default build/asan). */
static const char *
t_program(void)
{
	static char path[512];
	const char *b = getenv("SMSGW_BUILD");

	snprintf(path, sizeof(path), "%s/modemsim",
	    b != NULL && *b != '\0' ? b : "build/asan");
	return path;
}

/* Run the program with 'argv' (argv[0] is set here); stdout goes to
 * 'out'.  Returns the exit status, or -1 if it did not exit. */
static int
t_run(char **argv, char *out, size_t outlen)
{
	int pipefd[2], status;
	size_t got;
	pid_t pid;

	assert_int_equal(pipe(pipefd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(pipefd[1], STDOUT_FILENO);
		close(pipefd[0]);
		close(pipefd[1]);
		argv[0] = (char *)t_program();
		execv(argv[0], argv);
		_exit(127);
	}
	close(pipefd[1]);
	got = t_read_n(pipefd[0], out, outlen - 1, T_DEADLINE_MS * 2);
	out[got] = '\0';
	close(pipefd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void
test_modemsim_ctl_program(void **state)
{
	struct t_sim t;
	char out[256], bad[200];
	char *ok_argv[] = { NULL, "ctl", t.sock, "deliver", "+15550001111",
	    "two", "words", NULL };
	char *err_argv[] = { NULL, "ctl", t.sock, "bogus", NULL };
	char *fail_argv[] = { NULL, "ctl", bad, "stored", NULL };
	char *usage_argv[] = { NULL, "ctl", t.sock, NULL };

	(void)state;
	if (access(t_program(), X_OK) != 0)
		skip();
	t_start_ready(&t, NULL);
	snprintf(bad, sizeof(bad), "%s/none.sock", t.dir);
	ok_argv[2] = err_argv[2] = usage_argv[2] = t.sock;

	/* Words after the socket form one command. */
	assert_int_equal(t_run(ok_argv, out, sizeof(out)), 0);
	assert_string_equal(out, "OK 1\n");
	t_expect(t.fd, "\r\n+CMTI: \"SM\",0\r\n");
	assert_int_equal(t_run(err_argv, out, sizeof(out)), 1);
	assert_string_equal(out, "ERR unknown command\n");
	assert_int_equal(t_run(fail_argv, out, sizeof(out)), 2);
	assert_string_equal(out, "");
	assert_int_equal(t_run(usage_argv, out, sizeof(out)), 2);
	t_stop(&t);
}

static void
test_modemsim_program_runs(void **state)
{
	char dir[64], link[128], sock[128], path[128], *reply = NULL;
	char *argv[] = { NULL, "--link", link, "--control", sock, "--pin",
	    "1234", "--slots", "5", "--latency", "10", "--quiet", NULL };
	char *bad_argv[] = { NULL, "--slots", "0", NULL };
	int pipefd[2], status, fd;
	size_t got;
	pid_t pid;

	(void)state;
	if (access(t_program(), X_OK) != 0)
		skip();
	snprintf(dir, sizeof(dir), "/tmp/test_modemsim.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(link, sizeof(link), "%s/modem", dir);
	snprintf(sock, sizeof(sock), "%s/sim.sock", dir);

	assert_int_equal(pipe(pipefd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(pipefd[1], STDOUT_FILENO);
		close(pipefd[0]);
		close(pipefd[1]);
		argv[0] = (char *)t_program();
		execv(argv[0], argv);
		_exit(127);
	}
	close(pipefd[1]);

	/* It prints the pty path once it runs. */
	got = 0;
	while (got < sizeof(path) - 1 &&
	    t_read_n(pipefd[0], path + got, 1, T_DEADLINE_MS * 2) == 1 &&
	    path[got] != '\n')
		got++;
	path[got] = '\0';
	assert_true(strncmp(path, "/dev/pts/", 9) == 0);

	/* The options took effect: PIN, slots, latency. */
	fd = open(link, O_RDWR | O_NOCTTY | O_NONBLOCK);
	assert_true(fd >= 0);
	t_expect(fd, "\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: SIM PIN\r\n"
	    "\r\n+QUSIM: 1\r\n");
	assert_int_equal(modemsim_control_client(sock, "status",
	    T_DEADLINE_MS, &reply), 0);
	assert_non_null(strstr(reply, " slots=5 "));
	free(reply);
	close(fd);

	/* SIGTERM: a clean exit that removes the socket and the link. */
	kill(pid, SIGTERM);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	close(pipefd[0]);
	assert_int_equal(access(sock, F_OK), -1);
	assert_int_equal(access(link, F_OK), -1);
	assert_int_equal(rmdir(dir), 0);

	assert_int_equal(t_run(bad_argv, path, sizeof(path)), 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_modemsim_boot_urcs),
		cmocka_unit_test(test_modemsim_echo),
		cmocka_unit_test(test_modemsim_identity),
		cmocka_unit_test(test_modemsim_cmee_formats),
		cmocka_unit_test(test_modemsim_pin_flow),
		cmocka_unit_test(test_modemsim_pin_puk),
		cmocka_unit_test(test_modemsim_cmgs_mr_wrap),
		cmocka_unit_test(test_modemsim_cmgs_echo_and_fragments),
		cmocka_unit_test(test_modemsim_cmgs_invalid),
		cmocka_unit_test(test_modemsim_cmgs_latency),
		cmocka_unit_test(test_modemsim_status_report),
		cmocka_unit_test(test_modemsim_status_report_delay),
		cmocka_unit_test(test_modemsim_deliver_read),
		cmocka_unit_test(test_modemsim_direct_cmt),
		cmocka_unit_test(test_modemsim_cmgd),
		cmocka_unit_test(test_modemsim_storage_full),
		cmocka_unit_test(test_modemsim_fault_hang),
		cmocka_unit_test(test_modemsim_fault_unplug),
		cmocka_unit_test(test_modemsim_fault_cms),
		cmocka_unit_test(test_modemsim_fault_no_answer),
		cmocka_unit_test(test_modemsim_fault_noise),
		cmocka_unit_test(test_modemsim_fault_urc_inside),
		cmocka_unit_test(test_modemsim_control_socket),
		cmocka_unit_test(test_modemsim_control_errors),
		cmocka_unit_test(test_modemsim_start_errors),
		cmocka_unit_test(test_modemsim_ctl_program),
		cmocka_unit_test(test_modemsim_program_runs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
