/*
 * api_messages.c - the message resources of the REST API.
 *
 *   POST /api/v1/messages         validate, store, 202, wake the workers
 *   GET  /api/v1/messages/{id}    one message with its transitions
 *   GET  /api/v1/messages         filtered list, newest first, paginated
 *
 * Invariant M1 (promise 1 of DESIGN.md): 202 is sent only after
 * store_outbound_insert() returned 0, that is after COMMIT.  When the
 * store fails the client gets 500 and no id, so nothing claims the
 * message was accepted; the workers are woken only for a stored message.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"
#include "smsgw/log.h"
#include "smsgw/pdu.h"
#include "smsgw/worker.h"

#define API_LIMIT_DEFAULT	50
#define API_LIMIT_MAX		1000

static const char *const api_post_fields[] = {
	"to", "text", "smart_encoding", "modem", NULL
};

static int
api_known_field(const char *key)
{
	size_t i;

	for (i = 0; api_post_fields[i] != NULL; i++)
		if (strcmp(key, api_post_fields[i]) == 0)
			return 1;
	return 0;
}

static int
api_modem_configured(const struct conf *conf, const char *name)
{
	size_t i;

	for (i = 0; i < conf->nmodems; i++)
		if (strcmp(conf->modems[i].name, name) == 0)
			return 1;
	return 0;
}

/* What a valid POST body asks for; strings borrowed from the JSON. */
struct api_post {
	char		 to[STORE_NUMBER_MAX];
	const char	*text;
	int		 smart;
	const char	*modem;
	struct pdu_count count;
};

/*
 * Check the body field by field, in the order a client would fix them.
 * Returns 0 with 'p' filled, or queues the 400 and returns -1 with the
 * MHD result in '*ret'.
 */
static int
api_post_check(struct api_call *call, json_t *root, struct api_post *p,
    enum MHD_Result *ret)
{
	const struct conf *conf = api_context_peek(call->api)->conf;
	const char *key;
	char name[65];
	json_t *v;
	int rc;

	json_object_foreach(root, key, v) {
		if (!api_known_field(key)) {
			snprintf(name, sizeof(name), "%s", key);
			api_utf8_trim(name);
			*ret = api_error(call, 400, "unknown_field",
			    "unknown field \"%s\"", name);
			return -1;
		}
	}

	v = json_object_get(root, "to");
	if (!json_is_string(v) ||
	    api_number_normalize(json_string_value(v), p->to,
	    sizeof(p->to)) < 0) {
		*ret = api_error(call, 400, "invalid_number", "\"to\" must be "
		    "+ and 7-15 digits (E.164) or 3-15 digits");
		return -1;
	}

	v = json_object_get(root, "text");
	if (v == NULL || (json_is_string(v) && json_string_length(v) == 0)) {
		*ret = api_error(call, 400, "empty_text",
		    "\"text\" must not be empty");
		return -1;
	}
	if (!json_is_string(v) ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		*ret = api_error(call, 400, "invalid_text",
		    "\"text\" must be a string of UTF-8 text");
		return -1;
	}
	p->text = json_string_value(v);

	p->smart = conf->smart_encoding;
	v = json_object_get(root, "smart_encoding");
	if (v != NULL) {
		if (!json_is_boolean(v)) {
			*ret = api_error(call, 400, "invalid_parameter",
			    "\"smart_encoding\" must be true or false");
			return -1;
		}
		p->smart = json_is_true(v);
	}

	p->modem = NULL;
	v = json_object_get(root, "modem");
	if (v != NULL && !json_is_null(v)) {
		if (!json_is_string(v) ||
		    !api_modem_configured(conf, json_string_value(v))) {
			*ret = api_error(call, 400, "unknown_modem",
			    "\"modem\" must name a configured modem");
			return -1;
		}
		p->modem = json_string_value(v);
	}

	rc = pdu_count_text(p->text, p->smart, &p->count);
	if (rc == PDU_ETOOLONG ||
	    (rc == 0 && p->count.segments > API_SEGMENTS_MAX)) {
		*ret = api_error(call, 400, "text_too_long", "the text needs "
		    "more than %d segments", API_SEGMENTS_MAX);
		return -1;
	}
	if (rc < 0) {
		*ret = api_error(call, 400, "invalid_text",
		    "\"text\" cannot be sent: %s", pdu_strerror(rc));
		return -1;
	}
	return 0;
}

/* Parse the body; a body that is no JSON object is answered here. */
static json_t *
api_post_parse(struct api_call *call, const char *body, size_t len,
    enum MHD_Result *ret)
{
	json_error_t jerr;
	json_t *root;

	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		/* A text in Latin-1 is the usual cause: say so. */
		if (json_error_code(&jerr) == json_error_invalid_utf8)
			*ret = api_error(call, 400, "invalid_text",
			    "the body is not valid UTF-8");
		else
			*ret = api_error(call, 400, "invalid_json",
			    "line %d column %d: %s", jerr.line, jerr.column,
			    jerr.text);
		return NULL;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		*ret = api_error(call, 400, "invalid_json",
		    "the body must be a JSON object");
		return NULL;
	}
	return root;
}

enum MHD_Result
api_messages_post(struct api_call *call, const char *body, size_t len)
{
	const struct api_context *ctx = api_context_peek(call->api);
	struct store_outbound_new msg;
	struct api_post p;
	enum MHD_Result ret;
	struct store *store;
	char location[64];
	const char *encoding;
	int64_t id;
	json_t *root;
	size_t i;
	int rc;

	root = api_post_parse(call, body, len, &ret);
	if (root == NULL)
		return ret;
	if (api_post_check(call, root, &p, &ret) < 0)
		goto out;

	store = api_store_peek(call->api);
	if (store == NULL) {
		ret = api_error(call, 500, "internal_error",
		    "the message store is not available");
		goto out;
	}

	encoding = pdu_encoding_name(p.count.encoding);
	memset(&msg, 0, sizeof(msg));
	msg.to = p.to;
	msg.text = p.text;
	msg.encoding = encoding;
	msg.segments = (int)p.count.segments;
	msg.smart_encoding = p.smart;
	msg.modem = p.modem;
	rc = store_outbound_insert(store, &msg, &id);
	if (rc < 0) {
		/* M1: no id, no 202. */
		log_error("api: store-insert-failed error=%d", rc);
		ret = api_error(call, 500, "internal_error",
		    "the message could not be stored");
		goto out;
	}

	/* M1: the message is committed; now, and only now, say so. */
	call->id = id;
	snprintf(location, sizeof(location), "/api/v1/messages/%lld",
	    (long long)id);
	call->location = location;
	ret = api_reply(call, 202, json_pack("{s:I,s:s,s:i,s:s}", "id",
	    (json_int_t)id, "state", "queued", "segments",
	    (int)p.count.segments, "encoding", encoding));

	for (i = 0; i < ctx->nworkers; i++)
		worker_wake(ctx->workers[i]);
out:
	json_decref(root);
	return ret;
}

static json_t *
api_reason_json(const char *reason)
{
	return reason != NULL && reason[0] != '\0' ? json_string(reason) :
	    json_null();
}

/* A message as the API shows it, without its events. */
static json_t *
api_message_json(const struct store_message *m)
{
	int inbound = m->direction == STORE_INBOUND;
	json_t *o;
	int bad = 0;

	o = json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:i,s:o,s:i,s:o,s:o,s:o,"
	    "s:o}",
	    "id", (json_int_t)m->id,
	    "direction", store_direction_name(m->direction),
	    "state", store_state_name(m->state),
	    inbound ? "from" : "to", m->number,
	    "text", m->text != NULL ? m->text : "",
	    "encoding", m->encoding,
	    "segments", m->segments,
	    "modem", m->modem[0] != '\0' ? json_string(m->modem) :
	    json_null(),
	    "attempts", m->attempts,
	    "reason", api_reason_json(m->reason),
	    "created_at", api_time_json(m->created_at),
	    "updated_at", api_time_json(m->updated_at),
	    "sent_at", api_time_json(m->sent_at));
	if (o == NULL || !inbound)
		return o;

	bad |= json_object_set_new(o, "received_at",
	    api_time_json(m->received_at));
	bad |= json_object_set_new(o, "incomplete",
	    json_boolean(m->incomplete));
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static int
api_event_add(const struct store_event *ev, void *arg)
{
	json_t *e;

	e = json_pack("{s:o,s:s,s:o}", "at", api_time_json(ev->at),
	    "state", store_state_name(ev->state),
	    "reason", api_reason_json(ev->reason));
	if (e == NULL || json_array_append_new(arg, e) < 0)
		return -ENOMEM;
	return 0;
}

enum MHD_Result
api_messages_get(struct api_call *call, int64_t id)
{
	struct store_message m;
	struct store *store;
	json_t *o, *events;
	int rc;

	store = api_store_peek(call->api);
	if (store == NULL)
		return api_error(call, 500, "internal_error",
		    "the message store is not available");

	rc = store_message_get(store, id, &m);
	if (rc == -ENOENT)
		return api_error(call, 404, "not_found", "no message %lld",
		    (long long)id);
	if (rc < 0) {
		log_error("api: store-get-failed id=%lld error=%d",
		    (long long)id, rc);
		return api_error(call, 500, "internal_error",
		    "the message could not be read");
	}

	o = api_message_json(&m);
	store_message_release(&m);
	events = json_array();
	if (o == NULL || events == NULL) {
		json_decref(o);
		json_decref(events);
		return api_reply(call, 500, NULL);
	}
	rc = store_message_events(store, id, api_event_add, events);
	if (rc < 0 || json_object_set_new(o, "events", events) < 0) {
		log_error("api: store-events-failed id=%lld error=%d",
		    (long long)id, rc);
		json_decref(o);
		if (rc < 0)
			json_decref(events);
		return api_error(call, 500, "internal_error",
		    "the message's events could not be read");
	}
	return api_reply(call, 200, o);
}

/* The query of a list request, checked one parameter at a time. */
struct api_query {
	struct store_filter	 filter;
	unsigned		 seen;		/* bit per parameter */
	char			 error[160];
};

/* A decimal number of at most 18 digits, no sign. */
static int
api_parse_uint(const char *s, int64_t *out)
{
	int64_t v = 0;
	size_t n = strlen(s);

	if (n == 0 || n > 18 || strspn(s, "0123456789") != n)
		return -1;
	for (; *s != '\0'; s++)
		v = v * 10 + (*s - '0');
	*out = v;
	return 0;
}

static int
api_query_param(struct api_query *q, const char *key, const char *value)
{
	static const char *const names[] = {
		"direction", "state", "limit", "before", NULL
	};
	int64_t n;
	size_t i;
	int v;

	for (i = 0; names[i] != NULL; i++)
		if (strcmp(key, names[i]) == 0)
			break;
	if (names[i] == NULL)
		return -1;
	if ((q->seen & (1u << i)) != 0 || value == NULL)
		return -1;
	q->seen |= 1u << i;

	switch (i) {
	case 0:
		v = store_direction_parse(value);
		if (v < 0)
			return -1;
		q->filter.direction = v;
		return 0;
	case 1:
		v = store_state_parse(value);
		if (v < 0)
			return -1;
		q->filter.state = v;
		return 0;
	case 2:
		if (api_parse_uint(value, &n) < 0 || n < 1 ||
		    n > API_LIMIT_MAX)
			return -1;
		q->filter.limit = (int)n;
		return 0;
	default:
		if (api_parse_uint(value, &n) < 0 || n < 1)
			return -1;
		q->filter.before_id = n;
		return 0;
	}
}

static enum MHD_Result
api_query_each(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	struct api_query *q = cls;
	char name[33];
	size_t i;

	(void)kind;
	if (api_query_param(q, key, value) == 0)
		return MHD_YES;

	/* The client's bytes go into a JSON string: keep printable ASCII
	 * only, so a cut or invalid UTF-8 sequence cannot break it. */
	for (i = 0; i < sizeof(name) - 1 && key[i] != '\0'; i++)
		name[i] = key[i] >= 0x20 && key[i] < 0x7f ? key[i] : '?';
	name[i] = '\0';
	snprintf(q->error, sizeof(q->error), "bad or repeated parameter "
	    "\"%s\" (direction=inbound|outbound, state=<state>, "
	    "limit=1-%d, before=<id>)", name, API_LIMIT_MAX);
	return MHD_NO;
}

struct api_page {
	json_t	*list;
	int64_t	 last_id;
	int	 count;
};

static int
api_page_add(const struct store_message *m, void *arg)
{
	struct api_page *page = arg;
	json_t *o;

	o = api_message_json(m);
	if (o == NULL || json_array_append_new(page->list, o) < 0)
		return -ENOMEM;
	page->last_id = m->id;
	page->count++;
	return 0;
}

static int
api_count_one(const struct store_message *m, void *arg)
{
	(void)m;
	*(int *)arg = 1;
	return 0;
}

/*
 * Is there a message matching 'filter' older than 'last_id'?  Asked only
 * when a page came back full, so that "next_before" is null exactly on
 * the last page.  Returns 1, 0, or a negative errno.
 */
static int
api_has_more(struct store *store, const struct store_filter *filter,
    int64_t last_id)
{
	struct store_filter probe = *filter;
	int found = 0, rc;

	probe.before_id = last_id;
	probe.limit = 1;
	rc = store_message_list(store, &probe, api_count_one, &found);
	if (rc < 0) {
		log_error("api: store-list-failed error=%d", rc);
		return rc;
	}
	return found;
}

enum MHD_Result
api_messages_list(struct api_call *call)
{
	struct api_query q;
	struct api_page page = { NULL, 0, 0 };
	struct store *store;
	json_t *next;
	int rc;

	memset(&q, 0, sizeof(q));
	q.filter.direction = -1;
	q.filter.state = -1;
	q.filter.limit = API_LIMIT_DEFAULT;
	MHD_get_connection_values(call->conn, MHD_GET_ARGUMENT_KIND,
	    api_query_each, &q);
	if (q.error[0] != '\0')
		return api_error(call, 400, "invalid_parameter", "%s",
		    q.error);

	store = api_store_peek(call->api);
	if (store == NULL)
		return api_error(call, 500, "internal_error",
		    "the message store is not available");

	page.list = json_array();
	if (page.list == NULL)
		return api_reply(call, 500, NULL);
	rc = store_message_list(store, &q.filter, api_page_add, &page);
	if (rc < 0) {
		log_error("api: store-list-failed error=%d", rc);
		json_decref(page.list);
		return api_error(call, 500, "internal_error",
		    "the messages could not be listed");
	}

	next = json_null();
	if (page.count == q.filter.limit) {
		rc = api_has_more(store, &q.filter, page.last_id);
		if (rc < 0) {
			json_decref(page.list);
			return api_error(call, 500, "internal_error",
			    "the messages could not be listed");
		}
		if (rc > 0)
			next = json_integer((json_int_t)page.last_id);
	}
	return api_reply(call, 200, json_pack("{s:o,s:o}", "messages",
	    page.list, "next_before", next));
}
