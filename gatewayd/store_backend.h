/*
 * store_backend.h - what a storage backend provides to store.c.
 *
 * Private to the store: store.c checks the arguments of every public
 * function (so a backend may rely on them), then dispatches through the
 * backend's table of operations.  A backend embeds struct store as the
 * first member of its own connection structure.
 *
 * Out-parameters: store.c passes the backend a local and copies it to the
 * caller only on success, so a backend may scribble on it on failure.
 */
#ifndef SMSGW_STORE_BACKEND_H
#define SMSGW_STORE_BACKEND_H

#include "smsgw/store.h"

struct store_backend;

struct store {
	const struct store_backend	*backend;
};

struct store_backend {
	const char	*name;

	int	(*open)(const char *, struct store **, char *, size_t);
	void	(*close)(struct store *);

	int	(*outbound_insert)(struct store *,
		    const struct store_outbound_new *, int64_t *);
	int	(*message_get)(struct store *, int64_t,
		    struct store_message *);
	int	(*message_list)(struct store *, const struct store_filter *,
		    int (*)(const struct store_message *, void *), void *);
	int	(*message_events)(struct store *, int64_t,
		    int (*)(const struct store_event *, void *), void *);
	int	(*count_states)(struct store *, int (*)(enum store_direction,
		    enum store_state, int64_t, void *), void *);

	int	(*claim_next)(struct store *, const char *, int64_t,
		    struct store_message *);
	int	(*next_due)(struct store *, const char *, int64_t,
		    int64_t *);
	int	(*transition)(struct store *, int64_t, enum store_state,
		    enum store_state, const char *, int64_t);

	int	(*part_submitting)(struct store *, int64_t, int, int);
	int	(*part_sent)(struct store *, int64_t, int, int);
	int	(*part_pending)(struct store *, int64_t, int);
	int	(*part_state)(struct store *, int64_t, int,
		    enum store_part_state *);
	int	(*report)(struct store *, const char *, int, const char *,
		    int, int64_t *);
	int	(*recover)(struct store *);

	int	(*inbound_seen)(struct store *, const char *, const char *);
	int	(*inbound_add)(struct store *,
		    const struct store_inbound_part *, int64_t *);
	int	(*inbound_flush)(struct store *, int64_t);
};

extern const struct store_backend store_backend_sqlite;

/* Names of the part states as stored; parse returns -1 if unknown. */
const char *store_part_state_name(enum store_part_state state);
int store_part_state_parse(const char *name);

#endif
