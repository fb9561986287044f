/*
 * store.h - the message store: the single source of truth.
 *
 * Behind this interface sits SQLite in WAL mode (store_sqlite.c); the
 * functions dispatch through a table of backend operations so that a
 * PostgreSQL backend can later let several gateways share one queue.
 *
 * A struct store is one connection and is used by one thread at a time;
 * every thread opens its own.  Every function that changes data commits
 * before it returns: when it returns 0 the change is on disk.  Times are
 * Unix milliseconds.
 *
 * States of an outbound message (see the invariants in store_sqlite.c):
 *
 *   queued -> sending -> sent -> delivered
 *      |         |-> queued   (temporary error: retry at next_attempt_at)
 *      |         |-> failed   (permanent error, retries exhausted)
 *      |         `-> unknown  (the modem may have sent it)
 *      |-> cancelled (by a client)  `-> expired (deadline passed)
 *
 * Inbound messages are stored in state "received".
 */
#ifndef SMSGW_STORE_H
#define SMSGW_STORE_H

#include <stddef.h>
#include <stdint.h>

enum store_direction {
	STORE_OUTBOUND,
	STORE_INBOUND,
};

enum store_state {
	STORE_QUEUED,
	STORE_SENDING,
	STORE_SENT,
	STORE_DELIVERED,
	STORE_FAILED,
	STORE_EXPIRED,
	STORE_CANCELLED,
	STORE_UNKNOWN,
	STORE_RECEIVED,
};

/* Lower-case names used in the database and the API; parse returns -1
 * for an unknown name. */
const char *store_state_name(enum store_state state);
int store_state_parse(const char *name);
const char *store_direction_name(enum store_direction dir);
int store_direction_parse(const char *name);

#define STORE_NUMBER_MAX	48
#define STORE_NAME_MAX		64
#define STORE_REASON_MAX	256

struct store;

/*
 * Open (creating if needed) the database at 'path', switch it to WAL,
 * and bring its schema up to date with the numbered migrations.  Returns
 * 0 or a negative errno with a reason in 'err'.
 */
int store_open(const char *path, struct store **out, char *err,
    size_t errlen);

void store_close(struct store *store);

/* A new outbound message, as accepted by the API. */
struct store_outbound_new {
	const char	*to;		/* validated number */
	const char	*text;		/* UTF-8 */
	const char	*encoding;	/* "gsm7" / "ucs2" */
	int		segments;
	int		smart_encoding;
	const char	*modem;		/* pin to a modem, or NULL: any */
	int64_t		send_at;	/* 0: now */
};

/* Insert in state queued.  Returns 0 with '*id' set once committed. */
int store_outbound_insert(struct store *store,
    const struct store_outbound_new *msg, int64_t *id);

struct store_message {
	int64_t			id;
	enum store_direction	direction;
	enum store_state	state;
	char			number[STORE_NUMBER_MAX];
	char			*text;		/* owned */
	char			encoding[8];
	int			segments;
	int			smart_encoding;
	char			modem[STORE_NAME_MAX]; /* "" when none */
	int			attempts;	/* claims so far */
	char			reason[STORE_REASON_MAX]; /* last change */
	int64_t			created_at;
	int64_t			updated_at;
	int64_t			send_at;	/* 0: as soon as possible */
	int64_t			next_attempt_at; /* 0: none set */
	int64_t			sent_at;	/* 0: not yet */
	int64_t			received_at;	/* inbound: SCTS, else 0 */
	int			incomplete;	/* inbound: parts missing */
};

/* Free what a store_message owns (the struct itself is the caller's). */
void store_message_release(struct store_message *msg);

/* Fetch one message.  Returns 0, -ENOENT, or another negative errno. */
int store_message_get(struct store *store, int64_t id,
    struct store_message *out);

struct store_filter {
	int		direction;	/* enum store_direction, -1 any */
	int		state;		/* enum store_state, -1 any */
	int64_t		before_id;	/* only ids below this; 0: none */
	int		limit;		/* 1-1000 */
};

/*
 * Call 'fn' for each message matching 'filter', newest first.  The
 * message is borrowed for the call.  A nonzero return from 'fn' stops the
 * walk and is returned.  Returns 0 or a negative errno.
 */
int store_message_list(struct store *store, const struct store_filter *filter,
    int (*fn)(const struct store_message *msg, void *arg), void *arg);

/*
 * Call 'fn' once for each (direction, state) that has messages, with
 * their number: what /metrics shows.  A nonzero return from 'fn' stops
 * the walk and is returned.  Returns 0 or a negative errno.
 */
int store_count_states(struct store *store,
    int (*fn)(enum store_direction dir, enum store_state state,
    int64_t count, void *arg), void *arg);

/* One recorded transition: when, to which state, and why. */
struct store_event {
	int64_t			at;
	enum store_state	state;
	const char		*reason;
};

/* Call 'fn' for each transition of message 'id', oldest first. */
int store_message_events(struct store *store, int64_t id,
    int (*fn)(const struct store_event *ev, void *arg), void *arg);

/*
 * Claim the next due outbound message for 'modem': the oldest queued one
 * whose send_at and next_attempt_at have passed at 'now' and which is not
 * pinned to another modem.  Atomically moves it to sending, records the
 * modem, counts the attempt.  Returns 0 with 'out' filled, -ENOENT when
 * nothing is due, or another negative errno.
 */
int store_claim_next(struct store *store, const char *modem, int64_t now,
    struct store_message *out);

/*
 * When the next queued message for 'modem' becomes due: '*when' is 0 if
 * one is due now, the time otherwise.  Returns 0, or -ENOENT when no
 * message is queued for it at all.
 */
int store_next_due(struct store *store, const char *modem, int64_t now,
    int64_t *when);

/*
 * Change the state of message 'id' from 'from' to 'to', recording
 * 'reason'.  'next_attempt_at' is stored when 'to' is queued (a retry).
 * Returns 0, or -ESTALE when the message was not in state 'from' (nothing
 * changed), or another negative errno.
 */
int store_transition(struct store *store, int64_t id, enum store_state from,
    enum store_state to, const char *reason, int64_t next_attempt_at);

/* Parts of an outbound message. */
enum store_part_state {
	STORE_PART_PENDING,
	STORE_PART_SUBMITTING,	/* handed to the modem, no answer yet */
	STORE_PART_SENT,	/* the modem answered with an MR */
};

/*
 * Record, before the Ctrl-Z that hands it to the modem, that part 'seq'
 * (1-based, of 'total') of message 'id' is being submitted.  If the
 * daemon dies before the answer, recovery finds the part in this state
 * and marks the message unknown instead of sending it again.
 */
int store_part_submitting(struct store *store, int64_t id, int seq,
    int total);

/* Record the modem's answer for part 'seq': its TP-MR. */
int store_part_sent(struct store *store, int64_t id, int seq, int mr);

/* Return a part that failed before reaching the modem to pending. */
int store_part_pending(struct store *store, int64_t id, int seq);

/* The state of part 'seq' of message 'id' (PENDING if never recorded). */
int store_part_state(struct store *store, int64_t id, int seq,
    enum store_part_state *state);

/*
 * Apply an SMS-STATUS-REPORT from 'modem' for TP-MR 'mr' about
 * 'recipient' with TP-ST 'status' (TS 23.040 9.2.3.15).  The report is
 * matched to the part most recently sent through that modem with that
 * MR to that number, national and international forms alike, within the
 * last days (TP-MR wraps at 256: only the latest part counts).  When
 * every part is delivered the message moves from sent (or unknown) to
 * delivered; a final failure of any part moves it to failed; a report
 * that the SMSC is still trying changes nothing.  '*id' is the message
 * matched.  Returns 0, -ENOENT when no part matches, or another negative
 * errno.
 */
int store_report(struct store *store, const char *modem, int mr,
    const char *recipient, int status, int64_t *id);

/*
 * After a restart: settle every outbound message left in sending.  A
 * message with no part submitted or sent goes back to queued; one with a
 * part in submitting becomes unknown; one whose parts are all sent
 * becomes sent.  Returns the number of messages settled or a negative
 * errno.
 */
int store_recover(struct store *store);

/*
 * Have we stored the inbound PDU 'pdu' (hex as read) from 'modem'
 * already?  A crash between COMMIT and AT+CMGD leaves the message on the
 * SIM; it must not be stored twice.  Returns 1 yes, 0 no, or a negative
 * errno.
 */
int store_inbound_seen(struct store *store, const char *modem,
    const char *pdu);

/* One received PDU, decoded. */
struct store_inbound_part {
	const char	*modem;
	const char	*pdu;		/* hex as read from the modem */
	const char	*from;
	const char	*text;		/* UTF-8 text of this part */
	const char	*encoding;
	int64_t		received_at;	/* SCTS as Unix ms */
	/* Concatenation; total 0 or 1 for a single message. */
	unsigned	ref;
	unsigned	seq;
	unsigned	total;
};

/*
 * Store a received PDU.  A single message becomes a message at once; a
 * part of a concatenated one is kept until every part from the same
 * (modem, originator, reference, total) has arrived, and then the text
 * is joined in sequence order into one message, in the same transaction.
 * '*id' is the message id when a message was completed, else 0.
 * Returns 0 once committed, or a negative errno.
 */
int store_inbound_add(struct store *store,
    const struct store_inbound_part *part, int64_t *id);

/*
 * Stop waiting for the missing parts of concatenated messages: every set
 * whose newest part was stored before 'before' (Unix ms) becomes one
 * message marked incomplete, its text the parts present joined in
 * sequence order, so that nothing received stays invisible.  Call it
 * now and then (e.g. with before = now - 1 hour).  Returns the number of
 * messages made, or a negative errno.
 */
int store_inbound_flush(struct store *store, int64_t before);

#endif
