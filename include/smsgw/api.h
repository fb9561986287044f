/*
 * api.h - the REST API (libmicrohttpd + jansson).
 *
 *   POST /api/v1/messages         queue an outbound message -> 202
 *   GET  /api/v1/messages/{id}    one message with its transitions
 *   GET  /api/v1/messages         ?direction=&state=&limit=&before=
 *   GET  /api/v1/modems           name, state, identity, signal
 *   GET  /healthz                 liveness, no token
 *
 * Bearer token from the configuration; errors are
 * {"error": {"code": "...", "message": "..."}} with the fitting status.
 */
#ifndef SMSGW_API_H
#define SMSGW_API_H

#include <stddef.h>

#include "smsgw/conf.h"
#include "smsgw/worker.h"

struct api_context {
	const struct conf	*conf;
	struct worker		**workers;	/* one per configured modem */
	size_t			nworkers;
};

struct api;

/* Listen on conf->http_host:http_port (port 0: any free port).  Each
 * request thread opens its own store connection.  Returns 0 or a
 * negative errno with 'err' set. */
int api_start(const struct api_context *ctx, struct api **out, char *err,
    size_t errlen);

/* The port actually bound: conf->http_port, or the one the kernel chose
 * when http_port is 0 (tests ask for any free port that way). */
int api_port(const struct api *api);

void api_stop(struct api *api);

#endif
