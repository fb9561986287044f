/*
 * modem.h - the generic 3GPP modem driver: the one interface through
 * which the daemon talks to a modem.
 *
 * The daemon (gatewayd/) knows nothing about AT syntax; it opens a modem,
 * initialises it, hands it PDUs to send, asks for stored messages and
 * deletes them, and reads its health.  Things the modem announces by
 * itself (a new message, a status report, the device going away) arrive
 * as events through modem_poll().
 *
 * A modem is used by one thread only: its worker.
 */
#ifndef SMSGW_MODEM_H
#define SMSGW_MODEM_H

#include <stddef.h>

#include "smsgw/transport.h"

/* Seconds the modem may take to answer AT+CMGS after the PDU; networks
 * are slow and some modems retry internally for a long time. */
#define MODEM_SEND_TIMEOUT_MS	(120 * 1000)

struct modem_info {
	char	manufacturer[64];
	char	model[64];
	char	revision[64];
	char	imei[32];
	int	rssi;		/* AT+CSQ <rssi>: 0-31, 99 unknown */
	int	signal_dbm;	/* from rssi; 0 when unknown */
	/* AT+CREG <stat>: 0 not registered, 1 home, 2 searching, 3 denied,
	 * 4 unknown, 5 roaming; -1 not asked yet. */
	int	registration;
	int	sim_ready;	/* AT+CPIN? answered READY */
};

/* "home", "roaming", "searching", "denied", "not-registered", "unknown" */
const char *modem_registration_name(int registration);

enum modem_event_type {
	MODEM_EVENT_NEW_MESSAGE,	/* +CMTI: a message stored at 'index' */
	MODEM_EVENT_STATUS_REPORT,	/* +CDS (pdu) or +CDSI (index) */
	MODEM_EVENT_DELIVER,		/* +CMT: a message given directly */
	MODEM_EVENT_REGISTRATION,	/* +CREG: 'value' is the new stat */
	MODEM_EVENT_RESET,		/* RDY or similar: the modem rebooted */
};

struct modem_event {
	enum modem_event_type	type;
	char			storage[8];	/* "SM", "ME", "MT" ... */
	int			index;		/* -1 when not stored */
	const char		*pdu;		/* hex with SMSC, or NULL */
	int			value;
};

typedef void (*modem_event_handler)(const struct modem_event *event,
    void *arg);

/* A message found in the modem's storage. */
struct modem_stored {
	int	index;
	int	status;		/* AT+CMGL <stat>: 0 unread ... 3 sent */
	char	*pdu;		/* hex with SMSC field, owned */
};

struct modem;

/*
 * Open the transport of 'device' (see transport.h) and wrap it; 'baud'
 * and 'flow' apply to serial devices only.  Does not talk to the modem
 * yet.  Returns 0 or a negative errno with a reason in
 * 'err'.
 */
int modem_open(const char *name, const char *device, int baud,
    enum transport_flow flow, struct modem **out, char *err, size_t errlen);

void modem_close(struct modem *modem);

const char *modem_name(const struct modem *modem);

void modem_set_event_handler(struct modem *modem,
    modem_event_handler handler, void *arg);

/*
 * Bring the modem into the state the daemon relies on: synchronise
 * (AT until OK), ATE0, AT+CMEE=1, SIM check (entering 'pin' if asked,
 * NULL for none), PDU mode, new-message indications as +CMTI, identity
 * and health.  Returns 0, or a negative errno with a reason in 'err'
 * (e.g. the SIM wants a PIN and none is configured).
 */
int modem_init(struct modem *modem, const char *pin, char *err,
    size_t errlen);

/* The identity and last known health (filled by init and refresh). */
const struct modem_info *modem_info_peek(const struct modem *modem);

/* Ask AT+CSQ and AT+CREG? again.  Returns 0 or a negative errno. */
int modem_refresh_health(struct modem *modem);

enum modem_send_outcome {
	MODEM_SEND_OK,		/* +CMGS: <mr> then OK */
	MODEM_SEND_REJECTED,	/* an error result: 'cms_error' if +CMS */
	MODEM_SEND_NOT_SENT,	/* failed before the PDU reached the modem:
				 * safe to retry */
	MODEM_SEND_UNKNOWN,	/* the PDU reached the modem, no answer came:
				 * it may have been sent */
};

struct modem_send_result {
	enum modem_send_outcome	outcome;
	int			mr;		/* TP-MR when OK */
	int			cms_error;	/* +CMS ERROR n, else -1 */
	int			cme_error;	/* +CME ERROR n, else -1 */
	int			device_gone;	/* the transport failed */
};

/*
 * How long to wait for the "> " prompt and for the answer to a sent PDU,
 * in milliseconds (defaults 10 s and MODEM_SEND_TIMEOUT_MS).  A slow
 * network needs the second one long; past it, the message is unknown.
 */
void modem_set_timeouts(struct modem *modem, int prompt_ms, int send_ms);

/* Send one PDU (hex with SMSC field) of 'tpdu_len' octets.  Returns 0
 * with 'res' filled; the outcome is in 'res'. */
int modem_send_pdu(struct modem *modem, unsigned tpdu_len, const char *hex,
    struct modem_send_result *res);

/* Classes of +CMS ERROR codes (TS 24.011 Annex E, TS 27.005 3.2.5). */
enum modem_cms_class {
	MODEM_CMS_TEMPORARY,	/* retry with backoff */
	MODEM_CMS_PERMANENT,	/* never retry this message */
	MODEM_CMS_LOCAL,	/* our configuration or the modem: stop,
				 * report, do not blame the message */
	MODEM_CMS_DUPLICATE_RISK, /* network timeout: may have been sent */
};

/* Pure: the class of a +CMS ERROR code. */
enum modem_cms_class modem_cms_classify(int code);

/*
 * List every stored message (AT+CMGL=4).  '*out' receives an array of
 * '*count' entries; free with modem_stored_free().  Returns 0 or a
 * negative errno.
 */
int modem_list_stored(struct modem *modem, struct modem_stored **out,
    size_t *count);

void modem_stored_free(struct modem_stored *list, size_t count);

/* Read the message at 'index' (AT+CMGR).  '*pdu' is hex with SMSC
 * field, to free.  Returns 0, -ENOENT when the slot is empty, or a
 * negative errno. */
int modem_read_stored(struct modem *modem, int index, char **pdu);

/* Delete the message at 'index' (AT+CMGD).  Returns 0 or a negative
 * errno. */
int modem_delete_stored(struct modem *modem, int index);

/* Descriptor to poll; when readable, call modem_poll(). */
int modem_fd(const struct modem *modem);

/*
 * Read what the modem sent on its own and dispatch the events in it.
 * Does not block.  Returns 0 or a negative errno when the device is gone.
 */
int modem_poll(struct modem *modem);

#endif
