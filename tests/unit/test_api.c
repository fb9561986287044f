/*
 * test_api.c - the REST API over real HTTP on 127.0.0.1 (libcurl), with a
 * temporary database and no modem workers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <jansson.h>

#include "../../gatewayd/api_internal.h"
#include "smsgw/api.h"
#include "smsgw/conf.h"
#include "smsgw/log.h"
#include "smsgw/store.h"
#include "smsgw/worker.h"

#define TOKEN	"test-token-0123456789"

struct fixture {
	char		 dir[64];
	char		 db[128];
	struct conf_modem modems[2];
	struct conf	 conf;
	struct api_context ctx;
	struct api	*api;
	int		 port;
	struct store	*store;		/* the test's own connection */
};

/* One HTTP exchange. */
struct reply {
	long	 status;
	char	*body;
	size_t	 len;
	char	 location[128];
	char	 allow[64];
	char	 www_auth[64];
	json_t	*json;
};

static size_t
on_body(char *data, size_t size, size_t n, void *arg)
{
	struct reply *r = arg;
	char *p;

	p = realloc(r->body, r->len + size * n + 1);
	if (p == NULL)
		return 0;
	r->body = p;
	memcpy(r->body + r->len, data, size * n);
	r->len += size * n;
	r->body[r->len] = '\0';
	return size * n;
}

/* Keep the value of header 'name' from line 'line' in 'out'. */
static void
keep_header(const char *line, size_t len, const char *name, char *out,
    size_t outlen)
{
	size_t nlen = strlen(name), vlen;
	const char *v;

	if (len <= nlen + 1 || strncasecmp(line, name, nlen) != 0 ||
	    line[nlen] != ':')
		return;
	v = line + nlen + 1;
	while (*v == ' ')
		v++;
	vlen = len - (size_t)(v - line);
	while (vlen > 0 && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n'))
		vlen--;
	if (vlen >= outlen)
		vlen = outlen - 1;
	memcpy(out, v, vlen);
	out[vlen] = '\0';
}

static size_t
on_header(char *data, size_t size, size_t n, void *arg)
{
	struct reply *r = arg;

	keep_header(data, size * n, "Location", r->location,
	    sizeof(r->location));
	keep_header(data, size * n, "Allow", r->allow, sizeof(r->allow));
	keep_header(data, size * n, "WWW-Authenticate", r->www_auth,
	    sizeof(r->www_auth));
	return size * n;
}

static void
reply_release(struct reply *r)
{
	free(r->body);
	json_decref(r->json);
	memset(r, 0, sizeof(*r));
}

/*
 * Send 'method' 'path' with 'auth' as the whole Authorization header
 * (NULL: none) and 'body' of 'len' bytes (NULL: none).  'chunked' sends
 * the body without Content-Length.
 */
static void
http_raw(const struct fixture *f, const char *method, const char *path,
    const char *auth, const char *body, size_t len, int chunked,
    struct reply *r)
{
	struct curl_slist *hdrs = NULL;
	char url[256], line[256];
	json_error_t jerr;
	CURL *c;

	memset(r, 0, sizeof(*r));
	c = curl_easy_init();
	assert_non_null(c);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", f->port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	else
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (auth != NULL) {
		snprintf(line, sizeof(line), "Authorization: %s", auth);
		hdrs = curl_slist_append(hdrs, line);
	}
	hdrs = curl_slist_append(hdrs, "Expect:");
	if (body != NULL) {
		hdrs = curl_slist_append(hdrs,
		    "Content-Type: application/json");
		if (chunked)
			hdrs = curl_slist_append(hdrs,
			    "Transfer-Encoding: chunked");
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		if (!chunked)
			curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
			    (curl_off_t)len);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);

	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);

	if (r->body != NULL)
		r->json = json_loadb(r->body, r->len, 0, &jerr);
}

static void
http(const struct fixture *f, const char *method, const char *path,
    const char *body, struct reply *r)
{
	http_raw(f, method, path, "Bearer " TOKEN, body,
	    body != NULL ? strlen(body) : 0, 0, r);
}

/* The reply is the error 'status' with 'code'. */
static void
assert_error(struct reply *r, long status, const char *code)
{
	json_t *err;

	if (r->status != status)
		print_error("status %ld, body %s\n", r->status,
		    r->body != NULL ? r->body : "(none)");
	assert_int_equal(r->status, status);
	assert_non_null(r->json);
	err = json_object_get(r->json, "error");
	assert_true(json_is_object(err));
	assert_true(json_is_string(json_object_get(err, "message")));
	if (strcmp(json_string_value(json_object_get(err, "code")), code))
		print_error("code %s, want %s\n", r->body, code);
	assert_string_equal(json_string_value(json_object_get(err, "code")),
	    code);
}

static const char *
jstr(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	assert_true(json_is_string(v));
	return json_string_value(v);
}

static json_int_t
jint(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	assert_true(json_is_integer(v));
	return json_integer_value(v);
}

static int
setup(void **state)
{
	struct fixture *f;
	char err[256];

	f = calloc(1, sizeof(*f));
	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_api.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->db, sizeof(f->db), "%s/smsgw.db", f->dir);

	f->modems[0].name = "office-1";
	f->modems[0].device = "virtual";
	f->modems[0].baud = 115200;
	f->modems[1].name = "annex";
	f->modems[1].device = "tcp://127.0.0.1:3001";
	f->modems[1].baud = 115200;
	f->conf.http_host = "127.0.0.1";
	f->conf.http_port = 0;
	f->conf.http_token = TOKEN;
	f->conf.database = f->db;
	f->conf.modems = f->modems;
	f->conf.nmodems = 2;
	f->conf.log_level = LOG_LEVEL_WARN;
	f->ctx.conf = &f->conf;
	f->ctx.workers = NULL;
	f->ctx.nworkers = 0;

	assert_int_equal(store_open(f->db, &f->store, err, sizeof(err)), 0);
	if (api_start(&f->ctx, &f->api, err, sizeof(err)) != 0)
		fail_msg("api_start: %s", err);
	f->port = api_port(f->api);
	assert_true(f->port > 0 && f->port < 65536);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char path[192];

	api_stop(f->api);
	store_close(f->store);
	snprintf(path, sizeof(path), "%s/smsgw.db-wal", f->dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/smsgw.db-shm", f->dir);
	unlink(path);
	unlink(f->db);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* POST a valid message and return its id. */
static int64_t
post_ok(struct fixture *f, const char *body)
{
	struct reply r;
	int64_t id;

	http(f, "POST", "/api/v1/messages", body, &r);
	if (r.status != 202)
		print_error("POST %s -> %ld %s\n", body, r.status, r.body);
	assert_int_equal(r.status, 202);
	id = jint(r.json, "id");
	reply_release(&r);
	return id;
}

static void
test_api_healthz_without_token(void **state)
{
	struct fixture *f = *state;
	struct reply r;

	http_raw(f, "GET", "/healthz", NULL, NULL, 0, 0, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(r.json, "status"), "ok");
	assert_int_equal(jint(r.json, "modems"), 0);
	assert_int_equal(jint(r.json, "ready"), 0);
	reply_release(&r);

	http_raw(f, "HEAD", "/healthz", NULL, NULL, 0, 0, &r);
	assert_int_equal(r.status, 200);
	assert_null(r.body);
	reply_release(&r);

	http_raw(f, "POST", "/healthz", NULL, "{}", 2, 0, &r);
	assert_error(&r, 405, "method_not_allowed");
	assert_string_equal(r.allow, "GET, HEAD");
	reply_release(&r);
}

static void
test_api_metrics(void **state)
{
	struct fixture *f = *state;
	struct reply r;

	post_ok(f, "{\"to\":\"+15551234567\",\"text\":\"one\"}");
	post_ok(f, "{\"to\":\"+15551234567\",\"text\":\"two\"}");

	http_raw(f, "GET", "/metrics", NULL, NULL, 0, 0, &r);
	assert_error(&r, 401, "unauthorized");
	reply_release(&r);

	http(f, "GET", "/metrics", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(r.body);
	assert_non_null(strstr(r.body, "# TYPE smsgw_messages gauge\n"));
	assert_non_null(strstr(r.body,
	    "smsgw_messages{direction=\"outbound\",state=\"queued\"} 2\n"));
	assert_null(strstr(r.body, "state=\"received\""));
	assert_non_null(strstr(r.body, "# TYPE smsgw_modem_sent_total "
	    "counter\n"));
	/* No number leaks into the metrics. */
	assert_null(strstr(r.body, "5551234567"));
	reply_release(&r);

	http(f, "POST", "/metrics", "{}", &r);
	assert_error(&r, 405, "method_not_allowed");
	reply_release(&r);
}

static void
test_api_unauthorized(void **state)
{
	static const char *const bad[] = {
		NULL,				/* no header at all */
		"Bearer",
		"Bearer ",
		"Bearer wrong-token-0123456789",
		"Bearer " TOKEN "x",
		"Bearer test-token-012345678",	/* a prefix */
		"Basic " TOKEN,
		TOKEN,
	};
	struct fixture *f = *state;
	struct reply r;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		http_raw(f, "GET", "/api/v1/messages", bad[i], NULL, 0, 0, &r);
		assert_error(&r, 401, "unauthorized");
		assert_non_null(strstr(r.www_auth, "Bearer"));
		reply_release(&r);
	}

	/* Refused before the body is looked at, and nothing is stored. */
	http_raw(f, "POST", "/api/v1/messages", "Bearer nope-nope-nope-nope",
	    "{\"to\":\"+15551234567\",\"text\":\"hi\"}", 34, 0, &r);
	assert_error(&r, 401, "unauthorized");
	reply_release(&r);
	http(f, "GET", "/api/v1/messages", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_array_size(json_object_get(r.json, "messages")),
	    0);
	reply_release(&r);

	/* The scheme is case-insensitive; spaces around the token go. */
	http_raw(f, "GET", "/api/v1/modems", "bearer  " TOKEN " ", NULL, 0, 0,
	    &r);
	assert_int_equal(r.status, 200);
	reply_release(&r);
}

static void
test_api_not_found(void **state)
{
	static const char *const paths[] = {
		"/", "/api", "/api/v1", "/api/v1/", "/api/v2/messages",
		"/api/v1/messages/", "/api/v1/messages/abc",
		"/api/v1/messages/0", "/api/v1/messages/-1",
		"/api/v1/messages/1x", "/api/v1/messages/1/events",
		"/api/v1/messages/99999",
		"/api/v1/messages/1234567890123456789",
		"/healthz/", "/api/v1/modems/x",
	};
	struct fixture *f = *state;
	struct reply r;
	size_t i;

	for (i = 0; i < sizeof(paths) / sizeof(*paths); i++) {
		http(f, "GET", paths[i], NULL, &r);
		assert_error(&r, 404, "not_found");
		reply_release(&r);
	}
}

static void
test_api_method_not_allowed(void **state)
{
	struct fixture *f = *state;
	struct reply r;

	http(f, "DELETE", "/api/v1/messages", NULL, &r);
	assert_error(&r, 405, "method_not_allowed");
	assert_string_equal(r.allow, "GET, HEAD, POST");
	reply_release(&r);

	http(f, "PUT", "/api/v1/modems", "{}", &r);
	assert_error(&r, 405, "method_not_allowed");
	assert_string_equal(r.allow, "GET, HEAD");
	reply_release(&r);

	post_ok(f, "{\"to\":\"+15551234567\",\"text\":\"x\"}");
	http(f, "POST", "/api/v1/messages/1", "{}", &r);
	assert_error(&r, 405, "method_not_allowed");
	assert_string_equal(r.allow, "GET, HEAD");
	reply_release(&r);
}

static void
test_api_post_accepted_and_stored(void **state)
{
	struct fixture *f = *state;
	struct store_message m;
	struct reply r;
	char location[64];
	int64_t id;

	http(f, "POST", "/api/v1/messages",
	    "{\"to\": \"+1 (555) 123-4567\", \"text\": \"Your appointment is "
	    "at 10:00\"}", &r);
	assert_int_equal(r.status, 202);
	id = jint(r.json, "id");
	assert_true(id > 0);
	assert_string_equal(jstr(r.json, "state"), "queued");
	assert_int_equal(jint(r.json, "segments"), 1);
	assert_string_equal(jstr(r.json, "encoding"), "gsm7");
	snprintf(location, sizeof(location), "/api/v1/messages/%lld",
	    (long long)id);
	assert_string_equal(r.location, location);
	reply_release(&r);

	/* 202 came after COMMIT: another connection sees it at once. */
	assert_int_equal(store_message_get(f->store, id, &m), 0);
	assert_int_equal(m.direction, STORE_OUTBOUND);
	assert_int_equal(m.state, STORE_QUEUED);
	assert_string_equal(m.number, "+15551234567");
	assert_string_equal(m.text, "Your appointment is at 10:00");
	assert_string_equal(m.encoding, "gsm7");
	assert_int_equal(m.segments, 1);
	assert_string_equal(m.modem, "");
	store_message_release(&m);
}

static void
test_api_post_options(void **state)
{
	struct fixture *f = *state;
	struct store_message m;
	struct reply r;
	int64_t id;

	/* Pinned to a configured modem; a short code. */
	id = post_ok(f, "{\"to\":\"12345\",\"text\":\"STOP\","
	    "\"modem\":\"annex\"}");
	assert_int_equal(store_message_get(f->store, id, &m), 0);
	assert_string_equal(m.modem, "annex");
	assert_string_equal(m.number, "12345");
	store_message_release(&m);

	/* Text outside GSM 7-bit goes as UCS-2. */
	http(f, "POST", "/api/v1/messages",
	    "{\"to\":\"+15551234567\",\"text\":\"\xd0\x9f\xd1\x80\xd0\xb8"
	    "\xd0\xb2\xd0\xb5\xd1\x82\"}", &r);
	assert_int_equal(r.status, 202);
	assert_string_equal(jstr(r.json, "encoding"), "ucs2");
	reply_release(&r);

	/* Curly quotes: UCS-2 unless smart encoding maps them. */
	http(f, "POST", "/api/v1/messages",
	    "{\"to\":\"+15551234567\",\"text\":\"\xe2\x80\x9cHi\xe2\x80\x9d\","
	    "\"smart_encoding\":false}", &r);
	assert_int_equal(r.status, 202);
	assert_string_equal(jstr(r.json, "encoding"), "ucs2");
	reply_release(&r);
	http(f, "POST", "/api/v1/messages",
	    "{\"to\":\"+15551234567\",\"text\":\"\xe2\x80\x9cHi\xe2\x80\x9d\","
	    "\"smart_encoding\":true,\"modem\":null}", &r);
	assert_int_equal(r.status, 202);
	assert_string_equal(jstr(r.json, "encoding"), "gsm7");
	id = jint(r.json, "id");
	reply_release(&r);
	assert_int_equal(store_message_get(f->store, id, &m), 0);
	assert_int_equal(m.smart_encoding, 1);
	assert_string_equal(m.modem, "");
	store_message_release(&m);
}

static void
test_api_post_segments_limit(void **state)
{
	struct fixture *f = *state;
	char body[2048], text[1600];
	struct reply r;

	/* 10 parts of 153 GSM characters fit; one character more does not. */
	memset(text, 'a', 1530);
	text[1530] = '\0';
	snprintf(body, sizeof(body),
	    "{\"to\":\"+15551234567\",\"text\":\"%s\"}", text);
	http(f, "POST", "/api/v1/messages", body, &r);
	assert_int_equal(r.status, 202);
	assert_int_equal(jint(r.json, "segments"), 10);
	reply_release(&r);

	text[1530] = 'a';
	text[1531] = '\0';
	snprintf(body, sizeof(body),
	    "{\"to\":\"+15551234567\",\"text\":\"%s\"}", text);
	http(f, "POST", "/api/v1/messages", body, &r);
	assert_error(&r, 400, "text_too_long");
	reply_release(&r);
}

static void
test_api_post_invalid_json(void **state)
{
	static const char *const bodies[] = {
		"", "{", "not json", "[]", "[{\"to\":\"+15551234567\"}]",
		"\"text\"", "42", "null",
		"{\"to\":\"+15551234567\",\"to\":\"+15551234568\","
		"\"text\":\"x\"}",
		"{\"to\":\"+15551234567\",\"text\":\"x\"} trailing",
		"{\"to\":\"+15551234567\",\"text\":\"a\\u0000b\"}",
	};
	struct fixture *f = *state;
	struct reply r;
	size_t i;

	for (i = 0; i < sizeof(bodies) / sizeof(*bodies); i++) {
		http(f, "POST", "/api/v1/messages", bodies[i], &r);
		assert_error(&r, 400, "invalid_json");
		reply_release(&r);
	}
}

static void
test_api_post_unknown_field(void **state)
{
	struct fixture *f = *state;
	char body[512];
	struct reply r;
	size_t i;

	http(f, "POST", "/api/v1/messages",
	    "{\"to\":\"+15551234567\",\"text\":\"x\",\"send_at\":1}", &r);
	assert_error(&r, 400, "unknown_field");
	assert_non_null(strstr(r.body, "send_at"));
	reply_release(&r);

	http(f, "POST", "/api/v1/messages",
	    "{\"To\":\"+15551234567\",\"text\":\"x\"}", &r);
	assert_error(&r, 400, "unknown_field");
	reply_release(&r);

	/* A long name in two-byte characters, cut where the message is
	 * bounded, still gives a valid JSON error. */
	strcpy(body, "{\"text\":\"x\",\"x");
	for (i = 0; i < 100; i++)
		strcat(body, "\xc3\xa9");
	strcat(body, "x\":1}");
	http(f, "POST", "/api/v1/messages", body, &r);
	assert_error(&r, 400, "unknown_field");
	reply_release(&r);
}

static void
test_api_utf8_trim(void **state)
{
	char s[16];

	(void)state;
	strcpy(s, "ab\xe2\x82");
	api_utf8_trim(s);
	assert_string_equal(s, "ab");
	strcpy(s, "ab\xe2\x82\xac");
	api_utf8_trim(s);
	assert_string_equal(s, "ab\xe2\x82\xac");
	strcpy(s, "ab\xc3");
	api_utf8_trim(s);
	assert_string_equal(s, "ab");
	strcpy(s, "\xf0\x9f\x98");
	api_utf8_trim(s);
	assert_string_equal(s, "");
	strcpy(s, "abc");
	api_utf8_trim(s);
	assert_string_equal(s, "abc");
	s[0] = '\0';
	api_utf8_trim(s);
	assert_string_equal(s, "");
}

static void
test_api_post_invalid_number(void **state)
{
	static const char *const numbers[] = {
		"", "+", "12", "+123456", "+0155512345",
		"+1234567890123456", "1234567890123456", "+1555abc4567",
		"555-CALL", "++15551234567", "1+5551234567",
		"+1 555 123 456 789 012",
		"\xe2\x80\x8b" "15551234567",
	};
	struct fixture *f = *state;
	char body[256];
	struct reply r;
	size_t i;

	for (i = 0; i < sizeof(numbers) / sizeof(*numbers); i++) {
		snprintf(body, sizeof(body), "{\"to\":\"%s\",\"text\":\"x\"}",
		    numbers[i]);
		http(f, "POST", "/api/v1/messages", body, &r);
		if (r.status != 400)
			print_error("number '%s' accepted\n", numbers[i]);
		assert_error(&r, 400, "invalid_number");
		reply_release(&r);
	}
	http(f, "POST", "/api/v1/messages", "{\"to\":15551234567,"
	    "\"text\":\"x\"}", &r);
	assert_error(&r, 400, "invalid_number");
	reply_release(&r);
	http(f, "POST", "/api/v1/messages", "{\"text\":\"x\"}", &r);
	assert_error(&r, 400, "invalid_number");
	reply_release(&r);
}

static void
test_api_post_text_errors(void **state)
{
	struct fixture *f = *state;
	struct reply r;

	http(f, "POST", "/api/v1/messages", "{\"to\":\"+15551234567\"}", &r);
	assert_error(&r, 400, "empty_text");
	reply_release(&r);
	http(f, "POST", "/api/v1/messages",
	    "{\"to\":\"+15551234567\",\"text\":\"\"}", &r);
	assert_error(&r, 400, "empty_text");
	reply_release(&r);
	http(f, "POST", "/api/v1/messages",
	    "{\"to\":\"+15551234567\",\"text\":42}", &r);
	assert_error(&r, 400, "invalid_text");
	reply_release(&r);
	http(f, "POST", "/api/v1/messages",
	    "{\"to\":\"+15551234567\",\"text\":[\"a\"]}", &r);
	assert_error(&r, 400, "invalid_text");
	reply_release(&r);

	/* Latin-1 bytes are not UTF-8. */
	http(f, "POST", "/api/v1/messages",
	    "{\"to\":\"+15551234567\",\"text\":\"caf\xe9\"}", &r);
	assert_error(&r, 400, "invalid_text");
	reply_release(&r);
}

static void
test_api_post_option_errors(void **state)
{
	struct fixture *f = *state;
	struct reply r;

	http(f, "POST", "/api/v1/messages",
	    "{\"to\":\"+15551234567\",\"text\":\"x\",\"modem\":\"attic\"}", &r);
	assert_error(&r, 400, "unknown_modem");
	reply_release(&r);
	http(f, "POST", "/api/v1/messages",
	    "{\"to\":\"+15551234567\",\"text\":\"x\",\"modem\":1}", &r);
	assert_error(&r, 400, "unknown_modem");
	reply_release(&r);
	http(f, "POST", "/api/v1/messages",
	    "{\"to\":\"+15551234567\",\"text\":\"x\",\"smart_encoding\":1}",
	    &r);
	assert_error(&r, 400, "invalid_parameter");
	reply_release(&r);

	/* None of the refused bodies reached the store. */
	http(f, "GET", "/api/v1/messages", NULL, &r);
	assert_int_equal(json_array_size(json_object_get(r.json, "messages")),
	    0);
	reply_release(&r);
}

/* A valid JSON body padded with spaces to exactly 'size' bytes. */
static char *
padded_body(size_t size)
{
	static const char msg[] = "{\"to\":\"+15551234567\",\"text\":\"hi\"}";
	char *body = malloc(size + 1);

	assert_non_null(body);
	memset(body, ' ', size);
	memcpy(body + size - strlen(msg), msg, strlen(msg));
	body[size] = '\0';
	return body;
}

static void
test_api_post_body_size(void **state)
{
	struct fixture *f = *state;
	struct reply r;
	char *body;

	body = padded_body(API_BODY_MAX);
	http(f, "POST", "/api/v1/messages", body, &r);
	assert_int_equal(r.status, 202);
	reply_release(&r);
	http_raw(f, "POST", "/api/v1/messages", "Bearer " TOKEN, body,
	    strlen(body), 1, &r);
	assert_int_equal(r.status, 202);
	reply_release(&r);
	free(body);

	/* Announced by Content-Length, or found while reading chunks. */
	body = padded_body(API_BODY_MAX + 1);
	http(f, "POST", "/api/v1/messages", body, &r);
	assert_error(&r, 413, "body_too_large");
	reply_release(&r);
	http_raw(f, "POST", "/api/v1/messages", "Bearer " TOKEN, body,
	    strlen(body), 1, &r);
	assert_error(&r, 413, "body_too_large");
	reply_release(&r);
	free(body);
}

static void
test_api_get_message(void **state)
{
	struct fixture *f = *state;
	char path[64];
	struct reply r;
	json_t *ev;
	int64_t id;

	id = post_ok(f, "{\"to\":\"+447700900123\",\"text\":\"Hello\","
	    "\"modem\":\"office-1\"}");
	snprintf(path, sizeof(path), "/api/v1/messages/%lld", (long long)id);
	http(f, "GET", path, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(jint(r.json, "id"), id);
	assert_string_equal(jstr(r.json, "direction"), "outbound");
	assert_string_equal(jstr(r.json, "state"), "queued");
	assert_string_equal(jstr(r.json, "to"), "+447700900123");
	assert_null(json_object_get(r.json, "from"));
	assert_string_equal(jstr(r.json, "text"), "Hello");
	assert_string_equal(jstr(r.json, "encoding"), "gsm7");
	assert_int_equal(jint(r.json, "segments"), 1);
	assert_string_equal(jstr(r.json, "modem"), "office-1");
	assert_int_equal(jint(r.json, "attempts"), 0);
	assert_true(json_is_null(json_object_get(r.json, "sent_at")));
	assert_null(json_object_get(r.json, "received_at"));
	/* "2026-12-03T14:26:03.123Z" */
	assert_int_equal(strlen(jstr(r.json, "created_at")), 24);
	assert_int_equal(jstr(r.json, "created_at")[23], 'Z');
	assert_int_equal(jstr(r.json, "created_at")[19], '.');
	assert_int_equal(strlen(jstr(r.json, "updated_at")), 24);
	assert_true(json_object_get(r.json, "reason") != NULL);

	ev = json_object_get(r.json, "events");
	assert_true(json_is_array(ev));
	assert_true(json_array_size(ev) >= 1);
	assert_string_equal(jstr(json_array_get(ev, 0), "state"), "queued");
	assert_int_equal(strlen(jstr(json_array_get(ev, 0), "at")), 24);
	assert_true(json_object_get(json_array_get(ev, 0), "reason") != NULL);
	reply_release(&r);
}

static void
test_api_get_inbound(void **state)
{
	struct fixture *f = *state;
	struct store_inbound_part part;
	char path[64];
	struct reply r;
	int64_t id = 0;

	memset(&part, 0, sizeof(part));
	part.modem = "office-1";
	part.pdu = "07911326040000F0040B911346610089F60000208062917314080CC8"
	    "F71D14969741F977FD07";
	part.from = "+31641600986";
	part.text = "How are you?";
	part.encoding = "gsm7";
	part.received_at = 1796307963123LL;
	assert_int_equal(store_inbound_add(f->store, &part, &id), 0);
	assert_true(id > 0);

	snprintf(path, sizeof(path), "/api/v1/messages/%lld", (long long)id);
	http(f, "GET", path, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(jstr(r.json, "direction"), "inbound");
	assert_string_equal(jstr(r.json, "state"), "received");
	assert_string_equal(jstr(r.json, "from"), "+31641600986");
	assert_null(json_object_get(r.json, "to"));
	assert_string_equal(jstr(r.json, "text"), "How are you?");
	assert_string_equal(jstr(r.json, "modem"), "office-1");
	assert_string_equal(jstr(r.json, "received_at"),
	    "2026-12-03T14:26:03.123Z");
	assert_true(json_is_false(json_object_get(r.json, "incomplete")));
	reply_release(&r);
}

/* Ids of the list in 'r', newest first. */
static size_t
list_ids(struct reply *r, int64_t *ids, size_t max)
{
	json_t *list = json_object_get(r->json, "messages");
	size_t i;

	assert_true(json_is_array(list));
	for (i = 0; i < json_array_size(list) && i < max; i++) {
		ids[i] = jint(json_array_get(list, i), "id");
		assert_null(json_object_get(json_array_get(list, i),
		    "events"));
	}
	return json_array_size(list);
}

static void
test_api_list_filters_and_pages(void **state)
{
	struct fixture *f = *state;
	struct store_inbound_part part;
	int64_t out[5], in = 0, ids[16], before;
	char path[128];
	struct reply r;
	size_t i, n, seen;

	for (i = 0; i < 5; i++)
		out[i] = post_ok(f, "{\"to\":\"+15551234567\",\"text\":\"x\"}");
	memset(&part, 0, sizeof(part));
	part.modem = "annex";
	part.pdu = "00";
	part.from = "+15550000000";
	part.text = "yes";
	part.encoding = "gsm7";
	part.received_at = 1700000000000LL;
	assert_int_equal(store_inbound_add(f->store, &part, &in), 0);
	assert_int_equal(store_transition(f->store, out[1], STORE_QUEUED,
	    STORE_CANCELLED, "test", 0), 0);

	/* Everything, newest first; no next page. */
	http(f, "GET", "/api/v1/messages", NULL, &r);
	assert_int_equal(r.status, 200);
	n = list_ids(&r, ids, 16);
	assert_int_equal(n, 6);
	assert_int_equal(ids[0], in);
	for (i = 1; i < 6; i++)
		assert_int_equal(ids[i], out[5 - i]);
	assert_true(json_is_null(json_object_get(r.json, "next_before")));
	reply_release(&r);

	http(f, "GET", "/api/v1/messages?direction=inbound", NULL, &r);
	assert_int_equal(list_ids(&r, ids, 16), 1);
	assert_int_equal(ids[0], in);
	assert_string_equal(jstr(json_array_get(json_object_get(r.json,
	    "messages"), 0), "from"), "+15550000000");
	reply_release(&r);

	http(f, "GET", "/api/v1/messages?direction=outbound&state=queued",
	    NULL, &r);
	n = list_ids(&r, ids, 16);
	assert_int_equal(n, 4);
	for (i = 0; i < n; i++)
		assert_true(ids[i] != out[1] && ids[i] != in);
	reply_release(&r);

	http(f, "GET", "/api/v1/messages?state=cancelled", NULL, &r);
	assert_int_equal(list_ids(&r, ids, 16), 1);
	assert_int_equal(ids[0], out[1]);
	reply_release(&r);

	/* A full last page says there is no next one. */
	http(f, "GET", "/api/v1/messages?direction=inbound&limit=1", NULL,
	    &r);
	assert_int_equal(list_ids(&r, ids, 16), 1);
	assert_true(json_is_null(json_object_get(r.json, "next_before")));
	reply_release(&r);
	snprintf(path, sizeof(path), "/api/v1/messages?limit=3&before=%lld",
	    (long long)out[2]);
	http(f, "GET", path, NULL, &r);
	assert_int_equal(list_ids(&r, ids, 16), 2);
	assert_int_equal(ids[0], out[1]);
	assert_int_equal(ids[1], out[0]);
	assert_true(json_is_null(json_object_get(r.json, "next_before")));
	reply_release(&r);

	/* Pages of two walk the whole list once, in order. */
	seen = 0;
	before = 0;
	for (;;) {
		if (before == 0)
			snprintf(path, sizeof(path),
			    "/api/v1/messages?limit=2");
		else
			snprintf(path, sizeof(path),
			    "/api/v1/messages?limit=2&before=%lld",
			    (long long)before);
		http(f, "GET", path, NULL, &r);
		assert_int_equal(r.status, 200);
		n = list_ids(&r, ids + seen, 16 - seen);
		assert_true(n <= 2);
		seen += n;
		if (json_is_null(json_object_get(r.json, "next_before"))) {
			reply_release(&r);
			break;
		}
		before = jint(r.json, "next_before");
		assert_int_equal(before, ids[seen - 1]);
		reply_release(&r);
		assert_true(seen < 16);
	}
	assert_int_equal(seen, 6);
	assert_int_equal(ids[0], in);
	for (i = 1; i < 6; i++)
		assert_int_equal(ids[i], out[5 - i]);

	/* Six messages in pages of three: the second page is the last. */
	http(f, "GET", "/api/v1/messages?limit=3", NULL, &r);
	before = jint(r.json, "next_before");
	reply_release(&r);
	snprintf(path, sizeof(path), "/api/v1/messages?limit=3&before=%lld",
	    (long long)before);
	http(f, "GET", path, NULL, &r);
	assert_int_equal(list_ids(&r, ids, 16), 3);
	assert_true(json_is_null(json_object_get(r.json, "next_before")));
	reply_release(&r);
}

static void
test_api_list_invalid_parameters(void **state)
{
	static const char *const queries[] = {
		"limit=0", "limit=1001", "limit=abc", "limit=", "limit=-5",
		"limit=10x", "direction=sideways", "direction=",
		"state=nope", "state=QUEUED", "before=0", "before=-1",
		"before=abc", "page=2", "limit=5&limit=6", "direction",
		/* Names that are not UTF-8, or get cut inside a character. */
		"%ff=1", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa%C3%A9=1",
	};
	struct fixture *f = *state;
	char path[128];
	struct reply r;
	size_t i;

	for (i = 0; i < sizeof(queries) / sizeof(*queries); i++) {
		snprintf(path, sizeof(path), "/api/v1/messages?%s", queries[i]);
		http(f, "GET", path, NULL, &r);
		assert_error(&r, 400, "invalid_parameter");
		reply_release(&r);
	}
	http(f, "GET", "/api/v1/messages?limit=1000&before=99", NULL, &r);
	assert_int_equal(r.status, 200);
	reply_release(&r);
}

static void
test_api_modems_without_workers(void **state)
{
	struct fixture *f = *state;
	struct reply r;

	http(f, "GET", "/api/v1/modems", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_true(json_is_array(json_object_get(r.json, "modems")));
	assert_int_equal(json_array_size(json_object_get(r.json, "modems")),
	    0);
	reply_release(&r);
}

/* Ask for the modems until the first one's 'key' is not 'value'. */
static void
wait_modem_field_not(struct fixture *f, const char *key, const char *value,
    struct reply *r)
{
	struct timespec t0, now;
	json_t *m;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		http(f, "GET", "/api/v1/modems", NULL, r);
		assert_int_equal(r->status, 200);
		m = json_array_get(json_object_get(r->json, "modems"), 0);
		assert_non_null(m);
		if (strcmp(jstr(m, key), value) != 0)
			return;
		reply_release(r);
		clock_gettime(CLOCK_MONOTONIC, &now);
		assert_true(now.tv_sec - t0.tv_sec < 10);
		poll(NULL, 0, 20);
	}
}

/*
 * A real worker whose device does not exist: the modem list shows it
 * with what is known (nothing about the SIM or signal yet) and its
 * error; health counts it but not as ready; a POST still queues.
 */
static void
test_api_modems_with_unreachable_worker(void **state)
{
	struct fixture *f = *state, g;
	struct worker *workers[1];
	struct reply r;
	char err[256];
	json_t *m;

	g = *f;
	assert_int_equal(worker_start(&f->modems[0],
	    "/nonexistent/smsgw-test-tty", f->db, &workers[0]), 0);
	g.ctx.conf = &g.conf;
	g.ctx.workers = workers;
	g.ctx.nworkers = 1;
	assert_int_equal(api_start(&g.ctx, &g.api, err, sizeof(err)), 0);
	g.port = api_port(g.api);

	wait_modem_field_not(&g, "state", "starting", &r);
	m = json_array_get(json_object_get(r.json, "modems"), 0);
	assert_string_equal(jstr(m, "name"), "office-1");
	assert_string_not_equal(jstr(m, "state"), "ready");
	assert_true(json_is_string(json_object_get(m, "last_error")));
	assert_true(json_is_null(json_object_get(m, "signal")));
	assert_true(json_is_null(json_object_get(m, "registration")));
	assert_true(json_is_null(json_object_get(m, "imei")));
	assert_int_equal(jint(m, "sent"), 0);
	assert_int_equal(jint(m, "received"), 0);
	assert_non_null(json_object_get(m, "updated_at"));
	reply_release(&r);

	http_raw(&g, "GET", "/healthz", NULL, NULL, 0, 0, &r);
	assert_int_equal(jint(r.json, "modems"), 1);
	assert_int_equal(jint(r.json, "ready"), 0);
	reply_release(&r);

	post_ok(&g, "{\"to\":\"+15551234567\",\"text\":\"wake\"}");

	/* The metrics say the same: the modem is down, unregistered, and
	 * its signal is unknown (no sample at all). */
	http(&g, "GET", "/metrics", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body,
	    "smsgw_modem_up{modem=\"office-1\"} 0\n"));
	assert_non_null(strstr(r.body,
	    "smsgw_modem_registered{modem=\"office-1\"} 0\n"));
	assert_null(strstr(r.body, "smsgw_modem_signal_dbm{"));
	reply_release(&r);

	api_stop(g.api);
	worker_stop(workers[0]);
}

/* A store that cannot be opened: 500 and no claim of acceptance. */
static void
test_api_store_failure(void **state)
{
	struct fixture *f = *state, g;
	char err[256];
	struct reply r;

	(void)state;
	g = *f;
	g.conf.database = "/nonexistent-dir/smsgw.db";
	g.ctx.conf = &g.conf;
	assert_int_equal(api_start(&g.ctx, &g.api, err, sizeof(err)), 0);
	g.port = api_port(g.api);

	http(&g, "POST", "/api/v1/messages",
	    "{\"to\":\"+15551234567\",\"text\":\"hi\"}", &r);
	assert_error(&r, 500, "internal_error");
	assert_null(json_object_get(r.json, "id"));
	assert_string_equal(r.location, "");
	reply_release(&r);

	http(&g, "GET", "/api/v1/messages/1", NULL, &r);
	assert_error(&r, 500, "internal_error");
	reply_release(&r);
	http(&g, "GET", "/api/v1/messages", NULL, &r);
	assert_error(&r, 500, "internal_error");
	reply_release(&r);

	/* Health does not need the store. */
	http_raw(&g, "GET", "/healthz", NULL, NULL, 0, 0, &r);
	assert_int_equal(r.status, 200);
	reply_release(&r);
	api_stop(g.api);
}

static void
test_api_port_taken(void **state)
{
	struct fixture *f = *state;
	struct conf conf = f->conf;
	struct api_context ctx = f->ctx;
	struct api *api = NULL;
	char err[256];

	conf.http_port = f->port;
	ctx.conf = &conf;
	assert_int_equal(api_start(&ctx, &api, err, sizeof(err)),
	    -EADDRINUSE);
	assert_null(api);
	assert_non_null(strstr(err, "127.0.0.1"));
	assert_non_null(strstr(err, "in use"));

	conf.http_host = "localhost";
	conf.http_port = 0;
	assert_int_equal(api_start(&ctx, &api, err, sizeof(err)), -EINVAL);
	assert_null(api);
}

static void
test_api_number_normalize(void **state)
{
	char out[STORE_NUMBER_MAX];

	(void)state;
	assert_int_equal(api_number_normalize("+1 (555) 123-4567", out,
	    sizeof(out)), 0);
	assert_string_equal(out, "+15551234567");
	assert_int_equal(api_number_normalize("030.1234.5678", out,
	    sizeof(out)), 0);
	assert_string_equal(out, "03012345678");
	assert_int_equal(api_number_normalize("+123456789012345", out,
	    sizeof(out)), 0);
	assert_int_equal(api_number_normalize("112", out, sizeof(out)), 0);
	assert_int_equal(api_number_normalize("+1234567", out, sizeof(out)),
	    0);

	assert_int_equal(api_number_normalize("+123456", out, sizeof(out)),
	    -EINVAL);
	assert_int_equal(api_number_normalize("11", out, sizeof(out)),
	    -EINVAL);
	assert_int_equal(api_number_normalize("+0123456789", out,
	    sizeof(out)), -EINVAL);
	assert_int_equal(api_number_normalize("+1 555 1234567 abc", out,
	    sizeof(out)), -EINVAL);
	/* Too short an output buffer is refused, not truncated. */
	strcpy(out, "untouched");
	assert_int_equal(api_number_normalize("+15551234567", out, 5),
	    -EINVAL);
	assert_string_equal(out, "untouched");
	/* Endless separators do not overflow anything. */
	assert_int_equal(api_number_normalize("1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 "
	    "6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7",
	    out, sizeof(out)), -EINVAL);
}

static void
test_api_time_format(void **state)
{
	char buf[40];

	(void)state;
	api_time_format(1796307963123LL, buf, sizeof(buf));
	assert_string_equal(buf, "2026-12-03T14:26:03.123Z");
	api_time_format(0, buf, sizeof(buf));
	assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
	api_time_format(5, buf, sizeof(buf));
	assert_string_equal(buf, "1970-01-01T00:00:00.005Z");
	api_time_format(-1, buf, sizeof(buf));
	assert_string_equal(buf, "1969-12-31T23:59:59.999Z");
}

#define T(name)	cmocka_unit_test_setup_teardown(name, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_api_healthz_without_token),
		T(test_api_metrics),
		T(test_api_unauthorized),
		T(test_api_not_found),
		T(test_api_method_not_allowed),
		T(test_api_post_accepted_and_stored),
		T(test_api_post_options),
		T(test_api_post_segments_limit),
		T(test_api_post_invalid_json),
		T(test_api_post_unknown_field),
		T(test_api_post_invalid_number),
		T(test_api_post_text_errors),
		T(test_api_post_option_errors),
		T(test_api_post_body_size),
		T(test_api_get_message),
		T(test_api_get_inbound),
		T(test_api_list_filters_and_pages),
		T(test_api_list_invalid_parameters),
		T(test_api_modems_without_workers),
		T(test_api_modems_with_unreachable_worker),
		T(test_api_store_failure),
		T(test_api_port_taken),
		cmocka_unit_test(test_api_number_normalize),
		cmocka_unit_test(test_api_time_format),
		cmocka_unit_test(test_api_utf8_trim),
	};
	int rc;

	log_setup(LOG_LEVEL_WARN, 0);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
