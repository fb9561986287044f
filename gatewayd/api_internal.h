/*
 * api_internal.h - what api.c (the daemon, routing, replies) shares with
 * api_messages.c (the message resources).  Not a module contract: only
 * the api_*.c files include it.
 */
#ifndef SMSGW_API_INTERNAL_H
#define SMSGW_API_INTERNAL_H

#include <stdint.h>

#include <jansson.h>
#include <microhttpd.h>

#include "smsgw/api.h"
#include "smsgw/store.h"

/* Largest request body we read; a message of 10 UCS-2 segments is far
 * below it, anything above is not a message. */
#define API_BODY_MAX		(64 * 1024)

/* Most segments one message may take (the operator pays each). */
#define API_SEGMENTS_MAX	10

/* One request being answered: what the reply helpers need. */
struct api_call {
	struct api		*api;
	struct MHD_Connection	*conn;
	const char		*method;
	const char		*path;
	int64_t			 id;		/* for the log line; 0: none */
	const char		*location;	/* Location header or NULL */
	const char		*allow;		/* Allow header (405) */
};

const struct api_context *api_context_peek(const struct api *api);

/* The calling thread's store connection, opened on first use; NULL if
 * it cannot be opened (logged). */
struct store *api_store_peek(struct api *api);

/* Send 'body' (reference stolen) with 'status'; logs the request. */
enum MHD_Result api_reply(struct api_call *call, unsigned status,
    json_t *body);

/* Send 'text' (ownership taken, freed) as a body of content type
 * 'type' with 'status'; logs the request. */
enum MHD_Result api_reply_text(struct api_call *call, unsigned status,
    const char *type, char *text);

/* Send {"error": {"code", "message"}} with 'status'. */
enum MHD_Result api_error(struct api_call *call, unsigned status,
    const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Cut a trailing incomplete UTF-8 sequence off 's' (after a truncating
 * copy of valid UTF-8), so that jansson accepts it. */
void api_utf8_trim(char *s);

/* "2026-12-03T14:26:03.123Z" for Unix ms 'ms' into 'buf' (>= 32). */
void api_time_format(int64_t ms, char *buf, size_t len);

/* JSON string of time 'ms', or null when 'ms' is 0. */
json_t *api_time_json(int64_t ms);

/*
 * Strip what a person types between digits (spaces, dashes, dots,
 * parentheses) from 'in' and check what is left: "+" and 7-15 digits
 * starting 1-9 (E.164), or 3-15 digits (national numbers, short codes).
 * Writes the result to 'out' and returns 0, or returns -EINVAL.
 */
int api_number_normalize(const char *in, char *out, size_t outlen);

/* The message resources (api_messages.c). */
enum MHD_Result api_messages_post(struct api_call *call, const char *body,
    size_t len);
enum MHD_Result api_messages_get(struct api_call *call, int64_t id);
enum MHD_Result api_messages_list(struct api_call *call);

/* GET /metrics (api_metrics.c). */
enum MHD_Result api_metrics(struct api_call *call);

#endif
