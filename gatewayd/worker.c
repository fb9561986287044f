/*
 * worker.c - one thread per modem: sends the queue, receives, keeps health.
 *
 * The worker owns its modem's port and its own store connection.  Its loop
 * sleeps in poll() on two descriptors, the modem and an eventfd that the
 * API writes when a message is queued, with a timeout computed from the
 * next thing that falls due (a scheduled send or retry, a health poll).
 * Nothing is sleep-polled.
 *
 * Invariants (cited below as W1..W5):
 *
 * W1  A message is claimed (queued -> sending) before any of its PDUs is
 *     written, and each part is recorded as submitting, committed, before
 *     its Ctrl-Z.  A crash therefore leaves evidence: store_recover() turns
 *     a message with a submitting part into unknown, never into a resend.
 * W2  A part the modem never saw (no prompt, port gone before the Ctrl-Z)
 *     returns to pending and the message may be retried.  A part the modem
 *     saw without answering makes the message unknown: promise 2.
 * W3  Parts already sent are not sent again when a message is retried
 *     after a temporary error on a later part; the retry resumes.
 * W4  An inbound PDU is committed to the store before AT+CMGD removes it
 *     from the SIM; a PDU already stored (a crash between the two) is only
 *     deleted, never stored twice.
 * W5  Status shown to the API is a copy taken under 'lock'; the thread
 *     never blocks on the lock while talking to the modem.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "smsgw/clock.h"
#include "smsgw/log.h"
#include "smsgw/modem.h"
#include "smsgw/pdu.h"
#include "smsgw/store.h"
#include "smsgw/worker.h"

/* Retries of a message after temporary errors, and their spacing. */
#define WORKER_MAX_ATTEMPTS	5
#define WORKER_RETRY_BASE_MS	(30 * 1000)
#define WORKER_RETRY_MAX_MS	(60 * 60 * 1000)

/* A configuration or modem problem (no SMSC, SIM trouble) is not the
 * message's fault: wait longer and do not count it against the message's
 * retries beyond the usual cap. */
#define WORKER_LOCAL_RETRY_MS	(5 * 60 * 1000)

/* Longest wait for the "> " prompt of AT+CMGS: a modem that takes longer
 * is not slow but stuck. */
#define WORKER_PROMPT_MS	(10 * 1000)

/* Pause after the store failed to hand out a message. */
#define WORKER_STORE_RETRY_MS	1000

/* Reconnect backoff after the modem went away or failed to initialise. */
#define WORKER_RECONNECT_MIN_MS	1000
#define WORKER_RECONNECT_MAX_MS	(30 * 1000)

#define WORKER_HEALTH_EVERY_MS	(60 * 1000)

/* How long the parts of a concatenated inbound text wait for the rest. */
#define WORKER_PARTS_WAIT_MS	(60 * 60 * 1000)

/* Indexes announced by +CMTI and not yet read.  When more arrive than fit,
 * the worker falls back to listing the whole storage. */
#define WORKER_PENDING_MAX	64

struct worker {
	pthread_t		thread;
	int			wake_fd;
	atomic_int		stopping;

	char			*name;
	char			*device;
	char			*pin;
	char			*database;
	int			baud;
	enum transport_flow	flow;
	int			send_timeout_ms;

	pthread_mutex_t		lock;		/* W5 */
	struct worker_status	status;

	/* Owned by the thread. */
	struct store		*store;
	struct modem		*modem;
	int			pending[WORKER_PENDING_MAX];
	/* PDUs given directly (+CMT, +CDS), stored once the running send
	 * is recorded: a report that overtakes its part's MR would match
	 * nothing. */
	char			*direct[WORKER_PENDING_MAX];
	size_t			ndirect;
	size_t			npending;
	int			rescan;		/* list all stored messages */
	int			reinit;		/* the modem rebooted */
	int64_t			health_due;	/* monotonic ms */
	/* No claims before this (monotonic ms): the modem refused to send
	 * for a reason of its own, or the store failed. */
	int64_t			claim_after;
	int64_t			reconnect_ms;
};

static void
worker_set_state(struct worker *w, const char *state, const char *error)
{
	pthread_mutex_lock(&w->lock);
	snprintf(w->status.state, sizeof(w->status.state), "%s", state);
	if (error != NULL)
		snprintf(w->status.last_error, sizeof(w->status.last_error),
		    "%s", error);
	if (w->modem != NULL)
		w->status.info = *modem_info_peek(w->modem);
	w->status.updated_at = clock_now_ms();
	pthread_mutex_unlock(&w->lock);
}

static void
worker_count(struct worker *w, int sent, int received)
{
	pthread_mutex_lock(&w->lock);
	w->status.sent += (unsigned long)sent;
	w->status.received += (unsigned long)received;
	pthread_mutex_unlock(&w->lock);
}

static int worker_store_inbound(struct worker *w, const char *pdu);

/*
 * Events arrive from inside modem commands and modem_poll(): record them
 * and act once the running command is over (the AT channel forbids
 * commands from its URC handler).
 */
static void
worker_on_event(const struct modem_event *ev, void *arg)
{
	struct worker *w = arg;

	/* A PDU routed to us directly (+CMT, +CDS) is on no SIM: storing it
	 * is all there is to do (with AT+CSMS=0 no acknowledgement is due),
	 * after the send in progress is recorded.  Should the queue be
	 * full, or memory short, it is stored at once. */
	if (ev->pdu != NULL && ev->index < 0) {
		if (w->ndirect < WORKER_PENDING_MAX &&
		    (w->direct[w->ndirect] = strdup(ev->pdu)) != NULL)
			w->ndirect++;
		else if (worker_store_inbound(w, ev->pdu) < 0)
			log_error("worker: direct pdu not stored modem=%s",
			    w->name);
		return;
	}

	switch (ev->type) {
	case MODEM_EVENT_NEW_MESSAGE:
	case MODEM_EVENT_STATUS_REPORT:
		if (ev->index < 0)
			break;
		if (w->npending < WORKER_PENDING_MAX)
			w->pending[w->npending++] = ev->index;
		else
			w->rescan = 1;
		break;
	case MODEM_EVENT_DELIVER:
		break;
	case MODEM_EVENT_REGISTRATION:
		log_info("worker: registration modem=%s state=%s", w->name,
		    modem_registration_name(ev->value));
		break;
	case MODEM_EVENT_RESET:
		log_warn("worker: modem reset itself modem=%s", w->name);
		w->reinit = 1;
		break;
	}
}

/* Convert a TP-SCTS to Unix milliseconds (0 when absent). */
static int64_t
worker_scts_ms(const struct pdu_time *t)
{
	struct tm tm;
	time_t secs;

	if (!t->present)
		return 0;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = t->year - 1900;
	tm.tm_mon = t->month - 1;
	tm.tm_mday = t->day;
	tm.tm_hour = t->hour;
	tm.tm_min = t->minute;
	tm.tm_sec = t->second;
	secs = timegm(&tm);
	if (secs == (time_t)-1)
		return 0;
	return ((int64_t)secs - (int64_t)t->tz_minutes * 60) * 1000;
}

/*
 * Store one PDU read from the modem (W4).  Returns 0 when the PDU is safely
 * stored (or was already), so the caller may delete it from the SIM;
 * negative when it must stay on the SIM.
 */
static int
worker_store_inbound(struct worker *w, const char *pdu)
{
	struct pdu_message *m;
	struct store_inbound_part part;
	char masked[32];
	int64_t id = 0;
	int rc;

	rc = store_inbound_seen(w->store, w->name, pdu);
	if (rc != 0)
		return rc > 0 ? 0 : rc;

	m = malloc(sizeof(*m));
	if (m == NULL)
		return -ENOMEM;

	memset(&part, 0, sizeof(part));
	part.modem = w->name;
	part.pdu = pdu;
	rc = pdu_decode_hex(pdu, 1, m);
	if (rc < 0) {
		/* Keep what cannot be decoded: the raw PDU is stored with
		 * the message, so nothing is lost and the SIM does not fill
		 * up with a PDU nobody can read. */
		log_warn("worker: undecodable pdu modem=%s error=\"%s\"",
		    w->name, pdu_strerror(rc));
		part.from = "";
		part.text = "";
		part.encoding = "invalid";
	} else if (m->type == PDU_TYPE_STATUS_REPORT) {
		rc = store_report(w->store, w->name, m->mr, m->number,
		    m->status, &id);
		log_info("worker: status report modem=%s mr=%d status=0x%02x "
		    "id=%lld%s", w->name, m->mr, m->status, (long long)id,
		    rc == -ENOENT ? " unmatched" : "");
		free(m);
		/* A report that matches nothing (sent before this database
		 * existed, or already settled) has no further use. */
		return rc == -ENOENT ? 0 : rc;
	} else {
		part.from = m->number;
		part.text = m->has_text ? m->text : "";
		part.encoding = pdu_encoding_name(m->encoding);
		part.received_at = worker_scts_ms(&m->scts);
		if (m->concat.present) {
			part.ref = m->concat.ref;
			part.seq = m->concat.part;
			part.total = m->concat.total;
		}
	}

	rc = store_inbound_add(w->store, &part, &id);
	if (rc == 0) {
		log_info("worker: received modem=%s from=%s part=%u/%u id=%lld",
		    w->name, log_mask_number(part.from, masked,
		    sizeof(masked)), part.seq ? part.seq : 1,
		    part.total ? part.total : 1, (long long)id);
		if (id != 0)
			worker_count(w, 0, 1);
	}
	free(m);
	return rc;
}

/* Read, store, then delete the message at 'index' (W4). */
static int
worker_receive_index(struct worker *w, int index)
{
	char *pdu = NULL;
	int rc;

	rc = modem_read_stored(w->modem, index, &pdu);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return rc;

	rc = worker_store_inbound(w, pdu);
	free(pdu);
	if (rc < 0) {
		log_error("worker: inbound not stored, left on SIM modem=%s "
		    "index=%d rc=%d", w->name, index, rc);
		return 0;
	}
	return modem_delete_stored(w->modem, index);
}

/* Everything in storage: at start-up and after an event overflow. */
static int
worker_receive_all(struct worker *w)
{
	struct modem_stored *list = NULL;
	size_t n = 0, i;
	int rc;

	rc = modem_list_stored(w->modem, &list, &n);
	if (rc < 0)
		return rc;

	for (i = 0; i < n && rc >= 0; i++) {
		/* <stat> 2 and 3 are outgoing drafts someone stored by
		 * hand: not ours to consume. */
		if (list[i].status > 1)
			continue;
		if (worker_store_inbound(w, list[i].pdu) < 0)
			continue;
		rc = modem_delete_stored(w->modem, list[i].index);
	}
	modem_stored_free(list, n);
	return rc < 0 ? rc : 0;
}

/* Store the direct PDUs in arrival order. */
static void
worker_store_direct(struct worker *w)
{
	size_t i;

	for (i = 0; i < w->ndirect; i++) {
		if (worker_store_inbound(w, w->direct[i]) < 0)
			log_error("worker: direct pdu not stored modem=%s",
			    w->name);
		free(w->direct[i]);
	}
	w->ndirect = 0;
}

static int
worker_receive_pending(struct worker *w)
{
	int rc = 0;

	worker_store_direct(w);
	if (w->rescan) {
		w->rescan = 0;
		w->npending = 0;
		return worker_receive_all(w);
	}
	while (w->npending > 0 && rc >= 0) {
		int index = w->pending[0];

		w->npending--;
		memmove(w->pending, w->pending + 1,
		    w->npending * sizeof(*w->pending));
		rc = worker_receive_index(w, index);
	}
	return rc;
}

static int64_t
worker_retry_delay(int attempts)
{
	int64_t delay = WORKER_RETRY_BASE_MS;

	while (--attempts > 0 && delay < WORKER_RETRY_MAX_MS)
		delay *= 2;
	return delay < WORKER_RETRY_MAX_MS ? delay : WORKER_RETRY_MAX_MS;
}

/* Requeue after a temporary problem, or fail once retries are spent. */
static void
worker_retry_or_fail(struct worker *w, const struct store_message *msg,
    const char *why, int64_t delay)
{
	char reason[STORE_REASON_MAX];

	if (msg->attempts >= WORKER_MAX_ATTEMPTS) {
		snprintf(reason, sizeof(reason), "%s; gave up after %d "
		    "attempts", why, msg->attempts);
		store_transition(w->store, msg->id, STORE_SENDING,
		    STORE_FAILED, reason, 0);
		log_notice("worker: failed id=%lld modem=%s attempts=%d",
		    (long long)msg->id, w->name, msg->attempts);
		return;
	}
	snprintf(reason, sizeof(reason), "%s; retry %d of %d", why,
	    msg->attempts, WORKER_MAX_ATTEMPTS - 1);
	store_transition(w->store, msg->id, STORE_SENDING, STORE_QUEUED,
	    reason, clock_now_ms() + delay);
	log_info("worker: retry id=%lld modem=%s in_ms=%lld",
	    (long long)msg->id, w->name, (long long)delay);
}

/*
 * Decide what a rejected part means for its message, from the error's
 * class.
 */
static void
worker_rejected(struct worker *w, const struct store_message *msg,
    const struct modem_send_result *res, int seq, size_t total)
{
	char why[160];

	if (res->cms_error >= 0)
		snprintf(why, sizeof(why), "part %d/%zu rejected: +CMS ERROR "
		    "%d", seq, total, res->cms_error);
	else if (res->cme_error >= 0)
		snprintf(why, sizeof(why), "part %d/%zu rejected: +CME ERROR "
		    "%d", seq, total, res->cme_error);
	else
		snprintf(why, sizeof(why), "part %d/%zu rejected: ERROR", seq,
		    total);

	if (res->cms_error < 0) {
		worker_retry_or_fail(w, msg, why,
		    worker_retry_delay(msg->attempts));
		return;
	}

	switch (modem_cms_classify(res->cms_error)) {
	case MODEM_CMS_PERMANENT:
		store_transition(w->store, msg->id, STORE_SENDING,
		    STORE_FAILED, why, 0);
		log_notice("worker: failed id=%lld modem=%s cms=%d",
		    (long long)msg->id, w->name, res->cms_error);
		break;
	case MODEM_CMS_DUPLICATE_RISK:
		store_transition(w->store, msg->id, STORE_SENDING,
		    STORE_UNKNOWN, why, 0);
		log_warn("worker: unknown id=%lld modem=%s cms=%d",
		    (long long)msg->id, w->name, res->cms_error);
		break;
	case MODEM_CMS_LOCAL:
		/* No SMSC, SIM trouble, a modem failure: every message would
		 * meet it.  The message waits without losing a retry, and
		 * this modem claims nothing until the pause is over, so a
		 * misconfiguration does not fail the whole queue. */
		log_error("worker: modem refuses to send modem=%s cms=%d "
		    "(configuration or SIM problem)", w->name,
		    res->cms_error);
		worker_set_state(w, "error", why);
		store_transition(w->store, msg->id, STORE_SENDING,
		    STORE_QUEUED, why, clock_now_ms() + WORKER_LOCAL_RETRY_MS);
		w->claim_after = clock_mono_ms() + WORKER_LOCAL_RETRY_MS;
		break;
	case MODEM_CMS_TEMPORARY:
		worker_retry_or_fail(w, msg, why,
		    worker_retry_delay(msg->attempts));
		break;
	}
}

/*
 * Send every part of a claimed message.  Returns 0; -EIO when the modem
 * is gone, -ETIMEDOUT when it stopped answering: either way the caller
 * closes it and starts again from a fresh init, which also tells a hung
 * modem from a slow network.
 */
static int
worker_send(struct worker *w, struct store_message *msg)
{
	struct pdu_submit_options opt;
	struct pdu_encoded enc;
	struct modem_send_result res;
	enum store_part_state ps;
	char reason[STORE_REASON_MAX];
	size_t i;
	int rc, gone = 0, silent = 0;

	/* Status reports are what turns "sent" into "delivered"; every
	 * part asks for one. */
	pdu_submit_options_init(&opt);
	opt.status_report = 1;
	opt.smart = msg->smart_encoding;
	opt.concat_ref = (unsigned)(msg->id & 0xff);
	rc = pdu_encode_submit(msg->number, msg->text, &opt, &enc);
	if (rc < 0) {
		snprintf(reason, sizeof(reason), "cannot encode: %s",
		    pdu_strerror(rc));
		store_transition(w->store, msg->id, STORE_SENDING,
		    STORE_FAILED, reason, 0);
		return 0;
	}

	for (i = 0; i < enc.nparts; i++) {
		int seq = (int)i + 1;

		/* W3: a retry resumes after the parts already sent.  If the
		 * store cannot say, nothing is sent: guessing "not sent"
		 * could send a part twice. */
		if (store_part_state(w->store, msg->id, seq, &ps) < 0) {
			worker_retry_or_fail(w, msg, "store error before "
			    "sending", worker_retry_delay(msg->attempts));
			goto out;
		}
		if (ps == STORE_PART_SENT)
			continue;

		/* W1: on disk before the Ctrl-Z. */
		rc = store_part_submitting(w->store, msg->id, seq,
		    (int)enc.nparts);
		if (rc < 0) {
			worker_retry_or_fail(w, msg, "store error before "
			    "sending", worker_retry_delay(msg->attempts));
			goto out;
		}

		modem_send_pdu(w->modem, enc.parts[i].tpdu_len,
		    enc.parts[i].hex, &res);
		gone = res.device_gone;
		silent = !gone && (res.outcome == MODEM_SEND_NOT_SENT ||
		    res.outcome == MODEM_SEND_UNKNOWN);

		switch (res.outcome) {
		case MODEM_SEND_OK:
			if (store_part_sent(w->store, msg->id, seq, res.mr) <
			    0) {
				/* The part went out but the store cannot say
				 * so: a retry would send it again (W2). */
				snprintf(reason, sizeof(reason), "part %d/%zu "
				    "sent but not recorded (store error)", seq,
				    enc.nparts);
				store_transition(w->store, msg->id,
				    STORE_SENDING, STORE_UNKNOWN, reason, 0);
				goto out;
			}
			log_info("worker: part sent id=%lld modem=%s "
			    "part=%d/%zu mr=%d", (long long)msg->id, w->name,
			    seq, enc.nparts, res.mr);
			continue;
		case MODEM_SEND_NOT_SENT:
			/* W2: the modem never had it.  A pulled cable or a
			 * hung modem is not the message's fault: it goes
			 * again as soon as the modem is back. */
			store_part_pending(w->store, msg->id, seq);
			snprintf(reason, sizeof(reason), "part %d/%zu not "
			    "accepted by the modem (%s)", seq, enc.nparts,
			    gone ? "modem lost" : "no prompt");
			worker_retry_or_fail(w, msg, reason, 0);
			goto out;
		case MODEM_SEND_UNKNOWN:
			/* W2: promise 2, never silently retried. */
			snprintf(reason, sizeof(reason), "no answer from the "
			    "modem after part %d/%zu; it may have been sent",
			    seq, enc.nparts);
			store_transition(w->store, msg->id, STORE_SENDING,
			    STORE_UNKNOWN, reason, 0);
			log_warn("worker: unknown id=%lld modem=%s part=%d/%zu",
			    (long long)msg->id, w->name, seq, enc.nparts);
			goto out;
		case MODEM_SEND_REJECTED:
			worker_rejected(w, msg, &res, seq, enc.nparts);
			goto out;
		}
	}

	snprintf(reason, sizeof(reason), "sent in %zu part%s via %s",
	    enc.nparts, enc.nparts == 1 ? "" : "s", w->name);
	store_transition(w->store, msg->id, STORE_SENDING, STORE_SENT,
	    reason, 0);
	log_info("worker: sent id=%lld modem=%s parts=%zu encoding=%s",
	    (long long)msg->id, w->name, enc.nparts,
	    pdu_encoding_name(enc.encoding));
	worker_count(w, 1, 0);
out:
	pdu_encoded_release(&enc);
	if (gone)
		return -EIO;
	return silent ? -ETIMEDOUT : 0;
}

/* Send everything due now.  Returns 0 or a negative errno (modem gone). */
static int
worker_send_due(struct worker *w)
{
	struct store_message msg;
	int rc;

	/* A modem that rebooted is initialised again before it sends. */
	while (!atomic_load(&w->stopping) && !w->reinit &&
	    clock_mono_ms() >= w->claim_after) {
		rc = store_claim_next(w->store, w->name, clock_now_ms(), &msg);
		if (rc == -ENOENT)
			return 0;
		if (rc < 0) {
			log_error("worker: claim failed modem=%s rc=%d",
			    w->name, rc);
			w->claim_after = clock_mono_ms() +
			    WORKER_STORE_RETRY_MS;
			return 0;
		}
		rc = worker_send(w, &msg);
		store_message_release(&msg);
		if (rc < 0)
			return rc;

		/* Inbound messages announced meanwhile are not kept waiting
		 * behind a long queue. */
		rc = worker_receive_pending(w);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Milliseconds poll() may sleep: until the next due message or health
 * poll, whichever comes first. */
static int
worker_timeout(struct worker *w)
{
	int64_t now = clock_now_ms(), mono = clock_mono_ms(), when = 0, wait;

	wait = w->health_due - mono;
	if (mono < w->claim_after) {
		/* Claims are paused: the queue waits, the modem does not. */
		if (w->claim_after - mono < wait)
			wait = w->claim_after - mono;
	} else if (store_next_due(w->store, w->name, now, &when) == 0) {
		if (when == 0 || when - now < wait)
			wait = when == 0 ? 0 : when - now;
	}
	if (wait < 0)
		wait = 0;
	return wait > 60 * 60 * 1000 ? 60 * 60 * 1000 : (int)wait;
}

static void
worker_drain_wake(struct worker *w)
{
	uint64_t v;

	while (read(w->wake_fd, &v, sizeof(v)) == (ssize_t)sizeof(v))
		;
}

/*
 * Wait on 'fds' for up to 'timeout_ms'; the wake eventfd ends the wait
 * early (new work or stop).
 */
static void
worker_wait(struct worker *w, int timeout_ms)
{
	struct pollfd pfd = { .fd = w->wake_fd, .events = POLLIN };

	if (poll(&pfd, 1, timeout_ms) > 0)
		worker_drain_wake(w);
}

static void
worker_disconnect(struct worker *w, const char *why)
{
	if (w->modem != NULL) {
		modem_close(w->modem);
		w->modem = NULL;
	}
	worker_store_direct(w);
	w->npending = 0;
	w->rescan = 0;
	w->reinit = 0;
	worker_set_state(w, "disconnected", why);
	log_warn("worker: modem lost modem=%s reason=\"%s\"", w->name, why);
}

/* Open and initialise the modem.  Returns 0 or a negative errno. */
static int
worker_connect(struct worker *w)
{
	char err[256];
	int rc;

	if (w->modem == NULL) {
		rc = modem_open(w->name, w->device, w->baud, w->flow,
		    &w->modem, err,
		    sizeof(err));
		if (rc < 0) {
			worker_set_state(w, "disconnected", err);
			return rc;
		}
		modem_set_event_handler(w->modem, worker_on_event, w);
		if (w->send_timeout_ms > 0)
			modem_set_timeouts(w->modem,
			    w->send_timeout_ms < WORKER_PROMPT_MS ?
			    w->send_timeout_ms : WORKER_PROMPT_MS,
			    w->send_timeout_ms);
	}

	worker_set_state(w, "starting", NULL);
	rc = modem_init(w->modem, w->pin, err, sizeof(err));
	if (rc < 0) {
		log_error("worker: init failed modem=%s reason=\"%s\"",
		    w->name, err);
		modem_close(w->modem);
		w->modem = NULL;
		worker_set_state(w, "error", err);
		return rc;
	}

	w->reinit = 0;
	w->rescan = 1;		/* messages stored while we were away */
	w->health_due = clock_mono_ms() + WORKER_HEALTH_EVERY_MS;
	w->reconnect_ms = WORKER_RECONNECT_MIN_MS;
	worker_set_state(w, "ready", "");
	{
		const struct modem_info *info = modem_info_peek(w->modem);

		log_notice("worker: ready modem=%s manufacturer=\"%s\" "
		    "model=\"%s\" rssi=%d registration=%s", w->name,
		    info->manufacturer, info->model, info->rssi,
		    modem_registration_name(info->registration));
	}
	return 0;
}

/* One round with a ready modem.  Returns 0 or a negative errno. */
static int
worker_round(struct worker *w)
{
	struct pollfd pfd[2];
	int rc;

	rc = worker_receive_pending(w);
	if (rc < 0)
		return rc;
	rc = worker_send_due(w);
	if (rc < 0)
		return rc;
	if (w->npending > 0 || w->rescan || w->reinit)
		return 0;

	if (clock_mono_ms() >= w->health_due) {
		rc = modem_refresh_health(w->modem);
		if (rc < 0)
			return rc;
		/* Parts of a long inbound text whose siblings never came
		 * are shown as incomplete rather than kept forever. */
		if (store_inbound_flush(w->store,
		    clock_now_ms() - WORKER_PARTS_WAIT_MS) > 0)
			log_notice("worker: incomplete inbound texts "
			    "released modem=%s", w->name);
		w->health_due = clock_mono_ms() + WORKER_HEALTH_EVERY_MS;
		worker_set_state(w, clock_mono_ms() < w->claim_after ?
		    "error" : "ready", NULL);

		/* A modem that refused every AT+CNMI setting, or lost a
		 * +CMTI, still has its messages read within a minute. */
		w->rescan = 1;
	}

	pfd[0].fd = w->wake_fd;
	pfd[0].events = POLLIN;
	pfd[1].fd = modem_fd(w->modem);
	pfd[1].events = POLLIN;
	if (poll(pfd, 2, worker_timeout(w)) < 0 && errno != EINTR)
		return -errno;
	if (pfd[0].revents & POLLIN)
		worker_drain_wake(w);
	if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR))
		return modem_poll(w->modem);
	return 0;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	char err[256];
	int rc;

	rc = store_open(w->database, &w->store, err, sizeof(err));
	if (rc < 0) {
		log_error("worker: cannot open store modem=%s reason=\"%s\"",
		    w->name, err);
		worker_set_state(w, "error", err);
		return NULL;
	}

	w->reconnect_ms = WORKER_RECONNECT_MIN_MS;
	while (!atomic_load(&w->stopping)) {
		if (w->modem == NULL || w->reinit) {
			if (worker_connect(w) < 0) {
				worker_wait(w, (int)w->reconnect_ms);
				w->reconnect_ms *= 2;
				if (w->reconnect_ms > WORKER_RECONNECT_MAX_MS)
					w->reconnect_ms =
					    WORKER_RECONNECT_MAX_MS;
			}
			continue;
		}
		rc = worker_round(w);
		if (rc < 0)
			worker_disconnect(w, rc == -ETIMEDOUT ?
			    "the modem stopped answering" : strerror(-rc));
	}

	worker_store_direct(w);
	if (w->modem != NULL)
		modem_close(w->modem);
	store_close(w->store);
	return NULL;
}

int
worker_start(const struct conf_modem *mc, const char *device,
    const char *database, struct worker **out)
{
	struct worker *w;
	int rc;

	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return -ENOMEM;
	w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->wake_fd < 0) {
		rc = -errno;
		free(w);
		return rc;
	}
	w->name = strdup(mc->name);
	w->device = strdup(device != NULL ? device : mc->device);
	w->pin = mc->pin != NULL ? strdup(mc->pin) : NULL;
	w->database = strdup(database);
	w->baud = mc->baud;
	w->flow = mc->flow;
	w->send_timeout_ms = mc->send_timeout * 1000;
	pthread_mutex_init(&w->lock, NULL);
	snprintf(w->status.name, sizeof(w->status.name), "%s", mc->name);
	snprintf(w->status.state, sizeof(w->status.state), "starting");
	w->status.info.rssi = 99;
	w->status.info.registration = -1;

	if (w->name == NULL || w->device == NULL || w->database == NULL ||
	    (mc->pin != NULL && w->pin == NULL)) {
		rc = -ENOMEM;
		goto err;
	}
	rc = -pthread_create(&w->thread, NULL, worker_main, w);
	if (rc < 0)
		goto err;
	*out = w;
	return 0;
err:
	pthread_mutex_destroy(&w->lock);
	close(w->wake_fd);
	free(w->name);
	free(w->device);
	free(w->pin);
	free(w->database);
	free(w);
	return rc;
}

void
worker_wake(struct worker *w)
{
	uint64_t one = 1;
	ssize_t n;

	/* A full counter already means "wake up": nothing to do on EAGAIN. */
	n = write(w->wake_fd, &one, sizeof(one));
	(void)n;
}

void
worker_status_get(struct worker *w, struct worker_status *out)
{
	pthread_mutex_lock(&w->lock);
	*out = w->status;
	pthread_mutex_unlock(&w->lock);
}

void
worker_stop(struct worker *w)
{
	if (w == NULL)
		return;
	atomic_store(&w->stopping, 1);
	worker_wake(w);
	pthread_join(w->thread, NULL);
	pthread_mutex_destroy(&w->lock);
	close(w->wake_fd);
	free(w->name);
	free(w->device);
	free(w->pin);
	free(w->database);
	free(w);
}
