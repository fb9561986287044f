/*
 * store.c - the public face of the message store.
 *
 * Every public function checks its arguments here, once, and then calls
 * the backend through its table of operations (store_backend.h).  Today
 * there is one backend, SQLite (store_sqlite.c); a PostgreSQL one would
 * be chosen in store_open() by a "postgresql://" prefix of the path.
 *
 * Out-parameters are written only on success: the backend fills a local,
 * and the local is copied out when the backend returned 0.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "smsgw/store.h"
#include "store_backend.h"

static const char *const store_state_names[] = {
	[STORE_QUEUED] = "queued",
	[STORE_SENDING] = "sending",
	[STORE_SENT] = "sent",
	[STORE_DELIVERED] = "delivered",
	[STORE_FAILED] = "failed",
	[STORE_EXPIRED] = "expired",
	[STORE_CANCELLED] = "cancelled",
	[STORE_UNKNOWN] = "unknown",
	[STORE_RECEIVED] = "received",
};

static const char *const store_direction_names[] = {
	[STORE_OUTBOUND] = "outbound",
	[STORE_INBOUND] = "inbound",
};

static const char *const store_part_state_names[] = {
	[STORE_PART_PENDING] = "pending",
	[STORE_PART_SUBMITTING] = "submitting",
	[STORE_PART_SENT] = "sent",
};

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* Room for an encoding name in struct store_message. */
#define STORE_ENCODING_MAX \
	sizeof(((struct store_message *)0)->encoding)

static int
store_name_lookup(const char *const *names, size_t n, const char *name)
{
	size_t i;

	if (name == NULL)
		return -1;
	for (i = 0; i < n; i++)
		if (names[i] != NULL && strcmp(names[i], name) == 0)
			return (int)i;
	return -1;
}

const char *
store_state_name(enum store_state state)
{
	if ((unsigned)state >= NELEM(store_state_names))
		return NULL;
	return store_state_names[state];
}

int
store_state_parse(const char *name)
{
	return store_name_lookup(store_state_names, NELEM(store_state_names),
	    name);
}

const char *
store_direction_name(enum store_direction dir)
{
	if ((unsigned)dir >= NELEM(store_direction_names))
		return NULL;
	return store_direction_names[dir];
}

int
store_direction_parse(const char *name)
{
	return store_name_lookup(store_direction_names,
	    NELEM(store_direction_names), name);
}

const char *
store_part_state_name(enum store_part_state state)
{
	if ((unsigned)state >= NELEM(store_part_state_names))
		return NULL;
	return store_part_state_names[state];
}

int
store_part_state_parse(const char *name)
{
	return store_name_lookup(store_part_state_names,
	    NELEM(store_part_state_names), name);
}

static int
store_state_valid(int state)
{
	return state >= 0 && (size_t)state < NELEM(store_state_names);
}

int
store_open(const char *path, struct store **out, char *err, size_t errlen)
{
	const struct store_backend *be = &store_backend_sqlite;
	struct store *store = NULL;
	int rc;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (path == NULL || *path == '\0' || out == NULL) {
		if (err != NULL && errlen > 0)
			strncpy(err, "no database path", errlen - 1);
		return -EINVAL;
	}

	/* XXX: a "postgresql://" path will pick that backend once it is
	 * written; until then every path is a SQLite file. */
	rc = be->open(path, &store, err, errlen);
	if (rc < 0)
		return rc;
	store->backend = be;
	*out = store;
	return 0;
}

void
store_close(struct store *store)
{
	if (store == NULL)
		return;
	store->backend->close(store);
}

int
store_outbound_insert(struct store *store,
    const struct store_outbound_new *msg, int64_t *id)
{
	int64_t tmp;
	int rc;

	if (store == NULL || msg == NULL || id == NULL || msg->to == NULL ||
	    msg->text == NULL || msg->encoding == NULL || msg->segments < 1 ||
	    msg->send_at < 0)
		return -EINVAL;
	if (strlen(msg->to) >= STORE_NUMBER_MAX ||
	    strlen(msg->encoding) >= STORE_ENCODING_MAX)
		return -EINVAL;
	if (msg->modem != NULL && (*msg->modem == '\0' ||
	    strlen(msg->modem) >= STORE_NAME_MAX))
		return -EINVAL;

	rc = store->backend->outbound_insert(store, msg, &tmp);
	if (rc == 0)
		*id = tmp;
	return rc;
}

void
store_message_release(struct store_message *msg)
{
	if (msg == NULL)
		return;
	free(msg->text);
	msg->text = NULL;
}

int
store_message_get(struct store *store, int64_t id, struct store_message *out)
{
	struct store_message tmp;
	int rc;

	if (store == NULL || out == NULL)
		return -EINVAL;
	if (id <= 0)
		return -ENOENT;

	memset(&tmp, 0, sizeof(tmp));
	rc = store->backend->message_get(store, id, &tmp);
	if (rc == 0)
		*out = tmp;
	return rc;
}

int
store_message_list(struct store *store, const struct store_filter *filter,
    int (*fn)(const struct store_message *msg, void *arg), void *arg)
{
	if (store == NULL || filter == NULL || fn == NULL)
		return -EINVAL;
	if (filter->direction != -1 && filter->direction != STORE_OUTBOUND &&
	    filter->direction != STORE_INBOUND)
		return -EINVAL;
	if (filter->state != -1 && !store_state_valid(filter->state))
		return -EINVAL;
	if (filter->before_id < 0 || filter->limit < 1 ||
	    filter->limit > 1000)
		return -EINVAL;

	return store->backend->message_list(store, filter, fn, arg);
}

int
store_count_states(struct store *store,
    int (*fn)(enum store_direction dir, enum store_state state,
    int64_t count, void *arg), void *arg)
{
	if (store == NULL || fn == NULL)
		return -EINVAL;
	return store->backend->count_states(store, fn, arg);
}

int
store_message_events(struct store *store, int64_t id,
    int (*fn)(const struct store_event *ev, void *arg), void *arg)
{
	if (store == NULL || fn == NULL)
		return -EINVAL;
	if (id <= 0)
		return -ENOENT;
	return store->backend->message_events(store, id, fn, arg);
}

int
store_claim_next(struct store *store, const char *modem, int64_t now,
    struct store_message *out)
{
	struct store_message tmp;
	int rc;

	if (store == NULL || modem == NULL || *modem == '\0' ||
	    strlen(modem) >= STORE_NAME_MAX || out == NULL)
		return -EINVAL;

	memset(&tmp, 0, sizeof(tmp));
	rc = store->backend->claim_next(store, modem, now, &tmp);
	if (rc == 0)
		*out = tmp;
	return rc;
}

int
store_next_due(struct store *store, const char *modem, int64_t now,
    int64_t *when)
{
	int64_t tmp;
	int rc;

	if (store == NULL || modem == NULL || *modem == '\0' || when == NULL)
		return -EINVAL;

	rc = store->backend->next_due(store, modem, now, &tmp);
	if (rc == 0)
		*when = tmp;
	return rc;
}

/*
 * Only the outbound graph of store.h is checked loosely here: both states
 * must exist, differ, and neither may be "received" (inbound messages do
 * not move).  The exact edges are the callers' business; the from-state
 * check in the backend is what makes concurrent changes safe.
 */
int
store_transition(struct store *store, int64_t id, enum store_state from,
    enum store_state to, const char *reason, int64_t next_attempt_at)
{
	if (store == NULL || !store_state_valid((int)from) ||
	    !store_state_valid((int)to) || from == to ||
	    from == STORE_RECEIVED || to == STORE_RECEIVED ||
	    next_attempt_at < 0)
		return -EINVAL;
	if (id <= 0)
		return -ENOENT;
	if (reason == NULL)
		reason = "";

	return store->backend->transition(store, id, from, to, reason,
	    next_attempt_at);
}

/* A concatenated SMS has at most 255 parts (TS 23.040 9.2.3.24.1). */
static int
store_part_valid(int seq, int total)
{
	return total >= 1 && total <= 255 && seq >= 1 && seq <= total;
}

int
store_part_submitting(struct store *store, int64_t id, int seq, int total)
{
	if (store == NULL || !store_part_valid(seq, total))
		return -EINVAL;
	if (id <= 0)
		return -ENOENT;
	return store->backend->part_submitting(store, id, seq, total);
}

int
store_part_sent(struct store *store, int64_t id, int seq, int mr)
{
	/* TP-MR is one octet (TS 23.040 9.2.3.6). */
	if (store == NULL || !store_part_valid(seq, 255) || mr < 0 ||
	    mr > 255)
		return -EINVAL;
	if (id <= 0)
		return -ENOENT;
	return store->backend->part_sent(store, id, seq, mr);
}

int
store_part_pending(struct store *store, int64_t id, int seq)
{
	if (store == NULL || !store_part_valid(seq, 255))
		return -EINVAL;
	if (id <= 0)
		return -ENOENT;
	return store->backend->part_pending(store, id, seq);
}

int
store_part_state(struct store *store, int64_t id, int seq,
    enum store_part_state *state)
{
	enum store_part_state tmp;
	int rc;

	if (store == NULL || state == NULL || !store_part_valid(seq, 255))
		return -EINVAL;
	if (id <= 0)
		return -ENOENT;

	rc = store->backend->part_state(store, id, seq, &tmp);
	if (rc == 0)
		*state = tmp;
	return rc;
}

int
store_report(struct store *store, const char *modem, int mr,
    const char *recipient, int status, int64_t *id)
{
	int64_t tmp;
	int rc;

	/* TP-MR and TP-ST are one octet each (TS 23.040 9.2.3.6, 9.2.3.15). */
	if (store == NULL || modem == NULL || *modem == '\0' ||
	    recipient == NULL || id == NULL || mr < 0 || mr > 255 ||
	    status < 0 || status > 255)
		return -EINVAL;

	rc = store->backend->report(store, modem, mr, recipient, status, &tmp);
	if (rc == 0)
		*id = tmp;
	return rc;
}

int
store_recover(struct store *store)
{
	if (store == NULL)
		return -EINVAL;
	return store->backend->recover(store);
}

int
store_inbound_seen(struct store *store, const char *modem, const char *pdu)
{
	if (store == NULL || modem == NULL || pdu == NULL || *pdu == '\0')
		return -EINVAL;
	return store->backend->inbound_seen(store, modem, pdu);
}

int
store_inbound_add(struct store *store, const struct store_inbound_part *part,
    int64_t *id)
{
	int64_t tmp;
	int rc;

	if (store == NULL || part == NULL || id == NULL ||
	    part->modem == NULL || *part->modem == '\0' ||
	    strlen(part->modem) >= STORE_NAME_MAX || part->pdu == NULL ||
	    *part->pdu == '\0' || part->from == NULL ||
	    strlen(part->from) >= STORE_NUMBER_MAX || part->text == NULL ||
	    part->encoding == NULL ||
	    strlen(part->encoding) >= STORE_ENCODING_MAX)
		return -EINVAL;

	rc = store->backend->inbound_add(store, part, &tmp);
	if (rc == 0)
		*id = tmp;
	return rc;
}

int
store_inbound_flush(struct store *store, int64_t before)
{
	if (store == NULL)
		return -EINVAL;
	return store->backend->inbound_flush(store, before);
}
