/*
 * test_store.c - the message store against a real SQLite file in a
 * temporary directory.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "smsgw/log.h"
#include "smsgw/store.h"

struct fixture {
	char		 dir[64];
	char		 path[128];
	struct store	*store;
};

static void
fx_remove(struct fixture *fx)
{
	static const char *const suffix[] = { "", "-wal", "-shm",
	    "-journal" };
	char p[160];
	size_t i;

	for (i = 0; i < sizeof(suffix) / sizeof(*suffix); i++) {
		snprintf(p, sizeof(p), "%s%s", fx->path, suffix[i]);
		unlink(p);
	}
	rmdir(fx->dir);
}

static int
setup(void **state)
{
	struct fixture *fx;
	char err[256];

	log_setup(LOG_LEVEL_WARN, 0);
	fx = calloc(1, sizeof(*fx));
	if (fx == NULL)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/test_store.XXXXXX");
	if (mkdtemp(fx->dir) == NULL) {
		free(fx);
		return -1;
	}
	snprintf(fx->path, sizeof(fx->path), "%s/smsgw.db", fx->dir);
	if (store_open(fx->path, &fx->store, err, sizeof(err)) != 0) {
		fprintf(stderr, "store_open: %s\n", err);
		fx_remove(fx);
		free(fx);
		return -1;
	}
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	store_close(fx->store);
	fx_remove(fx);
	free(fx);
	return 0;
}

/* Run one SQL statement on a side connection, as an admin or a newer
 * program would. */
static void
raw_exec(const char *path, const char *sql)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static int64_t
raw_int(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t v;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static int64_t
insert(struct store *store, const char *to, const char *modem,
    int64_t send_at)
{
	struct store_outbound_new n = {
		.to = to,
		.text = "Your appointment is at 10:00",
		.encoding = "gsm7",
		.segments = 1,
		.smart_encoding = 1,
		.modem = modem,
		.send_at = send_at,
	};
	int64_t id = 0;

	assert_int_equal(store_outbound_insert(store, &n, &id), 0);
	assert_true(id > 0);
	return id;
}

/* ---- opening ---------------------------------------------------------- */

static void
test_store_open_migrates(void **state)
{
	struct fixture *fx = *state;
	struct store *again = NULL;
	char err[256];
	sqlite3 *db;
	sqlite3_stmt *st;

	assert_int_equal(raw_int(fx->path, "PRAGMA user_version"), 3);
	assert_int_equal(raw_int(fx->path, "SELECT COUNT(*) FROM"
	    " sqlite_master WHERE name = 'inbound_pdus_waiting'"), 1);
	assert_int_equal(raw_int(fx->path, "SELECT COUNT(*) FROM"
	    " sqlite_master WHERE name IN ('messages', 'message_events',"
	    " 'outbound_parts', 'inbound_pdus')"), 4);

	assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1,
	    &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	sqlite3_close(db);

	/* Re-opening a current database applies nothing and works. */
	assert_int_equal(store_open(fx->path, &again, err, sizeof(err)), 0);
	assert_non_null(again);
	insert(again, "+15551234567", NULL, 0);
	store_close(again);
}

static void
test_store_open_refuses_newer(void **state)
{
	struct fixture *fx = *state;
	struct store *sentinel = (struct store *)&sentinel, *out = sentinel;
	char err[256] = "";

	raw_exec(fx->path, "PRAGMA user_version = 999");
	assert_int_equal(store_open(fx->path, &out, err, sizeof(err)),
	    -EPROTO);
	assert_ptr_equal(out, sentinel);
	assert_non_null(strstr(err, "newer"));
	assert_non_null(strstr(err, "999"));
	/* Refused, not rewritten. */
	assert_int_equal(raw_int(fx->path, "PRAGMA user_version"), 999);
}

static void
test_store_open_bad_path(void **state)
{
	struct store *out = NULL;
	char err[256] = "";

	(void)state;
	assert_int_equal(store_open("/nonexistent-dir/x/smsgw.db", &out, err,
	    sizeof(err)), -EIO);
	assert_null(out);
	assert_true(strlen(err) > 0);
	assert_int_equal(store_open(NULL, &out, err, sizeof(err)), -EINVAL);
	assert_int_equal(store_open("", &out, err, sizeof(err)), -EINVAL);
}

static void
test_store_names(void **state)
{
	int i;

	(void)state;
	for (i = STORE_QUEUED; i <= STORE_RECEIVED; i++)
		assert_int_equal(store_state_parse(store_state_name(
		    (enum store_state)i)), i);
	assert_string_equal(store_state_name(STORE_UNKNOWN), "unknown");
	assert_int_equal(store_state_parse("bogus"), -1);
	assert_int_equal(store_state_parse(NULL), -1);
	assert_null(store_state_name((enum store_state)99));
	assert_int_equal(store_direction_parse("inbound"), STORE_INBOUND);
	assert_string_equal(store_direction_name(STORE_OUTBOUND), "outbound");
	assert_int_equal(store_direction_parse("sideways"), -1);
}

/* ---- insert, get, list ------------------------------------------------ */

static void
test_store_insert_get(void **state)
{
	struct fixture *fx = *state;
	struct store_message m;
	int64_t id;

	id = insert(fx->store, "+15551234567", "office-1", 1234);
	assert_int_equal(store_message_get(fx->store, id, &m), 0);
	assert_int_equal(m.id, id);
	assert_int_equal(m.direction, STORE_OUTBOUND);
	assert_int_equal(m.state, STORE_QUEUED);
	assert_string_equal(m.number, "+15551234567");
	assert_string_equal(m.text, "Your appointment is at 10:00");
	assert_string_equal(m.encoding, "gsm7");
	assert_int_equal(m.segments, 1);
	assert_int_equal(m.smart_encoding, 1);
	assert_string_equal(m.modem, "office-1");
	assert_int_equal(m.attempts, 0);
	assert_int_equal(m.send_at, 1234);
	assert_int_equal(m.sent_at, 0);
	assert_true(m.created_at > 0);
	assert_int_equal(m.created_at, m.updated_at);
	store_message_release(&m);
	assert_null(m.text);

	id = insert(fx->store, "+15550000000", NULL, 0);
	assert_int_equal(store_message_get(fx->store, id, &m), 0);
	assert_string_equal(m.modem, "");
	store_message_release(&m);
}

static void
test_store_get_missing(void **state)
{
	struct fixture *fx = *state;
	struct store_message m;

	memset(&m, 0x5a, sizeof(m));
	assert_int_equal(store_message_get(fx->store, 4242, &m), -ENOENT);
	assert_int_equal(m.id, 0x5a5a5a5a5a5a5a5aLL);	/* untouched */
	assert_int_equal(store_message_get(fx->store, 0, &m), -ENOENT);
	assert_int_equal(store_message_get(fx->store, 1, NULL), -EINVAL);
}

static void
test_store_insert_invalid(void **state)
{
	struct fixture *fx = *state;
	struct store_outbound_new n = {
		.to = "+15551234567", .text = "hi", .encoding = "gsm7",
		.segments = 1,
	};
	int64_t id = -7;

	n.to = NULL;
	assert_int_equal(store_outbound_insert(fx->store, &n, &id), -EINVAL);
	n.to = "+15551234567";
	n.segments = 0;
	assert_int_equal(store_outbound_insert(fx->store, &n, &id), -EINVAL);
	n.segments = 1;
	n.modem = "";
	assert_int_equal(store_outbound_insert(fx->store, &n, &id), -EINVAL);
	n.modem = NULL;
	n.encoding = "much-too-long";
	assert_int_equal(store_outbound_insert(fx->store, &n, &id), -EINVAL);
	assert_int_equal(id, -7);
	assert_int_equal(store_outbound_insert(fx->store, NULL, &id), -EINVAL);
}

struct collect {
	int64_t		ids[64];
	int		n;
	int		stop_after;	/* 0: never */
};

static int
collect_fn(const struct store_message *m, void *arg)
{
	struct collect *c = arg;

	assert_non_null(m->text);
	c->ids[c->n++] = m->id;
	if (c->stop_after != 0 && c->n == c->stop_after)
		return 77;
	return 0;
}

static int64_t
inbound_single(struct store *store, const char *pdu, const char *text)
{
	struct store_inbound_part p = {
		.modem = "office-1", .pdu = pdu, .from = "+15559876543",
		.text = text, .encoding = "gsm7", .received_at = 1000,
	};
	int64_t id = -1;

	assert_int_equal(store_inbound_add(store, &p, &id), 0);
	assert_true(id > 0);
	return id;
}

static void
test_store_list_filters(void **state)
{
	struct fixture *fx = *state;
	struct store_filter f = { -1, -1, 0, 100 };
	struct collect c;
	int64_t out[5], in[2], claimed;
	struct store_message m;
	int i;

	for (i = 0; i < 5; i++)
		out[i] = insert(fx->store, "+15551234567", NULL, 0);
	in[0] = inbound_single(fx->store, "0A01", "one");
	in[1] = inbound_single(fx->store, "0A02", "two");
	assert_int_equal(store_claim_next(fx->store, "m", 0, &m), 0);
	claimed = m.id;
	assert_int_equal(claimed, out[0]);
	store_message_release(&m);

	/* Everything, newest first. */
	memset(&c, 0, sizeof(c));
	assert_int_equal(store_message_list(fx->store, &f, collect_fn, &c), 0);
	assert_int_equal(c.n, 7);
	assert_int_equal(c.ids[0], in[1]);
	assert_int_equal(c.ids[6], out[0]);

	memset(&c, 0, sizeof(c));
	f.direction = STORE_INBOUND;
	assert_int_equal(store_message_list(fx->store, &f, collect_fn, &c), 0);
	assert_int_equal(c.n, 2);
	assert_int_equal(c.ids[0], in[1]);
	assert_int_equal(c.ids[1], in[0]);

	memset(&c, 0, sizeof(c));
	f.direction = STORE_OUTBOUND;
	f.state = STORE_QUEUED;
	assert_int_equal(store_message_list(fx->store, &f, collect_fn, &c), 0);
	assert_int_equal(c.n, 4);
	assert_int_equal(c.ids[0], out[4]);

	memset(&c, 0, sizeof(c));
	f.direction = -1;
	f.state = STORE_SENDING;
	assert_int_equal(store_message_list(fx->store, &f, collect_fn, &c), 0);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.ids[0], claimed);

	/* Pagination: pages of two, each starting below the last id. */
	f.state = STORE_QUEUED;
	f.limit = 2;
	memset(&c, 0, sizeof(c));
	assert_int_equal(store_message_list(fx->store, &f, collect_fn, &c), 0);
	assert_int_equal(c.n, 2);
	f.before_id = c.ids[1];
	assert_int_equal(store_message_list(fx->store, &f, collect_fn, &c), 0);
	assert_int_equal(c.n, 4);
	assert_int_equal(c.ids[0], out[4]);
	assert_int_equal(c.ids[1], out[3]);
	assert_int_equal(c.ids[2], out[2]);
	assert_int_equal(c.ids[3], out[1]);
	f.before_id = c.ids[3];
	assert_int_equal(store_message_list(fx->store, &f, collect_fn, &c), 0);
	assert_int_equal(c.n, 4);

	/* A nonzero return from the callback stops the walk. */
	memset(&c, 0, sizeof(c));
	c.stop_after = 1;
	f.before_id = 0;
	f.limit = 100;
	assert_int_equal(store_message_list(fx->store, &f, collect_fn, &c),
	    77);
	assert_int_equal(c.n, 1);

	f.limit = 0;
	assert_int_equal(store_message_list(fx->store, &f, collect_fn, &c),
	    -EINVAL);
	f.limit = 1001;
	assert_int_equal(store_message_list(fx->store, &f, collect_fn, &c),
	    -EINVAL);
	f.limit = 10;
	f.state = 42;
	assert_int_equal(store_message_list(fx->store, &f, collect_fn, &c),
	    -EINVAL);
	f.state = -1;
	f.direction = 5;
	assert_int_equal(store_message_list(fx->store, &f, collect_fn, &c),
	    -EINVAL);
}

/* ---- the queue --------------------------------------------------------- */

static void
test_store_claim_order(void **state)
{
	struct fixture *fx = *state;
	struct store_message m;
	int64_t a, b, c;

	a = insert(fx->store, "+15550000001", NULL, 0);
	b = insert(fx->store, "+15550000002", NULL, 0);
	c = insert(fx->store, "+15550000003", NULL, 0);

	assert_int_equal(store_claim_next(fx->store, "office-1", 10, &m), 0);
	assert_int_equal(m.id, a);
	assert_int_equal(m.state, STORE_SENDING);
	assert_string_equal(m.modem, "office-1");
	assert_int_equal(m.attempts, 1);
	assert_int_equal(m.updated_at, 10);
	assert_string_equal(m.text, "Your appointment is at 10:00");
	store_message_release(&m);

	assert_int_equal(store_claim_next(fx->store, "office-2", 10, &m), 0);
	assert_int_equal(m.id, b);
	store_message_release(&m);
	assert_int_equal(store_claim_next(fx->store, "office-1", 10, &m), 0);
	assert_int_equal(m.id, c);
	store_message_release(&m);

	memset(&m, 0x5a, sizeof(m));
	assert_int_equal(store_claim_next(fx->store, "office-1", 10, &m),
	    -ENOENT);
	assert_int_equal(m.id, 0x5a5a5a5a5a5a5a5aLL);	/* untouched */

	assert_int_equal(store_message_get(fx->store, a, &m), 0);
	assert_int_equal(m.state, STORE_SENDING);
	store_message_release(&m);

	assert_int_equal(store_claim_next(fx->store, NULL, 10, &m), -EINVAL);
	assert_int_equal(store_claim_next(fx->store, "", 10, &m), -EINVAL);
}

static void
test_store_claim_send_at(void **state)
{
	struct fixture *fx = *state;
	struct store_message m;
	int64_t later, when = -1;

	later = insert(fx->store, "+15550000001", NULL, 5000);
	assert_int_equal(store_claim_next(fx->store, "m1", 4999, &m),
	    -ENOENT);
	assert_int_equal(store_next_due(fx->store, "m1", 4000, &when), 0);
	assert_int_equal(when, 5000);

	assert_int_equal(store_claim_next(fx->store, "m1", 5000, &m), 0);
	assert_int_equal(m.id, later);
	store_message_release(&m);

	when = -1;
	assert_int_equal(store_next_due(fx->store, "m1", 5000, &when),
	    -ENOENT);
	assert_int_equal(when, -1);

	/* A due message: 0. */
	insert(fx->store, "+15550000002", NULL, 0);
	assert_int_equal(store_next_due(fx->store, "m1", 5000, &when), 0);
	assert_int_equal(when, 0);
}

static void
test_store_claim_pinned(void **state)
{
	struct fixture *fx = *state;
	struct store_message m;
	int64_t pinned, any, when;

	pinned = insert(fx->store, "+15550000001", "annex", 0);
	assert_int_equal(store_claim_next(fx->store, "office-1", 1, &m),
	    -ENOENT);
	assert_int_equal(store_next_due(fx->store, "office-1", 1, &when),
	    -ENOENT);
	any = insert(fx->store, "+15550000002", NULL, 0);

	assert_int_equal(store_claim_next(fx->store, "office-1", 1, &m), 0);
	assert_int_equal(m.id, any);
	store_message_release(&m);
	assert_int_equal(store_claim_next(fx->store, "annex", 1, &m), 0);
	assert_int_equal(m.id, pinned);
	assert_string_equal(m.modem, "annex");
	store_message_release(&m);
}

static void
test_store_claim_retry(void **state)
{
	struct fixture *fx = *state;
	struct store_message m;
	int64_t id, when;

	id = insert(fx->store, "+15550000001", NULL, 0);
	assert_int_equal(store_claim_next(fx->store, "office-1", 100, &m), 0);
	store_message_release(&m);
	assert_int_equal(store_transition(fx->store, id, STORE_SENDING,
	    STORE_QUEUED, "network busy", 2000), 0);

	assert_int_equal(store_message_get(fx->store, id, &m), 0);
	assert_int_equal(m.next_attempt_at, 2000);
	assert_string_equal(m.reason, "network busy");
	store_message_release(&m);

	assert_int_equal(store_claim_next(fx->store, "office-2", 1999, &m),
	    -ENOENT);
	assert_int_equal(store_next_due(fx->store, "office-2", 1000, &when),
	    0);
	assert_int_equal(when, 2000);

	/* Not pinned: another modem may take the retry. */
	assert_int_equal(store_claim_next(fx->store, "office-2", 2000, &m),
	    0);
	assert_int_equal(m.id, id);
	assert_int_equal(m.attempts, 2);
	assert_string_equal(m.modem, "office-2");
	store_message_release(&m);
}

static void
test_store_transition(void **state)
{
	struct fixture *fx = *state;
	struct store_message m;
	int64_t id;

	id = insert(fx->store, "+15550000001", NULL, 0);

	/* Wrong from-state: nothing changes. */
	assert_int_equal(store_transition(fx->store, id, STORE_SENDING,
	    STORE_SENT, "ok", 0), -ESTALE);
	assert_int_equal(store_message_get(fx->store, id, &m), 0);
	assert_int_equal(m.state, STORE_QUEUED);
	store_message_release(&m);

	assert_int_equal(store_claim_next(fx->store, "m", 1, &m), 0);
	store_message_release(&m);
	assert_int_equal(store_transition(fx->store, id, STORE_SENDING,
	    STORE_SENT, "mr=17", 0), 0);
	assert_int_equal(store_message_get(fx->store, id, &m), 0);
	assert_int_equal(m.state, STORE_SENT);
	assert_true(m.sent_at > 0);
	assert_string_equal(m.reason, "mr=17");
	store_message_release(&m);

	/* A second, racing change from sending loses. */
	assert_int_equal(store_transition(fx->store, id, STORE_SENDING,
	    STORE_FAILED, "late", 0), -ESTALE);
	assert_int_equal(store_transition(fx->store, id, STORE_SENT,
	    STORE_DELIVERED, "status report", 0), 0);

	assert_int_equal(store_transition(fx->store, 999, STORE_QUEUED,
	    STORE_CANCELLED, "x", 0), -ENOENT);
	assert_int_equal(store_transition(fx->store, id, STORE_DELIVERED,
	    STORE_DELIVERED, "x", 0), -EINVAL);
	assert_int_equal(store_transition(fx->store, id, STORE_DELIVERED,
	    STORE_RECEIVED, "x", 0), -EINVAL);
	assert_int_equal(store_transition(fx->store, id, STORE_DELIVERED,
	    (enum store_state)42, "x", 0), -EINVAL);
}

struct events {
	enum store_state	state[16];
	char			reason[16][64];
	int64_t			at[16];
	int			n;
};

struct counts {
	int64_t	n[2][STORE_RECEIVED + 1];
	int	calls;
};

static int
count_fn(enum store_direction dir, enum store_state state, int64_t count,
    void *arg)
{
	struct counts *c = arg;

	c->n[dir][state] += count;
	c->calls++;
	return 0;
}

static void
test_store_count_states(void **state)
{
	struct fixture *fx = *state;
	struct counts c;
	int64_t a;

	memset(&c, 0, sizeof(c));
	assert_int_equal(store_count_states(fx->store, count_fn, &c), 0);
	assert_int_equal(c.calls, 0);

	a = insert(fx->store, "+15551230001", NULL, 0);
	insert(fx->store, "+15551230002", NULL, 0);
	insert(fx->store, "+15551230003", NULL, 0);
	assert_int_equal(store_transition(fx->store, a, STORE_QUEUED,
	    STORE_CANCELLED, "by test", 0), 0);
	inbound_single(fx->store, "00AA", "Yes");

	memset(&c, 0, sizeof(c));
	assert_int_equal(store_count_states(fx->store, count_fn, &c), 0);
	assert_int_equal(c.calls, 3);
	assert_int_equal(c.n[STORE_OUTBOUND][STORE_QUEUED], 2);
	assert_int_equal(c.n[STORE_OUTBOUND][STORE_CANCELLED], 1);
	assert_int_equal(c.n[STORE_INBOUND][STORE_RECEIVED], 1);
	assert_int_equal(store_count_states(NULL, count_fn, &c), -EINVAL);
}

static int
events_fn(const struct store_event *ev, void *arg)
{
	struct events *e = arg;

	assert_true(e->n < 16);
	e->state[e->n] = ev->state;
	snprintf(e->reason[e->n], sizeof(e->reason[0]), "%s", ev->reason);
	e->at[e->n] = ev->at;
	e->n++;
	return 0;
}

static int
events_stop_fn(const struct store_event *ev, void *arg)
{
	(void)ev;
	(void)arg;
	return -EINTR;
}

static void
test_store_events_order(void **state)
{
	struct fixture *fx = *state;
	struct store_message m;
	struct events e;
	int64_t id;

	id = insert(fx->store, "+15550000001", NULL, 0);
	assert_int_equal(store_claim_next(fx->store, "m", 1, &m), 0);
	store_message_release(&m);
	assert_int_equal(store_transition(fx->store, id, STORE_SENDING,
	    STORE_QUEUED, "+CMS ERROR: 38", 5), 0);
	assert_int_equal(store_claim_next(fx->store, "m", 6, &m), 0);
	store_message_release(&m);
	assert_int_equal(store_transition(fx->store, id, STORE_SENDING,
	    STORE_SENT, "mr=3", 0), 0);

	memset(&e, 0, sizeof(e));
	assert_int_equal(store_message_events(fx->store, id, events_fn, &e),
	    0);
	assert_int_equal(e.n, 5);
	assert_int_equal(e.state[0], STORE_QUEUED);
	assert_string_equal(e.reason[0], "accepted");
	assert_int_equal(e.state[1], STORE_SENDING);
	assert_string_equal(e.reason[1], "claimed modem=m attempt=1");
	assert_int_equal(e.at[1], 1);
	assert_int_equal(e.state[2], STORE_QUEUED);
	assert_string_equal(e.reason[2], "+CMS ERROR: 38");
	assert_int_equal(e.state[3], STORE_SENDING);
	assert_string_equal(e.reason[3], "claimed modem=m attempt=2");
	assert_int_equal(e.state[4], STORE_SENT);
	assert_string_equal(e.reason[4], "mr=3");

	assert_int_equal(store_message_events(fx->store, id, events_stop_fn,
	    NULL), -EINTR);
	assert_int_equal(store_message_events(fx->store, 999, events_fn, &e),
	    -ENOENT);
}

/* ---- parts and recovery ---------------------------------------------- */

static void
test_store_parts(void **state)
{
	struct fixture *fx = *state;
	enum store_part_state ps = (enum store_part_state)-1;
	int64_t id;

	id = insert(fx->store, "+15550000001", NULL, 0);
	assert_int_equal(store_part_state(fx->store, id, 1, &ps), 0);
	assert_int_equal(ps, STORE_PART_PENDING);

	assert_int_equal(store_part_submitting(fx->store, id, 1, 2), 0);
	assert_int_equal(store_part_state(fx->store, id, 1, &ps), 0);
	assert_int_equal(ps, STORE_PART_SUBMITTING);
	assert_int_equal(store_part_sent(fx->store, id, 1, 17), 0);
	assert_int_equal(store_part_state(fx->store, id, 1, &ps), 0);
	assert_int_equal(ps, STORE_PART_SENT);
	assert_int_equal(raw_int(fx->path, "SELECT mr FROM outbound_parts"
	    " WHERE seq = 1"), 17);

	assert_int_equal(store_part_submitting(fx->store, id, 2, 2), 0);
	assert_int_equal(store_part_pending(fx->store, id, 2), 0);
	assert_int_equal(store_part_state(fx->store, id, 2, &ps), 0);
	assert_int_equal(ps, STORE_PART_PENDING);

	/* Errors. */
	assert_int_equal(store_part_sent(fx->store, id, 3, 1), -ENOENT);
	assert_int_equal(store_part_pending(fx->store, id, 3), -ENOENT);
	assert_int_equal(store_part_submitting(fx->store, 999, 1, 1),
	    -ENOENT);
	assert_int_equal(store_part_submitting(fx->store, id, 3, 2), -EINVAL);
	assert_int_equal(store_part_submitting(fx->store, id, 0, 2), -EINVAL);
	assert_int_equal(store_part_sent(fx->store, id, 1, 256), -EINVAL);
	assert_int_equal(store_part_state(fx->store, id, 0, &ps), -EINVAL);
}

static int64_t
claim(struct store *store)
{
	struct store_message m;
	int64_t id;

	assert_int_equal(store_claim_next(store, "office-1", 1, &m), 0);
	id = m.id;
	store_message_release(&m);
	return id;
}

static enum store_state
state_of(struct store *store, int64_t id)
{
	struct store_message m;
	enum store_state s;

	assert_int_equal(store_message_get(store, id, &m), 0);
	s = m.state;
	store_message_release(&m);
	return s;
}

static void
test_store_recover(void **state)
{
	struct fixture *fx = *state;
	int64_t idle, doubt, done, partial, queued;
	struct events e;
	struct store_message m;

	idle = insert(fx->store, "+15550000001", NULL, 0);
	doubt = insert(fx->store, "+15550000002", NULL, 0);
	done = insert(fx->store, "+15550000003", NULL, 0);
	partial = insert(fx->store, "+15550000004", NULL, 0);
	queued = insert(fx->store, "+15550000005", NULL, 0);
	assert_int_equal(claim(fx->store), idle);
	assert_int_equal(claim(fx->store), doubt);
	assert_int_equal(claim(fx->store), done);
	assert_int_equal(claim(fx->store), partial);

	/* doubt: part 2 handed over, no answer. */
	assert_int_equal(store_part_submitting(fx->store, doubt, 1, 2), 0);
	assert_int_equal(store_part_sent(fx->store, doubt, 1, 5), 0);
	assert_int_equal(store_part_submitting(fx->store, doubt, 2, 2), 0);
	/* done: both parts answered, crash before "sent". */
	assert_int_equal(store_part_submitting(fx->store, done, 1, 2), 0);
	assert_int_equal(store_part_sent(fx->store, done, 1, 6), 0);
	assert_int_equal(store_part_submitting(fx->store, done, 2, 2), 0);
	assert_int_equal(store_part_sent(fx->store, done, 2, 7), 0);
	/* partial: one of two parts answered, the next not yet begun. */
	assert_int_equal(store_part_submitting(fx->store, partial, 1, 2), 0);
	assert_int_equal(store_part_sent(fx->store, partial, 1, 8), 0);

	assert_int_equal(store_recover(fx->store), 4);
	assert_int_equal(state_of(fx->store, idle), STORE_QUEUED);
	assert_int_equal(state_of(fx->store, doubt), STORE_UNKNOWN);
	assert_int_equal(state_of(fx->store, done), STORE_SENT);
	assert_int_equal(state_of(fx->store, partial), STORE_QUEUED);
	assert_int_equal(state_of(fx->store, queued), STORE_QUEUED);

	assert_int_equal(store_message_get(fx->store, done, &m), 0);
	assert_true(m.sent_at > 0);
	store_message_release(&m);

	memset(&e, 0, sizeof(e));
	assert_int_equal(store_message_events(fx->store, doubt, events_fn,
	    &e), 0);
	assert_int_equal(e.n, 3);
	assert_int_equal(e.state[2], STORE_UNKNOWN);
	assert_non_null(strstr(e.reason[2], "recovered"));

	/* Nothing left in sending. */
	assert_int_equal(store_recover(fx->store), 0);
}

static void
test_store_recover_impossible_part(void **state)
{
	struct fixture *fx = *state;
	enum store_part_state ps;
	int64_t id;

	id = insert(fx->store, "+15550000001", NULL, 0);
	assert_int_equal(claim(fx->store), id);
	assert_int_equal(store_part_submitting(fx->store, id, 1, 1), 0);
	raw_exec(fx->path, "UPDATE outbound_parts SET state = 'weird'");

	assert_int_equal(store_part_state(fx->store, id, 1, &ps), -EIO);
	/* Never resent on a guess: doubt is recorded. */
	assert_int_equal(store_recover(fx->store), 1);
	assert_int_equal(state_of(fx->store, id), STORE_UNKNOWN);
}

/* Claim the next message on 'modem', send its 'total' parts with MRs
 * from 'mr', and mark it sent. */
static int64_t
sent_message(struct store *store, const char *modem, int total, int mr)
{
	struct store_message m;
	int64_t id;
	int seq;

	assert_int_equal(store_claim_next(store, modem, 1, &m), 0);
	id = m.id;
	store_message_release(&m);
	for (seq = 1; seq <= total; seq++) {
		assert_int_equal(store_part_submitting(store, id, seq, total),
		    0);
		assert_int_equal(store_part_sent(store, id, seq, mr + seq - 1),
		    0);
	}
	assert_int_equal(store_transition(store, id, STORE_SENDING,
	    STORE_SENT, "sent", 0), 0);
	return id;
}

static void
test_store_report_delivered(void **state)
{
	struct fixture *fx = *state;
	struct events e;
	int64_t id, got = -1;

	insert(fx->store, "+31612345678", NULL, 0);
	id = sent_message(fx->store, "office-1", 2, 10);

	/* Part 1 delivered: the message waits for part 2. */
	assert_int_equal(store_report(fx->store, "office-1", 10,
	    "+31612345678", 0x00, &got), 0);
	assert_int_equal(got, id);
	assert_int_equal(state_of(fx->store, id), STORE_SENT);

	/* Still trying: nothing changes. */
	assert_int_equal(store_report(fx->store, "office-1", 11,
	    "+31612345678", 0x20, &got), 0);
	assert_int_equal(state_of(fx->store, id), STORE_SENT);

	/* The national form of the same number. */
	assert_int_equal(store_report(fx->store, "office-1", 11,
	    "0612345678", 0x00, &got), 0);
	assert_int_equal(state_of(fx->store, id), STORE_DELIVERED);
	memset(&e, 0, sizeof(e));
	assert_int_equal(store_message_events(fx->store, id, events_fn, &e),
	    0);
	assert_int_equal(e.state[e.n - 1], STORE_DELIVERED);
	assert_non_null(strstr(e.reason[e.n - 1], "status report"));

	/* A repeated report changes nothing and is no error. */
	assert_int_equal(store_report(fx->store, "office-1", 11,
	    "+31612345678", 0x00, &got), 0);
	assert_int_equal(state_of(fx->store, id), STORE_DELIVERED);
}

/* Reports that arrive before the message reaches sent are applied when
 * it does: a failed part fails it, all parts delivered deliver it. */
static void
test_store_report_before_sent(void **state)
{
	struct fixture *fx = *state;
	struct store_message m;
	int64_t id, got = -1;
	int seq;

	insert(fx->store, "+15550000010", NULL, 0);
	assert_int_equal(store_claim_next(fx->store, "office-1", 1, &m), 0);
	id = m.id;
	store_message_release(&m);
	assert_int_equal(store_part_submitting(fx->store, id, 1, 2), 0);
	assert_int_equal(store_part_sent(fx->store, id, 1, 30), 0);
	assert_int_equal(store_report(fx->store, "office-1", 30,
	    "+15550000010", 0x45, &got), 0);
	assert_int_equal(got, id);
	assert_int_equal(state_of(fx->store, id), STORE_SENDING);
	assert_int_equal(store_part_submitting(fx->store, id, 2, 2), 0);
	assert_int_equal(store_part_sent(fx->store, id, 2, 31), 0);
	assert_int_equal(store_transition(fx->store, id, STORE_SENDING,
	    STORE_SENT, "sent", 0), 0);
	assert_int_equal(state_of(fx->store, id), STORE_FAILED);

	insert(fx->store, "+15550000011", NULL, 0);
	assert_int_equal(store_claim_next(fx->store, "office-1", 1, &m), 0);
	id = m.id;
	store_message_release(&m);
	for (seq = 1; seq <= 2; seq++) {
		assert_int_equal(store_part_submitting(fx->store, id, seq, 2),
		    0);
		assert_int_equal(store_part_sent(fx->store, id, seq,
		    40 + seq), 0);
		assert_int_equal(store_report(fx->store, "office-1", 40 + seq,
		    "+15550000011", 0x00, &got), 0);
	}
	assert_int_equal(state_of(fx->store, id), STORE_SENDING);
	assert_int_equal(store_transition(fx->store, id, STORE_SENDING,
	    STORE_SENT, "sent", 0), 0);
	assert_int_equal(state_of(fx->store, id), STORE_DELIVERED);
}

/* National and international forms of one number, 8 to 11 digits. */
static void
test_store_report_national_forms(void **state)
{
	struct fixture *fx = *state;
	int64_t id, got = -1;

	insert(fx->store, "+4791234567", NULL, 0);
	id = sent_message(fx->store, "office-1", 1, 50);
	assert_int_equal(store_report(fx->store, "office-1", 50, "91234567",
	    0, &got), 0);
	assert_int_equal(state_of(fx->store, id), STORE_DELIVERED);

	insert(fx->store, "91234568", NULL, 0);
	id = sent_message(fx->store, "office-1", 1, 51);
	assert_int_equal(store_report(fx->store, "office-1", 51,
	    "+4791234568", 0, &got), 0);
	assert_int_equal(state_of(fx->store, id), STORE_DELIVERED);

	/* Another country's number with the same national digits. */
	insert(fx->store, "+4591234569", NULL, 0);
	id = sent_message(fx->store, "office-1", 1, 52);
	assert_int_equal(store_report(fx->store, "office-1", 52,
	    "+4791234569", 0, &got), -ENOENT);
	assert_int_equal(state_of(fx->store, id), STORE_SENT);
}

/* A message part-sent through one modem is resumed by that modem only. */
static void
test_store_claim_resume_same_modem(void **state)
{
	struct fixture *fx = *state;
	struct store_message m;
	int64_t id, when = -1;

	insert(fx->store, "+15550000020", NULL, 0);
	assert_int_equal(store_claim_next(fx->store, "office-1", 1, &m), 0);
	id = m.id;
	store_message_release(&m);
	assert_int_equal(store_part_submitting(fx->store, id, 1, 2), 0);
	assert_int_equal(store_part_sent(fx->store, id, 1, 60), 0);
	assert_int_equal(store_transition(fx->store, id, STORE_SENDING,
	    STORE_QUEUED, "part 2 rejected; retry", 0), 0);

	assert_int_equal(store_claim_next(fx->store, "office-2", 1, &m),
	    -ENOENT);
	assert_int_equal(store_next_due(fx->store, "office-2", 1, &when),
	    -ENOENT);
	assert_int_equal(store_next_due(fx->store, "office-1", 1, &when), 0);
	assert_int_equal(store_claim_next(fx->store, "office-1", 1, &m), 0);
	assert_int_equal(m.id, id);
	store_message_release(&m);
}

static void
test_store_report_failed_and_unmatched(void **state)
{
	struct fixture *fx = *state;
	int64_t old, id, other, got = -1;

	/* Two messages with the same MR: the latest counts. */
	insert(fx->store, "+15550000001", NULL, 0);
	old = sent_message(fx->store, "office-1", 1, 42);
	insert(fx->store, "+15550000001", NULL, 0);
	id = sent_message(fx->store, "office-1", 1, 42);
	insert(fx->store, "+15550000002", NULL, 0);
	other = sent_message(fx->store, "office-2", 1, 42);

	assert_int_equal(store_report(fx->store, "office-1", 42,
	    "+15550000001", 0x41, &got), 0);
	assert_int_equal(got, id);
	assert_int_equal(state_of(fx->store, id), STORE_FAILED);
	assert_int_equal(state_of(fx->store, old), STORE_SENT);
	assert_int_equal(state_of(fx->store, other), STORE_SENT);

	/* No such MR, another modem's MR, another recipient, a short code
	 * sharing the tail. */
	got = -1;
	assert_int_equal(store_report(fx->store, "office-1", 43,
	    "+15550000001", 0, &got), -ENOENT);
	assert_int_equal(store_report(fx->store, "office-3", 42,
	    "+15550000001", 0, &got), -ENOENT);
	assert_int_equal(store_report(fx->store, "office-2", 42,
	    "+15550000009", 0, &got), -ENOENT);
	assert_int_equal(store_report(fx->store, "office-2", 42, "0002", 0,
	    &got), -ENOENT);
	assert_int_equal(got, -1);

	assert_int_equal(store_report(fx->store, "office-1", 256,
	    "+15550000001", 0, &got), -EINVAL);
	assert_int_equal(store_report(fx->store, "office-1", 1, NULL, 0,
	    &got), -EINVAL);

	/* A report settles an unknown message: it was sent after all. */
	insert(fx->store, "+15550000003", NULL, 0);
	id = sent_message(fx->store, "office-2", 1, 7);
	raw_exec(fx->path, "UPDATE messages SET state = 'unknown'"
	    " WHERE number = '+15550000003'");
	assert_int_equal(store_report(fx->store, "office-2", 7, "15550000003",
	    0, &got), 0);
	assert_int_equal(state_of(fx->store, id), STORE_DELIVERED);
}

/* ---- inbound ----------------------------------------------------------- */

static int
count_inbound(struct store *store)
{
	struct store_filter f = { STORE_INBOUND, -1, 0, 1000 };
	struct collect c;

	memset(&c, 0, sizeof(c));
	assert_int_equal(store_message_list(store, &f, collect_fn, &c), 0);
	return c.n;
}

static void
test_store_inbound_single(void **state)
{
	struct fixture *fx = *state;
	struct store_inbound_part p = {
		.modem = "office-1",
		.pdu = "07911326040000F0040B911346610089F6",
		.from = "+31641600986", .text = "hello", .encoding = "gsm7",
		.received_at = 1700000000000LL,
	};
	struct store_message m;
	int64_t id = -1, again = -1;

	assert_int_equal(store_inbound_seen(fx->store, "office-1", p.pdu), 0);
	assert_int_equal(store_inbound_add(fx->store, &p, &id), 0);
	assert_true(id > 0);
	assert_int_equal(store_inbound_seen(fx->store, "office-1", p.pdu), 1);
	assert_int_equal(store_inbound_seen(fx->store, "annex", p.pdu), 0);

	assert_int_equal(store_message_get(fx->store, id, &m), 0);
	assert_int_equal(m.direction, STORE_INBOUND);
	assert_int_equal(m.state, STORE_RECEIVED);
	assert_string_equal(m.number, "+31641600986");
	assert_string_equal(m.text, "hello");
	assert_string_equal(m.modem, "office-1");
	assert_int_equal(m.received_at, 1700000000000LL);
	assert_int_equal(m.incomplete, 0);
	store_message_release(&m);

	/* The same PDU again (crash before AT+CMGD): a no-op (I3). */
	assert_int_equal(store_inbound_add(fx->store, &p, &again), 0);
	assert_int_equal(again, 0);
	assert_int_equal(count_inbound(fx->store), 1);

	/* The same PDU from another modem is another message. */
	p.modem = "annex";
	assert_int_equal(store_inbound_add(fx->store, &p, &again), 0);
	assert_true(again > id);
	assert_int_equal(count_inbound(fx->store), 2);

	p.text = NULL;
	assert_int_equal(store_inbound_add(fx->store, &p, &again), -EINVAL);
	assert_int_equal(store_inbound_seen(fx->store, "annex", ""), -EINVAL);
}

static int64_t
add_part(struct store *store, const char *pdu, unsigned ref, unsigned seq,
    unsigned total, const char *text)
{
	struct store_inbound_part p = {
		.modem = "office-1", .pdu = pdu, .from = "+15559876543",
		.text = text, .encoding = "gsm7",
		.received_at = 1000 + seq, .ref = ref, .seq = seq,
		.total = total,
	};
	int64_t id = -1;

	assert_int_equal(store_inbound_add(store, &p, &id), 0);
	return id;
}

static void
test_store_inbound_multipart_any_order(void **state)
{
	struct fixture *fx = *state;
	struct store_message m;
	int64_t id;

	assert_int_equal(add_part(fx->store, "AA03", 7, 3, 3, "three"), 0);
	assert_int_equal(add_part(fx->store, "AA01", 7, 1, 3, "one "), 0);
	/* Another set with another ref does not mix in. */
	assert_int_equal(add_part(fx->store, "BB01", 8, 1, 2, "other "), 0);
	assert_int_equal(count_inbound(fx->store), 0);

	id = add_part(fx->store, "AA02", 7, 2, 3, "two ");
	assert_true(id > 0);
	assert_int_equal(store_message_get(fx->store, id, &m), 0);
	assert_string_equal(m.text, "one two three");
	assert_int_equal(m.segments, 3);
	assert_int_equal(m.received_at, 1001);
	assert_int_equal(m.incomplete, 0);
	store_message_release(&m);
	assert_int_equal(count_inbound(fx->store), 1);
	assert_int_equal(raw_int(fx->path, "SELECT COUNT(*) FROM inbound_pdus"
	    " WHERE message_id IS NULL"), 1);

	/* The same ref later: a new set, a new message. */
	assert_int_equal(add_part(fx->store, "CC02", 7, 2, 2, "B"), 0);
	id = add_part(fx->store, "CC01", 7, 1, 2, "A");
	assert_true(id > 0);
	assert_int_equal(store_message_get(fx->store, id, &m), 0);
	assert_string_equal(m.text, "AB");
	store_message_release(&m);
}

static void
test_store_inbound_duplicate_seq(void **state)
{
	struct fixture *fx = *state;
	struct store_message m;
	int64_t id;

	/* Part 1 twice with different PDUs (a network resend). */
	assert_int_equal(add_part(fx->store, "DD01", 9, 1, 2, "Hello "), 0);
	assert_int_equal(add_part(fx->store, "DD01FF", 9, 1, 2, "Hello "),
	    0);
	/* The exact PDU again is a no-op. */
	assert_int_equal(add_part(fx->store, "DD01", 9, 1, 2, "Hello "), 0);
	id = add_part(fx->store, "DD02", 9, 2, 2, "world");
	assert_true(id > 0);
	assert_int_equal(store_message_get(fx->store, id, &m), 0);
	assert_string_equal(m.text, "Hello world");
	store_message_release(&m);

	/* Part 2 resent after assembly: linked, no new message. */
	assert_int_equal(add_part(fx->store, "DD02FF", 9, 2, 2, "world"), 0);
	assert_int_equal(count_inbound(fx->store), 1);
	assert_int_equal(raw_int(fx->path, "SELECT COUNT(*) FROM inbound_pdus"
	    " WHERE message_id IS NULL"), 0);
}

/* The sender's second message reusing the reference and the text is a
 * new message, not a resend: its time stamp differs. */
static void
test_store_inbound_same_ref_new_message(void **state)
{
	struct fixture *fx = *state;
	struct store_inbound_part p = {
		.modem = "office-1", .from = "+15559876543", .text = "Same ",
		.encoding = "gsm7", .ref = 11, .seq = 1, .total = 2,
	};
	int64_t first = 0, second = 0;

	p.pdu = "AB01";
	p.received_at = 5000;
	assert_int_equal(store_inbound_add(fx->store, &p, &first), 0);
	p.pdu = "AB02";
	p.seq = 2;
	p.text = "text";
	assert_int_equal(store_inbound_add(fx->store, &p, &first), 0);
	assert_true(first > 0);

	p.pdu = "AC01";
	p.seq = 1;
	p.text = "Same ";
	p.received_at = 9000;
	assert_int_equal(store_inbound_add(fx->store, &p, &second), 0);
	assert_int_equal(second, 0);
	p.pdu = "AC02";
	p.seq = 2;
	p.text = "text";
	assert_int_equal(store_inbound_add(fx->store, &p, &second), 0);
	assert_true(second > first);
	assert_int_equal(count_inbound(fx->store), 2);
}

static void
test_store_inbound_bad_seq(void **state)
{
	struct fixture *fx = *state;
	struct store_message m;
	int64_t id;

	/* seq beyond total cannot be placed: kept alone, marked. */
	id = add_part(fx->store, "EE05", 3, 5, 2, "stray");
	assert_true(id > 0);
	assert_int_equal(store_message_get(fx->store, id, &m), 0);
	assert_string_equal(m.text, "stray");
	assert_int_equal(m.incomplete, 1);
	store_message_release(&m);
}

static void
test_store_inbound_flush(void **state)
{
	struct fixture *fx = *state;
	struct store_filter f = { STORE_INBOUND, -1, 0, 10 };
	struct store_message m;
	struct collect c;

	assert_int_equal(add_part(fx->store, "F103", 4, 3, 3, "three"), 0);
	assert_int_equal(add_part(fx->store, "F101", 4, 1, 3, "one "), 0);
	inbound_single(fx->store, "F200", "single");

	/* Fresh parts are left waiting. */
	assert_int_equal(store_inbound_flush(fx->store, 0), 0);
	assert_int_equal(count_inbound(fx->store), 1);

	assert_int_equal(store_inbound_flush(fx->store, INT64_MAX), 1);
	memset(&c, 0, sizeof(c));
	assert_int_equal(store_message_list(fx->store, &f, collect_fn, &c), 0);
	assert_int_equal(c.n, 2);
	assert_int_equal(store_message_get(fx->store, c.ids[0], &m), 0);
	assert_string_equal(m.text, "one three");
	assert_int_equal(m.incomplete, 1);
	assert_int_equal(m.segments, 2);
	assert_int_equal(m.received_at, 1001);
	store_message_release(&m);

	/* Flushed once only. */
	assert_int_equal(store_inbound_flush(fx->store, INT64_MAX), 0);
	assert_int_equal(count_inbound(fx->store), 2);
	assert_int_equal(store_inbound_flush(NULL, 0), -EINVAL);
}

/* ---- damage, concurrency, durability --------------------------------- */

static void
test_store_impossible_state(void **state)
{
	struct fixture *fx = *state;
	struct store_filter f = { -1, -1, 0, 10 };
	struct store_message m;
	struct collect c;
	struct events e;
	int64_t id;
	char sql[128];

	id = insert(fx->store, "+15550000001", NULL, 0);
	snprintf(sql, sizeof(sql), "UPDATE messages SET state = 'bogus'"
	    " WHERE id = %lld", (long long)id);
	raw_exec(fx->path, sql);

	assert_int_equal(store_message_get(fx->store, id, &m), -EIO);
	memset(&c, 0, sizeof(c));
	assert_int_equal(store_message_list(fx->store, &f, collect_fn, &c),
	    -EIO);
	assert_int_equal(c.n, 0);

	snprintf(sql, sizeof(sql), "UPDATE message_events SET state = 'odd'"
	    " WHERE message_id = %lld", (long long)id);
	raw_exec(fx->path, sql);
	memset(&e, 0, sizeof(e));
	assert_int_equal(store_message_events(fx->store, id, events_fn, &e),
	    -EIO);
}

/* A failing step rolls back the whole change: never a message without
 * its event (I4), never half a claim. */
static void
test_store_sqlite_error_rolls_back(void **state)
{
	struct fixture *fx = *state;
	struct store_outbound_new n = {
		.to = "+15551234567", .text = "hi", .encoding = "gsm7",
		.segments = 1,
	};
	struct store_message m;
	int64_t queued, id = -1;

	queued = insert(fx->store, "+15550000001", NULL, 0);
	raw_exec(fx->path, "DROP TABLE message_events");

	assert_int_equal(store_outbound_insert(fx->store, &n, &id), -EIO);
	assert_int_equal(id, -1);
	assert_int_equal(raw_int(fx->path, "SELECT COUNT(*) FROM messages"),
	    1);

	assert_int_equal(store_claim_next(fx->store, "m", 1, &m), -EIO);
	assert_int_equal(store_transition(fx->store, queued, STORE_QUEUED,
	    STORE_CANCELLED, "x", 0), -EIO);
	assert_int_equal(raw_int(fx->path, "SELECT COUNT(*) FROM messages"
	    " WHERE state = 'queued' AND attempts = 0"), 1);
}

#define RACE_MESSAGES	200

struct racer {
	const char	*path;
	const char	*modem;
	int64_t		 ids[RACE_MESSAGES];
	int		 n;
	int		 rc;
};

static void *
racer_run(void *arg)
{
	struct racer *r = arg;
	struct store_message m;
	struct store *store;
	char err[256];
	int rc;

	r->rc = store_open(r->path, &store, err, sizeof(err));
	if (r->rc != 0)
		return NULL;
	while ((rc = store_claim_next(store, r->modem, 1, &m)) == 0) {
		if (r->n < RACE_MESSAGES)
			r->ids[r->n] = m.id;
		r->n++;
		store_message_release(&m);
	}
	if (rc != -ENOENT)
		r->rc = rc;
	store_close(store);
	return NULL;
}

static void
test_store_concurrent_claims(void **state)
{
	struct fixture *fx = *state;
	struct racer r[2];
	pthread_t t[2];
	int64_t first = 0, id;
	int count[RACE_MESSAGES + 1];
	int i, j;

	for (i = 0; i < RACE_MESSAGES; i++) {
		id = insert(fx->store, "+15550000001", NULL, 0);
		if (i == 0)
			first = id;
	}

	memset(r, 0, sizeof(r));
	r[0].path = r[1].path = fx->path;
	r[0].modem = "office-1";
	r[1].modem = "office-2";
	for (i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, racer_run, &r[i]),
		    0);
	for (i = 0; i < 2; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);

	memset(count, 0, sizeof(count));
	for (i = 0; i < 2; i++) {
		assert_int_equal(r[i].rc, 0);
		for (j = 0; j < r[i].n; j++) {
			id = r[i].ids[j] - first;
			assert_true(id >= 0 && id < RACE_MESSAGES);
			count[id]++;
		}
	}
	assert_int_equal(r[0].n + r[1].n, RACE_MESSAGES);
	for (i = 0; i < RACE_MESSAGES; i++)
		assert_int_equal(count[i], 1);
	assert_int_equal(raw_int(fx->path, "SELECT COUNT(*) FROM messages"
	    " WHERE state = 'sending' AND attempts = 1"), RACE_MESSAGES);
}

static void
test_store_reopen_intact(void **state)
{
	struct fixture *fx = *state;
	struct store_message m;
	struct events e;
	char err[256];
	int64_t out, in;

	out = insert(fx->store, "+15550000001", "office-1", 0);
	in = inbound_single(fx->store, "FF00", "kept");
	store_close(fx->store);
	fx->store = NULL;

	assert_int_equal(store_open(fx->path, &fx->store, err, sizeof(err)),
	    0);
	assert_int_equal(store_message_get(fx->store, out, &m), 0);
	assert_string_equal(m.number, "+15550000001");
	assert_string_equal(m.modem, "office-1");
	assert_int_equal(m.state, STORE_QUEUED);
	store_message_release(&m);
	assert_int_equal(store_message_get(fx->store, in, &m), 0);
	assert_string_equal(m.text, "kept");
	store_message_release(&m);
	memset(&e, 0, sizeof(e));
	assert_int_equal(store_message_events(fx->store, out, events_fn, &e),
	    0);
	assert_int_equal(e.n, 1);
	assert_int_equal(store_inbound_seen(fx->store, "office-1", "FF00"), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_store_open_migrates),
		T(test_store_open_refuses_newer),
		T(test_store_open_bad_path),
		T(test_store_names),
		T(test_store_insert_get),
		T(test_store_get_missing),
		T(test_store_insert_invalid),
		T(test_store_list_filters),
		T(test_store_claim_order),
		T(test_store_claim_send_at),
		T(test_store_claim_pinned),
		T(test_store_claim_retry),
		T(test_store_transition),
		T(test_store_count_states),
		T(test_store_events_order),
		T(test_store_parts),
		T(test_store_recover),
		T(test_store_recover_impossible_part),
		T(test_store_report_delivered),
		T(test_store_report_failed_and_unmatched),
		T(test_store_report_before_sent),
		T(test_store_report_national_forms),
		T(test_store_claim_resume_same_modem),
		T(test_store_inbound_single),
		T(test_store_inbound_multipart_any_order),
		T(test_store_inbound_duplicate_seq),
		T(test_store_inbound_same_ref_new_message),
		T(test_store_inbound_bad_seq),
		T(test_store_inbound_flush),
		T(test_store_impossible_state),
		T(test_store_sqlite_error_rolls_back),
		T(test_store_concurrent_claims),
		T(test_store_reopen_intact),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
