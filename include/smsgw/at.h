/*
 * at.h - the AT command channel (3GPP TS 27.005 / 27.007, V.250).
 *
 * One channel per modem, used by a single thread (the modem's worker).
 * Commands are synchronous: at_chan_command() writes the command line and
 * collects the response lines until a final result code.  Whatever the
 * modem says that is not part of the response - unsolicited result codes
 * such as +CMTI, +CDS, RING, +CREG, even when they arrive between the
 * lines of a response - goes to the URC handler.  The command's echo (the
 * modem repeats the command line until ATE0) is recognised and dropped.
 *
 * The URC handler runs on the caller's thread from inside
 * at_chan_command() or at_chan_poll().  It must not issue commands; it
 * records what it needs and the caller acts once the command is done.
 */
#ifndef SMSGW_AT_H
#define SMSGW_AT_H

#include <stddef.h>

#include "smsgw/transport.h"

/* Final result of a command: a table in at.c maps the modem's words to
 * these. */
enum at_result {
	AT_RESULT_OK,
	AT_RESULT_ERROR,	/* plain ERROR, or vendor words for it */
	AT_RESULT_CME_ERROR,	/* +CME ERROR: <n> (equipment / SIM) */
	AT_RESULT_CMS_ERROR,	/* +CMS ERROR: <n> (SMS service) */
	AT_RESULT_NO_CARRIER,
	AT_RESULT_PROMPT,	/* "> ": the modem waits for a PDU */
};

struct at_response {
	enum at_result	result;
	int		error;		/* <n> of +CME/+CMS ERROR, else -1 */
	size_t		nlines;
	char		**lines;	/* intermediate lines, owned */
};

/* Release the lines of a response (the struct itself is the caller's). */
void at_response_release(struct at_response *resp);

/*
 * Called for each unsolicited result code.  'line' is the URC line;
 * 'pdu' is the line that follows it for URCs that carry a PDU (+CMT,
 * +CDS), else NULL.  Both are borrowed for the duration of the call.
 */
typedef void (*at_urc_handler)(const char *line, const char *pdu, void *arg);

struct at_chan;

/* Wrap 'transport' (ownership passes to the channel); 'name' labels the
 * debug log of AT traffic. */
struct at_chan *at_chan_new(struct transport *transport, const char *name);

/* Close the transport and free the channel. */
void at_chan_free(struct at_chan *chan);

void at_chan_set_urc_handler(struct at_chan *chan, at_urc_handler handler,
    void *arg);

/* The descriptor to poll: readable means at_chan_poll() has work. */
int at_chan_fd(const struct at_chan *chan);

/*
 * Read what the modem sent while no command was running and dispatch the
 * URCs in it.  Does not block.  Returns 0, or a negative errno when the
 * device is gone.
 */
int at_chan_poll(struct at_chan *chan);

/*
 * Send 'cmd' (without the trailing CR) and wait up to 'timeout_ms' for
 * its final result.  'prefix' (e.g. "+CSQ:") names the information lines
 * the command answers with, so that a URC sharing no prefix is never
 * mistaken for the answer; NULL accepts any line that is not a known URC
 * (AT+CGMI, AT+CGSN answer with bare lines).
 *
 * Returns 0 with 'resp' filled when a final result arrived (whatever it
 * was: check resp->result), -ETIMEDOUT when none came in time, or another
 * negative errno when the device failed.  On a negative return 'resp' is
 * left empty.
 */
int at_chan_command(struct at_chan *chan, const char *cmd, const char *prefix,
    int timeout_ms, struct at_response *resp);

/* Outcome of at_chan_send_pdu() beyond the response itself. */
enum at_pdu_stage {
	AT_PDU_NOT_SENT,	/* failed before the Ctrl-Z was written */
	AT_PDU_SUBMITTED,	/* the Ctrl-Z was written */
};

/*
 * Send one SMS: "AT+CMGS=<tpdu_len>", wait for the "> " prompt (up to
 * 'prompt_timeout_ms'), write 'hex' and Ctrl-Z, then wait up to
 * 'timeout_ms' for the final result.  '*stage' tells whether the PDU
 * reached the modem, which decides between "retry" and "unknown" when no
 * answer comes.  Returns as at_chan_command().  If the prompt never
 * comes, ESC is written to abandon the command.
 */
int at_chan_send_pdu(struct at_chan *chan, unsigned tpdu_len, const char *hex,
    int prompt_timeout_ms, int timeout_ms, struct at_response *resp,
    enum at_pdu_stage *stage);

/* Nonzero if 'line' starts with a known URC prefix.  Exposed for tests. */
int at_is_urc(const char *line);

/* Nonzero if the URC 'line' is followed by a PDU line (+CMT, +CDS). */
int at_urc_has_pdu(const char *line);

#endif
