/*
 * bench_api.c - the whole gateway under load: HTTP in, AT+CMGS out.
 *
 *   bench_api [BUILD_DIR]
 *
 * Starts the real BUILD_DIR/modemsim (send latency 0) and BUILD_DIR/
 * gatewayd (default build/release) as child processes, with their files
 * in a fresh temporary folder and the API on a free port of 127.0.0.1,
 * waits until the modem is "ready", then POSTs BENCH_MESSAGES messages
 * (default 2000) from BENCH_CLIENTS concurrent clients (default 8; one
 * thread and one keep-alive curl handle each).  It measures:
 *
 *   - accepted per second and the POST latency (p50, p95, p99, max);
 *   - the time until no message is left "queued" or "sending", i.e. the
 *     last one is "sent" (or "delivered"), and so the end-to-end rate;
 *   - how fast the modem was fed while the clients were posting, and
 *     after they stopped;
 *   - gatewayd's peak resident memory (VmHWM) and the CPU time of both
 *     processes.
 *
 * modemsim answers every status report request after its report delay
 * (1 s by default), so the worker also reads and matches a report per
 * message during the run; BENCH_REPORT_DELAY_MS=3600000 pushes them past
 * the run, to see the cost of sending alone.
 *
 * Output: "api: key=value", one per line.  Every wait has a deadline and
 * the whole run stops by itself after BENCH_TIME_LIMIT seconds (default
 * 300); a watchdog kills both children if even that fails.  All traffic
 * goes to 127.0.0.1.  BENCH_KEEP=1 keeps the folder (database, logs).
 *
 * Exit status: 0 when every message was accepted and sent, 1 otherwise.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../e2e/harness.h"
#include "smsgw/clock.h"

#define BENCH_API_MESSAGES	2000
#define BENCH_API_MESSAGES_MAX	100000
#define BENCH_API_CLIENTS	8
#define BENCH_API_CLIENTS_MAX	64
#define BENCH_API_LIMIT_S	300
#define BENCH_API_HTTP_MS	10000	/* one request */
#define BENCH_API_PAGE		1000	/* API_LIMIT_MAX of the list */

struct bench_api {
	struct e2e	*env;	/* the processes and their folder */
	char	auth[128];	/* the Authorization header */
	int	messages;
	int	clients;
	int	report_delay_ms;	/* -1: modemsim's default */
	int64_t	deadline;	/* monotonic ms: the whole run */
};

/* Shared by the client threads. */
struct bench_api_load {
	struct bench_api	*b;
	atomic_int		next;		/* next message to post */
	atomic_int		accepted;	/* 202 */
	atomic_int		refused;	/* any other status */
	atomic_int		failed;		/* no answer */
	double			*latency_ms;	/* per message; <0 none */
};

/* The processes, also for the watchdog: it may only kill and exit. */
static struct e2e bench_api_env_procs;

static void
bench_api_watchdog(int sig)
{
	static const char msg[] = "bench_api: time limit or signal, "
	    "killing gatewayd and modemsim\n";

	(void)sig;
	if (bench_api_env_procs.gw_pid > 0)
		kill(bench_api_env_procs.gw_pid, SIGKILL);
	if (bench_api_env_procs.sim_pid > 0)
		kill(bench_api_env_procs.sim_pid, SIGKILL);
	if (write(2, msg, sizeof(msg) - 1) < 0)
		_exit(3);
	_exit(3);
}

static double
bench_api_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* An integer from the environment in [min, max], else 'def'. */
static int
bench_api_env(const char *name, int def, int min, int max)
{
	const char *s = getenv(name);
	char *end;
	long v;

	if (s == NULL || *s == '\0')
		return def;
	v = strtol(s, &end, 10);
	if (*end != '\0' || v < min || v > max) {
		fprintf(stderr, "bench_api: %s=%s out of range %d-%d, "
		    "using %d\n", name, s, min, max, def);
		return def;
	}
	return (int)v;
}

static size_t
bench_api_discard(char *ptr, size_t size, size_t n, void *arg)
{
	(void)ptr;
	(void)arg;
	return size * n;
}

/* One client: POST messages until none is left or time is up. */
static void *
bench_api_client(void *arg)
{
	struct bench_api_load *l = arg;
	struct curl_slist *hdrs = NULL;
	char url[128], body[256];
	double t0;
	long status;
	CURL *c;
	int i;

	/* One keep-alive handle per client, as a busy client would. */
	c = curl_easy_init();
	if (c == NULL)
		return NULL;
	hdrs = curl_slist_append(hdrs, l->b->auth);
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	snprintf(url, sizeof(url), "%s/api/v1/messages", l->b->env->url);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)BENCH_API_HTTP_MS);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, bench_api_discard);

	while ((i = atomic_fetch_add(&l->next, 1)) < l->b->messages &&
	    clock_mono_ms() < l->b->deadline) {
		snprintf(body, sizeof(body), "{\"to\": \"+1555%07d\", "
		    "\"text\": \"Bench %d: your appointment is on Tuesday at "
		    "9:30 in room 4B.\"}", i, i);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		t0 = bench_api_now();
		status = -1;
		if (curl_easy_perform(c) == CURLE_OK)
			curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		if (status == 202) {
			l->latency_ms[i] = (bench_api_now() - t0) * 1000.0;
			atomic_fetch_add(&l->accepted, 1);
		} else if (status > 0) {
			atomic_fetch_add(&l->refused, 1);
		} else {
			atomic_fetch_add(&l->failed, 1);
		}
	}
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	return NULL;
}

/* The modem's count of PDUs taken through AT+CMGS, or -1. */
static long
bench_api_sim_sent(struct bench_api *b)
{
	char *reply = NULL, *p;
	long n = -1;

	if (e2e_sim(b->env, "status", &reply) == 0 &&
	    (p = strstr(reply, " sent=")) != NULL)
		n = strtol(p + strlen(" sent="), NULL, 10);
	free(reply);
	return n;
}

/* How many outbound messages are in 'state' (paging through the list),
 * or -1. */
static long
bench_api_count(struct bench_api *b, const char *state, int stop_at_one)
{
	char path[160];
	json_t *j, *next;
	long total = 0, before = 0;
	int n;

	for (;;) {
		n = snprintf(path, sizeof(path), "/api/v1/messages?"
		    "direction=outbound&state=%s&limit=%d", state,
		    stop_at_one ? 1 : BENCH_API_PAGE);
		if (before > 0)
			snprintf(path + n, sizeof(path) - (size_t)n,
			    "&before=%ld", before);
		if (e2e_http(b->env, "GET", path, NULL, b->env->token, &j) !=
		    200) {
			json_decref(j);
			return -1;
		}
		total += (long)json_array_size(json_object_get(j,
		    "messages"));
		next = json_object_get(j, "next_before");
		before = json_is_integer(next) ?
		    (long)json_integer_value(next) : 0;
		json_decref(j);
		if (before == 0 || stop_at_one)
			return total;
	}
}

/* Nothing outbound is left queued or sending. */
static int
bench_api_drained(struct bench_api *b)
{
	return bench_api_count(b, "queued", 1) == 0 &&
	    bench_api_count(b, "sending", 1) == 0;
}

/*
 * Wait until the last message has left "queued" and "sending".  The
 * modem's counter is read first, over its control socket, because it
 * costs the daemon nothing; the API is asked every 10 ms only once the
 * modem has seen every message, and every half second before (in case
 * some failed and the counter never gets there).  Returns the time it
 * saw the queue empty, or a negative number at the deadline; '*t_modem'
 * is when the modem had taken the last PDU (negative if it never did).
 */
static double
bench_api_wait_sent(struct bench_api *b, long expect, double *t_modem)
{
	int64_t next_api = 0;

	*t_modem = -1.0;
	while (clock_mono_ms() < b->deadline) {
		long sent = bench_api_sim_sent(b);

		if (sent >= expect && *t_modem < 0)
			*t_modem = bench_api_now();
		if ((sent >= expect || clock_mono_ms() >= next_api) &&
		    bench_api_drained(b))
			return bench_api_now();
		if (sent < expect && clock_mono_ms() >= next_api)
			next_api = clock_mono_ms() + 500;
		e2e_pause();
	}
	return -1.0;
}

static int
bench_api_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of the sorted 'v'. */
static double
bench_api_pct(const double *v, size_t n, double p)
{
	size_t k;

	if (n == 0)
		return 0.0;
	k = (size_t)(p / 100.0 * (double)n + 0.999999);
	return v[k == 0 ? 0 : k - 1];
}

/* A "Vm...:" line of /proc/PID/status in kB, or -1. */
static long
bench_api_vm(pid_t pid, const char *key)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, key, strlen(key)) == 0 &&
		    line[strlen(key)] == ':') {
			kb = strtol(line + strlen(key) + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return kb;
}

/* User + system CPU seconds of 'pid' so far, or -1. */
static double
bench_api_cpu(pid_t pid)
{
	char path[64], line[1024], *p;
	unsigned long ut, st;
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1.0;
	ok = fgets(line, sizeof(line), f) != NULL;
	fclose(f);
	/* Fields 14 and 15, counted after the ")" that ends the name. */
	if (!ok || (p = strrchr(line, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
	    "%lu %lu", &ut, &st) != 2)
		return -1.0;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* Post every message from 'clients' threads; returns the seconds it
 * took, or a negative number when no thread could start. */
static double
bench_api_post_all(struct bench_api *b, struct bench_api_load *l)
{
	pthread_t tid[BENCH_API_CLIENTS_MAX];
	int i, started = 0;
	double t0 = bench_api_now();

	for (i = 0; i < b->clients; i++) {
		if (pthread_create(&tid[i], NULL, bench_api_client, l) != 0)
			break;
		started++;
	}
	for (i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	return started > 0 ? bench_api_now() - t0 : -1.0;
}

/* The load and the figures.  Returns 0 when all went through. */
static int
bench_api_measure(struct bench_api *b)
{
	struct bench_api_load l;
	double t_post, t_done, t_modem, t0, *lat = NULL;
	long sent_at_post, failed, unknown, sent, delivered;
	size_t n = 0;
	int i, rc = -1;

	memset(&l, 0, sizeof(l));
	l.b = b;
	l.latency_ms = malloc(sizeof(double) * (size_t)b->messages);
	lat = malloc(sizeof(double) * (size_t)b->messages);
	if (l.latency_ms == NULL || lat == NULL)
		goto out;
	for (i = 0; i < b->messages; i++)
		l.latency_ms[i] = -1.0;

	t0 = bench_api_now();
	t_post = bench_api_post_all(b, &l);
	if (t_post < 0)
		goto out;
	sent_at_post = bench_api_sim_sent(b);
	t_done = bench_api_wait_sent(b, atomic_load(&l.accepted), &t_modem);

	for (i = 0; i < b->messages; i++)
		if (l.latency_ms[i] >= 0)
			lat[n++] = l.latency_ms[i];
	qsort(lat, n, sizeof(*lat), bench_api_cmp);

	printf("api: messages=%d\napi: clients=%d\n", b->messages, b->clients);
	printf("api: accepted=%d\napi: refused=%d\napi: no_answer=%d\n",
	    atomic_load(&l.accepted), atomic_load(&l.refused),
	    atomic_load(&l.failed));
	printf("api: post_seconds=%.3f\napi: accepted_per_sec=%.1f\n",
	    t_post, (double)atomic_load(&l.accepted) / t_post);
	printf("api: post_ms_p50=%.2f\napi: post_ms_p95=%.2f\n"
	    "api: post_ms_p99=%.2f\napi: post_ms_max=%.2f\n",
	    bench_api_pct(lat, n, 50), bench_api_pct(lat, n, 95),
	    bench_api_pct(lat, n, 99), n > 0 ? lat[n - 1] : 0.0);
	/* How fast the worker sent while the API was busy, and after: a
	 * large gap means the two fight over the database. */
	printf("api: modem_sent_when_posting_ended=%ld\n"
	    "api: send_per_sec_while_posting=%.1f\n", sent_at_post,
	    (double)sent_at_post / t_post);
	if (t_done > 0)
		printf("api: send_per_sec_after_posting=%.1f\n"
		    "api: seconds_to_last_sent=%.3f\n"
		    "api: end_to_end_per_sec=%.1f\n",
		    t_done - t0 - t_post > 0 ?
		    (double)(atomic_load(&l.accepted) - sent_at_post) /
		    (t_done - t0 - t_post) : 0.0, t_done - t0,
		    (double)atomic_load(&l.accepted) / (t_done - t0));
	else
		printf("api: seconds_to_last_sent=timeout\n");
	if (t_modem > 0)
		printf("api: seconds_to_modem_took_last=%.3f\n", t_modem - t0);

	/* A snapshot: status reports keep turning "sent" into "delivered"
	 * while it is taken, so only the states that stay count for the
	 * verdict. */
	sent = bench_api_count(b, "sent", 0);
	delivered = bench_api_count(b, "delivered", 0);
	failed = bench_api_count(b, "failed", 0);
	unknown = bench_api_count(b, "unknown", 0);
	printf("api: final_sent=%ld\napi: final_delivered=%ld\n"
	    "api: final_failed=%ld\napi: final_unknown=%ld\n", sent,
	    delivered, failed, unknown);
	printf("api: modem_sent=%ld\n", bench_api_sim_sent(b));
	printf("api: gatewayd_vmhwm_kb=%ld\napi: gatewayd_vmrss_kb=%ld\n",
	    bench_api_vm(b->env->gw_pid, "VmHWM"),
	    bench_api_vm(b->env->gw_pid, "VmRSS"));
	printf("api: gatewayd_cpu_seconds=%.2f\napi: modemsim_cpu_seconds="
	    "%.2f\n", bench_api_cpu(b->env->gw_pid),
	    bench_api_cpu(b->env->sim_pid));
	fflush(stdout);

	if (atomic_load(&l.accepted) == b->messages && t_done > 0 &&
	    failed == 0 && unknown == 0)
		rc = 0;
out:
	free(l.latency_ms);
	free(lat);
	return rc;
}

static int
bench_api_setup(struct bench_api *b)
{
	memset(b, 0, sizeof(*b));
	b->env = &bench_api_env_procs;
	b->messages = bench_api_env("BENCH_MESSAGES", BENCH_API_MESSAGES, 1,
	    BENCH_API_MESSAGES_MAX);
	b->clients = bench_api_env("BENCH_CLIENTS", BENCH_API_CLIENTS, 1,
	    BENCH_API_CLIENTS_MAX);
	b->report_delay_ms = bench_api_env("BENCH_REPORT_DELAY_MS", -1, 0,
	    3600000);
	b->deadline = clock_mono_ms() + 1000LL * bench_api_env(
	    "BENCH_TIME_LIMIT", BENCH_API_LIMIT_S, 10, 3600);
	return 0;
}

/* modemsim and gatewayd, ready; then modemsim's report delay. */
static int
bench_api_start(struct bench_api *b)
{
	char cmd[64], *reply = NULL;
	int rc;

	if (e2e_setup_with(b->env) < 0)
		return -1;
	snprintf(b->auth, sizeof(b->auth), "Authorization: Bearer %s",
	    b->env->token);
	if (b->report_delay_ms < 0)
		return 0;
	snprintf(cmd, sizeof(cmd), "report-delay %d", b->report_delay_ms);
	rc = e2e_sim(b->env, cmd, &reply);
	if (rc != 0)
		fprintf(stderr, "bench_api: modemsim %s: %s\n", cmd,
		    reply != NULL ? reply : strerror(-rc));
	free(reply);
	return rc == 0 ? 0 : -1;
}

int
main(int argc, char **argv)
{
	struct bench_api b;
	struct e2e *env = &bench_api_env_procs;
	int64_t limit_s;
	int rc = 1;

	if (argc > 2) {
		fprintf(stderr, "usage: bench_api [BUILD_DIR]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	bench_api_setup(&b);
	snprintf(env->bindir, sizeof(env->bindir), "%s",
	    argc == 2 ? argv[1] : "build/release");
	snprintf(env->log_level, sizeof(env->log_level), "warn");
	if (getenv("BENCH_KEEP") != NULL)
		setenv("SMSGW_E2E_KEEP", "1", 1);

	/* The last resort: a minute after the deadline, or on ^C, kill both
	 * children so nothing is left running. */
	limit_s = (b.deadline - clock_mono_ms()) / 1000 + 60;
	signal(SIGALRM, bench_api_watchdog);
	signal(SIGINT, bench_api_watchdog);
	signal(SIGTERM, bench_api_watchdog);
	alarm((unsigned)limit_s);

	if (bench_api_start(&b) == 0) {
		rc = bench_api_measure(&b) == 0 ? 0 : 1;
		if (rc != 0)
			e2e_dump_log(env);
		if (getenv("BENCH_KEEP") != NULL)
			fprintf(stderr, "bench_api: kept %s\n", env->dir);
		if (e2e_teardown(env) != 0)
			rc = 1;
	}
	alarm(0);
	return rc;
}
