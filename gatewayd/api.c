/*
 * api.c - the REST API: the HTTP daemon, authentication, routing and the
 * small resources (modems, health).  The message resources are in
 * api_messages.c.
 *
 * libmicrohttpd runs the API on a small pool of its own threads.  Each
 * of them opens its own store connection the first time it needs one and
 * keeps it in thread-specific data; the key's destructor closes it when
 * the daemon stops and the thread ends.
 *
 * A request is answered in one of two ways:
 *   - at once, on the first call of the access handler (every GET, and
 *     every refusal: 401, 404, 405, a 413 announced by Content-Length);
 *   - for POST, after its body has been collected, on the last call.
 *
 * Invariants:
 * A1  Every path except /healthz needs the bearer token; it is checked
 *     before the body is read or the store is touched.
 * A2  No more than API_BODY_MAX bytes of a body are ever kept.
 * A3  One log line per request, written when the reply is queued, with
 *     no number and no text in it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "api_internal.h"
#include "smsgw/log.h"
#include "smsgw/modem.h"
#include "smsgw/worker.h"

#define API_THREADS		4
#define API_CONN_TIMEOUT_S	30
#define API_CONN_LIMIT		128

struct api {
	struct MHD_Daemon	*daemon;
	struct api_context	 ctx;
	pthread_key_t		 store_key;
	int			 port;
};

enum api_route {
	API_ROUTE_NONE,
	API_ROUTE_HEALTHZ,
	API_ROUTE_MESSAGES,
	API_ROUTE_MESSAGE,
	API_ROUTE_MODEMS,
	API_ROUTE_METRICS,
};

/* What a connection keeps between calls of the access handler. */
struct api_request {
	enum api_route	 route;
	int64_t		 id;
	int		 replied;
	int		 too_large;
	int		 no_memory;
	char		*body;
	size_t		 len;
	size_t		 cap;
};

const struct api_context *
api_context_peek(const struct api *api)
{
	return &api->ctx;
}

static void
api_store_destroy(void *store)
{
	store_close(store);
}

struct store *
api_store_peek(struct api *api)
{
	struct store *store;
	char err[256];
	int rc;

	store = pthread_getspecific(api->store_key);
	if (store != NULL)
		return store;

	rc = store_open(api->ctx.conf->database, &store, err, sizeof(err));
	if (rc < 0) {
		log_error("api: store-open-failed database=%s error=\"%s\"",
		    api->ctx.conf->database, err);
		return NULL;
	}
	if (pthread_setspecific(api->store_key, store) != 0) {
		store_close(store);
		return NULL;
	}
	return store;
}

void
api_time_format(int64_t ms, char *buf, size_t len)
{
	int64_t secs = ms / 1000, frac = ms % 1000;
	time_t t;
	struct tm tm;
	char stamp[24];

	/* Round towards minus infinity so that -1 ms is 23:59:59.999. */
	if (frac < 0) {
		frac += 1000;
		secs--;
	}
	t = (time_t)secs;
	if (gmtime_r(&t, &tm) == NULL) {
		snprintf(buf, len, "1970-01-01T00:00:00.000Z");
		return;
	}
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03dZ", stamp, (int)frac);
}

json_t *
api_time_json(int64_t ms)
{
	char buf[40];

	if (ms == 0)
		return json_null();
	api_time_format(ms, buf, sizeof(buf));
	return json_string(buf);
}

int
api_number_normalize(const char *in, char *out, size_t outlen)
{
	char digits[STORE_NUMBER_MAX];
	size_t n = 0, first;
	const char *p;

	for (p = in; *p != '\0'; p++) {
		if (strchr(" -.()", *p) != NULL)
			continue;
		if (n + 1 >= sizeof(digits))
			return -EINVAL;
		digits[n++] = *p;
	}
	digits[n] = '\0';

	first = digits[0] == '+' ? 1 : 0;
	if (strspn(digits + first, "0123456789") != n - first)
		return -EINVAL;
	if (first == 1) {
		/* E.164: a country code never starts with 0. */
		if (n - 1 < 7 || n - 1 > 15 || digits[1] == '0')
			return -EINVAL;
	} else if (n < 3 || n > 15) {
		return -EINVAL;
	}
	if (n + 1 > outlen)
		return -EINVAL;
	memcpy(out, digits, n + 1);
	return 0;
}

/* Copy 'path' for the log: printable ASCII only, bounded. */
static void
api_log_path(const char *path, char *buf, size_t len)
{
	size_t i;

	for (i = 0; path[i] != '\0' && i + 1 < len; i++)
		buf[i] = (path[i] > 0x20 && path[i] < 0x7f) ? path[i] : '?';
	buf[i] = '\0';
}

static void
api_log_request(const struct api_call *call, unsigned status)
{
	char path[128], method[16];

	api_log_path(call->path, path, sizeof(path));
	api_log_path(call->method, method, sizeof(method));
	if (call->id > 0)
		log_info("api: request method=%s path=%s status=%u id=%lld",
		    method, path, status, (long long)call->id);
	else
		log_info("api: request method=%s path=%s status=%u", method,
		    path, status);
}

enum MHD_Result
api_reply_text(struct api_call *call, unsigned status, const char *type,
    char *text)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(strlen(text), text,
	    MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
	    "no-store");
	ret = MHD_queue_response(call->conn, status, resp);
	MHD_destroy_response(resp);
	api_log_request(call, status);
	return ret;
}

enum MHD_Result
api_reply(struct api_call *call, unsigned status, json_t *body)
{
	static char oom[] = "{\"error\":{\"code\":\"internal_error\","
	    "\"message\":\"the reply could not be built\"}}";
	struct MHD_Response *resp;
	enum MHD_Result ret;
	char *text;

	text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (text != NULL) {
		resp = MHD_create_response_from_buffer(strlen(text), text,
		    MHD_RESPMEM_MUST_FREE);
	} else {
		status = MHD_HTTP_INTERNAL_SERVER_ERROR;
		resp = MHD_create_response_from_buffer(strlen(oom), oom,
		    MHD_RESPMEM_PERSISTENT);
	}
	if (resp == NULL) {
		free(text);
		return MHD_NO;
	}

	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	    "application/json");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
	    "no-store");
	if (call->location != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION,
		    call->location);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED && call->allow != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
		    call->allow);
	if (status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
		    "Bearer realm=\"smsgw\"");

	ret = MHD_queue_response(call->conn, status, resp);
	MHD_destroy_response(resp);
	api_log_request(call, status);
	return ret;
}

void
api_utf8_trim(char *s)
{
	size_t n = strlen(s), lead, need;
	unsigned char c;

	/* Find the start of the last sequence and see whether it is whole. */
	lead = n;
	while (lead > 0 && ((unsigned char)s[lead - 1] & 0xc0) == 0x80 &&
	    n - lead < 3)
		lead--;
	if (lead == 0)
		return;
	c = (unsigned char)s[lead - 1];
	if (c < 0x80)
		return;
	need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
	if (n - (lead - 1) < need)
		s[lead - 1] = '\0';
}

enum MHD_Result
api_error(struct api_call *call, unsigned status, const char *code,
    const char *fmt, ...)
{
	char message[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);

	/* A long client string may have been cut inside a character. */
	api_utf8_trim(message);

	return api_reply(call, status, json_pack("{s:{s:s,s:s}}", "error",
	    "code", code, "message", message));
}

/*
 * Compare the presented token with the configured one in time that does
 * not depend on where they differ, so that the token cannot be guessed a
 * byte at a time from response times.
 */
static int
api_token_equal(const char *given, size_t glen, const char *want)
{
	size_t wlen = strlen(want), i;
	unsigned char diff = glen != wlen;

	for (i = 0; i < wlen; i++)
		diff |= (unsigned char)want[i] ^
		    (unsigned char)(i < glen ? given[i] : 0);
	return diff == 0;
}

/* "Authorization: Bearer <token>"; the scheme is case-insensitive. */
static int
api_authorized(const struct api *api, struct MHD_Connection *conn)
{
	const char *h, *token;
	size_t len;

	h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_AUTHORIZATION);
	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
		return 0;
	token = h + 7;
	while (*token == ' ')
		token++;
	len = strlen(token);
	while (len > 0 && (token[len - 1] == ' ' || token[len - 1] == '\t'))
		len--;
	return api_token_equal(token, len, api->ctx.conf->http_token);
}

/* A message id in a path: decimal digits only, 1 to INT64_MAX. */
static int
api_parse_id(const char *s, int64_t *id)
{
	int64_t v = 0;

	if (*s == '\0' || strlen(s) > 18)
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s - '0');
	}
	if (v <= 0)
		return -1;
	*id = v;
	return 0;
}

static enum api_route
api_route_of(const char *path, int64_t *id, const char **allow)
{
	static const char prefix[] = "/api/v1/messages/";

	*allow = "GET, HEAD";
	if (strcmp(path, "/healthz") == 0)
		return API_ROUTE_HEALTHZ;
	if (strcmp(path, "/api/v1/modems") == 0)
		return API_ROUTE_MODEMS;
	if (strcmp(path, "/metrics") == 0)
		return API_ROUTE_METRICS;
	if (strcmp(path, "/api/v1/messages") == 0) {
		*allow = "GET, HEAD, POST";
		return API_ROUTE_MESSAGES;
	}
	if (strncmp(path, prefix, sizeof(prefix) - 1) == 0 &&
	    api_parse_id(path + sizeof(prefix) - 1, id) == 0)
		return API_ROUTE_MESSAGE;
	return API_ROUTE_NONE;
}

static enum MHD_Result
api_healthz(struct api_call *call)
{
	const struct api_context *ctx = &call->api->ctx;
	struct worker_status st;
	size_t i, ready = 0;

	for (i = 0; i < ctx->nworkers; i++) {
		worker_status_get(ctx->workers[i], &st);
		if (strcmp(st.state, "ready") == 0)
			ready++;
	}
	return api_reply(call, MHD_HTTP_OK, json_pack("{s:s,s:I,s:I}",
	    "status", "ok", "modems", (json_int_t)ctx->nworkers,
	    "ready", (json_int_t)ready));
}

static json_t *
api_modem_json(const struct worker_status *st)
{
	const struct modem_info *info = &st->info;
	json_t *signal, *reg;

	if (info->rssi < 0 || info->rssi == 99)
		signal = json_null();
	else
		signal = json_pack("{s:i,s:i}", "rssi", info->rssi, "dbm",
		    info->signal_dbm);
	if (info->registration < 0)
		reg = json_null();
	else
		reg = json_string(modem_registration_name(info->registration));

	return json_pack("{s:s,s:s,s:s?,s:s?,s:s?,s:s?,s:o,s:o,s:s?,"
	    "s:I,s:I,s:o}",
	    "name", st->name, "state", st->state,
	    "manufacturer", info->manufacturer[0] ? info->manufacturer : NULL,
	    "model", info->model[0] ? info->model : NULL,
	    "revision", info->revision[0] ? info->revision : NULL,
	    "imei", info->imei[0] ? info->imei : NULL,
	    "signal", signal, "registration", reg,
	    "last_error", st->last_error[0] ? st->last_error : NULL,
	    "sent", (json_int_t)st->sent, "received", (json_int_t)st->received,
	    "updated_at", api_time_json(st->updated_at));
}

static enum MHD_Result
api_modems(struct api_call *call)
{
	const struct api_context *ctx = &call->api->ctx;
	struct worker_status st;
	json_t *list, *m;
	size_t i;

	list = json_array();
	if (list == NULL)
		return api_reply(call, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL);
	for (i = 0; i < ctx->nworkers; i++) {
		worker_status_get(ctx->workers[i], &st);
		m = api_modem_json(&st);
		if (m == NULL || json_array_append_new(list, m) < 0) {
			json_decref(list);
			return api_reply(call, MHD_HTTP_INTERNAL_SERVER_ERROR,
			    NULL);
		}
	}
	return api_reply(call, MHD_HTTP_OK, json_pack("{s:o}", "modems",
	    list));
}

static int
api_is_get(const char *method)
{
	return strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
	    strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
}

/*
 * First call for a request: route, authenticate (A1), check the method.
 * Answers everything except a POST whose body is still to come.
 */
static enum MHD_Result
api_begin(struct api_call *call, struct api_request *req)
{
	const char *allow, *cl;
	int post;

	req->route = api_route_of(call->path, &req->id, &allow);
	call->allow = allow;
	if (req->route != API_ROUTE_HEALTHZ &&
	    !api_authorized(call->api, call->conn))
		return api_error(call, MHD_HTTP_UNAUTHORIZED, "unauthorized",
		    "missing or wrong bearer token");
	if (req->route == API_ROUTE_NONE)
		return api_error(call, MHD_HTTP_NOT_FOUND, "not_found",
		    "no such resource");

	post = strcmp(call->method, MHD_HTTP_METHOD_POST) == 0;
	if (!api_is_get(call->method) &&
	    !(post && req->route == API_ROUTE_MESSAGES))
		return api_error(call, MHD_HTTP_METHOD_NOT_ALLOWED,
		    "method_not_allowed", "this method is not allowed here; "
		    "use %s", allow);

	switch (req->route) {
	case API_ROUTE_HEALTHZ:
		return api_healthz(call);
	case API_ROUTE_MODEMS:
		return api_modems(call);
	case API_ROUTE_METRICS:
		return api_metrics(call);
	case API_ROUTE_MESSAGE:
		call->id = req->id;
		return api_messages_get(call, req->id);
	case API_ROUTE_MESSAGES:
		if (!post)
			return api_messages_list(call);
		break;
	case API_ROUTE_NONE:
		break;
	}

	/* A2: refuse a body announced too large before reading it. */
	cl = MHD_lookup_connection_value(call->conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl != NULL && strtoull(cl, NULL, 10) > API_BODY_MAX)
		return api_error(call, MHD_HTTP_CONTENT_TOO_LARGE,
		    "body_too_large", "the body exceeds %d bytes",
		    API_BODY_MAX);
	req->replied = 0;
	return MHD_YES;
}

/* Keep up to API_BODY_MAX bytes of the body (A2), drop the rest. */
static void
api_collect(struct api_request *req, const char *data, size_t size)
{
	size_t cap;
	char *p;

	if (req->too_large || req->no_memory)
		return;
	if (size > API_BODY_MAX - req->len) {
		req->too_large = 1;
		return;
	}
	if (req->len + size > req->cap) {
		cap = req->cap == 0 ? 4096 : req->cap;
		while (cap < req->len + size)
			cap *= 2;
		p = realloc(req->body, cap);
		if (p == NULL) {
			req->no_memory = 1;
			return;
		}
		req->body = p;
		req->cap = cap;
	}
	memcpy(req->body + req->len, data, size);
	req->len += size;
}

static enum MHD_Result
api_handle(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct api_call call = { cls, conn, method, url, 0, NULL, NULL };
	struct api_request *req = *con_cls;

	(void)version;
	if (req == NULL) {
		req = calloc(1, sizeof(*req));
		if (req == NULL)
			return MHD_NO;
		*con_cls = req;
		/* api_begin() clears this when a body is still to come. */
		req->replied = 1;
		return api_begin(&call, req);
	}

	if (*upload_data_size != 0) {
		if (!req->replied)
			api_collect(req, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (req->replied)
		return MHD_YES;
	req->replied = 1;

	if (req->too_large)
		return api_error(&call, MHD_HTTP_CONTENT_TOO_LARGE,
		    "body_too_large", "the body exceeds %d bytes",
		    API_BODY_MAX);
	if (req->no_memory)
		return api_error(&call, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    "internal_error", "out of memory reading the body");
	return api_messages_post(&call, req->body != NULL ? req->body : "",
	    req->len);
}

static void
api_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct api_request *req = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (req == NULL)
		return;
	free(req->body);
	free(req);
	*con_cls = NULL;
}

static void
api_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];
	size_t n;

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	log_warn("api: microhttpd \"%s\"", line);
}

/* Fill 'ss' with conf's host and port.  Returns its length or 0. */
static socklen_t
api_sockaddr(const struct conf *conf, struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, conf->http_host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)conf->http_port);
		return sizeof(*sin);
	}
	if (inet_pton(AF_INET6, conf->http_host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)conf->http_port);
		return sizeof(*sin6);
	}
	return 0;
}

/*
 * libmicrohttpd says only that it could not start.  Try the bind
 * ourselves to learn why (port taken, address not local, no permission)
 * so that the operator reads the reason and not a guess.
 */
static int
api_bind_reason(const struct sockaddr_storage *ss, socklen_t len)
{
	int fd, rc = -EIO, one = 1;

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)ss, len) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

int
api_start(const struct api_context *ctx, struct api **out, char *err,
    size_t errlen)
{
	const union MHD_DaemonInfo *info;
	struct sockaddr_storage ss;
	unsigned flags;
	struct api *api;
	socklen_t len;
	int rc;

	len = api_sockaddr(ctx->conf, &ss);
	if (len == 0 || ctx->conf->http_port < 0 ||
	    ctx->conf->http_port > 65535) {
		snprintf(err, errlen, "api: cannot listen on %s:%d: not an "
		    "IP address and port", ctx->conf->http_host,
		    ctx->conf->http_port);
		return -EINVAL;
	}

	api = calloc(1, sizeof(*api));
	if (api == NULL) {
		snprintf(err, errlen, "api: out of memory");
		return -ENOMEM;
	}
	api->ctx = *ctx;
	rc = pthread_key_create(&api->store_key, api_store_destroy);
	if (rc != 0) {
		snprintf(err, errlen, "api: pthread_key_create: %s",
		    strerror(rc));
		free(api);
		return -rc;
	}

	flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO |
	    MHD_USE_ERROR_LOG;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	/* The port argument only shows in libmicrohttpd's messages: the
	 * address it binds is MHD_OPTION_SOCK_ADDR. */
	api->daemon = MHD_start_daemon(flags,
	    (uint16_t)ctx->conf->http_port, NULL, NULL, api_handle, api,
	    MHD_OPTION_EXTERNAL_LOGGER, api_mhd_log, NULL,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned)API_THREADS,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)API_CONN_TIMEOUT_S,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)API_CONN_LIMIT,
	    MHD_OPTION_NOTIFY_COMPLETED, api_completed, NULL,
	    MHD_OPTION_END);
	if (api->daemon == NULL) {
		rc = api_bind_reason(&ss, len);
		snprintf(err, errlen, "api: cannot listen on %s%s%s:%d: %s",
		    ss.ss_family == AF_INET6 ? "[" : "", ctx->conf->http_host,
		    ss.ss_family == AF_INET6 ? "]" : "", ctx->conf->http_port,
		    rc == -EIO ? "libmicrohttpd failed to start" :
		    strerror(-rc));
		pthread_key_delete(api->store_key);
		free(api);
		return rc;
	}

	info = MHD_get_daemon_info(api->daemon, MHD_DAEMON_INFO_BIND_PORT);
	api->port = info != NULL ? info->port : ctx->conf->http_port;
	log_notice("api: listening host=%s port=%d", ctx->conf->http_host,
	    api->port);
	*out = api;
	return 0;
}

int
api_port(const struct api *api)
{
	return api->port;
}

void
api_stop(struct api *api)
{
	if (api == NULL)
		return;

	/* Joins the pool threads; each one's store connection is closed
	 * by the key's destructor as the thread ends. */
	MHD_stop_daemon(api->daemon);
	pthread_key_delete(api->store_key);
	log_notice("api: stopped");
	free(api);
}
