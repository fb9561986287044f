/*
 * worker.h - one thread per modem.
 *
 * A worker owns its modem's port: it opens and initialises the modem,
 * sends the queued messages as soon as they are accepted (woken through an
 * eventfd, never by sleep-polling), reads inbound messages, and keeps the
 * modem's health for the API.  When the device goes away it reopens it
 * with a backoff.
 */
#ifndef SMSGW_WORKER_H
#define SMSGW_WORKER_H

#include <stdint.h>

#include "smsgw/conf.h"
#include "smsgw/modem.h"

/* What the API shows of a modem. */
struct worker_status {
	char			name[64];
	char			state[16];  /* "starting", "ready", "error"
					     * or "disconnected" */
	struct modem_info	info;
	char			last_error[160];
	int64_t			updated_at; /* Unix ms */
	unsigned long		sent;
	unsigned long		received;
};

struct worker;

/*
 * Start the thread of modem 'mc' with its own store connection on
 * 'database'.  'device' overrides mc->device (the virtual modem's pty).
 * Returns 0 or a negative errno.
 */
int worker_start(const struct conf_modem *mc, const char *device,
    const char *database, struct worker **out);

/* Tell the worker there may be new work (a message was queued).
 * Async-signal-safe and callable from any thread. */
void worker_wake(struct worker *worker);

/* Copy the current status. */
void worker_status_get(struct worker *worker, struct worker_status *out);

/* Ask the thread to finish its current step, join it, free. */
void worker_stop(struct worker *worker);

#endif
