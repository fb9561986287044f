/*
 * store_sqlite.c - the SQLite backend of the message store.
 *
 * One struct store_sqlite is one connection, used by one thread at a time
 * (the API's request threads and each modem worker open their own).  The
 * database runs in WAL mode, so readers never wait for the writer, with
 * synchronous=FULL, so a COMMIT has reached the disk when it returns, and
 * a busy timeout, so writers on other connections queue up instead of
 * failing.
 *
 * STATES OF A MESSAGE
 *
 * Outbound (messages.direction = 'outbound'):
 *
 *   queued ---claim---> sending ---> sent ---> delivered
 *     |  ^                 |  |  `-> unknown
 *     |  `----(retry)------'  `---> failed
 *     |-> cancelled
 *     `-> expired
 *
 * Inbound messages are born in 'received' and stay there.
 *
 * Each part of an outbound message (outbound_parts) is pending (no row,
 * or a row returned to pending), submitting (handed to the modem, no
 * answer yet) or sent (the modem answered with a TP-MR).
 *
 * INVARIANTS
 *
 * I1: A message is visible only after COMMIT.  Every function that writes
 *     opens one BEGIN IMMEDIATE transaction and returns 0 only after its
 *     COMMIT, which synchronous=FULL puts on disk: the API answers 202
 *     after store_outbound_insert() returned, so an accepted message
 *     survives a power cut.
 *
 * I2: A part is marked submitting, committed, before its Ctrl-Z.  The
 *     worker calls store_part_submitting() before it hands the PDU to the
 *     modem, so after a crash a part in submitting means "the modem may
 *     have sent it" and store_recover() makes the message unknown rather
 *     than sending it a second time.
 *
 * I3: An inbound PDU is committed before it is deleted from the SIM, and
 *     duplicates are detected by the PDU itself: (modem, pdu) is UNIQUE,
 *     so a PDU read again after a crash between COMMIT and AT+CMGD is a
 *     no-op.
 *
 * I4: Every state a message enters is recorded in message_events, in the
 *     transaction that changes messages.state, the first one (queued or
 *     received) included.  A message without events is corrupt.
 *
 * I5: A state change names its from-state in the WHERE of its UPDATE.
 *     When nothing matched the change is refused (-ESTALE): of two
 *     threads moving a message out of the same state, one wins.
 *
 * I6: A claim is one UPDATE ... RETURNING in a BEGIN IMMEDIATE
 *     transaction: the write lock is held from the choice of the message
 *     to the COMMIT, so two connections never claim the same message.
 *
 * I7: A message in sending belongs to the worker of messages.modem.  Only
 *     store_recover(), run at start-up before any worker, moves messages
 *     out of sending on its own.
 *
 * I8: A concatenated inbound set becomes one message exactly once.  Only
 *     unlinked PDUs (message_id IS NULL) count towards completion; they
 *     are linked in the transaction that inserts the message.  Within a
 *     set the first PDU of each seq wins, so a part resent by the network
 *     with a different PDU never doubles the text.
 *
 * I9: The schema version is PRAGMA user_version.  Each migration step
 *     commits together with its version bump; a database newer than this
 *     code is refused, never written.
 *
 * I10: Within this process, a writer holds sq_write_lock from its BEGIN
 *     IMMEDIATE to its COMMIT or ROLLBACK.  SQLite admits one writer at a
 *     time anyway, but its busy handler makes the others sleep in growing
 *     steps of up to 100 ms: under load (make bench) that gave POSTs of
 *     seconds and a worker starved of the lock.  The mutex hands the lock
 *     over at once.  Writers in other processes (an admin's sqlite3
 *     shell) still meet the busy timeout.
 *
 * I11: A message some of whose parts went out through one modem is taken
 *     again only by that modem (SQ_MAY_TAKE): its remaining parts must
 *     reach the phone from the same number to be joined, and status
 *     reports are matched per modem.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "smsgw/log.h"
#include "smsgw/store.h"
#include "store_backend.h"

/* How long a writer waits for another connection's transaction. */
#define SQ_BUSY_TIMEOUT_MS	10000

/* A status report is matched only to parts sent this recently. */
#define SQ_REPORT_WINDOW_MS	(7 * 24 * 3600 * 1000LL)

/* Numbers match on this many trailing digits, so that the national and
 * international forms of one number are the same recipient. */
#define SQ_NUMBER_MIN		7	/* digits of a national number */

/* A part resent by the network this long after its set was assembled is
 * still recognised as a resend (I8). */
#define SQ_RESEND_WINDOW_MS	(24 * 3600 * 1000LL)

struct store_sqlite {
	struct store	 base;	/* first: store.c sees only this */
	sqlite3		*db;
	int		 writing;	/* holds sq_write_lock (I10) */
};

static pthread_mutex_t sq_write_lock = PTHREAD_MUTEX_INITIALIZER;

static void
sq_write_release(struct store_sqlite *s)
{
	if (s->writing) {
		s->writing = 0;
		pthread_mutex_unlock(&sq_write_lock);
	}
}

/*
 * The numbered migrations (I9).  Step i brings user_version from i to
 * i + 1.  Never edit a step that has shipped; append a new one.
 */
static const char *const sq_migrations[] = {
	/* 1: the initial schema. */
	"CREATE TABLE messages ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"	/* ids never reused */
	"  direction TEXT NOT NULL,"
	"  state TEXT NOT NULL,"
	"  number TEXT NOT NULL,"
	"  text TEXT NOT NULL,"
	"  encoding TEXT NOT NULL,"
	"  segments INTEGER NOT NULL DEFAULT 1,"
	"  smart_encoding INTEGER NOT NULL DEFAULT 0,"
	"  modem TEXT,"		/* claiming/receiving modem, or pin */
	"  pin TEXT,"			/* only this modem may send it */
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  reason TEXT NOT NULL DEFAULT '',"
	"  created_at INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL,"
	"  send_at INTEGER NOT NULL DEFAULT 0,"
	"  next_attempt_at INTEGER NOT NULL DEFAULT 0,"
	"  sent_at INTEGER NOT NULL DEFAULT 0,"
	"  received_at INTEGER NOT NULL DEFAULT 0,"
	"  incomplete INTEGER NOT NULL DEFAULT 0,"
	"  concat_ref INTEGER"
	");"
	/* (direction, state, id) is also the queue, in claim order (I6);
	 * the other two serve the API's lists, newest first. */
	"CREATE INDEX messages_direction_state"
	"  ON messages(direction, state, id);"
	"CREATE INDEX messages_direction ON messages(direction, id);"
	"CREATE INDEX messages_state ON messages(state, id);"
	"CREATE TABLE message_events ("
	"  id INTEGER PRIMARY KEY,"
	"  message_id INTEGER NOT NULL"
	"    REFERENCES messages(id) ON DELETE CASCADE,"
	"  at INTEGER NOT NULL,"
	"  state TEXT NOT NULL,"
	"  reason TEXT NOT NULL DEFAULT ''"
	");"
	"CREATE INDEX message_events_message ON message_events(message_id, id);"
	"CREATE TABLE outbound_parts ("
	"  message_id INTEGER NOT NULL"
	"    REFERENCES messages(id) ON DELETE CASCADE,"
	"  seq INTEGER NOT NULL,"
	"  total INTEGER NOT NULL,"
	"  state TEXT NOT NULL,"
	"  mr INTEGER,"
	"  updated_at INTEGER NOT NULL,"
	"  PRIMARY KEY (message_id, seq)"
	") WITHOUT ROWID;"
	/* Status reports are matched by TP-MR. */
	"CREATE INDEX outbound_parts_mr ON outbound_parts(mr);"
	"CREATE TABLE inbound_pdus ("
	"  id INTEGER PRIMARY KEY,"
	"  modem TEXT NOT NULL,"
	"  pdu TEXT NOT NULL,"
	"  originator TEXT NOT NULL,"
	"  ref INTEGER NOT NULL DEFAULT 0,"
	"  seq INTEGER NOT NULL DEFAULT 0,"
	"  total INTEGER NOT NULL DEFAULT 0,"
	"  text TEXT NOT NULL,"
	"  encoding TEXT NOT NULL,"
	"  received_at INTEGER NOT NULL DEFAULT 0,"
	"  stored_at INTEGER NOT NULL,"
	"  message_id INTEGER REFERENCES messages(id) ON DELETE SET NULL,"
	"  UNIQUE (modem, pdu)"			/* I3 */
	");"
	"CREATE INDEX inbound_pdus_set"
	"  ON inbound_pdus(modem, originator, ref, total, seq);"
	"CREATE INDEX inbound_pdus_message ON inbound_pdus(message_id);",

	/* 2: sets still waiting for parts, for store_inbound_flush(). */
	"CREATE INDEX inbound_pdus_waiting ON inbound_pdus(stored_at)"
	"  WHERE message_id IS NULL;",

	/* 3: what status reports said about each part. */
	"ALTER TABLE outbound_parts ADD COLUMN report_status INTEGER;"
	"ALTER TABLE outbound_parts ADD COLUMN reported_at INTEGER;",
};

#define SQ_SCHEMA_VERSION \
	((int)(sizeof(sq_migrations) / sizeof(sq_migrations[0])))

/* The columns sq_row_message() reads, in its order. */
#define SQ_MSG_COLS \
	"id, direction, state, number, text, encoding, segments," \
	" smart_encoding, COALESCE(modem, ''), attempts, reason, created_at," \
	" updated_at, send_at, next_attempt_at, sent_at, received_at," \
	" incomplete"

static struct store_sqlite *
sq(struct store *store)
{
	return (struct store_sqlite *)store;
}

static int64_t
sq_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Log a SQLite failure and turn it into -EIO. */
static int
sq_error(struct store_sqlite *s, const char *op, int rc)
{
	log_error("store: error op=%s rc=%d msg=%s", op, rc,
	    sqlite3_errmsg(s->db));
	return -EIO;
}

static int
sq_prepare(struct store_sqlite *s, const char *op, const char *sql,
    sqlite3_stmt **st)
{
	int rc;

	rc = sqlite3_prepare_v2(s->db, sql, -1, st, NULL);
	if (rc != SQLITE_OK) {
		*st = NULL;
		return sq_error(s, op, rc);
	}
	return 0;
}

static int
sq_exec(struct store_sqlite *s, const char *op, const char *sql)
{
	int rc;

	rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return sq_error(s, op, rc);
	return 0;
}

/* IMMEDIATE: take the write lock now, waiting for it under the busy
 * timeout, instead of failing later on a lock upgrade (I6); this
 * process's other writers wait on the mutex first (I10). */
static int
sq_begin(struct store_sqlite *s, const char *op)
{
	int rc;

	pthread_mutex_lock(&sq_write_lock);
	s->writing = 1;
	rc = sq_exec(s, op, "BEGIN IMMEDIATE");
	if (rc < 0)
		sq_write_release(s);
	return rc;
}

static void
sq_rollback(struct store_sqlite *s)
{
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	sq_write_release(s);
}

/* A COMMIT that fails is rolled back here, so the lock never outlives
 * the transaction whatever the caller does next. */
static int
sq_commit(struct store_sqlite *s, const char *op)
{
	int rc;

	rc = sq_exec(s, op, "COMMIT");
	if (rc < 0)
		sq_rollback(s);
	else
		sq_write_release(s);
	return rc;
}

/* Step a statement that returns no row. */
static int
sq_step_done(struct store_sqlite *s, const char *op, sqlite3_stmt *st)
{
	int rc;

	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		return sq_error(s, op, rc);
	return 0;
}

static void
sq_copy(char *dst, size_t len, const unsigned char *src)
{
	snprintf(dst, len, "%s", src != NULL ? (const char *)src : "");
}

/* A state name we do not know is a corrupt row or a newer writer: say
 * which message, never guess. */
static int
sq_impossible(int64_t id, const char *what, const unsigned char *value)
{
	log_error("store: impossible id=%" PRId64 " %s=%s", id, what,
	    value != NULL ? (const char *)value : "(null)");
	return -EIO;
}

/* Read SQ_MSG_COLS from the current row of 'st'. */
static int
sq_row_message(sqlite3_stmt *st, struct store_message *m)
{
	const unsigned char *dir, *state, *text;
	int d, k;

	memset(m, 0, sizeof(*m));
	m->id = sqlite3_column_int64(st, 0);

	dir = sqlite3_column_text(st, 1);
	d = store_direction_parse((const char *)dir);
	if (d < 0)
		return sq_impossible(m->id, "direction", dir);
	state = sqlite3_column_text(st, 2);
	k = store_state_parse((const char *)state);
	if (k < 0)
		return sq_impossible(m->id, "state", state);
	m->direction = (enum store_direction)d;
	m->state = (enum store_state)k;

	sq_copy(m->number, sizeof(m->number), sqlite3_column_text(st, 3));
	sq_copy(m->encoding, sizeof(m->encoding), sqlite3_column_text(st, 5));
	m->segments = sqlite3_column_int(st, 6);
	m->smart_encoding = sqlite3_column_int(st, 7);
	sq_copy(m->modem, sizeof(m->modem), sqlite3_column_text(st, 8));
	m->attempts = sqlite3_column_int(st, 9);
	sq_copy(m->reason, sizeof(m->reason), sqlite3_column_text(st, 10));
	m->created_at = sqlite3_column_int64(st, 11);
	m->updated_at = sqlite3_column_int64(st, 12);
	m->send_at = sqlite3_column_int64(st, 13);
	m->next_attempt_at = sqlite3_column_int64(st, 14);
	m->sent_at = sqlite3_column_int64(st, 15);
	m->received_at = sqlite3_column_int64(st, 16);
	m->incomplete = sqlite3_column_int(st, 17);

	/* Last, so that nothing above can fail with the text allocated. */
	text = sqlite3_column_text(st, 4);
	m->text = strdup(text != NULL ? (const char *)text : "");
	if (m->text == NULL)
		return -ENOMEM;
	return 0;
}

/* Record that message 'id' entered 'state' (I4); inside a transaction. */
static int
sq_event(struct store_sqlite *s, int64_t id, int64_t at,
    enum store_state state, const char *reason)
{
	sqlite3_stmt *st;
	int rc;

	rc = sq_prepare(s, "event", "INSERT INTO message_events"
	    " (message_id, at, state, reason) VALUES (?, ?, ?, ?)", &st);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, at);
	sqlite3_bind_text(st, 3, store_state_name(state), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, reason, -1, SQLITE_STATIC);
	rc = sq_step_done(s, "event", st);
	sqlite3_finalize(st);
	return rc;
}

/* ---- opening and migrations ------------------------------------------ */

static int
sq_user_version(struct store_sqlite *s, int *version)
{
	sqlite3_stmt *st;
	int rc;

	rc = sq_prepare(s, "user_version", "PRAGMA user_version", &st);
	if (rc < 0)
		return rc;
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		rc = sq_error(s, "user_version", rc);
		goto out;
	}
	*version = sqlite3_column_int(st, 0);
	rc = 0;
out:
	sqlite3_finalize(st);
	return rc;
}

/*
 * Apply the missing migrations, each in its own transaction with its
 * version bump (I9).  The version is read inside the transaction, so two
 * processes opening a new database at once apply each step once.
 */
static int
sq_migrate(struct store_sqlite *s, char *err, size_t errlen)
{
	char bump[64];
	int version, rc;

	for (;;) {
		rc = sq_begin(s, "migrate");
		if (rc < 0)
			goto err;
		rc = sq_user_version(s, &version);
		if (rc < 0)
			goto err;
		if (version > SQ_SCHEMA_VERSION) {
			snprintf(err, errlen, "database schema version %d is "
			    "newer than this program's %d; refusing to use it",
			    version, SQ_SCHEMA_VERSION);
			sq_rollback(s);
			return -EPROTO;
		}
		if (version == SQ_SCHEMA_VERSION)
			break;

		rc = sq_exec(s, "migrate", sq_migrations[version]);
		if (rc < 0)
			goto err;
		snprintf(bump, sizeof(bump), "PRAGMA user_version = %d",
		    version + 1);
		rc = sq_exec(s, "migrate", bump);
		if (rc < 0)
			goto err;
		rc = sq_commit(s, "migrate");
		if (rc < 0)
			goto err;
		log_notice("store: migrated version=%d", version + 1);
	}
	return sq_commit(s, "migrate");
err:
	snprintf(err, errlen, "schema migration failed: %s",
	    sqlite3_errmsg(s->db));
	sq_rollback(s);
	return rc;
}

static int
sq_configure(struct store_sqlite *s, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	const unsigned char *mode;
	int rc;

	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, SQ_BUSY_TIMEOUT_MS);

	rc = sq_prepare(s, "open", "PRAGMA journal_mode = WAL", &st);
	if (rc < 0)
		goto err;
	rc = sqlite3_step(st);
	mode = rc == SQLITE_ROW ? sqlite3_column_text(st, 0) : NULL;
	if (mode == NULL || strcmp((const char *)mode, "wal") != 0) {
		snprintf(err, errlen, "cannot switch to WAL mode (mode %s)",
		    mode != NULL ? (const char *)mode : "unknown");
		rc = -EIO;
		goto out;
	}

	/* FULL: in WAL mode, a COMMIT is fsynced before it returns (I1). */
	rc = sq_exec(s, "open", "PRAGMA synchronous = FULL;"
	    "PRAGMA foreign_keys = ON");
	if (rc < 0)
		goto err;
	rc = 0;
	goto out;
err:
	snprintf(err, errlen, "cannot configure the database: %s",
	    sqlite3_errmsg(s->db));
out:
	sqlite3_finalize(st);
	return rc;
}

static int
sq_open(const char *path, struct store **out, char *err, size_t errlen)
{
	struct store_sqlite *s;
	char dummy[1];
	int rc;

	if (err == NULL || errlen == 0) {
		err = dummy;
		errlen = sizeof(dummy);
	}

	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}

	/* NOMUTEX: a connection is used by one thread at a time. */
	rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "cannot open %s: %s", path,
		    s->db != NULL ? sqlite3_errmsg(s->db) :
		    sqlite3_errstr(rc));
		rc = -EIO;
		goto err;
	}

	rc = sq_configure(s, err, errlen);
	if (rc < 0)
		goto err;
	rc = sq_migrate(s, err, errlen);
	if (rc < 0)
		goto err;

	*out = &s->base;
	return 0;
err:
	sqlite3_close(s->db);
	free(s);
	return rc;
}

static void
sq_close(struct store *store)
{
	struct store_sqlite *s = sq(store);

	sqlite3_close(s->db);
	free(s);
}

/* ---- outbound messages ----------------------------------------------- */

static int
sq_outbound_insert(struct store *store, const struct store_outbound_new *msg,
    int64_t *id)
{
	struct store_sqlite *s = sq(store);
	sqlite3_stmt *st = NULL;
	int64_t now = sq_now(), newid;
	int rc;

	rc = sq_begin(s, "insert");
	if (rc < 0)
		return rc;

	rc = sq_prepare(s, "insert", "INSERT INTO messages (direction, state,"
	    " number, text, encoding, segments, smart_encoding, modem, pin,"
	    " reason, created_at, updated_at, send_at)"
	    " VALUES ('outbound', 'queued', ?1, ?2, ?3, ?4, ?5, ?6, ?6,"
	    " 'accepted', ?7, ?7, ?8)", &st);
	if (rc < 0)
		goto err;
	sqlite3_bind_text(st, 1, msg->to, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, msg->text, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, msg->encoding, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 4, msg->segments);
	sqlite3_bind_int(st, 5, msg->smart_encoding != 0);
	if (msg->modem != NULL)
		sqlite3_bind_text(st, 6, msg->modem, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, now);
	sqlite3_bind_int64(st, 8, msg->send_at);
	rc = sq_step_done(s, "insert", st);
	if (rc < 0)
		goto err;
	newid = sqlite3_last_insert_rowid(s->db);

	rc = sq_event(s, newid, now, STORE_QUEUED, "accepted");
	if (rc < 0)
		goto err;
	rc = sq_commit(s, "insert");	/* I1 */
	if (rc < 0)
		goto err;

	sqlite3_finalize(st);
	*id = newid;
	return 0;
err:
	sqlite3_finalize(st);
	sq_rollback(s);
	return rc;
}

static int
sq_message_get(struct store *store, int64_t id, struct store_message *out)
{
	struct store_sqlite *s = sq(store);
	sqlite3_stmt *st;
	int rc;

	rc = sq_prepare(s, "get", "SELECT " SQ_MSG_COLS
	    " FROM messages WHERE id = ?", &st);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(st, 1, id);

	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		rc = sq_row_message(st, out);
	else if (rc == SQLITE_DONE)
		rc = -ENOENT;
	else
		rc = sq_error(s, "get", rc);
	if (rc < 0)
		store_message_release(out);
	sqlite3_finalize(st);
	return rc;
}

static int
sq_message_list(struct store *store, const struct store_filter *filter,
    int (*fn)(const struct store_message *, void *), void *arg)
{
	struct store_sqlite *s = sq(store);
	struct store_message m;
	sqlite3_stmt *st;
	char sql[512];
	const char *and = " WHERE";
	size_t n;
	int rc, i = 0;

	/* The WHERE is built from the filter so that the planner can walk
	 * one of the messages_* indexes in id order rather than sort. */
	n = (size_t)snprintf(sql, sizeof(sql), "SELECT " SQ_MSG_COLS
	    " FROM messages");
	if (filter->direction >= 0) {
		n += (size_t)snprintf(sql + n, sizeof(sql) - n,
		    "%s direction = ?", and);
		and = " AND";
	}
	if (filter->state >= 0) {
		n += (size_t)snprintf(sql + n, sizeof(sql) - n,
		    "%s state = ?", and);
		and = " AND";
	}
	if (filter->before_id > 0)
		n += (size_t)snprintf(sql + n, sizeof(sql) - n,
		    "%s id < ?", and);
	snprintf(sql + n, sizeof(sql) - n, " ORDER BY id DESC LIMIT ?");

	rc = sq_prepare(s, "list", sql, &st);
	if (rc < 0)
		return rc;
	if (filter->direction >= 0)
		sqlite3_bind_text(st, ++i, store_direction_name(
		    (enum store_direction)filter->direction), -1,
		    SQLITE_STATIC);
	if (filter->state >= 0)
		sqlite3_bind_text(st, ++i, store_state_name(
		    (enum store_state)filter->state), -1, SQLITE_STATIC);
	if (filter->before_id > 0)
		sqlite3_bind_int64(st, ++i, filter->before_id);
	sqlite3_bind_int(st, ++i, filter->limit);

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		rc = sq_row_message(st, &m);
		if (rc == 0)
			rc = fn(&m, arg);
		store_message_release(&m);
		if (rc != 0)
			goto out;
	}
	rc = rc == SQLITE_DONE ? 0 : sq_error(s, "list", rc);
out:
	sqlite3_finalize(st);
	return rc;
}

static int
sq_exists(struct store_sqlite *s, int64_t id)
{
	sqlite3_stmt *st;
	int rc;

	rc = sq_prepare(s, "exists", "SELECT 1 FROM messages WHERE id = ?",
	    &st);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		rc = 1;
	else if (rc == SQLITE_DONE)
		rc = 0;
	else
		rc = sq_error(s, "exists", rc);
	sqlite3_finalize(st);
	return rc;
}

static int
sq_count_states(struct store *store, int (*fn)(enum store_direction,
    enum store_state, int64_t, void *), void *arg)
{
	struct store_sqlite *s = sq(store);
	const unsigned char *dname, *sname;
	sqlite3_stmt *st;
	int rc, dir, state;

	rc = sq_prepare(s, "count", "SELECT direction, state, count(*)"
	    " FROM messages GROUP BY direction, state", &st);
	if (rc < 0)
		return rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		dname = sqlite3_column_text(st, 0);
		sname = sqlite3_column_text(st, 1);
		dir = store_direction_parse((const char *)dname);
		state = store_state_parse((const char *)sname);
		if (dir < 0 || state < 0) {
			rc = sq_impossible(0, "count", dir < 0 ? dname :
			    sname);
			goto out;
		}
		rc = fn((enum store_direction)dir, (enum store_state)state,
		    sqlite3_column_int64(st, 2), arg);
		if (rc != 0)
			goto out;
	}
	rc = rc == SQLITE_DONE ? 0 : sq_error(s, "count", rc);
out:
	sqlite3_finalize(st);
	return rc;
}

static int
sq_message_events(struct store *store, int64_t id,
    int (*fn)(const struct store_event *, void *), void *arg)
{
	struct store_sqlite *s = sq(store);
	struct store_event ev;
	const unsigned char *name;
	sqlite3_stmt *st;
	int rc, k, seen = 0;

	rc = sq_prepare(s, "events", "SELECT at, state, reason"
	    " FROM message_events WHERE message_id = ? ORDER BY id", &st);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(st, 1, id);

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		seen++;
		name = sqlite3_column_text(st, 1);
		k = store_state_parse((const char *)name);
		if (k < 0) {
			rc = sq_impossible(id, "event_state", name);
			goto out;
		}
		ev.at = sqlite3_column_int64(st, 0);
		ev.state = (enum store_state)k;
		ev.reason = (const char *)sqlite3_column_text(st, 2);
		if (ev.reason == NULL)
			ev.reason = "";
		rc = fn(&ev, arg);
		if (rc != 0)
			goto out;
	}
	if (rc != SQLITE_DONE) {
		rc = sq_error(s, "events", rc);
		goto out;
	}
	rc = 0;

	/* No event at all: either no such message, or one that breaks I4. */
	if (seen == 0) {
		rc = sq_exists(s, id);
		if (rc == 0)
			rc = -ENOENT;
		else if (rc == 1)
			rc = sq_impossible(id, "events",
			    (const unsigned char *)"none");
	}
out:
	sqlite3_finalize(st);
	return rc;
}

/* ---- the queue ------------------------------------------------------- */

/*
 * The choice and the change are one statement, inside BEGIN IMMEDIATE
 * (I6); SQLite walks messages_direction_state in id order and stops at
 * the first due row.
 */
/* Which queued messages modem ?1 may take: not pinned to another one,
 * and not part-sent through another one (I11). */
#define SQ_MAY_TAKE \
	"  AND (pin IS NULL OR pin = ?1)" \
	"  AND (modem IS NULL OR modem = ?1 OR NOT EXISTS (SELECT 1" \
	"   FROM outbound_parts p WHERE p.message_id = messages.id" \
	"   AND p.state <> 'pending'))"

static int
sq_claim_next(struct store *store, const char *modem, int64_t now,
    struct store_message *out)
{
	struct store_sqlite *s = sq(store);
	sqlite3_stmt *st = NULL;
	char reason[STORE_REASON_MAX];
	int rc;

	rc = sq_begin(s, "claim");
	if (rc < 0)
		return rc;

	rc = sq_prepare(s, "claim", "UPDATE messages SET state = 'sending',"
	    " modem = ?1, attempts = attempts + 1, updated_at = ?2,"
	    " reason = 'claimed'"
	    " WHERE id = (SELECT id FROM messages"
	    "  WHERE state = 'queued' AND direction = 'outbound'"
	    "  AND send_at <= ?2 AND next_attempt_at <= ?2"
	    SQ_MAY_TAKE
	    "  ORDER BY id LIMIT 1)"
	    " RETURNING " SQ_MSG_COLS, &st);
	if (rc < 0)
		goto err;
	sqlite3_bind_text(st, 1, modem, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);

	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		rc = -ENOENT;
		goto err;
	}
	if (rc != SQLITE_ROW) {
		rc = sq_error(s, "claim", rc);
		goto err;
	}
	rc = sq_row_message(st, out);
	if (rc < 0)
		goto err;
	rc = sq_step_done(s, "claim", st);
	if (rc < 0)
		goto err;

	snprintf(reason, sizeof(reason), "claimed modem=%s attempt=%d",
	    modem, out->attempts);
	rc = sq_event(s, out->id, now, STORE_SENDING, reason);
	if (rc < 0)
		goto err;
	rc = sq_commit(s, "claim");
	if (rc < 0)
		goto err;

	sqlite3_finalize(st);
	log_debug("store: claimed id=%" PRId64 " modem=%s attempt=%d",
	    out->id, modem, out->attempts);
	return 0;
err:
	store_message_release(out);
	sqlite3_finalize(st);
	sq_rollback(s);
	return rc;
}

static int
sq_next_due(struct store *store, const char *modem, int64_t now,
    int64_t *when)
{
	struct store_sqlite *s = sq(store);
	sqlite3_stmt *st;
	int64_t due;
	int rc;

	rc = sq_prepare(s, "next_due", "SELECT MIN(MAX(send_at,"
	    " next_attempt_at)) FROM messages"
	    " WHERE state = 'queued' AND direction = 'outbound'"
	    SQ_MAY_TAKE, &st);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(st, 1, modem, -1, SQLITE_STATIC);

	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		rc = sq_error(s, "next_due", rc);
		goto out;
	}
	if (sqlite3_column_type(st, 0) == SQLITE_NULL) {
		rc = -ENOENT;
		goto out;
	}
	due = sqlite3_column_int64(st, 0);
	*when = due <= now ? 0 : due;
	rc = 0;
out:
	sqlite3_finalize(st);
	return rc;
}

/*
 * Move 'id' from 'from' to 'to' inside the caller's transaction (I5) and
 * record the event (I4).  Returns 0, -ESTALE, -ENOENT or -EIO.
 */
static int
sq_set_state(struct store_sqlite *s, int64_t id, enum store_state from,
    enum store_state to, const char *reason, int64_t next_attempt_at,
    int64_t now)
{
	sqlite3_stmt *st;
	int rc;

	rc = sq_prepare(s, "transition", "UPDATE messages SET state = ?1,"
	    " reason = ?2, updated_at = ?3,"
	    " next_attempt_at = CASE WHEN ?1 = 'queued' THEN ?4"
	    "  ELSE next_attempt_at END,"
	    " sent_at = CASE WHEN ?1 = 'sent' THEN ?3 ELSE sent_at END"
	    " WHERE id = ?5 AND state = ?6", &st);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(st, 1, store_state_name(to), -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, reason, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now);
	sqlite3_bind_int64(st, 4, next_attempt_at);
	sqlite3_bind_int64(st, 5, id);
	sqlite3_bind_text(st, 6, store_state_name(from), -1, SQLITE_STATIC);
	rc = sq_step_done(s, "transition", st);
	sqlite3_finalize(st);
	if (rc < 0)
		return rc;

	if (sqlite3_changes(s->db) == 0) {
		rc = sq_exists(s, id);
		return rc < 0 ? rc : rc == 1 ? -ESTALE : -ENOENT;
	}
	return sq_event(s, id, now, to, reason);
}

static int sq_report_recheck(struct store_sqlite *s, int64_t id,
    int64_t now);

static int
sq_transition(struct store *store, int64_t id, enum store_state from,
    enum store_state to, const char *reason, int64_t next_attempt_at)
{
	struct store_sqlite *s = sq(store);
	int64_t now = sq_now();
	int rc;

	rc = sq_begin(s, "transition");
	if (rc < 0)
		return rc;
	rc = sq_set_state(s, id, from, to, reason, next_attempt_at, now);
	if (rc == 0 && to == STORE_SENT)
		rc = sq_report_recheck(s, id, now);
	if (rc < 0)
		goto err;
	rc = sq_commit(s, "transition");
	if (rc < 0)
		goto err;

	log_debug("store: transition id=%" PRId64 " from=%s to=%s", id,
	    store_state_name(from), store_state_name(to));
	return 0;
err:
	sq_rollback(s);
	return rc;
}

/* ---- outbound parts -------------------------------------------------- */

/* I2: the caller commits this before its Ctrl-Z. */
static int
sq_part_submitting(struct store *store, int64_t id, int seq, int total)
{
	struct store_sqlite *s = sq(store);
	sqlite3_stmt *st;
	int rc;

	rc = sq_prepare(s, "part_submitting", "INSERT INTO outbound_parts"
	    " (message_id, seq, total, state, updated_at)"
	    " VALUES (?1, ?2, ?3, 'submitting', ?4)"
	    " ON CONFLICT (message_id, seq) DO UPDATE SET"
	    " total = excluded.total, state = 'submitting', mr = NULL,"
	    " report_status = NULL, reported_at = NULL,"
	    " updated_at = excluded.updated_at", &st);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int(st, 2, seq);
	sqlite3_bind_int(st, 3, total);
	sqlite3_bind_int64(st, 4, sq_now());

	/* One statement in autocommit mode: its own transaction (I1),
	 * under the process's write lock like any other (I10). */
	pthread_mutex_lock(&sq_write_lock);
	rc = sqlite3_step(st);
	pthread_mutex_unlock(&sq_write_lock);
	if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
		rc = -ENOENT;
	else if (rc != SQLITE_DONE)
		rc = sq_error(s, "part_submitting", rc);
	else
		rc = 0;
	sqlite3_finalize(st);
	return rc;
}

static int
sq_part_update(struct store_sqlite *s, const char *op, int64_t id, int seq,
    const char *state, int mr)
{
	sqlite3_stmt *st;
	int rc;

	rc = sq_prepare(s, op, "UPDATE outbound_parts SET state = ?1,"
	    " mr = ?2, updated_at = ?3 WHERE message_id = ?4 AND seq = ?5",
	    &st);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(st, 1, state, -1, SQLITE_STATIC);
	if (mr >= 0)
		sqlite3_bind_int(st, 2, mr);
	sqlite3_bind_int64(st, 3, sq_now());
	sqlite3_bind_int64(st, 4, id);
	sqlite3_bind_int(st, 5, seq);

	/* Autocommit, under the write lock (I10). */
	pthread_mutex_lock(&sq_write_lock);
	rc = sq_step_done(s, op, st);
	pthread_mutex_unlock(&sq_write_lock);
	if (rc == 0 && sqlite3_changes(s->db) == 0)
		rc = -ENOENT;
	sqlite3_finalize(st);
	return rc;
}

static int
sq_part_sent(struct store *store, int64_t id, int seq, int mr)
{
	return sq_part_update(sq(store), "part_sent", id, seq, "sent", mr);
}

static int
sq_part_pending(struct store *store, int64_t id, int seq)
{
	return sq_part_update(sq(store), "part_pending", id, seq, "pending",
	    -1);
}

static int
sq_part_state(struct store *store, int64_t id, int seq,
    enum store_part_state *state)
{
	struct store_sqlite *s = sq(store);
	const unsigned char *name;
	sqlite3_stmt *st;
	int rc, k;

	rc = sq_prepare(s, "part_state", "SELECT state FROM outbound_parts"
	    " WHERE message_id = ? AND seq = ?", &st);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int(st, 2, seq);

	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		*state = STORE_PART_PENDING;
		rc = 0;
	} else if (rc == SQLITE_ROW) {
		name = sqlite3_column_text(st, 0);
		k = store_part_state_parse((const char *)name);
		if (k < 0) {
			rc = sq_impossible(id, "part_state", name);
		} else {
			*state = (enum store_part_state)k;
			rc = 0;
		}
	} else {
		rc = sq_error(s, "part_state", rc);
	}
	sqlite3_finalize(st);
	return rc;
}

/* ---- status reports ---------------------------------------------------- */

/*
 * Do 'a' and 'b' name the same recipient?  Only digits count.  The same
 * digits match; otherwise the shorter one, without its leading zeros (a
 * trunk "0" or an international "00"), is a national number that must
 * end the longer one and be at least SQ_NUMBER_MIN digits long:
 * "+31612345678" and "0612345678", "+4791234567" and "91234567".  A
 * short code matches only itself.
 */
static int
sq_number_match(const char *a, const char *b)
{
	char da[STORE_NUMBER_MAX], db[STORE_NUMBER_MAX];
	const char *shorter, *longer;
	size_t la = 0, lb = 0, ls, ll;

	for (; *a != '\0' && la < sizeof(da); a++)
		if (*a >= '0' && *a <= '9')
			da[la++] = *a;
	for (; *b != '\0' && lb < sizeof(db); b++)
		if (*b >= '0' && *b <= '9')
			db[lb++] = *b;
	if (la == 0 || lb == 0)
		return 0;
	if (la == lb)
		return memcmp(da, db, la) == 0;

	shorter = la < lb ? da : db;
	ls = la < lb ? la : lb;
	longer = la < lb ? db : da;
	ll = la < lb ? lb : la;
	while (ls > 0 && *shorter == '0') {
		shorter++;
		ls--;
	}
	if (ls < SQ_NUMBER_MIN || ls > ll)
		return 0;
	return memcmp(shorter, longer + ll - ls, ls) == 0;
}

/* Find the part a report speaks of: the latest one sent through 'modem'
 * with 'mr' to 'recipient'. */
static int
sq_report_find(struct store_sqlite *s, const char *modem, int mr,
    const char *recipient, int64_t now, int64_t *id, int *seq)
{
	sqlite3_stmt *st;
	int rc;

	rc = sq_prepare(s, "report", "SELECT p.message_id, p.seq, m.number"
	    " FROM outbound_parts p JOIN messages m ON m.id = p.message_id"
	    " WHERE p.mr = ?1 AND p.state = 'sent' AND m.modem = ?2"
	    " AND p.updated_at >= ?3"
	    " ORDER BY p.updated_at DESC, p.message_id DESC", &st);
	if (rc < 0)
		return rc;
	sqlite3_bind_int(st, 1, mr);
	sqlite3_bind_text(st, 2, modem, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now - SQ_REPORT_WINDOW_MS);

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (!sq_number_match(recipient,
		    (const char *)sqlite3_column_text(st, 2)))
			continue;
		*id = sqlite3_column_int64(st, 0);
		*seq = sqlite3_column_int(st, 1);
		rc = 0;
		goto out;
	}
	rc = rc == SQLITE_DONE ? -ENOENT : sq_error(s, "report", rc);
out:
	sqlite3_finalize(st);
	return rc;
}

/* Are all parts of 'id' recorded and reported delivered?  1, 0, -EIO. */
static int
sq_report_all_delivered(struct store_sqlite *s, int64_t id)
{
	sqlite3_stmt *st;
	int rc;

	rc = sq_prepare(s, "report", "SELECT COUNT(*) = MAX(total) AND"
	    " COUNT(*) = SUM(report_status BETWEEN 0 AND 31)"
	    " FROM outbound_parts WHERE message_id = ?", &st);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		rc = sqlite3_column_int(st, 0) != 0;
	else
		rc = sq_error(s, "report", rc);
	sqlite3_finalize(st);
	return rc;
}

/* Move 'id' to 'to' from sent, or from unknown: a report proves the
 * doubtful send happened.  Already settled otherwise: nothing to do. */
static int
sq_report_settle(struct store_sqlite *s, int64_t id, enum store_state to,
    const char *reason, int64_t now)
{
	int rc;

	rc = sq_set_state(s, id, STORE_SENT, to, reason, 0, now);
	if (rc == -ESTALE)
		rc = sq_set_state(s, id, STORE_UNKNOWN, to, reason, 0, now);
	return rc == -ESTALE ? 0 : rc;
}

/*
 * TP-ST classes (TS 23.040 9.2.3.15): 0x00-0x1F the transaction is
 * complete (delivered); 0x20-0x3F the SMSC is still trying; 0x40-0x7F
 * it gave up.  Values above are reserved: logged, nothing changes.
 */
static int
sq_report_apply(struct store_sqlite *s, int64_t id, int seq, int status,
    int64_t now)
{
	char reason[STORE_REASON_MAX];
	int rc;

	if (status >= 0x40 && status <= 0x7f) {
		snprintf(reason, sizeof(reason), "status report: part %d "
		    "not delivered, TP-ST 0x%02x", seq, status);
		return sq_report_settle(s, id, STORE_FAILED, reason, now);
	}
	if (status > 0x1f)
		return 0;

	rc = sq_report_all_delivered(s, id);
	if (rc <= 0)
		return rc;
	snprintf(reason, sizeof(reason), "status report: delivered, TP-ST "
	    "0x%02x", status);
	return sq_report_settle(s, id, STORE_DELIVERED, reason, now);
}

/*
 * A message that reaches sent may already hold reports: a part reported
 * while a later part was still being sent or waited for a retry.  Apply
 * them now: a final failure of any part fails the message, all parts
 * delivered deliver it.
 */
static int
sq_report_recheck(struct store_sqlite *s, int64_t id, int64_t now)
{
	sqlite3_stmt *st;
	int rc, seq = 0, status = 0;

	rc = sq_prepare(s, "report", "SELECT seq, report_status"
	    " FROM outbound_parts WHERE message_id = ?"
	    " AND report_status BETWEEN 64 AND 127 ORDER BY seq LIMIT 1",
	    &st);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		seq = sqlite3_column_int(st, 0);
		status = sqlite3_column_int(st, 1);
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		rc = 0;
	} else {
		rc = sq_error(s, "report", rc);
	}
	sqlite3_finalize(st);
	if (rc < 0)
		return rc;

	/* With no failure, status 0 asks sq_report_apply() whether every
	 * part is in and delivered. */
	return sq_report_apply(s, id, seq, status, now);
}

static int
sq_report(struct store *store, const char *modem, int mr,
    const char *recipient, int status, int64_t *id)
{
	struct store_sqlite *s = sq(store);
	sqlite3_stmt *st = NULL;
	int64_t now = sq_now(), msg;
	int rc, seq;

	rc = sq_begin(s, "report");
	if (rc < 0)
		return rc;
	rc = sq_report_find(s, modem, mr, recipient, now, &msg, &seq);
	if (rc < 0)
		goto err;

	rc = sq_prepare(s, "report", "UPDATE outbound_parts SET"
	    " report_status = ?, reported_at = ?"
	    " WHERE message_id = ? AND seq = ?", &st);
	if (rc < 0)
		goto err;
	sqlite3_bind_int(st, 1, status);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int64(st, 3, msg);
	sqlite3_bind_int(st, 4, seq);
	rc = sq_step_done(s, "report", st);
	if (rc < 0)
		goto err;

	rc = sq_report_apply(s, msg, seq, status, now);
	if (rc < 0)
		goto err;
	rc = sq_commit(s, "report");
	if (rc < 0)
		goto err;

	if (status > 0x7f)
		log_warn("store: report reserved id=%" PRId64 " status=0x%02x",
		    msg, status);
	sqlite3_finalize(st);
	*id = msg;
	return 0;
err:
	sqlite3_finalize(st);
	sq_rollback(s);
	return rc;
}

/* ---- recovery -------------------------------------------------------- */

struct sq_sending {
	int64_t	id;
	int	submitting;	/* parts handed over without an answer */
	int	sent;		/* parts with an MR */
	int	total;		/* parts of the message, 0: none recorded */
	int	odd;		/* parts in a state we do not know */
};

static int
sq_recover_list(struct store_sqlite *s, struct sq_sending **out, size_t *n)
{
	struct sq_sending *v = NULL, *nv;
	size_t len = 0, cap = 0;
	sqlite3_stmt *st;
	int rc;

	rc = sq_prepare(s, "recover", "SELECT m.id,"
	    " (SELECT COUNT(*) FROM outbound_parts p"
	    "   WHERE p.message_id = m.id AND p.state = 'submitting'),"
	    " (SELECT COUNT(*) FROM outbound_parts p"
	    "   WHERE p.message_id = m.id AND p.state = 'sent'),"
	    " (SELECT COALESCE(MAX(total), 0) FROM outbound_parts p"
	    "   WHERE p.message_id = m.id),"
	    " (SELECT COUNT(*) FROM outbound_parts p"
	    "   WHERE p.message_id = m.id AND p.state NOT IN"
	    "   ('pending', 'submitting', 'sent'))"
	    " FROM messages m"
	    " WHERE m.state = 'sending' AND m.direction = 'outbound'"
	    " ORDER BY m.id", &st);
	if (rc < 0)
		return rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (len == cap) {
			cap = cap ? cap * 2 : 16;
			nv = realloc(v, cap * sizeof(*v));
			if (nv == NULL) {
				rc = -ENOMEM;
				goto err;
			}
			v = nv;
		}
		v[len].id = sqlite3_column_int64(st, 0);
		v[len].submitting = sqlite3_column_int(st, 1);
		v[len].sent = sqlite3_column_int(st, 2);
		v[len].total = sqlite3_column_int(st, 3);
		v[len].odd = sqlite3_column_int(st, 4);
		len++;
	}
	if (rc != SQLITE_DONE) {
		rc = sq_error(s, "recover", rc);
		goto err;
	}
	sqlite3_finalize(st);
	*out = v;
	*n = len;
	return 0;
err:
	sqlite3_finalize(st);
	free(v);
	return rc;
}

/* Decide where a message left in sending goes (I2, I7). */
static enum store_state
sq_recover_target(const struct sq_sending *m, char *reason, size_t len)
{
	/* A part we cannot read might have been handed over: doubt. */
	if (m->odd > 0) {
		snprintf(reason, len, "recovered: %d part(s) in an impossible "
		    "state; it may have been sent", m->odd);
		return STORE_UNKNOWN;
	}
	if (m->submitting > 0) {
		snprintf(reason, len, "recovered: %d part(s) handed to the "
		    "modem without an answer; it may have been sent",
		    m->submitting);
		return STORE_UNKNOWN;
	}
	if (m->total > 0 && m->sent >= m->total) {
		snprintf(reason, len, "recovered: all %d part(s) had been "
		    "sent", m->total);
		return STORE_SENT;
	}
	if (m->sent > 0)
		snprintf(reason, len, "recovered: %d of %d part(s) had been "
		    "sent; the rest is queued again", m->sent, m->total);
	else
		snprintf(reason, len, "recovered: no part had been handed to "
		    "the modem");
	return STORE_QUEUED;
}

static int
sq_recover(struct store *store)
{
	struct store_sqlite *s = sq(store);
	struct sq_sending *v = NULL;
	enum store_state to;
	char reason[STORE_REASON_MAX];
	int64_t now = sq_now();
	size_t n = 0, i;
	int rc;

	rc = sq_begin(s, "recover");
	if (rc < 0)
		return rc;
	rc = sq_recover_list(s, &v, &n);
	if (rc < 0)
		goto err;
	for (i = 0; i < n; i++)
		if (v[i].odd > 0)
			sq_impossible(v[i].id, "part_state",
			    (const unsigned char *)"unreadable");

	for (i = 0; i < n; i++) {
		to = sq_recover_target(&v[i], reason, sizeof(reason));
		rc = sq_set_state(s, v[i].id, STORE_SENDING, to, reason, 0,
		    now);
		if (rc < 0)
			goto err;
	}
	rc = sq_commit(s, "recover");
	if (rc < 0)
		goto err;

	/* Logged after the COMMIT: only what really happened. */
	for (i = 0; i < n; i++) {
		to = sq_recover_target(&v[i], reason, sizeof(reason));
		log_notice("store: recovered id=%" PRId64 " to=%s parts=%d/%d "
		    "submitting=%d", v[i].id, store_state_name(to), v[i].sent,
		    v[i].total, v[i].submitting);
	}
	free(v);
	return (int)n;
err:
	free(v);
	sq_rollback(s);
	return rc;
}

/* ---- inbound --------------------------------------------------------- */

static int
sq_inbound_seen(struct store *store, const char *modem, const char *pdu)
{
	struct store_sqlite *s = sq(store);
	sqlite3_stmt *st;
	int rc;

	rc = sq_prepare(s, "inbound_seen", "SELECT 1 FROM inbound_pdus"
	    " WHERE modem = ? AND pdu = ?", &st);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(st, 1, modem, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, pdu, -1, SQLITE_STATIC);

	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		rc = 1;
	else if (rc == SQLITE_DONE)
		rc = 0;
	else
		rc = sq_error(s, "inbound_seen", rc);
	sqlite3_finalize(st);
	return rc;
}

/* What an assembled (or single) inbound message is made of. */
struct sq_inbound_msg {
	const char	*text;
	const char	*encoding;
	int64_t		 received_at;
	int		 segments;
	int		 incomplete;
	int		 concat;	/* concat_ref is meaningful */
};

static int
sq_inbound_message(struct store_sqlite *s,
    const struct store_inbound_part *part, const struct sq_inbound_msg *im,
    int64_t now, int64_t *id)
{
	char reason[64];
	sqlite3_stmt *st;
	int64_t newid;
	int rc;

	rc = sq_prepare(s, "inbound_message", "INSERT INTO messages"
	    " (direction, state, number, text, encoding, segments, modem,"
	    " reason, created_at, updated_at, received_at, incomplete,"
	    " concat_ref)"
	    " VALUES ('inbound', 'received', ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7,"
	    " ?8, ?9, ?10)", &st);
	if (rc < 0)
		return rc;
	snprintf(reason, sizeof(reason), "received parts=%d%s", im->segments,
	    im->incomplete ? " incomplete" : "");
	sqlite3_bind_text(st, 1, part->from, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, im->text, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, im->encoding, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 4, im->segments);
	sqlite3_bind_text(st, 5, part->modem, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, reason, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, now);
	sqlite3_bind_int64(st, 8, im->received_at);
	sqlite3_bind_int(st, 9, im->incomplete);
	if (im->concat)
		sqlite3_bind_int64(st, 10, part->ref);
	rc = sq_step_done(s, "inbound_message", st);
	sqlite3_finalize(st);
	if (rc < 0)
		return rc;

	newid = sqlite3_last_insert_rowid(s->db);
	rc = sq_event(s, newid, now, STORE_RECEIVED, reason);
	if (rc < 0)
		return rc;
	*id = newid;
	return 0;
}

/* Bind (modem, originator, ref, total) of 'part' to ?1..?4. */
static void
sq_bind_set(sqlite3_stmt *st, const struct store_inbound_part *part)
{
	sqlite3_bind_text(st, 1, part->modem, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, part->from, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, part->ref);
	sqlite3_bind_int64(st, 4, part->total);
}

/* Link PDU row 'pdu_id', or with pdu_id 0 every unlinked PDU of the set
 * of 'part', to message 'msg_id' (I8). */
static int
sq_inbound_link(struct store_sqlite *s, const struct store_inbound_part *part,
    int64_t pdu_id, int64_t msg_id)
{
	sqlite3_stmt *st;
	int rc;

	if (pdu_id != 0)
		rc = sq_prepare(s, "inbound_link", "UPDATE inbound_pdus"
		    " SET message_id = ?5 WHERE id = ?6", &st);
	else
		rc = sq_prepare(s, "inbound_link", "UPDATE inbound_pdus"
		    " SET message_id = ?5 WHERE modem = ?1 AND"
		    " originator = ?2 AND ref = ?3 AND total = ?4 AND"
		    " message_id IS NULL", &st);
	if (rc < 0)
		return rc;
	if (pdu_id == 0)
		sq_bind_set(st, part);
	sqlite3_bind_int64(st, 5, msg_id);
	if (pdu_id != 0)
		sqlite3_bind_int64(st, 6, pdu_id);
	rc = sq_step_done(s, "inbound_link", st);
	sqlite3_finalize(st);
	return rc;
}

/*
 * A part whose set was assembled already, resent by the network (same
 * seq, same text, same service centre time stamp, another PDU): the
 * message it belongs to, or 0.  The time stamp tells a resend from the
 * sender's own second message that happens to reuse the reference and
 * the text: the service centre stamps each submission anew.
 */
static int
sq_inbound_resent(struct store_sqlite *s, const struct store_inbound_part *part,
    int64_t now, int64_t *msg_id)
{
	sqlite3_stmt *st;
	int rc;

	rc = sq_prepare(s, "inbound_resent", "SELECT message_id"
	    " FROM inbound_pdus WHERE modem = ?1 AND originator = ?2 AND"
	    " ref = ?3 AND total = ?4 AND seq = ?5 AND text = ?6 AND"
	    " message_id IS NOT NULL AND stored_at >= ?7 AND"
	    " received_at = ?8"
	    " ORDER BY id DESC LIMIT 1", &st);
	if (rc < 0)
		return rc;
	sq_bind_set(st, part);
	sqlite3_bind_int64(st, 5, part->seq);
	sqlite3_bind_text(st, 6, part->text, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, now - SQ_RESEND_WINDOW_MS);
	sqlite3_bind_int64(st, 8, part->received_at);

	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*msg_id = sqlite3_column_int64(st, 0);
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		*msg_id = 0;
		rc = 0;
	} else {
		rc = sq_error(s, "inbound_resent", rc);
	}
	sqlite3_finalize(st);
	return rc;
}

/* Append 'src' to the heap string '*buf' of length '*len'. */
static int
sq_append(char **buf, size_t *len, const char *src)
{
	size_t n = strlen(src);
	char *nb;

	nb = realloc(*buf, *len + n + 1);
	if (nb == NULL)
		return -ENOMEM;
	memcpy(nb + *len, src, n + 1);
	*buf = nb;
	*len += n;
	return 0;
}

/*
 * If every seq 1..total of the set of 'part' is in, unlinked, join the
 * texts in seq order, the first PDU of each seq winning (I8), and make
 * the message.  '*id' is 0 while parts are missing.  With 'partial', the
 * parts present make the message anyway, marked incomplete.
 */
static int
sq_inbound_assemble(struct store_sqlite *s,
    const struct store_inbound_part *part, int partial, int64_t now,
    int64_t *id)
{
	struct sq_inbound_msg im = { .concat = 1 };
	char *text = NULL, encoding[8] = "";
	size_t len = 0;
	sqlite3_stmt *st;
	int64_t at, prev = 0, seq;
	int rc, present = 0;

	rc = sq_prepare(s, "inbound_assemble", "SELECT seq, text, encoding,"
	    " received_at FROM inbound_pdus WHERE modem = ?1 AND"
	    " originator = ?2 AND ref = ?3 AND total = ?4 AND"
	    " message_id IS NULL ORDER BY seq, id", &st);
	if (rc < 0)
		return rc;
	sq_bind_set(st, part);

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		seq = sqlite3_column_int64(st, 0);
		if (seq == prev)
			continue;	/* a resend of a part we have */
		if (seq != prev + 1 && !partial)
			break;		/* a gap: not complete */
		prev = seq;
		rc = sq_append(&text, &len,
		    (const char *)sqlite3_column_text(st, 1));
		if (rc < 0)
			goto out;
		at = sqlite3_column_int64(st, 3);
		if (present == 0 || at < im.received_at)
			im.received_at = at;
		if (present++ == 0)
			sq_copy(encoding, sizeof(encoding),
			    sqlite3_column_text(st, 2));
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		rc = sq_error(s, "inbound_assemble", rc);
		goto out;
	}
	if (present == 0 || (!partial && prev != (int64_t)part->total)) {
		*id = 0;
		rc = 0;
		goto out;
	}

	im.text = text;
	im.encoding = encoding;
	im.segments = present;
	im.incomplete = present != (int)part->total;
	rc = sq_inbound_message(s, part, &im, now, id);
	if (rc < 0)
		goto out;
	rc = sq_inbound_link(s, part, 0, *id);
out:
	sqlite3_finalize(st);
	free(text);
	return rc;
}

static int
sq_inbound_insert_pdu(struct store_sqlite *s,
    const struct store_inbound_part *part, int64_t now, int64_t *pdu_id)
{
	sqlite3_stmt *st;
	int rc;

	rc = sq_prepare(s, "inbound_add", "INSERT INTO inbound_pdus"
	    " (modem, originator, ref, total, seq, pdu, text, encoding,"
	    " received_at, stored_at)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
	    " ON CONFLICT (modem, pdu) DO NOTHING", &st);
	if (rc < 0)
		return rc;
	sq_bind_set(st, part);
	sqlite3_bind_int64(st, 5, part->seq);
	sqlite3_bind_text(st, 6, part->pdu, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, part->text, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, part->encoding, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 9, part->received_at);
	sqlite3_bind_int64(st, 10, now);
	rc = sq_step_done(s, "inbound_add", st);
	sqlite3_finalize(st);
	if (rc < 0)
		return rc;

	/* I3: the same PDU from the same modem again. */
	*pdu_id = sqlite3_changes(s->db) == 0 ? 0 :
	    sqlite3_last_insert_rowid(s->db);
	return 0;
}

/* The body of store_inbound_add(), inside its transaction. */
static int
sq_inbound_store(struct store_sqlite *s, const struct store_inbound_part *part,
    int64_t now, int64_t *id)
{
	struct sq_inbound_msg im = { 0 };
	int64_t pdu_id, resent;
	int rc;

	*id = 0;
	rc = sq_inbound_insert_pdu(s, part, now, &pdu_id);
	if (rc < 0 || pdu_id == 0)
		return rc;

	if (part->total > 1 && part->seq >= 1 && part->seq <= part->total) {
		rc = sq_inbound_resent(s, part, now, &resent);
		if (rc < 0)
			return rc;
		if (resent != 0)
			return sq_inbound_link(s, part, pdu_id, resent);
		return sq_inbound_assemble(s, part, 0, now, id);
	}

	/* A single message, or a part whose seq cannot be placed: keep its
	 * text as a message of its own rather than lose it. */
	im.text = part->text;
	im.encoding = part->encoding;
	im.received_at = part->received_at;
	im.segments = 1;
	im.incomplete = part->total > 1;
	if (im.incomplete)
		log_warn("store: inbound part out of range modem=%s seq=%u "
		    "total=%u", part->modem, part->seq, part->total);
	rc = sq_inbound_message(s, part, &im, now, id);
	if (rc < 0)
		return rc;
	return sq_inbound_link(s, part, pdu_id, *id);
}

static int
sq_inbound_add(struct store *store, const struct store_inbound_part *part,
    int64_t *id)
{
	struct store_sqlite *s = sq(store);
	int64_t newid;
	int rc;

	rc = sq_begin(s, "inbound_add");
	if (rc < 0)
		return rc;
	rc = sq_inbound_store(s, part, sq_now(), &newid);
	if (rc < 0)
		goto err;
	rc = sq_commit(s, "inbound_add");	/* I3: before AT+CMGD */
	if (rc < 0)
		goto err;

	if (newid != 0)
		log_debug("store: received id=%" PRId64 " modem=%s", newid,
		    part->modem);
	*id = newid;
	return 0;
err:
	sq_rollback(s);
	return rc;
}

/* One set of parts still waiting, as found by sq_inbound_flush(). */
struct sq_waiting {
	char		*modem;
	char		*originator;
	unsigned	 ref;
	unsigned	 total;
};

static void
sq_waiting_free(struct sq_waiting *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(v[i].modem);
		free(v[i].originator);
	}
	free(v);
}

static int
sq_waiting_list(struct store_sqlite *s, int64_t before,
    struct sq_waiting **out, size_t *n)
{
	struct sq_waiting *v = NULL, *nv;
	size_t len = 0, cap = 0;
	sqlite3_stmt *st;
	int rc;

	rc = sq_prepare(s, "inbound_flush", "SELECT modem, originator, ref,"
	    " total FROM inbound_pdus WHERE message_id IS NULL"
	    " GROUP BY modem, originator, ref, total"
	    " HAVING MAX(stored_at) < ?", &st);
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(st, 1, before);

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (len == cap) {
			cap = cap ? cap * 2 : 8;
			nv = realloc(v, cap * sizeof(*v));
			if (nv == NULL) {
				rc = -ENOMEM;
				goto err;
			}
			v = nv;
		}
		v[len].modem = strdup((const char *)sqlite3_column_text(st,
		    0));
		v[len].originator = strdup((const char *)sqlite3_column_text(
		    st, 1));
		v[len].ref = (unsigned)sqlite3_column_int64(st, 2);
		v[len].total = (unsigned)sqlite3_column_int64(st, 3);
		len++;
		if (v[len - 1].modem == NULL ||
		    v[len - 1].originator == NULL) {
			rc = -ENOMEM;
			goto err;
		}
	}
	if (rc != SQLITE_DONE) {
		rc = sq_error(s, "inbound_flush", rc);
		goto err;
	}
	sqlite3_finalize(st);
	*out = v;
	*n = len;
	return 0;
err:
	sqlite3_finalize(st);
	sq_waiting_free(v, len);
	return rc;
}

/* Sets that waited too long become incomplete messages (I8: linked in
 * the same transaction, so a set is flushed once). */
static int
sq_inbound_flush(struct store *store, int64_t before)
{
	struct store_sqlite *s = sq(store);
	struct store_inbound_part key;
	struct sq_waiting *v = NULL;
	int64_t now = sq_now(), id;
	size_t n = 0, i;
	int rc, made = 0;

	rc = sq_begin(s, "inbound_flush");
	if (rc < 0)
		return rc;
	rc = sq_waiting_list(s, before, &v, &n);
	if (rc < 0)
		goto err;

	for (i = 0; i < n; i++) {
		memset(&key, 0, sizeof(key));
		key.modem = v[i].modem;
		key.from = v[i].originator;
		key.ref = v[i].ref;
		key.total = v[i].total;
		rc = sq_inbound_assemble(s, &key, 1, now, &id);
		if (rc < 0)
			goto err;
		if (id != 0)
			made++;
	}
	rc = sq_commit(s, "inbound_flush");
	if (rc < 0)
		goto err;

	if (made > 0)
		log_notice("store: flushed incomplete=%d", made);
	sq_waiting_free(v, n);
	return made;
err:
	sq_waiting_free(v, n);
	sq_rollback(s);
	return rc;
}

const struct store_backend store_backend_sqlite = {
	.name = "sqlite",
	.open = sq_open,
	.close = sq_close,
	.outbound_insert = sq_outbound_insert,
	.message_get = sq_message_get,
	.message_list = sq_message_list,
	.message_events = sq_message_events,
	.count_states = sq_count_states,
	.claim_next = sq_claim_next,
	.next_due = sq_next_due,
	.transition = sq_transition,
	.part_submitting = sq_part_submitting,
	.part_sent = sq_part_sent,
	.part_pending = sq_part_pending,
	.part_state = sq_part_state,
	.report = sq_report,
	.recover = sq_recover,
	.inbound_seen = sq_inbound_seen,
	.inbound_add = sq_inbound_add,
	.inbound_flush = sq_inbound_flush,
};
