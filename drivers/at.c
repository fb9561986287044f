/*
 * at.c - the AT command channel.
 *
 * Bytes arrive from the transport in arbitrary fragments.  They are
 * gathered into lines (CR, LF, Ctrl-Z and ESC end a line; empty lines are
 * dropped), except for the "> " prompt of AT+CMGS, which has no line end
 * and is recognised at the start of a line while a command waits for it.
 *
 * Each complete line is classified, in this order:
 *   1. the PDU line that a +CMT/+CDS URC announced: it goes out with that
 *      URC;
 *   2. no command running (or it already finished): an unsolicited line;
 *   3. the PDU line after "+CMGR:"/"+CMGL:": part of the response;
 *   4. the echo of the command line (possibly cut in pieces by URCs);
 *   5. a final result code (a table, at_finals[]): the command ends;
 *   6. a line starting with the command's prefix: part of the response -
 *      this is how "+CREG: 0,1" answers AT+CREG? although +CREG: is also
 *      a URC prefix;
 *   7. a known URC (a table, at_urcs[]): to the URC handler;
 *   8. anything else: part of the response when the command named no
 *      prefix, else handed to the URC handler as an unknown line.
 *
 * Invariants:
 *   I1. Only one command runs at a time; chan->busy is set for the whole
 *       of at_chan_command(), at_chan_send_pdu() and at_chan_poll(), so a
 *       URC handler that tries to issue a command gets -EBUSY.
 *   I2. The URC handler may free the channel: at_chan_free() then only
 *       marks it (chan->freed); the running call stops reading, frees it
 *       on its way out and returns -ECANCELED.
 *   I3. On a negative return a response is left empty (no lines).
 */
#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "smsgw/at.h"
#include "smsgw/clock.h"
#include "smsgw/log.h"

/* Longest line kept: a PDU line is at most 2 * (164 + 12) hex digits. */
#define AT_LINE_MAX	1024
#define AT_WRITE_TIMEOUT_MS	5000

#define AT_CTRL_Z	'\x1a'
#define AT_ESC		'\x1b'

/* Final result codes.  'numbered' ones carry ": <n>". */
static const struct at_final {
	const char	*word;
	enum at_result	result;
	int		numbered;
} at_finals[] = {
	{ "OK",			AT_RESULT_OK,		0 },
	{ "ERROR",		AT_RESULT_ERROR,	0 },
	{ "+CME ERROR:",	AT_RESULT_CME_ERROR,	1 },
	{ "+CMS ERROR:",	AT_RESULT_CMS_ERROR,	1 },
	{ "NO CARRIER",		AT_RESULT_NO_CARRIER,	0 },
	{ "BUSY",		AT_RESULT_NO_CARRIER,	0 },
	{ "NO ANSWER",		AT_RESULT_NO_CARRIER,	0 },
	{ "NO DIALTONE",	AT_RESULT_NO_CARRIER,	0 },
	/* Huawei's words for ERROR on commands it does not know. */
	{ "COMMAND NOT SUPPORT", AT_RESULT_ERROR,	0 },
	{ "TOO MANY PARAMETERS", AT_RESULT_ERROR,	0 },
};

/* +CME ERROR in words (AT+CMEE=2, or before AT+CMEE=1 took effect):
 * TS 27.007 9.2.1. */
static const struct at_cme_word {
	const char	*text;
	int		code;
} at_cme_words[] = {
	{ "operation not allowed",	3 },
	{ "operation not supported",	4 },
	{ "SIM not inserted",		10 },
	{ "SIM PIN required",		11 },
	{ "SIM PUK required",		12 },
	{ "SIM failure",		13 },
	{ "SIM busy",			14 },
	{ "SIM wrong",			15 },
	{ "incorrect password",		16 },
	{ "SIM PIN2 required",		17 },
	{ "SIM PUK2 required",		18 },
	{ "no network service",		30 },
};

/* Unsolicited result codes.  'exact' ones are whole lines; the others
 * are prefixes.  'pdu' ones are followed by a PDU line. */
static const struct at_urc {
	const char	*prefix;
	int		exact;
	int		pdu;
} at_urcs[] = {
	{ "+CMTI:", 0, 0 },
	{ "+CMT:", 0, 1 },
	{ "+CDSI:", 0, 0 },
	{ "+CDS:", 0, 1 },
	{ "+CBM:", 0, 1 },
	{ "+CBMI:", 0, 0 },
	{ "RING", 1, 0 },
	{ "+CRING:", 0, 0 },
	{ "+CLIP:", 0, 0 },
	{ "+CREG:", 0, 0 },
	{ "+CGREG:", 0, 0 },
	{ "+CEREG:", 0, 0 },
	{ "+C5GREG:", 0, 0 },
	{ "+CUSD:", 0, 0 },
	{ "+CPIN:", 0, 0 },
	{ "+CFUN:", 0, 0 },
	{ "+CIEV:", 0, 0 },
	{ "+CTZV:", 0, 0 },
	{ "+CTZE:", 0, 0 },
	{ "+NITZ:", 0, 0 },
	{ "+CSQN:", 0, 0 },
	{ "+QIND:", 0, 0 },
	{ "+QUSIM:", 0, 0 },
	{ "+QSTAT:", 0, 0 },
	{ "+CPSI:", 0, 0 },
	{ "^RSSI:", 0, 0 },
	{ "^HCSQ:", 0, 0 },
	{ "^MODE:", 0, 0 },
	{ "^BOOT:", 0, 0 },
	{ "^SIMST:", 0, 0 },
	{ "^SRVST:", 0, 0 },
	{ "^DSFLOWRPT:", 0, 0 },
	{ "^RFSWITCH:", 0, 0 },
	{ "RDY", 1, 0 },
	{ "SMS DONE", 1, 0 },
	{ "PB DONE", 1, 0 },
	{ "Call Ready", 1, 0 },
	{ "SMS Ready", 1, 0 },
	{ "NORMAL POWER DOWN", 1, 0 },
	{ "UNDER-VOLTAGE POWER DOWN", 1, 0 },
	{ "UNDER-VOLTAGE WARNING", 1, 0 },
	{ "OVER-VOLTAGE POWER DOWN", 1, 0 },
	{ "OVER-VOLTAGE WARNING", 1, 0 },
};

/* The command in flight; lives on the stack of at_chan_command(). */
struct at_cmd {
	const char	*echo;		/* what the modem may repeat */
	size_t		echo_len;
	size_t		echo_pos;	/* how much of it came back */
	int		echo_done;
	const char	*prefix;
	int		want_prompt;
	int		pdu_next;	/* a +CMGR/+CMGL line came */
	int		done;
	int		err;		/* -ENOMEM while collecting */
	struct at_response resp;
};

struct at_chan {
	struct transport	*transport;
	char			name[32];
	at_urc_handler		urc_handler;
	void			*urc_arg;

	char			rx[2 * AT_LINE_MAX];
	size_t			rxlen;
	int			rx_skip;	/* dropping a long line */

	/* A +CMT/+CDS line waiting for its PDU line. */
	char			urc_wait[AT_LINE_MAX];
	int			urc_waiting;

	struct at_cmd		*cmd;
	int			busy;		/* I1 */
	int			freed;		/* I2 */
};

static int
at_starts_with(const char *line, const char *prefix)
{
	return strncmp(line, prefix, strlen(prefix)) == 0;
}

/* A PDU line: an even, non-empty run of hex digits. */
static int
at_is_hex(const char *line)
{
	size_t n = strlen(line);

	return n > 0 && n % 2 == 0 &&
	    strspn(line, "0123456789abcdefABCDEF") == n;
}

static const struct at_urc *
at_urc_find(const char *line)
{
	size_t i;

	for (i = 0; i < sizeof(at_urcs) / sizeof(*at_urcs); i++) {
		const struct at_urc *u = &at_urcs[i];

		if (u->exact ? strcmp(line, u->prefix) == 0 :
		    at_starts_with(line, u->prefix))
			return u;
	}
	return NULL;
}

int
at_is_urc(const char *line)
{
	return at_urc_find(line) != NULL;
}

int
at_urc_has_pdu(const char *line)
{
	const struct at_urc *u = at_urc_find(line);

	return u != NULL && u->pdu;
}

/* The number of "+CME ERROR: <n>", in digits or in words. */
static int
at_error_code(const char *arg, enum at_result result)
{
	char *end;
	long n;
	size_t i;

	while (*arg == ' ')
		arg++;
	n = strtol(arg, &end, 10);
	if (end != arg && *end == '\0' && n >= 0 && n < 100000)
		return (int)n;
	if (result != AT_RESULT_CME_ERROR)
		return -1;
	for (i = 0; i < sizeof(at_cme_words) / sizeof(*at_cme_words); i++)
		if (strcasecmp(arg, at_cme_words[i].text) == 0)
			return at_cme_words[i].code;
	return -1;
}

/* Look 'line' up in the final result table; 0 if it is one. */
static int
at_final_parse(const char *line, enum at_result *result, int *error)
{
	size_t i;

	for (i = 0; i < sizeof(at_finals) / sizeof(*at_finals); i++) {
		const struct at_final *f = &at_finals[i];

		if (f->numbered ? !at_starts_with(line, f->word) :
		    strcmp(line, f->word) != 0)
			continue;
		*result = f->result;
		*error = f->numbered ?
		    at_error_code(line + strlen(f->word), f->result) : -1;
		return 0;
	}
	return -1;
}

/* A command as the log may show it: never with the PIN. */
static const char *
at_cmd_shown(const char *cmdline)
{
	if (strncasecmp(cmdline, "AT+CPIN=", 8) == 0)
		return "AT+CPIN=****";
	if (strncasecmp(cmdline, "AT+CPWD=", 8) == 0)
		return "AT+CPWD=****";
	return cmdline;
}

/* Lines that carry numbers or texts of people are masked in the log. */
static void
at_log_rx(const struct at_chan *chan, const char *line, int is_pdu)
{
	char masked[64];

	const char *p;

	if (!log_debug_enabled())
		return;
	for (p = line; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			break;
	if (*p != '\0')
		log_debug("at: rx modem=%s binary=%zu", chan->name,
		    strlen(line));
	else if (is_pdu)
		log_debug("at: rx modem=%s pdu=%s", chan->name,
		    log_mask_text(line, masked, sizeof(masked)));
	else if (at_starts_with(line, "+CLIP:") ||
	    at_starts_with(line, "+CUSD:") || at_starts_with(line, "+CNUM:"))
		log_debug("at: rx modem=%s line=%.6s%s", chan->name, line,
		    log_mask_text(line + 6, masked, sizeof(masked)));
	else	/* the echo of AT+CPIN= holds the PIN */
		log_debug("at: rx modem=%s line=%s", chan->name,
		    at_cmd_shown(line));
}

/*
 * Call the URC handler.  Returns nonzero if the handler freed the channel
 * (I2): the caller must then stop touching anything but chan->freed.
 */
static int
at_urc_call(struct at_chan *chan, const char *line, const char *pdu)
{
	if (chan->urc_handler != NULL)
		chan->urc_handler(line, pdu, chan->urc_arg);
	return chan->freed;
}

static void
at_unsolicited(struct at_chan *chan, const char *line)
{
	enum at_result result;
	int error;

	if (at_urc_has_pdu(line)) {
		snprintf(chan->urc_wait, sizeof(chan->urc_wait), "%s", line);
		chan->urc_waiting = 1;
		return;
	}

	/* A late answer to a command that timed out has nobody to go to. */
	if (at_final_parse(line, &result, &error) == 0 ||
	    strcmp(line, ">") == 0) {
		log_debug("at: stray-result modem=%s line=%s", chan->name,
		    line);
		return;
	}
	at_urc_call(chan, line, NULL);
}

static int
at_resp_add(struct at_cmd *cmd, const char *line)
{
	struct at_response *r = &cmd->resp;
	char **lines;
	char *copy;

	lines = realloc(r->lines, (r->nlines + 1) * sizeof(*lines));
	if (lines == NULL)
		return -ENOMEM;
	r->lines = lines;
	copy = strdup(line);
	if (copy == NULL)
		return -ENOMEM;
	r->lines[r->nlines++] = copy;

	if (at_starts_with(line, "+CMGR:") || at_starts_with(line, "+CMGL:"))
		cmd->pdu_next = 1;
	return 0;
}

/* Step 4: swallow 'line' if it is (the next piece of) the echo. */
static int
at_echo_eat(struct at_cmd *cmd, const char *line)
{
	size_t n = strlen(line);

	if (cmd->echo == NULL || cmd->echo_done)
		return 0;
	if (n > cmd->echo_len - cmd->echo_pos ||
	    strncasecmp(line, cmd->echo + cmd->echo_pos, n) != 0)
		return 0;
	cmd->echo_pos += n;
	if (cmd->echo_pos == cmd->echo_len)
		cmd->echo_done = 1;
	return 1;
}

static void
at_cmd_line(struct at_chan *chan, struct at_cmd *cmd, const char *line)
{
	enum at_result result;
	int error, rc;

	if (cmd->pdu_next) {
		if (at_is_urc(line)) {
			at_unsolicited(chan, line);
			return;
		}
		cmd->pdu_next = 0;
		if (at_is_hex(line)) {
			if ((rc = at_resp_add(cmd, line)) < 0)
				cmd->err = rc;
			return;
		}
	}

	if (at_echo_eat(cmd, line))
		return;

	if (at_final_parse(line, &result, &error) == 0) {
		cmd->resp.result = result;
		cmd->resp.error = error;
		cmd->done = 1;
		return;
	}

	if ((cmd->prefix != NULL && at_starts_with(line, cmd->prefix)) ||
	    (cmd->prefix == NULL && !at_is_urc(line))) {
		cmd->echo_done = 1;
		if ((rc = at_resp_add(cmd, line)) < 0)
			cmd->err = rc;
		return;
	}

	if (!at_is_urc(line))
		log_debug("at: unexpected-line modem=%s", chan->name);
	at_unsolicited(chan, line);
}

static void
at_line(struct at_chan *chan, const char *line)
{
	struct at_cmd *cmd = chan->cmd;
	int is_pdu;

	is_pdu = (chan->urc_waiting || (cmd != NULL && !cmd->done &&
	    cmd->pdu_next)) && at_is_hex(line);
	at_log_rx(chan, line, is_pdu);

	if (chan->urc_waiting) {
		chan->urc_waiting = 0;
		if (at_is_hex(line)) {
			at_urc_call(chan, chan->urc_wait, line);
			return;
		}
		/* The announced PDU never came: report the URC bare and
		 * look at this line on its own. */
		if (at_urc_call(chan, chan->urc_wait, NULL))
			return;
	}

	if (cmd == NULL || cmd->done)
		at_unsolicited(chan, line);
	else
		at_cmd_line(chan, cmd, line);
}

static int
at_is_line_end(char c)
{
	return c == '\r' || c == '\n' || c == AT_CTRL_Z || c == AT_ESC;
}

/* Take the "> " prompt off the front of the buffer if one is awaited. */
static int
at_take_prompt(struct at_chan *chan)
{
	struct at_cmd *cmd = chan->cmd;
	size_t n;

	if (cmd == NULL || cmd->done || !cmd->want_prompt ||
	    chan->rxlen == 0 || chan->rx[0] != '>')
		return 0;
	n = chan->rxlen > 1 && chan->rx[1] == ' ' ? 2 : 1;
	memmove(chan->rx, chan->rx + n, chan->rxlen - n);
	chan->rxlen -= n;
	log_debug("at: rx modem=%s prompt", chan->name);
	cmd->resp.result = AT_RESULT_PROMPT;
	cmd->resp.error = -1;
	cmd->done = 1;
	return 1;
}

/* Split the buffer into lines and handle each complete one. */
static void
at_process(struct at_chan *chan)
{
	size_t start, end, term;

	while (!chan->freed) {
		/* The rest of an overlong line may be nothing but its end:
		 * then it is over, and what follows is a line of its own. */
		if (chan->rx_skip && chan->rxlen > 0 &&
		    at_is_line_end(chan->rx[0]))
			chan->rx_skip = 0;

		start = 0;
		while (start < chan->rxlen &&
		    (at_is_line_end(chan->rx[start]) ||
		    chan->rx[start] == ' ' || chan->rx[start] == '\0'))
			start++;
		memmove(chan->rx, chan->rx + start, chan->rxlen - start);
		chan->rxlen -= start;

		if (at_take_prompt(chan))
			continue;

		for (end = 0; end < chan->rxlen; end++)
			if (at_is_line_end(chan->rx[end]))
				break;
		if (end == chan->rxlen)
			break;

		/* Trailing blanks are noise; the line itself is kept. */
		term = end;
		chan->rx[end] = '\0';
		while (end > 0 && chan->rx[end - 1] == ' ')
			chan->rx[--end] = '\0';

		if (chan->rx_skip)
			chan->rx_skip = 0;
		else
			at_line(chan, chan->rx);
		if (chan->freed)
			break;
		memmove(chan->rx, chan->rx + term + 1,
		    chan->rxlen - term - 1);
		chan->rxlen -= term + 1;
	}
}

static void
at_feed(struct at_chan *chan, const char *data, size_t len)
{
	while (len > 0 && !chan->freed) {
		size_t room = sizeof(chan->rx) - 1 - chan->rxlen;
		size_t n = len < room ? len : room;

		memcpy(chan->rx + chan->rxlen, data, n);
		chan->rxlen += n;
		data += n;
		len -= n;
		at_process(chan);

		/* A "line" that fills the whole buffer is garbage (line
		 * noise, a wrong baud rate): drop it up to its end. */
		if (chan->rxlen == sizeof(chan->rx) - 1) {
			log_warn("at: overlong-line modem=%s bytes=%zu",
			    chan->name, chan->rxlen);
			chan->rxlen = 0;
			chan->rx_skip = 1;
		}
	}
}

/* Read what is there and process it.  Returns 0 or a negative errno. */
static int
at_read_some(struct at_chan *chan)
{
	char buf[512];
	ssize_t n;

	for (;;) {
		n = transport_read(chan->transport, buf, sizeof(buf));
		if (n <= 0)
			break;
		at_feed(chan, buf, (size_t)n);
		if (chan->freed)
			return -ECANCELED;
	}
	if (n < 0)
		log_debug("at: device-gone modem=%s err=%s", chan->name,
		    strerror((int)-n));
	return (int)n;
}

/*
 * Wait until the command is done, the deadline passes or the device
 * fails.
 *
 * XXX: after a timeout the late answer is dropped only if it arrives
 * before the next command; one that comes during the next command ends
 * that command instead (its "OK" cannot be told apart).  Harmless for the
 * queries we make, but a caller resending after a timeout should first
 * let the modem settle (at_chan_poll, or a plain AT).
 */
static int
at_wait(struct at_chan *chan, struct at_cmd *cmd, long long deadline)
{
	struct pollfd pfd;
	int rc;

	pfd.fd = transport_fd(chan->transport);
	pfd.events = POLLIN;

	while (!cmd->done) {
		long long left = deadline - clock_mono_ms();

		if (left <= 0)
			return -ETIMEDOUT;
		rc = poll(&pfd, 1, (int)left);
		if (rc < 0 && errno != EINTR)
			return -errno;
		if (rc <= 0)
			continue;
		if (pfd.revents & POLLNVAL)
			return -EBADF;
		rc = at_read_some(chan);
		if (rc < 0)
			return rc;
	}
	return cmd->err;
}

static int
at_write(struct at_chan *chan, const char *data, size_t len)
{
	return transport_write(chan->transport, data, len, AT_WRITE_TIMEOUT_MS);
}

/* Write "cmd\r", logging it. */
static int
at_write_command(struct at_chan *chan, const char *cmdline)
{
	char line[AT_LINE_MAX + 2];
	int n;

	n = snprintf(line, sizeof(line), "%s\r", cmdline);
	if (n < 0 || (size_t)n >= sizeof(line))
		return -EINVAL;
	log_debug("at: tx modem=%s cmd=%s", chan->name,
	    at_cmd_shown(cmdline));
	return at_write(chan, line, (size_t)n);
}

static void
at_cmd_init(struct at_cmd *cmd, const char *echo, const char *prefix)
{
	memset(cmd, 0, sizeof(*cmd));
	cmd->echo = echo;
	cmd->echo_len = strlen(echo);
	cmd->prefix = prefix;
	cmd->resp.result = AT_RESULT_ERROR;
	cmd->resp.error = -1;
}

static void
at_response_empty(struct at_response *resp)
{
	resp->result = AT_RESULT_ERROR;
	resp->error = -1;
	resp->nlines = 0;
	resp->lines = NULL;
}

void
at_response_release(struct at_response *resp)
{
	size_t i;

	if (resp == NULL)
		return;
	for (i = 0; i < resp->nlines; i++)
		free(resp->lines[i]);
	free(resp->lines);
	resp->lines = NULL;
	resp->nlines = 0;
}

static void
at_chan_destroy(struct at_chan *chan)
{
	transport_close(chan->transport);
	free(chan);
}

/*
 * Leave a busy section (I1).  If the URC handler freed the channel
 * meanwhile (I2), free it now and turn 'rc' into -ECANCELED.
 */
static int
at_leave(struct at_chan *chan, int rc)
{
	chan->busy = 0;
	chan->cmd = NULL;
	if (chan->freed) {
		at_chan_destroy(chan);
		return -ECANCELED;
	}
	return rc;
}

/*
 * Run one command: drain old input (URCs that came before it), write
 * it, and wait for the final result - or the prompt when
 * cmd->want_prompt.  Called inside a busy section.
 */
static int
at_run(struct at_chan *chan, struct at_cmd *cmd, const char *cmdline,
    long long deadline)
{
	int rc;

	rc = at_read_some(chan);
	if (rc < 0)
		return rc;
	chan->cmd = cmd;
	rc = at_write_command(chan, cmdline);
	if (rc < 0)
		return rc;
	return at_wait(chan, cmd, deadline);
}

int
at_chan_command(struct at_chan *chan, const char *cmd, const char *prefix,
    int timeout_ms, struct at_response *resp)
{
	struct at_cmd c;
	int rc;

	at_response_empty(resp);
	if (chan->busy)
		return -EBUSY;
	chan->busy = 1;

	at_cmd_init(&c, cmd, prefix);
	rc = at_run(chan, &c, cmd, clock_mono_ms() + timeout_ms);
	if (rc == -ETIMEDOUT)
		log_debug("at: timeout modem=%s cmd=%.16s", chan->name,
		    at_cmd_shown(cmd));
	rc = at_leave(chan, rc);
	if (rc < 0) {
		at_response_release(&c.resp);
		return rc;
	}
	*resp = c.resp;
	return 0;
}

/* After the prompt: the PDU, Ctrl-Z, and the wait for +CMGS. */
static int
at_submit(struct at_chan *chan, struct at_cmd *c, const char *hex,
    int timeout_ms, enum at_pdu_stage *stage)
{
	char masked[32];
	const char ctrl_z = AT_CTRL_Z;
	int rc;

	log_debug("at: tx modem=%s pdu=%s", chan->name,
	    log_mask_text(hex, masked, sizeof(masked)));
	rc = at_write(chan, hex, strlen(hex));
	if (rc < 0) {
		/* Half a PDU: ESC makes the modem drop it and leave the
		 * prompt, if it can still hear us. */
		const char esc = AT_ESC;

		at_write(chan, &esc, 1);
		return rc;
	}
	rc = at_write(chan, &ctrl_z, 1);
	if (rc < 0)
		return rc;
	*stage = AT_PDU_SUBMITTED;

	/* A modem still in echo mode repeats the PDU, too. */
	at_response_release(&c->resp);
	at_cmd_init(c, hex, "+CMGS:");
	return at_wait(chan, c, clock_mono_ms() + timeout_ms);
}

int
at_chan_send_pdu(struct at_chan *chan, unsigned tpdu_len, const char *hex,
    int prompt_timeout_ms, int timeout_ms, struct at_response *resp,
    enum at_pdu_stage *stage)
{
	const char esc = AT_ESC;
	char cmdline[32];
	struct at_cmd c;
	int rc;

	at_response_empty(resp);
	*stage = AT_PDU_NOT_SENT;
	if (!at_is_hex(hex) || tpdu_len == 0)
		return -EINVAL;
	if (chan->busy)
		return -EBUSY;
	chan->busy = 1;

	snprintf(cmdline, sizeof(cmdline), "AT+CMGS=%u", tpdu_len);
	at_cmd_init(&c, cmdline, "+CMGS:");
	c.want_prompt = 1;
	rc = at_run(chan, &c, cmdline, clock_mono_ms() + prompt_timeout_ms);
	if (rc == -ETIMEDOUT) {
		/* Without ESC the modem would take our next command as the
		 * PDU. */
		log_debug("at: prompt-timeout modem=%s", chan->name);
		at_write(chan, &esc, 1);
	}
	if (rc == 0 && c.resp.result == AT_RESULT_PROMPT) {
		chan->cmd = &c;
		rc = at_submit(chan, &c, hex, timeout_ms, stage);
	}

	rc = at_leave(chan, rc);
	if (rc < 0) {
		at_response_release(&c.resp);
		return rc;
	}
	*resp = c.resp;
	return 0;
}

int
at_chan_poll(struct at_chan *chan)
{
	int rc;

	if (chan->busy)
		return -EBUSY;
	chan->busy = 1;
	rc = at_read_some(chan);
	return at_leave(chan, rc);
}

/* On failure (NULL) the caller still owns 'transport'. */
struct at_chan *
at_chan_new(struct transport *transport, const char *name)
{
	struct at_chan *chan;

	chan = calloc(1, sizeof(*chan));
	if (chan == NULL)
		return NULL;
	chan->transport = transport;
	snprintf(chan->name, sizeof(chan->name), "%s", name ? name : "?");
	return chan;
}

void
at_chan_free(struct at_chan *chan)
{
	if (chan == NULL)
		return;
	if (chan->busy) {
		chan->freed = 1;	/* I2: the running call frees it */
		return;
	}
	at_chan_destroy(chan);
}

void
at_chan_set_urc_handler(struct at_chan *chan, at_urc_handler handler,
    void *arg)
{
	chan->urc_handler = handler;
	chan->urc_arg = arg;
}

int
at_chan_fd(const struct at_chan *chan)
{
	return transport_fd(chan->transport);
}
