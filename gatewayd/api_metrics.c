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

/* Modem names are [A-Za-z0-9_-] (conf.c), safe inside a label. */
static void
metrics_modems(FILE *f, const struct api_context *ctx)
{
	struct worker_status st;
	size_t i;

	fprintf(f, "# HELP smsgw_modem_up 1 when the modem is ready to "
	    "send.\n# TYPE smsgw_modem_up gauge\n");
	for (i = 0; i < ctx->nworkers; i++) {
		worker_status_get(ctx->workers[i], &st);
		fprintf(f, "smsgw_modem_up{modem=\"%s\"} %d\n", st.name,
		    strcmp(st.state, "ready") == 0);
	}

	fprintf(f, "# HELP smsgw_modem_signal_dbm Received signal "
	    "strength (AT+CSQ), absent when unknown.\n"
	    "# TYPE smsgw_modem_signal_dbm gauge\n");
	for (i = 0; i < ctx->nworkers; i++) {
		worker_status_get(ctx->workers[i], &st);
		if (st.info.rssi >= 0 && st.info.rssi != 99)
			fprintf(f, "smsgw_modem_signal_dbm{modem=\"%s\"} %d\n",
			    st.name, st.info.signal_dbm);
	}

	fprintf(f, "# HELP smsgw_modem_registered 1 when registered on "
	    "the home network or roaming.\n"
	    "# TYPE smsgw_modem_registered gauge\n");
	for (i = 0; i < ctx->nworkers; i++) {
		worker_status_get(ctx->workers[i], &st);
		fprintf(f, "smsgw_modem_registered{modem=\"%s\"} %d\n",
		    st.name, st.info.registration == 1 ||
		    st.info.registration == 5);
	}

	fprintf(f, "# HELP smsgw_modem_sent_total Messages sent through "
	    "the modem since start.\n# TYPE smsgw_modem_sent_total counter\n");
	for (i = 0; i < ctx->nworkers; i++) {
		worker_status_get(ctx->workers[i], &st);
		fprintf(f, "smsgw_modem_sent_total{modem=\"%s\"} %lu\n",
		    st.name, st.sent);
	}

	fprintf(f, "# HELP smsgw_modem_received_total Messages received "
	    "through the modem since start.\n"
	    "# TYPE smsgw_modem_received_total counter\n");
	for (i = 0; i < ctx->nworkers; i++) {
		worker_status_get(ctx->workers[i], &st);
		fprintf(f, "smsgw_modem_received_total{modem=\"%s\"} %lu\n",
		    st.name, st.received);
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
