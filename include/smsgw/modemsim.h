/*
 * modemsim.h - the virtual modem.
 *
 * Behaves like a real GSM/LTE modem on a pseudo-terminal: echo until ATE0,
 * boot URCs, PDU mode, the "> " prompt of AT+CMGS, message storage with
 * +CMTI, status reports, signal and registration, a configurable send
 * latency, and faults on request.  It runs on its own thread, so that the
 * daemon (device = "virtual") and the modemsim program share one
 * implementation.
 *
 * A control socket (a Unix stream socket, one text command per line, one
 * reply per command) lets tests and people inject inbound messages and
 * read what was sent:
 *
 *   deliver <from> <text...>   store an SMS-DELIVER (split into parts when
 *                              long) and announce each part with +CMTI
 *                              -> "OK <parts>"
 *   deliver-pdu <hex>          store a PDU as given (with SMSC field)
 *                              -> "OK 1"
 *   sent                       every PDU received through AT+CMGS, oldest
 *                              first -> "OK <n>" then n lines
 *                              "<mr> <hex>" (hex with SMSC field)
 *   stored                     -> "OK <messages in storage>"
 *   latency <ms>               delay before the +CMGS answer -> "OK"
 *   fault <name> [arg]         see modemsim.c for the faults -> "OK"
 * An unknown or malformed command answers "ERR <reason>".
 */
#ifndef SMSGW_MODEMSIM_H
#define SMSGW_MODEMSIM_H

#include <stddef.h>

struct modemsim_config {
	const char	*link_path;	/* symlink to the pty, or NULL */
	const char	*control_path;	/* control socket, or NULL */
	const char	*pin;		/* SIM PIN to demand, or NULL */
	int		send_latency_ms;
	int		storage_slots;	/* SIM capacity; 0 means 30 */
	int		quiet;		/* no log lines on stderr */
};

struct modemsim;

/* Create the pty and start the modem's thread.  Returns 0 or a negative
 * errno with a reason in 'err'. */
int modemsim_start(const struct modemsim_config *config,
    struct modemsim **out, char *err, size_t errlen);

/* The pty path the daemon opens (borrowed, valid until stop). */
const char *modemsim_device(const struct modemsim *sim);

/* Stop the thread, close the pty and control socket, free. */
void modemsim_stop(struct modemsim *sim);

/*
 * Run one control command against 'sim' directly (same syntax and
 * replies as the socket).  '*reply' receives a heap string to free.
 * Returns 0 when the reply starts with "OK", 1 otherwise.
 */
int modemsim_control(struct modemsim *sim, const char *command,
    char **reply);

/*
 * Client side: connect to the control socket at 'path', send 'command'
 * and read the whole reply into '*reply' (to free), waiting up to
 * 'timeout_ms'.  Returns 0 when the reply starts with "OK", 1 on an
 * "ERR" reply, or a negative errno on a socket failure.
 */
int modemsim_control_client(const char *path, const char *command,
    int timeout_ms, char **reply);

#endif
