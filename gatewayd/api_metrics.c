/*
 * api_metrics.c - GET /metrics in the Prometheus text format (0.0.4).
 *
 * What an admin graphs and alerts on: how many messages sit in each state
 * (a growing "queued" or any "unknown" wants a look), and per modem
 * whether it is up, its signal, its registration and its counters.  Like
 * every path but /healthz it needs the bearer token (Prometheus sends it
 * with "authorization: credentials").  No number or text appears in it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"
#include "smsgw/modem.h"
#include "smsgw/store.h"
#include "smsgw/worker.h"

#define METRICS_TYPE	"text/plain; version=0.0.4; charset=utf-8"

static int
metrics_state_line(enum store_direction dir, enum store_state state,
    int64_t count, void *arg)
{
	FILE *f = arg;

	fprintf(f, "smsgw_messages{direction=\"%s\",state=\"%s\"} %lld\n",
	    store_direction_name(dir), store_state_name(state),
	    (long long)count);
	return 0;
}

/*
 * Per-modem series.  'value' returns 0 and sets '*v', or -1 when the
 * modem has no sample (a signal not measured yet).
 */
struct metrics_modem_series {
	const char	*name;
	const char	*type;
	const char	*help;
	int		(*value)(const struct worker_status *st, long *v);
};

static int
metrics_up(const struct worker_status *st, long *v)
{
	*v = strcmp(st->state, "ready") == 0;
	return 0;
}

static int
metrics_signal(const struct worker_status *st, long *v)
{
	if (st->info.rssi < 0 || st->info.rssi == 99)
		return -1;
	*v = st->info.signal_dbm;
	return 0;
}

static int
metrics_registered(const struct worker_status *st, long *v)
{
	/* AT+CREG <stat> 1 is home, 5 roaming. */
	*v = st->info.registration == 1 || st->info.registration == 5;
	return 0;
}

static int
metrics_sent(const struct worker_status *st, long *v)
{
	*v = (long)st->sent;
	return 0;
}

static int
metrics_received(const struct worker_status *st, long *v)
{
	*v = (long)st->received;
	return 0;
}

static const struct metrics_modem_series metrics_modem_series[] = {
	{ "smsgw_modem_up", "gauge",
	    "1 when the modem is ready to send.", metrics_up },
	{ "smsgw_modem_signal_dbm", "gauge",
	    "Received signal strength (AT+CSQ), absent when unknown.",
	    metrics_signal },
	{ "smsgw_modem_registered", "gauge",
	    "1 when registered on the home network or roaming.",
	    metrics_registered },
	{ "smsgw_modem_sent_total", "counter",
	    "Messages sent through the modem since start.", metrics_sent },
	{ "smsgw_modem_received_total", "counter",
	    "Messages received through the modem since start.",
	    metrics_received },
};

/* Modem names are [A-Za-z0-9_-] (conf.c), safe inside a label. */
static void
metrics_modems(FILE *f, const struct api_context *ctx)
{
	const struct metrics_modem_series *m;
	struct worker_status st;
	size_t i, k;
	long v;

	for (k = 0; k < sizeof(metrics_modem_series) /
	    sizeof(*metrics_modem_series); k++) {
		m = &metrics_modem_series[k];
		fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help,
		    m->name, m->type);
		for (i = 0; i < ctx->nworkers; i++) {
			worker_status_get(ctx->workers[i], &st);
			if (m->value(&st, &v) == 0)
				fprintf(f, "%s{modem=\"%s\"} %ld\n", m->name,
				    st.name, v);
		}
	}
}

enum MHD_Result
api_metrics(struct api_call *call)
{
	struct store *store = api_store_peek(call->api);
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int rc;

	if (store == NULL)
		return api_error(call, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    "internal_error", "the database cannot be opened");
	f = open_memstream(&text, &len);
	if (f == NULL)
		return api_error(call, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    "internal_error", "out of memory");

	fprintf(f, "# HELP smsgw_messages Messages in the store by "
	    "direction and state.\n# TYPE smsgw_messages gauge\n");
	rc = store_count_states(store, metrics_state_line, f);
	metrics_modems(f, api_context_peek(call->api));
	if (fclose(f) != 0 || rc < 0) {
		free(text);
		return api_error(call, MHD_HTTP_INTERNAL_SERVER_ERROR,
		    "internal_error", "the metrics could not be read");
	}
	return api_reply_text(call, MHD_HTTP_OK, METRICS_TYPE, text);
}
