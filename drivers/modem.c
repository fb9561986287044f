/*
 * modem.c - the generic 3GPP modem driver on top of the AT channel.
 *
 * What the modem says on its own reaches us as URCs, inside at.c, while
 * a command may still be running.  The URC handler (modem_on_urc) only
 * turns them into events and queues them; the queue is handed to the
 * daemon's event handler once the channel is idle again: at the end of
 * modem_poll() and of every other call that talks to the modem.  So the
 * event handler may itself call modem_read_stored() and friends.
 *
 * Invariants:
 *   I1. No modem_* call runs AT commands from inside at.c's URC handler;
 *       events are delivered only by modem_dispatch(), after the AT
 *       exchange of the call is complete.
 *   I2. modem_dispatch() is the last thing a public call does; an event
 *       handler may close the modem, which then only marks it (closed)
 *       and the dispatch loop frees it on its way out.
 *   I3. A PIN that the SIM refused is never sent again to that device
 *       by this process, even through a new modem object (the worker
 *       reopens a modem after a failed init): three wrong PINs lock the
 *       SIM.  Where the modem tells (AT+CPINR), no PIN is tried with
 *       only one attempt left.
 */
#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "smsgw/at.h"
#include "smsgw/clock.h"
#include "smsgw/log.h"
#include "smsgw/modem.h"
#include "smsgw/transport.h"

#define MODEM_CMD_TIMEOUT_MS	5000
#define MODEM_SYNC_TRIES	10
#define MODEM_SYNC_TIMEOUT_MS	500
#define MODEM_PIN_TIMEOUT_MS	15000	/* SIMs check PINs slowly */
#define MODEM_SIM_BUSY_TRIES	10
#define MODEM_SIM_BUSY_WAIT_MS	1000
#define MODEM_PROMPT_TIMEOUT_MS	10000
#define MODEM_LIST_TIMEOUT_MS	60000	/* a full ME is long */

/* +CME ERROR codes (TS 27.007 9.2.1) that init acts on. */
#define CME_SIM_NOT_INSERTED	10
#define CME_SIM_PIN_REQUIRED	11
#define CME_SIM_PUK_REQUIRED	12
#define CME_SIM_BUSY		14
/* +CMS ERROR 321: invalid memory index (TS 27.005 3.2.5). */
#define CMS_INVALID_INDEX	321

/*
 * New-message indications, best first.  2,1,0,2,0 stores messages and
 * reports (+CMTI, +CDSI); some modems refuse mode 2 or ds=2 although
 * they advertise them, so fall back step by step, down to mode 1 and no
 * reports at all.
 */
static const char *const modem_cnmi_choices[] = {
	"2,1,0,2,0",
	"2,1,0,1,0",
	"1,1,0,2,0",
	"1,1,0,1,0",
	"2,1,0,0,0",
	"1,1,0,0,0",
};

/* Preferred message storage: the SIM is everywhere; ME and MT next. */
static const char *const modem_storages[] = { "SM", "ME", "MT" };
#define MODEM_NSTORAGES \
	(sizeof(modem_storages) / sizeof(*modem_storages))

/*
 * PINs refused per device (I3).  Workers are threads, hence the lock.
 * A process restart forgets them: then AT+CPINR is the safety net.
 */
#define MODEM_REJECTED_MAX	16

static struct modem_rejected_pin {
	char	device[128];
	char	pin[9];
} modem_rejected[MODEM_REJECTED_MAX];
static size_t modem_nrejected;
static pthread_mutex_t modem_rejected_lock = PTHREAD_MUTEX_INITIALIZER;

struct modem_queued {
	struct modem_event	ev;
	char			*pdu;	/* owned; ev.pdu points here */
};

struct modem {
	char			name[32];
	char			device[128];
	struct transport	*transport;	/* owned by 'chan' */
	struct at_chan		*chan;
	struct modem_info	info;
	char			storage[8];
	const char		*cnmi;

	modem_event_handler	handler;
	void			*handler_arg;
	struct modem_queued	*events;
	size_t			nevents;
	size_t			cap;

	int			prompt_timeout_ms;
	int			send_timeout_ms;

	int			initialising;	/* RDY is no reset */
	int			dispatching;	/* I2 */
	int			closed;		/* I2 */
};

static int
modem_starts_with(const char *line, const char *prefix)
{
	return strncmp(line, prefix, strlen(prefix)) == 0;
}

/* The text after "+XYZ:" and its blanks; 'line' itself if no prefix. */
static const char *
modem_after_prefix(const char *line, const char *prefix)
{
	if (modem_starts_with(line, prefix))
		line += strlen(prefix);
	while (*line == ' ')
		line++;
	return line;
}

/* Transport failures (as opposed to timeouts and our own mistakes). */
static int
modem_is_device_error(int rc)
{
	return rc < 0 && rc != -ETIMEDOUT && rc != -ENOMEM &&
	    rc != -EINVAL && rc != -EBUSY && rc != -EPROTO;
}

/* ----- events -------------------------------------------------------- */

static void
modem_destroy(struct modem *m)
{
	size_t i;

	for (i = 0; i < m->nevents; i++)
		free(m->events[i].pdu);
	free(m->events);
	at_chan_free(m->chan);
	free(m);
}

static void
modem_queue(struct modem *m, const struct modem_event *ev, const char *pdu)
{
	struct modem_queued *q;

	if (m->nevents == m->cap) {
		size_t cap = m->cap ? 2 * m->cap : 8;

		q = realloc(m->events, cap * sizeof(*q));
		if (q == NULL)
			goto nomem;
		m->events = q;
		m->cap = cap;
	}
	q = &m->events[m->nevents];
	q->ev = *ev;
	q->pdu = NULL;
	if (pdu != NULL && (q->pdu = strdup(pdu)) == NULL)
		goto nomem;
	q->ev.pdu = q->pdu;
	m->nevents++;
	return;

nomem:
	log_error("modem: event-lost modem=%s type=%d reason=no-memory",
	    m->name, (int)ev->type);
}

/* Hand the queued events to the daemon (I1, I2).  Must be the last
 * thing a public call does with 'm'. */
static void
modem_dispatch(struct modem *m)
{
	struct modem_queued q;

	if (m->dispatching)
		return;		/* the outer loop takes the new ones */
	m->dispatching = 1;
	while (m->nevents > 0 && !m->closed) {
		q = m->events[0];
		m->nevents--;
		memmove(m->events, m->events + 1,
		    m->nevents * sizeof(*m->events));
		q.ev.pdu = q.pdu;
		if (m->handler != NULL)
			m->handler(&q.ev, m->handler_arg);
		free(q.pdu);
	}
	m->dispatching = 0;
	if (m->closed)
		modem_destroy(m);
}

/* Parse '"SM",3' (+CMTI, +CDSI).  Returns 0 or -EPROTO. */
static int
modem_parse_mem_index(const char *s, char *storage, size_t len, int *index)
{
	const char *start, *comma;
	char *end;
	size_t n;
	long idx;

	while (*s == ' ' || *s == '"')
		s++;
	start = s;
	n = strcspn(s, "\",");
	if (n == 0 || n >= len)
		return -EPROTO;
	comma = strchr(s + n, ',');
	if (comma == NULL)
		return -EPROTO;
	idx = strtol(comma + 1, &end, 10);
	if (end == comma + 1 || idx < 0 || idx > 100000)
		return -EPROTO;

	memcpy(storage, start, n);
	storage[n] = '\0';
	*index = (int)idx;
	return 0;
}

/* The first integer after "+XYZ:" (+CREG: <stat>...). */
static int
modem_parse_first_int(const char *s, int *value)
{
	char *end;
	long n;

	while (*s == ' ')
		s++;
	n = strtol(s, &end, 10);
	if (end == s || n < 0 || n > 1000)
		return -EPROTO;
	*value = (int)n;
	return 0;
}

static void
modem_urc_stored(struct modem *m, enum modem_event_type type,
    const char *line, const char *prefix)
{
	struct modem_event ev = { .type = type, .index = -1 };

	if (modem_parse_mem_index(modem_after_prefix(line, prefix),
	    ev.storage, sizeof(ev.storage), &ev.index) < 0) {
		log_warn("modem: bad-urc modem=%s urc=%s", m->name, prefix);
		return;
	}
	modem_queue(m, &ev, NULL);
}

static void
modem_urc_pdu(struct modem *m, enum modem_event_type type, const char *pdu,
    const char *prefix)
{
	struct modem_event ev = { .type = type, .index = -1 };

	if (pdu == NULL) {
		log_warn("modem: urc-without-pdu modem=%s urc=%s", m->name,
		    prefix);
		return;
	}
	modem_queue(m, &ev, pdu);
}

/*
 * The channel's URC handler: turn what the modem announced into queued
 * events (I1).  Unknown URCs (signal, network time, vendor chatter) are
 * ignored.
 */
static void
modem_on_urc(const char *line, const char *pdu, void *arg)
{
	struct modem *m = arg;
	struct modem_event ev = { .index = -1 };

	if (modem_starts_with(line, "+CMTI:")) {
		modem_urc_stored(m, MODEM_EVENT_NEW_MESSAGE, line, "+CMTI:");
	} else if (modem_starts_with(line, "+CDSI:")) {
		modem_urc_stored(m, MODEM_EVENT_STATUS_REPORT, line, "+CDSI:");
	} else if (modem_starts_with(line, "+CDS:")) {
		modem_urc_pdu(m, MODEM_EVENT_STATUS_REPORT, pdu, "+CDS:");
	} else if (modem_starts_with(line, "+CMT:")) {
		modem_urc_pdu(m, MODEM_EVENT_DELIVER, pdu, "+CMT:");
	} else if (modem_starts_with(line, "+CREG:")) {
		/* Unsolicited form: +CREG: <stat>[,<lac>,<ci>[,<act>]]. */
		if (modem_parse_first_int(line + 6, &ev.value) < 0)
			return;
		ev.type = MODEM_EVENT_REGISTRATION;
		m->info.registration = ev.value;
		modem_queue(m, &ev, NULL);
	} else if (strcmp(line, "RDY") == 0) {
		/* RDY during init is the boot we are waiting out. */
		if (m->initialising)
			return;
		log_notice("modem: reset modem=%s", m->name);
		ev.type = MODEM_EVENT_RESET;
		modem_queue(m, &ev, NULL);
	}
}

/* ----- commands ------------------------------------------------------ */

/* Run 'cmd' and log a refusal.  Returns 0 on OK, -EPROTO for another
 * final result (with 'resp' kept for the caller to inspect), or the
 * channel's negative errno.  The caller releases 'resp'. */
static int
modem_at(struct modem *m, const char *cmd, const char *prefix,
    int timeout_ms, struct at_response *resp)
{
	const char *shown = cmd;
	int rc;

	/* The PIN stays out of the log. */
	if (modem_starts_with(cmd, "AT+CPIN="))
		shown = "AT+CPIN=****";

	rc = at_chan_command(m->chan, cmd, prefix, timeout_ms, resp);
	if (rc < 0) {
		log_debug("modem: no-answer modem=%s cmd=%.16s err=%s",
		    m->name, shown, strerror(-rc));
		return rc;
	}
	if (resp->result != AT_RESULT_OK) {
		log_debug("modem: refused modem=%s cmd=%.16s result=%d "
		    "error=%d", m->name, shown, (int)resp->result,
		    resp->error);
		return -EPROTO;
	}
	return 0;
}

/* modem_at() for commands whose answer is just OK. */
static int
modem_at_simple(struct modem *m, const char *cmd)
{
	struct at_response r;
	int rc;

	rc = modem_at(m, cmd, NULL, MODEM_CMD_TIMEOUT_MS, &r);
	at_response_release(&r);
	return rc;
}

/* The first line starting with 'prefix', or NULL. */
static const char *
modem_find_line(const struct at_response *r, const char *prefix)
{
	size_t i;

	for (i = 0; i < r->nlines; i++)
		if (modem_starts_with(r->lines[i], prefix))
			return r->lines[i];
	return NULL;
}

/* Wait 'ms' while still taking URCs in (SIM busy after a PIN). */
static int
modem_pause(struct modem *m, int ms)
{
	struct pollfd pfd = { .fd = at_chan_fd(m->chan), .events = POLLIN };
	long long deadline = clock_mono_ms() + ms;
	long long left;
	int rc;

	while ((left = deadline - clock_mono_ms()) > 0) {
		rc = poll(&pfd, 1, (int)left);
		if (rc < 0 && errno != EINTR)
			return -errno;
		if (rc > 0 && (rc = at_chan_poll(m->chan)) < 0)
			return rc;
	}
	return 0;
}

/* ----- init ---------------------------------------------------------- */

/*
 * Send AT until OK: gets us through boot chatter, a half-typed command
 * left by someone else, and the auto-baud detection of modems (SIM800)
 * that say nothing until they have seen "AT".
 */
static int
modem_sync(struct modem *m, char *err, size_t errlen)
{
	const char esc = 0x1b;
	int i, rc = -ETIMEDOUT;

	/* A modem left waiting at the "> " prompt (we died between the
	 * prompt and the Ctrl-Z) takes every "AT" as PDU text until it sees
	 * ESC, which abandons the message; in command mode ESC is ignored. */
	rc = transport_write(m->transport, &esc, 1, MODEM_SYNC_TIMEOUT_MS);
	if (rc < 0 && modem_is_device_error(rc)) {
		snprintf(err, errlen, "modem %s: %s", m->name, strerror(-rc));
		return rc;
	}
	transport_flush_input(m->transport);
	for (i = 0; i < MODEM_SYNC_TRIES; i++) {
		struct at_response r;

		rc = modem_at(m, "AT", NULL, MODEM_SYNC_TIMEOUT_MS, &r);
		at_response_release(&r);
		if (rc == 0)
			return 0;
		if (modem_is_device_error(rc))
			break;
	}
	snprintf(err, errlen, "modem %s does not answer AT: %s", m->name,
	    rc == -EPROTO ? "it answers with an error" : strerror(-rc));
	return rc == -EPROTO ? -ETIMEDOUT : rc;
}

static int
modem_pin_was_rejected(const struct modem *m, const char *pin)
{
	size_t i;
	int found = 0;

	pthread_mutex_lock(&modem_rejected_lock);
	for (i = 0; i < modem_nrejected && !found; i++)
		found = strcmp(modem_rejected[i].device, m->device) == 0 &&
		    strcmp(modem_rejected[i].pin, pin) == 0;
	pthread_mutex_unlock(&modem_rejected_lock);
	return found;
}

static void
modem_pin_rejected(const struct modem *m, const char *pin)
{
	struct modem_rejected_pin *r;

	pthread_mutex_lock(&modem_rejected_lock);
	/* When full, the oldest entry goes: AT+CPINR still guards. */
	if (modem_nrejected == MODEM_REJECTED_MAX) {
		memmove(modem_rejected, modem_rejected + 1,
		    (MODEM_REJECTED_MAX - 1) * sizeof(*modem_rejected));
		modem_nrejected--;
	}
	r = &modem_rejected[modem_nrejected++];
	snprintf(r->device, sizeof(r->device), "%s", m->device);
	snprintf(r->pin, sizeof(r->pin), "%s", pin);
	pthread_mutex_unlock(&modem_rejected_lock);
}

static int
modem_pin_valid(const char *pin)
{
	size_t n = strlen(pin);

	return n >= 4 && n <= 8 && strspn(pin, "0123456789") == n;
}

/* AT+CPINR="SIM PIN" (TS 27.007 8.65): PIN attempts left, or -1. */
static int
modem_pin_attempts_left(struct modem *m)
{
	struct at_response r;
	const char *line;
	int left = -1;

	if (modem_at(m, "AT+CPINR=\"SIM PIN\"", "+CPINR:",
	    MODEM_CMD_TIMEOUT_MS, &r) == 0 &&
	    (line = modem_find_line(&r, "+CPINR:")) != NULL) {
		/* +CPINR: SIM PIN,<retries>,<default retries> */
		line = strchr(line, ',');
		if (line == NULL || modem_parse_first_int(line + 1, &left) < 0)
			left = -1;
	}
	at_response_release(&r);
	return left;
}

/* Enter the PIN once (I3). */
static int
modem_enter_pin(struct modem *m, const char *pin, char *err, size_t errlen)
{
	struct at_response r;
	char cmd[32];
	int rc, left;

	if (pin == NULL) {
		snprintf(err, errlen, "SIM in modem %s wants a PIN and none "
		    "is configured", m->name);
		return -EACCES;
	}
	if (!modem_pin_valid(pin)) {
		snprintf(err, errlen, "PIN for modem %s must be 4 to 8 digits",
		    m->name);
		return -EINVAL;
	}
	if (modem_pin_was_rejected(m, pin)) {
		snprintf(err, errlen, "SIM in modem %s refused the configured "
		    "PIN before; not trying it again", m->name);
		return -EACCES;
	}

	/* With one attempt left a wrong PIN would lock the SIM. */
	left = modem_pin_attempts_left(m);
	if (left >= 0 && left <= 1) {
		snprintf(err, errlen, "SIM in modem %s has %d PIN attempt(s) "
		    "left; not risking it - enter the PIN by hand", m->name,
		    left);
		return -EACCES;
	}

	snprintf(cmd, sizeof(cmd), "AT+CPIN=\"%s\"", pin);
	rc = modem_at(m, cmd, NULL, MODEM_PIN_TIMEOUT_MS, &r);
	if (rc == -EPROTO && r.result == AT_RESULT_CME_ERROR &&
	    r.error != 16) {
		/* 14 SIM busy, 10/13 SIM missing or failed, 3 not allowed
		 * now: not a verdict on the PIN, which may be tried again
		 * (TS 27.007 9.2.1; 16 is "incorrect password"). */
		log_warn("modem: pin-not-taken modem=%s error=%d", m->name,
		    r.error);
		snprintf(err, errlen, "SIM in modem %s did not take the PIN "
		    "(+CME ERROR %d); will try again", m->name, r.error);
		rc = -EAGAIN;
	} else if (rc == -EPROTO) {
		/* 16, or an answer that does not say why: count it as a
		 * refusal, since a SIM locks after three. */
		modem_pin_rejected(m, pin);
		log_error("modem: pin-rejected modem=%s error=%d", m->name,
		    r.error);
		snprintf(err, errlen, "SIM in modem %s rejected the PIN "
		    "(error %d); check the configured PIN", m->name, r.error);
		rc = -EACCES;
	} else if (rc < 0) {
		snprintf(err, errlen, "modem %s: no answer to the PIN: %s",
		    m->name, strerror(-rc));
	}
	at_response_release(&r);
	return rc;
}

/*
 * Ask AT+CPIN? into 'state' ("READY", "SIM PIN", ...).  Answers in
 * +CME ERROR form are turned into the same words.  Returns 0, -EAGAIN
 * while the SIM is busy, or another negative errno.
 */
static int
modem_sim_state(struct modem *m, char *state, size_t len, char *err,
    size_t errlen)
{
	struct at_response r;
	const char *line;
	int rc, cme;

	rc = modem_at(m, "AT+CPIN?", "+CPIN:", MODEM_CMD_TIMEOUT_MS, &r);
	cme = rc == -EPROTO && r.result == AT_RESULT_CME_ERROR ? r.error : -1;
	if (rc == 0 && (line = modem_find_line(&r, "+CPIN:")) != NULL) {
		snprintf(state, len, "%s", modem_after_prefix(line, "+CPIN:"));
	} else if (cme == CME_SIM_BUSY) {
		rc = -EAGAIN;
	} else if (cme == CME_SIM_PIN_REQUIRED) {
		snprintf(state, len, "SIM PIN");
		rc = 0;
	} else if (cme == CME_SIM_PUK_REQUIRED) {
		snprintf(state, len, "SIM PUK");
		rc = 0;
	} else if (cme == CME_SIM_NOT_INSERTED) {
		snprintf(err, errlen, "modem %s has no SIM", m->name);
		rc = -ENXIO;
	} else {
		snprintf(err, errlen, "modem %s: SIM state unknown "
		    "(AT+CPIN? failed: %s)", m->name,
		    rc == 0 || rc == -EPROTO ? "error" : strerror(-rc));
		rc = rc == 0 ? -EPROTO : rc;
	}
	at_response_release(&r);
	return rc;
}

static int
modem_check_sim(struct modem *m, const char *pin, char *err, size_t errlen)
{
	char state[32];
	int busy = 0, entered = 0, rc;

	for (;;) {
		rc = modem_sim_state(m, state, sizeof(state), err, errlen);
		if (rc == -EAGAIN && busy++ < MODEM_SIM_BUSY_TRIES) {
			if ((rc = modem_pause(m, MODEM_SIM_BUSY_WAIT_MS)) < 0)
				break;
			continue;
		}
		if (rc == -EAGAIN)
			snprintf(err, errlen, "SIM in modem %s stays busy",
			    m->name);
		if (rc < 0)
			return rc;

		if (strcmp(state, "READY") == 0) {
			m->info.sim_ready = 1;
			return 0;
		}
		if (strcmp(state, "SIM PIN") != 0) {
			snprintf(err, errlen, "SIM in modem %s wants %s",
			    m->name, state);
			return -EACCES;
		}
		if (entered) {
			snprintf(err, errlen, "SIM in modem %s still wants "
			    "its PIN after it was entered", m->name);
			return -EACCES;
		}
		if ((rc = modem_enter_pin(m, pin, err, errlen)) < 0)
			return rc;
		entered = 1;
	}
	snprintf(err, errlen, "modem %s failed while the SIM was busy: %s",
	    m->name, strerror(-rc));
	return rc;
}

/* Bits of modem_storages[] found in one "(...)" group of AT+CPMS=?. */
static unsigned
modem_cpms_mask(const char *group, size_t len)
{
	unsigned mask = 0;
	char name[8];
	size_t i;

	for (i = 0; i < MODEM_NSTORAGES; i++) {
		snprintf(name, sizeof(name), "\"%s\"", modem_storages[i]);
		if (memmem(group, len, name, strlen(name)) != NULL)
			mask |= 1u << i;
	}
	return mask;
}

/* Split '("SM","ME"),("SM"),("SM","ME")' into up to three masks. */
static int
modem_cpms_groups(const char *s, unsigned masks[3])
{
	const char *open, *close;
	int n = 0;

	while (n < 3 && (open = strchr(s, '(')) != NULL) {
		close = strchr(open, ')');
		if (close == NULL)
			break;
		masks[n++] = modem_cpms_mask(open, (size_t)(close - open));
		s = close + 1;
	}
	return n;
}

/*
 * Choose where messages live: one storage for reading, writing and
 * receiving if the modem offers one for all three (SM first), else the
 * best per slot.  Modems that offer only some of them (Huawei: SM and
 * ME) are fine; failure leaves the modem's own default.
 */
static int
modem_choose_storage(struct modem *m)
{
	struct at_response r;
	const char *mem[3] = { "SM", "SM", "SM" };
	unsigned masks[3], all;
	char cmd[64];
	int n = 0, i, rc;
	size_t s;

	rc = modem_at(m, "AT+CPMS=?", "+CPMS:", MODEM_CMD_TIMEOUT_MS, &r);
	if (rc == 0 && r.nlines > 0)
		n = modem_cpms_groups(r.lines[0], masks);
	at_response_release(&r);
	if (modem_is_device_error(rc) || rc == -ETIMEDOUT)
		return rc;

	all = n > 0 ? 0x7 : 0;
	for (i = 0; i < n; i++)
		all &= masks[i];
	for (i = 0; i < n; i++)
		for (s = 0; s < MODEM_NSTORAGES; s++)
			if (((all ? all : masks[i]) >> s) & 1) {
				mem[i] = modem_storages[s];
				break;
			}

	/* As many slots as the modem listed (some know only two). */
	if (n == 2)
		snprintf(cmd, sizeof(cmd), "AT+CPMS=\"%s\",\"%s\"", mem[0],
		    mem[1]);
	else if (n == 1)
		snprintf(cmd, sizeof(cmd), "AT+CPMS=\"%s\"", mem[0]);
	else
		snprintf(cmd, sizeof(cmd), "AT+CPMS=\"%s\",\"%s\",\"%s\"",
		    mem[0], mem[1], mem[2]);
	rc = modem_at(m, cmd, "+CPMS:", MODEM_CMD_TIMEOUT_MS, &r);
	at_response_release(&r);
	if (rc == 0)
		snprintf(m->storage, sizeof(m->storage), "%s", mem[0]);
	else if (rc == -EPROTO)
		log_warn("modem: storage-default modem=%s reason=cpms-refused",
		    m->name);
	return rc == -EPROTO ? 0 : rc;
}

static int
modem_set_indications(struct modem *m)
{
	char cmd[32];
	size_t i;
	int rc;

	for (i = 0; i < sizeof(modem_cnmi_choices) /
	    sizeof(*modem_cnmi_choices); i++) {
		snprintf(cmd, sizeof(cmd), "AT+CNMI=%s", modem_cnmi_choices[i]);
		rc = modem_at_simple(m, cmd);
		if (rc == 0) {
			m->cnmi = modem_cnmi_choices[i];
			return 0;
		}
		if (rc != -EPROTO)
			return rc;
	}
	/* Without +CMTI new messages are found only by listing the storage,
	 * which the worker does on every health poll (once a minute). */
	log_warn("modem: no-indications modem=%s reason=cnmi-refused",
	    m->name);
	m->cnmi = "none";
	return 0;
}

/*
 * Copy an identity answer without its label and quotes: SIMCom says
 * "+CGMR: LE20B04SIM7600G22", some firmware "Revision: EC25EFAR06A06M4G"
 * or "+CGSN: "867...".
 */
static void
modem_clean_identity(const char *line, char *out, size_t len)
{
	size_t n, label;

	label = strspn(line[0] == '+' ? line + 1 : line,
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") +
	    (line[0] == '+');
	if (label > 0 && label < 16 && line[label] == ':')
		line += label + 1;
	while (*line == ' ' || *line == '"')
		line++;
	n = strlen(line);
	while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '"'))
		n--;
	if (n >= len)
		n = len - 1;
	memcpy(out, line, n);
	out[n] = '\0';
}

static int
modem_identity(struct modem *m, const char *cmd, char *out, size_t len)
{
	struct at_response r;
	char label[16];
	size_t i;
	int rc;

	/* These commands name no response prefix, so a vendor URC the AT
	 * layer does not know ("+QIURC: ...", "^RSSI: ...") can land among
	 * the lines: take the first that is bare or carries the command's
	 * own label ("+CGSN: ..."). */
	snprintf(label, sizeof(label), "%s:", cmd + 2);
	rc = modem_at(m, cmd, NULL, MODEM_CMD_TIMEOUT_MS, &r);
	for (i = 0; rc == 0 && i < r.nlines; i++) {
		const char *line = r.lines[i];

		if ((line[0] != '+' && line[0] != '^') ||
		    modem_starts_with(line, label)) {
			modem_clean_identity(line, out, len);
			break;
		}
	}
	at_response_release(&r);
	return rc == -EPROTO ? 0 : rc;
}

static int
modem_init_identity(struct modem *m)
{
	int rc;

	if ((rc = modem_identity(m, "AT+CGMI", m->info.manufacturer,
	    sizeof(m->info.manufacturer))) < 0 ||
	    (rc = modem_identity(m, "AT+CGMM", m->info.model,
	    sizeof(m->info.model))) < 0 ||
	    (rc = modem_identity(m, "AT+CGMR", m->info.revision,
	    sizeof(m->info.revision))) < 0 ||
	    (rc = modem_identity(m, "AT+CGSN", m->info.imei,
	    sizeof(m->info.imei))) < 0)
		return rc;
	return 0;
}

/* A refused optional command is fine; a dead modem is not. */
static int
modem_optional(struct modem *m, const char *cmd)
{
	int rc = modem_at_simple(m, cmd);

	if (rc == -EPROTO)
		log_info("modem: optional-refused modem=%s cmd=%s", m->name,
		    cmd);
	return rc == -EPROTO ? 0 : rc;
}

/* A SIM without a service centre address cannot send (+CMS ERROR 330):
 * say so at start-up rather than at the first message. */
static int
modem_check_smsc(struct modem *m)
{
	struct at_response r;
	const char *line;
	int rc;

	rc = modem_at(m, "AT+CSCA?", "+CSCA:", MODEM_CMD_TIMEOUT_MS, &r);
	if (rc == 0 && (line = modem_find_line(&r, "+CSCA:")) != NULL &&
	    strncmp(modem_after_prefix(line, "+CSCA:"), "\"\"", 2) == 0)
		log_warn("modem: no-smsc modem=%s hint=\"set the SMSC with "
		    "AT+CSCA or ask the operator\"", m->name);
	at_response_release(&r);
	return rc == -EPROTO ? 0 : rc;
}

static int
modem_init_steps(struct modem *m, const char *pin, char *err, size_t errlen)
{
	int rc;

	if ((rc = modem_sync(m, err, errlen)) < 0)
		return rc;

	/* Echo and verbose errors first: everything after reads better. */
	if ((rc = modem_optional(m, "ATE0")) < 0 ||
	    (rc = modem_optional(m, "AT+CMEE=1")) < 0)
		goto fail;

	if ((rc = modem_check_sim(m, pin, err, errlen)) < 0)
		return rc;

	rc = modem_at_simple(m, "AT+CMGF=0");
	if (rc == -EPROTO) {
		snprintf(err, errlen, "modem %s refuses PDU mode (AT+CMGF=0)",
		    m->name);
		return rc;
	}
	if (rc < 0)
		goto fail;

	/* Phase 2 only where offered: then +CMT/+CDS need no +CNMA. */
	if ((rc = modem_optional(m, "AT+CSMS=0")) < 0 ||
	    (rc = modem_choose_storage(m)) < 0 ||
	    (rc = modem_set_indications(m)) < 0 ||
	    (rc = modem_check_smsc(m)) < 0 ||
	    (rc = modem_optional(m, "AT+CREG=1")) < 0 ||
	    (rc = modem_init_identity(m)) < 0 ||
	    (rc = modem_refresh_health(m)) < 0)
		goto fail;
	return 0;

fail:
	snprintf(err, errlen, "modem %s stopped answering during init: %s",
	    m->name, strerror(-rc));
	return rc;
}

int
modem_init(struct modem *m, const char *pin, char *err, size_t errlen)
{
	int rc;

	m->info.sim_ready = 0;
	m->initialising = 1;
	rc = modem_init_steps(m, pin, err, errlen);
	m->initialising = 0;

	if (rc == 0)
		log_info("modem: ready modem=%s manufacturer=%s model=%s "
		    "revision=%s imei=%s storage=%s cnmi=%s rssi=%d "
		    "registration=%s", m->name, m->info.manufacturer,
		    m->info.model, m->info.revision, m->info.imei,
		    m->storage[0] ? m->storage : "default", m->cnmi,
		    m->info.rssi,
		    modem_registration_name(m->info.registration));
	else
		log_error("modem: init-failed modem=%s err=%s reason=\"%s\"",
		    m->name, strerror(-rc), err);
	modem_dispatch(m);
	return rc;
}

/* ----- health -------------------------------------------------------- */

const char *
modem_registration_name(int registration)
{
	switch (registration) {
	case 0:
		return "not-registered";
	case 1:
	case 6:		/* home, SMS only (TS 27.007 7.2) */
		return "home";
	case 2:
		return "searching";
	case 3:
		return "denied";
	case 5:
	case 7:		/* roaming, SMS only */
		return "roaming";
	default:
		return "unknown";
	}
}

static int
modem_registered(int stat)
{
	return stat == 1 || stat == 5 || stat == 6 || stat == 7;
}

/* <stat> of a solicited "+CREG: <n>,<stat>[,...]" (or +CEREG:). */
static int
modem_ask_registration(struct modem *m, const char *cmd, const char *prefix,
    int *stat)
{
	struct at_response r;
	const char *line;
	int n, s, rc;

	rc = modem_at(m, cmd, prefix, MODEM_CMD_TIMEOUT_MS, &r);
	if (rc == 0 && (line = modem_find_line(&r, prefix)) != NULL) {
		line = modem_after_prefix(line, prefix);
		if (sscanf(line, "%d,%d", &n, &s) == 2)
			*stat = s;
		else if (sscanf(line, "%d", &s) == 1)
			*stat = s;
		else
			rc = -EPROTO;
	} else if (rc == 0) {
		rc = -EPROTO;
	}
	at_response_release(&r);
	return rc;
}

static int
modem_refresh_signal(struct modem *m)
{
	struct at_response r;
	const char *line;
	int rssi, ber, rc;

	rc = modem_at(m, "AT+CSQ", "+CSQ:", MODEM_CMD_TIMEOUT_MS, &r);
	if (rc == 0 && (line = modem_find_line(&r, "+CSQ:")) != NULL &&
	    sscanf(modem_after_prefix(line, "+CSQ:"), "%d,%d", &rssi,
	    &ber) == 2 && rssi >= 0 && (rssi <= 31 || rssi == 99)) {
		/* TS 27.007 8.5: 0 is -113 dBm or less, 31 is -51 or more. */
		m->info.rssi = rssi;
		m->info.signal_dbm = rssi == 99 ? 0 : -113 + 2 * rssi;
	}
	at_response_release(&r);
	return rc;
}

static int
modem_refresh_steps(struct modem *m)
{
	int stat = -1, eps = -1, rc;

	rc = modem_refresh_signal(m);
	if (modem_is_device_error(rc) || rc == -ETIMEDOUT)
		return rc;

	rc = modem_ask_registration(m, "AT+CREG?", "+CREG:", &stat);
	if (modem_is_device_error(rc) || rc == -ETIMEDOUT)
		return rc;

	/* An LTE-only modem may be registered for EPS alone. */
	if (!modem_registered(stat)) {
		rc = modem_ask_registration(m, "AT+CEREG?", "+CEREG:", &eps);
		if (modem_is_device_error(rc) || rc == -ETIMEDOUT)
			return rc;
		if (modem_registered(eps))
			stat = eps;
	}
	if (stat >= 0)
		m->info.registration = stat;
	return 0;
}

int
modem_refresh_health(struct modem *m)
{
	int rc = modem_refresh_steps(m);

	if (!m->initialising)
		modem_dispatch(m);
	return rc;
}

/* ----- sending ------------------------------------------------------- */

/* Map a complete AT+CMGS exchange onto a send result. */
static void
modem_send_classify(const struct at_response *resp, struct modem_send_result *r)
{
	const char *line;
	int mr;

	switch (resp->result) {
	case AT_RESULT_OK:
		r->outcome = MODEM_SEND_OK;
		line = modem_find_line(resp, "+CMGS:");
		if (line != NULL && sscanf(modem_after_prefix(line, "+CMGS:"),
		    "%d", &mr) == 1 && mr >= 0 && mr <= 255)
			r->mr = mr;
		break;
	case AT_RESULT_CMS_ERROR:
		r->outcome = MODEM_SEND_REJECTED;
		r->cms_error = resp->error;
		break;
	case AT_RESULT_CME_ERROR:
		r->outcome = MODEM_SEND_REJECTED;
		r->cme_error = resp->error;
		break;
	default:
		r->outcome = MODEM_SEND_REJECTED;
		break;
	}
}

void
modem_set_timeouts(struct modem *m, int prompt_ms, int send_ms)
{
	m->prompt_timeout_ms = prompt_ms;
	m->send_timeout_ms = send_ms;
}

int
modem_send_pdu(struct modem *m, unsigned tpdu_len, const char *hex,
    struct modem_send_result *res)
{
	struct modem_send_result r = {
		.outcome = MODEM_SEND_NOT_SENT,
		.mr = -1, .cms_error = -1, .cme_error = -1,
	};
	enum at_pdu_stage stage = AT_PDU_NOT_SENT;
	struct at_response resp;
	int rc;

	rc = at_chan_send_pdu(m->chan, tpdu_len, hex, m->prompt_timeout_ms,
	    m->send_timeout_ms, &resp, &stage);
	if (rc == -EINVAL) {
		/* Not a PDU: the caller's bug.  'res' is filled all the
		 * same, so that a caller ignoring the return value does
		 * not read garbage. */
		r.outcome = MODEM_SEND_REJECTED;
		*res = r;
		return rc;
	}

	if (rc == 0 && stage == AT_PDU_NOT_SENT &&
	    resp.result != AT_RESULT_CMS_ERROR &&
	    resp.result != AT_RESULT_CME_ERROR) {
		/* A final result where the prompt belonged: a late answer
		 * to an earlier command, or a refusal.  Either way the PDU
		 * never left; whatever the modem makes of the prompt it
		 * may still send is cleared by the next sync's ESC. */
		r.outcome = resp.result == AT_RESULT_OK ?
		    MODEM_SEND_NOT_SENT : MODEM_SEND_REJECTED;
	} else if (rc == 0) {
		modem_send_classify(&resp, &r);
	} else {
		/* No answer: whether the PDU may be out there depends on
		 * whether the Ctrl-Z was written. */
		r.outcome = stage == AT_PDU_SUBMITTED ? MODEM_SEND_UNKNOWN :
		    MODEM_SEND_NOT_SENT;
		r.device_gone = modem_is_device_error(rc);
	}
	at_response_release(&resp);

	if (r.outcome == MODEM_SEND_OK && r.mr < 0)
		log_warn("modem: send-without-mr modem=%s", m->name);
	if (r.outcome != MODEM_SEND_OK)
		log_notice("modem: send-failed modem=%s outcome=%d cms=%d "
		    "cme=%d err=%s", m->name, (int)r.outcome, r.cms_error,
		    r.cme_error, rc < 0 ? strerror(-rc) : "none");
	*res = r;
	modem_dispatch(m);
	return 0;
}

/*
 * +CMS ERROR classes, from TS 24.011 Annex E and TS 27.005 3.2.5 as
 * summarised in MODEMS.md.  Ranges are inclusive.
 */
static const struct modem_cms_range {
	int			lo, hi;
	enum modem_cms_class	cls;
} modem_cms_table[] = {
	/* Network (RP) causes. */
	{ 1, 1, MODEM_CMS_PERMANENT },		/* unassigned number */
	{ 8, 8, MODEM_CMS_PERMANENT },		/* operator barring */
	{ 10, 10, MODEM_CMS_PERMANENT },	/* call barred */
	{ 21, 21, MODEM_CMS_PERMANENT },	/* short message rejected */
	{ 27, 27, MODEM_CMS_TEMPORARY },	/* destination out of order */
	{ 28, 30, MODEM_CMS_PERMANENT },	/* unidentified subscriber.. */
	{ 38, 38, MODEM_CMS_TEMPORARY },	/* network out of order */
	{ 41, 42, MODEM_CMS_TEMPORARY },	/* temporary, congestion */
	{ 47, 47, MODEM_CMS_TEMPORARY },	/* resources unavailable */
	{ 50, 50, MODEM_CMS_PERMANENT },	/* not subscribed */
	{ 69, 69, MODEM_CMS_PERMANENT },	/* not implemented */
	{ 95, 99, MODEM_CMS_LOCAL },		/* invalid message */
	{ 111, 111, MODEM_CMS_TEMPORARY },	/* protocol error */
	/* TP-FCS (TS 23.040 9.2.3.22). */
	{ 128, 159, MODEM_CMS_LOCAL },		/* TP-PID: our encoder */
	{ 160, 191, MODEM_CMS_PERMANENT },	/* TP-DCS, command errors */
	{ 192, 192, MODEM_CMS_TEMPORARY },	/* SC busy */
	{ 193, 193, MODEM_CMS_PERMANENT },	/* no SC subscription */
	{ 194, 194, MODEM_CMS_TEMPORARY },	/* SC system failure */
	{ 195, 196, MODEM_CMS_PERMANENT },	/* bad / barred SME address */
	{ 197, 207, MODEM_CMS_PERMANENT },
	{ 208, 213, MODEM_CMS_LOCAL },		/* SIM and ME trouble */
	/* ME and network errors (TS 27.005 3.2.5). */
	{ 300, 305, MODEM_CMS_LOCAL },		/* ME, mode, PDU */
	{ 310, 318, MODEM_CMS_LOCAL },		/* SIM, PIN, PUK */
	{ 322, 322, MODEM_CMS_LOCAL },		/* memory full */
	{ 330, 330, MODEM_CMS_LOCAL },		/* SMSC address unknown */
	{ 331, 331, MODEM_CMS_TEMPORARY },	/* no network service */
	{ 332, 332, MODEM_CMS_DUPLICATE_RISK },	/* network timeout */
	{ 500, 500, MODEM_CMS_TEMPORARY },	/* unknown error */
	{ 512, 515, MODEM_CMS_TEMPORARY },	/* vendor: signal, load */
};

enum modem_cms_class
modem_cms_classify(int code)
{
	size_t i;

	for (i = 0; i < sizeof(modem_cms_table) / sizeof(*modem_cms_table);
	    i++)
		if (code >= modem_cms_table[i].lo &&
		    code <= modem_cms_table[i].hi)
			return modem_cms_table[i].cls;

	/* Not in the table: other network causes and vendor codes are
	 * worth a capped retry; other ME errors (301-511) mean the modem
	 * or our use of it is wrong. */
	if (code >= 300 && code <= 511)
		return MODEM_CMS_LOCAL;
	return MODEM_CMS_TEMPORARY;
}

/* ----- storage ------------------------------------------------------- */

void
modem_stored_free(struct modem_stored *list, size_t count)
{
	size_t i;

	if (list == NULL)
		return;
	for (i = 0; i < count; i++)
		free(list[i].pdu);
	free(list);
}

static int
modem_is_hex(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n % 2 == 0 && strspn(s, "0123456789abcdefABCDEF") == n;
}

/* "+CMGL: <index>,<stat>,[<alpha>],<length>" (TS 27.005 3.4.2). */
static int
modem_parse_cmgl(const char *line, int *index, int *status)
{
	int idx, stat;

	if (sscanf(modem_after_prefix(line, "+CMGL:"), "%d,%d", &idx,
	    &stat) != 2 || idx < 0 || stat < 0 || stat > 3)
		return -EPROTO;
	*index = idx;
	*status = stat;
	return 0;
}

/* Collect index/status/PDU triples from the lines of AT+CMGL. */
static int
modem_collect_stored(struct modem *m, const struct at_response *r,
    struct modem_stored **out, size_t *count)
{
	struct modem_stored *list = NULL, *grown;
	size_t n = 0, i;
	int index, status;

	for (i = 0; i < r->nlines; i++) {
		if (!modem_starts_with(r->lines[i], "+CMGL:"))
			continue;
		if (modem_parse_cmgl(r->lines[i], &index, &status) < 0 ||
		    i + 1 >= r->nlines || !modem_is_hex(r->lines[i + 1])) {
			log_warn("modem: bad-cmgl-entry modem=%s line=%zu",
			    m->name, i);
			continue;
		}
		grown = realloc(list, (n + 1) * sizeof(*list));
		if (grown == NULL)
			goto nomem;
		list = grown;
		list[n].index = index;
		list[n].status = status;
		list[n].pdu = strdup(r->lines[++i]);
		if (list[n].pdu == NULL)
			goto nomem;
		n++;
	}
	*out = list;
	*count = n;
	return 0;

nomem:
	modem_stored_free(list, n);
	return -ENOMEM;
}

int
modem_list_stored(struct modem *m, struct modem_stored **out, size_t *count)
{
	struct at_response r;
	int rc;

	rc = modem_at(m, "AT+CMGL=4", "+CMGL:", MODEM_LIST_TIMEOUT_MS, &r);
	if (rc == -EPROTO && r.result == AT_RESULT_CMS_ERROR &&
	    r.error == CMS_INVALID_INDEX) {
		/* Some modems say an empty storage this way. */
		*out = NULL;
		*count = 0;
		rc = 0;
	} else if (rc == 0) {
		rc = modem_collect_stored(m, &r, out, count);
	}
	at_response_release(&r);
	modem_dispatch(m);
	return rc;
}

/*
 * XXX: reads and deletes go to the first storage of AT+CPMS; a +CMTI
 * naming another storage (a modem that ignores our choice for <mem3>)
 * would read the wrong slot.  modem.h has no storage argument yet.
 */
int
modem_read_stored(struct modem *m, int index, char **pdu)
{
	struct at_response r;
	char cmd[32];
	size_t i;
	int rc;

	if (index < 0)
		return -EINVAL;
	snprintf(cmd, sizeof(cmd), "AT+CMGR=%d", index);
	rc = modem_at(m, cmd, "+CMGR:", MODEM_CMD_TIMEOUT_MS, &r);
	if (rc == -EPROTO && r.result == AT_RESULT_CMS_ERROR &&
	    r.error == CMS_INVALID_INDEX)
		rc = -ENOENT;

	/* An empty slot: OK with no +CMGR line, or "+CMGR: 0,,0" with no
	 * PDU after it. */
	if (rc == 0) {
		rc = -ENOENT;
		for (i = 0; i + 1 < r.nlines; i++) {
			if (!modem_starts_with(r.lines[i], "+CMGR:") ||
			    !modem_is_hex(r.lines[i + 1]))
				continue;
			*pdu = strdup(r.lines[i + 1]);
			rc = *pdu != NULL ? 0 : -ENOMEM;
			break;
		}
	}
	at_response_release(&r);
	modem_dispatch(m);
	return rc;
}

int
modem_delete_stored(struct modem *m, int index)
{
	struct at_response r;
	char cmd[32];
	int rc;

	if (index < 0)
		return -EINVAL;
	snprintf(cmd, sizeof(cmd), "AT+CMGD=%d", index);
	rc = modem_at(m, cmd, NULL, MODEM_CMD_TIMEOUT_MS, &r);

	/* Already empty: what we wanted. */
	if (rc == -EPROTO && r.result == AT_RESULT_CMS_ERROR &&
	    r.error == CMS_INVALID_INDEX)
		rc = 0;
	at_response_release(&r);
	modem_dispatch(m);
	return rc;
}

/* ----- lifetime ------------------------------------------------------ */

int
modem_open(const char *name, const char *device, int baud,
    enum transport_flow flow, struct modem **out, char *err, size_t errlen)
{
	struct transport *t = NULL;
	struct modem *m;
	int rc;

	m = calloc(1, sizeof(*m));
	if (m == NULL) {
		snprintf(err, errlen, "out of memory opening modem %s", name);
		return -ENOMEM;
	}
	snprintf(m->name, sizeof(m->name), "%s", name);
	snprintf(m->device, sizeof(m->device), "%s", device);
	m->info.rssi = 99;
	m->info.registration = -1;
	m->prompt_timeout_ms = MODEM_PROMPT_TIMEOUT_MS;
	m->send_timeout_ms = MODEM_SEND_TIMEOUT_MS;
	m->cnmi = "none";

	rc = transport_open(device, baud, flow, &t, err, errlen);
	if (rc < 0)
		goto err;
	m->chan = at_chan_new(t, m->name);
	if (m->chan == NULL) {
		transport_close(t);
		snprintf(err, errlen, "out of memory opening modem %s", name);
		rc = -ENOMEM;
		goto err;
	}
	m->transport = t;
	at_chan_set_urc_handler(m->chan, modem_on_urc, m);
	*out = m;
	return 0;

err:
	free(m);
	return rc;
}

void
modem_close(struct modem *m)
{
	if (m == NULL)
		return;
	if (m->dispatching) {
		m->closed = 1;	/* I2: the dispatch loop frees it */
		return;
	}
	modem_destroy(m);
}

const char *
modem_name(const struct modem *m)
{
	return m->name;
}

void
modem_set_event_handler(struct modem *m, modem_event_handler handler,
    void *arg)
{
	m->handler = handler;
	m->handler_arg = arg;
}

const struct modem_info *
modem_info_peek(const struct modem *m)
{
	return &m->info;
}

int
modem_fd(const struct modem *m)
{
	return at_chan_fd(m->chan);
}

int
modem_poll(struct modem *m)
{
	int rc = at_chan_poll(m->chan);

	modem_dispatch(m);
	return rc;
}
