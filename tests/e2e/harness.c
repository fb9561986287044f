/*
 * harness.c - see harness.h.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "smsgw/clock.h"
#include "smsgw/modemsim.h"

/* Between two checks of a condition; the deadline, not this, decides. */
#define E2E_RECHECK_MS	20

void
e2e_pause(void)
{
	struct timespec ts = { 0, E2E_RECHECK_MS * 1000000L };

	nanosleep(&ts, NULL);
}

static const char *
e2e_bindir(const struct e2e *e)
{
	const char *b = getenv("SMSGW_BUILD");

	if (e->bindir[0] != '\0')
		return e->bindir;
	return b != NULL && *b != '\0' ? b : "build/asan";
}

int
e2e_free_port(void)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd, port = -1;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

pid_t
e2e_spawn(char *const argv[], const char *logpath)
{
	pid_t pid;
	int fd;

	pid = fork();
	if (pid != 0)
		return pid;

	fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
		close(fd);
	}
	execv(argv[0], argv);
	fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

/* Wait for 'pid' up to 'ms'; returns its exit status, or -1 on a signal
 * death, or -2 on timeout. */
static int
e2e_reap(pid_t pid, int ms)
{
	int64_t deadline = clock_mono_ms() + ms;
	int status;

	while (clock_mono_ms() < deadline) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid) {
			if (WIFEXITED(status))
				return WEXITSTATUS(status);
			fprintf(stderr, "e2e: pid %d died of signal %d\n",
			    (int)pid, WTERMSIG(status));
			return -1;
		}
		if (r < 0)
			return -1;
		e2e_pause();
	}
	return -2;
}

static int
e2e_stop_process(pid_t *pid, const char *what)
{
	int st;

	if (*pid <= 0)
		return 0;
	kill(*pid, SIGTERM);
	st = e2e_reap(*pid, E2E_DEADLINE_MS);
	if (st == -2) {
		fprintf(stderr, "e2e: %s did not stop, killing it\n", what);
		kill(*pid, SIGKILL);
		e2e_reap(*pid, E2E_DEADLINE_MS);
		st = -1;
	}
	if (st != 0)
		fprintf(stderr, "e2e: %s exited with status %d\n", what, st);
	*pid = 0;
	return st;
}

int
e2e_sim(struct e2e *e, const char *command, char **reply)
{
	return modemsim_control_client(e->control, command, 5000, reply);
}

static int
e2e_start_sim(struct e2e *e)
{
	char bin[512], log[400];
	char *argv[] = { bin, "--link", e->link, "--control", e->control,
	    NULL };
	int64_t deadline;
	char *reply = NULL;

	snprintf(bin, sizeof(bin), "%s/modemsim", e2e_bindir(e));
	snprintf(log, sizeof(log), "%s/modemsim.log", e->dir);
	e->sim_pid = e2e_spawn(argv, log);
	if (e->sim_pid < 0)
		return -1;

	deadline = clock_mono_ms() + E2E_DEADLINE_MS;
	while (clock_mono_ms() < deadline) {
		struct stat st;

		if (stat(e->link, &st) == 0 &&
		    e2e_sim(e, "stored", &reply) == 0) {
			free(reply);
			return 0;
		}
		free(reply);
		reply = NULL;
		e2e_pause();
	}
	fprintf(stderr, "e2e: modemsim did not come up\n");
	return -1;
}

static int
e2e_write_conf(struct e2e *e)
{
	FILE *f = fopen(e->conf, "w");

	if (f == NULL)
		return -1;
	fprintf(f,
	    "http = {\n"
	    "  listen = \"127.0.0.1:%d\";\n"
	    "  token = \"%s\";\n"
	    "};\n"
	    "database = \"%s\";\n"
	    "log_level = \"%s\";\n"
	    "modems = (\n"
	    "  { name = \"sim1\"; device = \"%s\"; %s }\n"
	    ");\n", e->port, e->token, e->db,
	    e->log_level[0] != '\0' ? e->log_level : "debug", e->link,
	    e->modem_extra);
	return fclose(f) == 0 ? 0 : -1;
}

/* The API answers and the modem reports "ready". */
static int
e2e_gateway_ready(struct e2e *e)
{
	json_t *j = NULL, *m;
	long st;
	int ready = 0;

	st = e2e_http(e, "GET", "/api/v1/modems", NULL, e->token, &j);
	if (st == 200) {
		m = json_array_get(json_object_get(j, "modems"), 0);
		ready = json_is_string(json_object_get(m, "state")) &&
		    strcmp(json_string_value(json_object_get(m, "state")),
		    "ready") == 0;
	}
	json_decref(j);
	return ready;
}

int
e2e_gateway_start(struct e2e *e)
{
	char bin[512], log[400];
	char *argv[] = { bin, "-c", e->conf, NULL };
	int64_t deadline;

	snprintf(bin, sizeof(bin), "%s/gatewayd", e2e_bindir(e));
	snprintf(log, sizeof(log), "%s/gatewayd.log", e->dir);
	e->gw_pid = e2e_spawn(argv, log);
	if (e->gw_pid < 0)
		return -1;

	deadline = clock_mono_ms() + E2E_DEADLINE_MS;
	while (clock_mono_ms() < deadline) {
		if (e2e_gateway_ready(e))
			return 0;
		if (waitpid(e->gw_pid, NULL, WNOHANG) == e->gw_pid) {
			fprintf(stderr, "e2e: gatewayd exited at start\n");
			e->gw_pid = 0;
			e2e_dump_log(e);
			return -1;
		}
		e2e_pause();
	}
	fprintf(stderr, "e2e: gatewayd not ready in time\n");
	e2e_dump_log(e);
	return -1;
}

int
e2e_gateway_stop(struct e2e *e)
{
	return e2e_stop_process(&e->gw_pid, "gatewayd");
}

int
e2e_setup(struct e2e *e)
{
	memset(e, 0, sizeof(*e));
	return e2e_setup_with(e);
}

int
e2e_group_setup(void **state)
{
	struct e2e *e = calloc(1, sizeof(*e));

	if (e == NULL || e2e_setup_with(e) < 0) {
		free(e);
		return -1;
	}
	*state = e;
	return 0;
}

int
e2e_group_teardown(void **state)
{
	struct e2e *e = *state;
	int rc = e2e_teardown(e);

	free(e);
	return rc;
}

void
e2e_gateway_kill(struct e2e *e)
{
	if (e->gw_pid <= 0)
		return;
	kill(e->gw_pid, SIGKILL);
	waitpid(e->gw_pid, NULL, 0);
	e->gw_pid = 0;
}

int
e2e_setup_with(struct e2e *e)
{
	static int curl_ready;

	e->sim_pid = e->gw_pid = 0;
	if (!curl_ready) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		curl_ready = 1;
	}
	snprintf(e->dir, sizeof(e->dir), "/tmp/smsgw-e2e-XXXXXX");
	if (mkdtemp(e->dir) == NULL)
		return -1;
	snprintf(e->conf, sizeof(e->conf), "%s/smsgw.conf", e->dir);
	snprintf(e->db, sizeof(e->db), "%s/smsgw.db", e->dir);
	snprintf(e->link, sizeof(e->link), "%s/modem", e->dir);
	snprintf(e->control, sizeof(e->control), "%s/sim.sock", e->dir);
	snprintf(e->token, sizeof(e->token), "e2e-token-%ld-abcdef",
	    (long)getpid());
	e->port = e2e_free_port();
	snprintf(e->url, sizeof(e->url), "http://127.0.0.1:%d", e->port);

	if (e->port < 0 || e2e_write_conf(e) < 0 || e2e_start_sim(e) < 0 ||
	    e2e_gateway_start(e) < 0) {
		e2e_teardown(e);
		return -1;
	}
	return 0;
}

int
e2e_teardown(struct e2e *e)
{
	char cmd[400];
	int rc = 0;

	if (e2e_gateway_stop(e) != 0) {
		e2e_dump_log(e);
		rc = -1;
	}
	if (e2e_stop_process(&e->sim_pid, "modemsim") != 0)
		rc = -1;
	if (e->dir[0] != '\0' && getenv("SMSGW_E2E_KEEP") == NULL) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);
		if (system(cmd) != 0)
			rc = -1;
	}
	return rc;
}

void
e2e_dump_log(struct e2e *e)
{
	char path[400], line[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/gatewayd.log", e->dir);
	f = fopen(path, "r");
	if (f == NULL)
		return;
	fprintf(stderr, "---- %s\n", path);
	while (fgets(line, sizeof(line), f) != NULL)
		fputs(line, stderr);
	fprintf(stderr, "----\n");
	fclose(f);
}

struct e2e_buf {
	char	*data;
	size_t	len;
};

static size_t
e2e_collect(char *ptr, size_t size, size_t n, void *arg)
{
	struct e2e_buf *b = arg;
	char *p = realloc(b->data, b->len + size * n + 1);

	if (p == NULL)
		return 0;
	memcpy(p + b->len, ptr, size * n);
	b->len += size * n;
	p[b->len] = '\0';
	b->data = p;
	return size * n;
}

long
e2e_http(struct e2e *e, const char *method, const char *path,
    const char *body, const char *token, json_t **json)
{
	struct curl_slist *hdrs = NULL;
	struct e2e_buf buf = { NULL, 0 };
	char url[512], auth[128];
	long status = -1;
	CURL *c;

	*json = NULL;
	c = curl_easy_init();
	if (c == NULL)
		return -1;
	snprintf(url, sizeof(url), "%s%s", e->url, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, e2e_collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &buf);
	if (token != NULL) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		hdrs = curl_slist_append(hdrs, auth);
	}
	if (body != NULL) {
		hdrs = curl_slist_append(hdrs,
		    "Content-Type: application/json");
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);

	if (curl_easy_perform(c) == CURLE_OK) {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		if (buf.data != NULL)
			*json = json_loads(buf.data, 0, NULL);
	}
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	free(buf.data);
	return status;
}

long long
e2e_send(struct e2e *e, const char *to, const char *text)
{
	json_t *req, *resp = NULL;
	char *body;
	long long id = -1;
	long st;

	req = json_pack("{s:s, s:s}", "to", to, "text", text);
	body = json_dumps(req, 0);
	st = e2e_http(e, "POST", "/api/v1/messages", body, e->token, &resp);
	if (st == 202 && json_is_integer(json_object_get(resp, "id")))
		id = json_integer_value(json_object_get(resp, "id"));
	else
		fprintf(stderr, "e2e: POST answered %ld\n", st);
	json_decref(req);
	json_decref(resp);
	free(body);
	return id;
}

json_t *
e2e_wait_state(struct e2e *e, long long id, const char *state)
{
	int64_t deadline = clock_mono_ms() + E2E_DEADLINE_MS;
	char path[64];
	const char *now = "?";
	json_t *j = NULL;

	snprintf(path, sizeof(path), "/api/v1/messages/%lld", id);
	while (clock_mono_ms() < deadline) {
		if (e2e_http(e, "GET", path, NULL, e->token, &j) == 200) {
			json_t *s = json_object_get(j, "state");

			now = json_is_string(s) ? json_string_value(s) : "?";
			if (strcmp(now, state) == 0)
				return j;
		}
		json_decref(j);
		j = NULL;
		e2e_pause();
	}
	fprintf(stderr, "e2e: message %lld never reached %s\n", id, state);
	e2e_dump_log(e);
	return NULL;
}

void
e2e_strv_free(char **v)
{
	size_t i;

	for (i = 0; v != NULL && v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

/* Parse the reply of "sent": "OK <n>" then n lines "<mr> <hex>". */
static char **
e2e_parse_sent(const char *reply, size_t *n)
{
	const char *p = reply, *nl;
	char **v;
	size_t count, i;

	if (sscanf(reply, "OK %zu", &count) != 1)
		return NULL;
	v = calloc(count + 1, sizeof(*v));
	if (v == NULL)
		return NULL;
	for (i = 0; i < count; i++) {
		const char *sp;

		nl = strchr(p, '\n');
		if (nl == NULL)
			break;
		p = nl + 1;
		sp = strchr(p, ' ');
		nl = strchr(p, '\n');
		if (sp == NULL)
			break;
		if (nl == NULL)
			nl = p + strlen(p);
		v[i] = strndup(sp + 1, (size_t)(nl - sp - 1));
	}
	*n = i;
	return v;
}

char **
e2e_wait_sent(struct e2e *e, size_t count)
{
	int64_t deadline = clock_mono_ms() + E2E_DEADLINE_MS;
	char *reply = NULL;
	char **v;
	size_t n;

	while (clock_mono_ms() < deadline) {
		if (e2e_sim(e, "sent", &reply) == 0) {
			v = e2e_parse_sent(reply, &n);
			free(reply);
			reply = NULL;
			if (v != NULL && n >= count)
				return v;
			e2e_strv_free(v);
		}
		free(reply);
		reply = NULL;
		e2e_pause();
	}
	fprintf(stderr, "e2e: modem never received %zu PDUs\n", count);
	e2e_dump_log(e);
	return NULL;
}

json_t *
e2e_wait_inbound(struct e2e *e, const char *text)
{
	int64_t deadline = clock_mono_ms() + E2E_DEADLINE_MS;

	while (clock_mono_ms() < deadline) {
		json_t *j = NULL, *m, *found = NULL;
		size_t i;

		if (e2e_http(e, "GET", "/api/v1/messages?direction=inbound",
		    NULL, e->token, &j) == 200) {
			json_array_foreach(json_object_get(j, "messages"), i,
			    m) {
				const char *t = json_string_value(
				    json_object_get(m, "text"));

				if (t != NULL && strcmp(t, text) == 0)
					found = json_incref(m);
			}
		}
		json_decref(j);
		if (found != NULL)
			return found;
		e2e_pause();
	}
	fprintf(stderr, "e2e: no inbound message with the text expected\n");
	e2e_dump_log(e);
	return NULL;
}
