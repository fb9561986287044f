/*
 * modemsim.c - the virtual modem: a Quectel EC25-like modem on a
 * pseudo-terminal.
 *
 * One thread polls the pty master, the control socket and its clients,
 * and an eventfd that other threads use to wake it (stop, in-process
 * control).  All state is guarded by 'lock'; the thread drops it only
 * while it sleeps in poll().  Timers (the +CMGS latency, the re-plug after
 * an unplug) are deadlines that set poll()'s timeout: nothing sleeps.
 *
 * The AT channel is a small state machine:
 *
 *   COMMAND --AT+CMGS=<n>--> PDU --Ctrl-Z, valid--> SENDING --timer-->
 *   COMMAND;  PDU --ESC or invalid--> COMMAND;  any --fault unplug-->
 *   UNPLUGGED --timer or "fault none"--> COMMAND (a new pty, boot URCs)
 *
 * Invariants:
 *   I1. master < 0 exactly when chan == MSIM_UNPLUGGED.
 *   I2. Bytes read from the master while chan == MSIM_SENDING wait in
 *       'pending_in' and are processed, in order, once the +CMGS answer
 *       is written: a real modem's UART FIFO keeps them.
 *   I3. A URC raised while chan != MSIM_COMMAND (or while the urc-inside
 *       fault is on) waits in 'urcs'; it is written after the next final
 *       result code (or inside the next response with urc-inside).  It
 *       is never written between "> " and the +CMGS answer.
 *   I4. Only the thread touches file descriptors after start; other
 *       threads change state and wake it (so an fd is never closed under
 *       a poll()).
 *
 * Behaviour chosen where real modems differ, each as documented by a
 * vendor or seen on real hardware:
 *   - Storage indexes start at 0, as on Quectel and SIMCom modems.
 *   - AT+CMGR of an empty slot answers OK alone (seen on Quectel modems);
 *     an index outside the storage answers +CMS ERROR: 321.
 *   - An unknown command answers plain ERROR whatever AT+CMEE says
 *     (V.250: ERROR for a command not recognised).
 *   - AT+CMEE defaults to 1 (Quectel factory default); CMEE=0 turns
 *     +CME ERROR and +CMS ERROR into plain ERROR.
 *   - CNMI defaults to 2,1,0,0,0 as on the EC25: status reports are not
 *     routed until the host sets ds.
 *   - Inbound messages while the SIM is locked or the modem unplugged
 *     wait in the "network" and arrive once the modem is registered.
 *
 * Faults (control command "fault <name> [arg]"):
 *   hang             read and discard everything, answer nothing, until
 *                    "fault none"
 *   unplug [ms]      close the pty (the daemon sees EIO), then after ms
 *                    (default 500) open a new one, re-point the link and
 *                    boot again; the SIM storage survives
 *   cms <code> [n]   the next n AT+CMGS (default 1) answer +CMS ERROR:
 *                    code after the latency
 *   no-answer        the next AT+CMGS is sent but never answered
 *   noise [n]        write n (default 1) bursts of garbage now
 *   urc-inside       URCs wait for the next response and are written
 *                    inside it, after its first line
 *   full             the SIM is full: inbound messages are dropped
 *                    (counted) and AT+CPMS reports no free slot
 *   none             clear every fault (and re-plug now if unplugged)
 *
 * Control commands beyond those of modemsim.h:
 *   report-delay <ms>  how long the network takes to return a requested
 *                      status report (default 1000) -> "OK"
 *   status             one line of state for people and tests:
 *                      "OK device=... plugs=N chan=N ... dropped=N ..."
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "smsgw/log.h"
#include "smsgw/modemsim.h"
#include "smsgw/pdu.h"

#define MSIM_SLOTS_DEFAULT	30
#define MSIM_SLOTS_MAX		1000
#define MSIM_LINE_MAX		560	/* command line, like real modems */
#define MSIM_PDU_HEX_MAX	(2 * (PDU_TPDU_MAX + 12) + 2)
#define MSIM_SLOT_HEX_MAX	1024	/* what deliver-pdu may store */
#define MSIM_OUT_MAX		(256 * 1024)
#define MSIM_PENDING_MAX	4096
#define MSIM_CLIENTS_MAX	16
#define MSIM_CTL_LINE_MAX	4096
#define MSIM_UNPLUG_MS		500
#define MSIM_REPORT_MS		1000	/* network delay of a report */
#define MSIM_PARAMS_MAX		8
#define MSIM_PARAM_LEN		128
#define MSIM_PUK		"12345678"
#define MSIM_PIN_TRIES		3

/* What the modem says about itself. */
#define MSIM_MANUFACTURER	"Quectel"
#define MSIM_MODEL		"EC25"
#define MSIM_REVISION		"EC25EFAR06A06M4G"
#define MSIM_IMEI_BODY		"86769503123456"	/* + Luhn digit */
#define MSIM_IMSI		"001010123456789"	/* test network */
#define MSIM_ICCID		"89001012012345678901"
#define MSIM_SMSC		"+15555550000"
#define MSIM_OPERATOR		"Sim Mobile"

enum msim_chan {
	MSIM_COMMAND,
	MSIM_PDU,
	MSIM_SENDING,
	MSIM_UNPLUGGED,
};

enum msim_sim_state {
	MSIM_SIM_READY,
	MSIM_SIM_PIN,
	MSIM_SIM_PUK,
};

/* TS 27.005 <stat> in PDU mode. */
enum {
	MSIM_REC_UNREAD = 0,
	MSIM_REC_READ = 1,
	MSIM_STO_UNSENT = 2,
	MSIM_STO_SENT = 3,
	MSIM_STAT_ALL = 4,
};

struct msim_buf {
	char	*data;
	size_t	len;
	size_t	cap;
};

struct msim_slot {
	int		used;
	int		stat;
	unsigned	tpdu_len;
	char		hex[MSIM_SLOT_HEX_MAX + 1];
};

struct msim_sent {
	int	mr;
	char	*hex;
};

/* A status report on its way from the network. */
struct msim_report {
	int64_t	due;
	char	hex[PDU_HEX_MAX];
};

struct msim_client {
	int		fd;
	struct msim_buf	in;
	struct msim_buf	out;
};

enum msim_rkind {
	MSIM_R_OK,
	MSIM_R_ERROR,
	MSIM_R_CME,
	MSIM_R_CMS,
	MSIM_R_PROMPT,
};

struct msim_res {
	enum msim_rkind	kind;
	int		code;
};

struct modemsim {
	char			*link_path;
	char			*control_path;
	char			*pin;		/* current SIM PIN or NULL */
	int			quiet;
	size_t			nslots;

	pthread_t		thread;
	int			thread_started;
	pthread_mutex_t		lock;
	int			wake_fd;
	int			stopping;

	/* The pty (I1). 'device' is read by other threads atomically;
	 * every path ever used stays allocated until stop. */
	int			master;
	int			slave;
	char			*device;
	char			**paths;
	size_t			npaths;

	int			listen_fd;
	struct msim_client	clients[MSIM_CLIENTS_MAX];

	/* AT channel. */
	enum msim_chan		chan;
	int			busy;		/* running a command line */
	unsigned		plugs;		/* ptys opened so far */
	unsigned long		rx;		/* bytes read from the pty */
	struct msim_buf		out;
	struct msim_buf		urcs;		/* I3 */
	struct msim_buf		pending_in;	/* I2 */
	char			line[MSIM_LINE_MAX + 1];
	size_t			line_len;
	int			line_overflow;
	char			pdu_hex[MSIM_PDU_HEX_MAX + 1];
	size_t			pdu_len;
	int			pdu_bad;
	unsigned		cmgs_len;
	int64_t			send_due;
	int			send_srr;
	char			send_to[PDU_ADDR_MAX];

	/* Settings a power cycle or ATZ resets. */
	int			echo;
	int			cmee;
	int			cmgf;
	int			csms;
	int			cnmi[5];
	int			creg_n[3];	/* CREG, CGREG, CEREG */
	char			csca[PDU_ADDR_MAX];

	/* The SIM and the network. */
	enum msim_sim_state	sim_state;
	int			pin_tries;
	struct msim_slot	*slots;
	unsigned		mr_next;
	unsigned		concat_ref;
	struct msim_sent	*sent;
	size_t			nsent;
	size_t			sent_cap;
	char			**network;	/* waiting inbound hex */
	size_t			nnetwork;
	unsigned long		dropped;
	struct msim_report	*reports;	/* oldest first */
	size_t			nreports;
	int			report_delay_ms;

	/* Faults. */
	int			latency_ms;
	int			hang;
	int			cms_code;
	int			cms_count;
	int			no_answer;
	int			urc_inside;
	int			full;
	int			unplug_request;	/* ms, or -1 */
	int			replug_request;
	int64_t			replug_due;	/* or -1 */
};

#define MSIM_LOG(sim, ...)						\
	do {								\
		if (!(sim)->quiet)					\
			log_info(__VA_ARGS__);				\
	} while (0)

static void msim_feed(struct modemsim *sim, const char *data, size_t n);

/* ------------------------------------------------------------------ */
/* Small helpers                                                        */

static int64_t
msim_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
buf_reserve(struct msim_buf *b, size_t more)
{
	size_t cap;
	char *p;

	if (b->len + more + 1 <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < b->len + more + 1)
		cap *= 2;
	p = realloc(b->data, cap);
	if (p == NULL)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

static int
buf_append(struct msim_buf *b, const void *data, size_t n)
{
	if (n == 0)
		return 0;
	if (buf_reserve(b, n) < 0)
		return -ENOMEM;
	memcpy(b->data + b->len, data, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

static int
buf_str(struct msim_buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

static int __attribute__((format(printf, 2, 3)))
buf_printf(struct msim_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || buf_reserve(b, (size_t)n) < 0)
		return -ENOMEM;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

static void
buf_consume(struct msim_buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
}

static void
buf_release(struct msim_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

static void
msim_wake(struct modemsim *sim)
{
	uint64_t one = 1;

	if (write(sim->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("modemsim: wake failed errno=%d", errno);
}

/* The TPDU length of a PDU printed with its SMSC field, or -1. */
static int
msim_tpdu_len(const char *hex)
{
	size_t n = strlen(hex);
	unsigned smsc_len;
	size_t i;

	if (n < 2 || n % 2 != 0)
		return -1;
	for (i = 0; i < n; i++)
		if (!isxdigit((unsigned char)hex[i]))
			return -1;
	if (sscanf(hex, "%2x", &smsc_len) != 1)
		return -1;
	if (n / 2 < 1 + (size_t)smsc_len + 1)
		return -1;	/* no first TPDU octet after the SMSC */
	return (int)(n / 2 - 1 - smsc_len);
}

/* The current time as a TP-SCTS, in UTC. */
static void
msim_scts_now(struct pdu_time *t)
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	memset(t, 0, sizeof(*t));
	t->present = 1;
	t->year = tm.tm_year + 1900;
	t->month = tm.tm_mon + 1;
	t->day = tm.tm_mday;
	t->hour = tm.tm_hour;
	t->minute = tm.tm_min;
	t->second = tm.tm_sec;
}

/* The IMEI: a 14-digit body and its Luhn check digit (TS 23.003 B.2). */
static void
msim_imei(char *imei)
{
	const char *body = MSIM_IMEI_BODY;
	int sum = 0, i, d;

	for (i = 0; i < 14; i++) {
		d = body[i] - '0';
		if (i % 2 == 1) {
			d *= 2;
			if (d > 9)
				d -= 9;
		}
		sum += d;
	}
	memcpy(imei, body, 14);
	imei[14] = (char)('0' + (10 - sum % 10) % 10);
	imei[15] = '\0';
}

/* ------------------------------------------------------------------ */
/* Output: responses and URCs                                           */

/* Everything written to the daemon goes through here: a hung or
 * unplugged modem writes nothing. */
static void
msim_out(struct modemsim *sim, const char *data, size_t n)
{
	if (sim->hang || sim->master < 0)
		return;
	if (sim->out.len + n > MSIM_OUT_MAX) {
		log_warn("modemsim: output dropped bytes=%zu reason=nobody-reads",
		    n);
		return;
	}
	if (buf_append(&sim->out, data, n) < 0)
		log_warn("modemsim: output dropped bytes=%zu reason=enomem", n);
}

static void
msim_out_str(struct modemsim *sim, const char *s)
{
	msim_out(sim, s, strlen(s));
}

static void
msim_flush_urcs(struct modemsim *sim)
{
	if (sim->chan != MSIM_COMMAND || sim->busy || sim->urc_inside ||
	    sim->urcs.len == 0)
		return;
	msim_out(sim, sim->urcs.data, sim->urcs.len);
	sim->urcs.len = 0;
}

/* A URC, already framed ("\r\n...\r\n"); held back per I3. */
static void
msim_urc_raw(struct modemsim *sim, const char *framed)
{
	if (sim->hang || sim->master < 0)
		return;
	if (sim->chan != MSIM_COMMAND || sim->busy || sim->urc_inside) {
		if (buf_str(&sim->urcs, framed) < 0)
			log_warn("modemsim: urc dropped reason=enomem");
		return;
	}
	msim_out_str(sim, framed);
}

static void __attribute__((format(printf, 2, 3)))
msim_urc(struct modemsim *sim, const char *fmt, ...)
{
	char line[PDU_HEX_MAX + 64];
	va_list ap;
	int n;

	line[0] = '\r';
	line[1] = '\n';
	va_start(ap, fmt);
	n = vsnprintf(line + 2, sizeof(line) - 4, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line) - 4)
		return;
	memcpy(line + 2 + n, "\r\n", 3);
	msim_urc_raw(sim, line);
}

static const struct {
	int		code;
	const char	*text;
} msim_cme_texts[] = {
	{ 3, "operation not allowed" },
	{ 4, "operation not supported" },
	{ 10, "SIM not inserted" },
	{ 11, "SIM PIN required" },
	{ 12, "SIM PUK required" },
	{ 13, "SIM failure" },
	{ 16, "incorrect password" },
	{ 21, "invalid index" },
	{ 30, "no network service" },
	{ 50, "incorrect parameters" },
}, msim_cms_texts[] = {
	{ 300, "ME failure" },
	{ 302, "operation not allowed" },
	{ 303, "operation not supported" },
	{ 304, "invalid PDU mode parameter" },
	{ 305, "invalid text mode parameter" },
	{ 310, "SIM not inserted" },
	{ 311, "SIM PIN required" },
	{ 316, "SIM PUK required" },
	{ 320, "memory failure" },
	{ 321, "invalid memory index" },
	{ 322, "memory full" },
	{ 330, "SMSC address unknown" },
	{ 331, "no network service" },
	{ 332, "network timeout" },
	{ 340, "no +CNMA acknowledgement expected" },
	{ 500, "unknown error" },
};

/* The final result code for 'res' under the current AT+CMEE. */
static void
msim_final_text(const struct modemsim *sim, struct msim_res res, char *buf,
    size_t len)
{
	const char *text = NULL;
	size_t i;

	if (res.kind == MSIM_R_OK) {
		snprintf(buf, len, "OK");
		return;
	}
	if (res.kind == MSIM_R_ERROR || sim->cmee == 0) {
		snprintf(buf, len, "ERROR");
		return;
	}
	if (sim->cmee == 2 && res.kind == MSIM_R_CME) {
		for (i = 0; i < sizeof(msim_cme_texts) /
		    sizeof(*msim_cme_texts); i++)
			if (msim_cme_texts[i].code == res.code)
				text = msim_cme_texts[i].text;
	} else if (sim->cmee == 2) {
		for (i = 0; i < sizeof(msim_cms_texts) /
		    sizeof(*msim_cms_texts); i++)
			if (msim_cms_texts[i].code == res.code)
				text = msim_cms_texts[i].text;
	}
	if (text != NULL)
		snprintf(buf, len, "+%s ERROR: %s",
		    res.kind == MSIM_R_CME ? "CME" : "CMS", text);
	else
		snprintf(buf, len, "+%s ERROR: %d",
		    res.kind == MSIM_R_CME ? "CME" : "CMS", res.code);
}

/*
 * Write a response: 'body' (information text, already framed) and the
 * final result code.  With the urc-inside fault, waiting URCs go after
 * the body's first line, or before the final result code when there is
 * no body - where real modems have been seen to put them.
 */
static void
msim_respond(struct modemsim *sim, const char *body, size_t blen,
    struct msim_res res)
{
	char final[96];
	size_t split = 0;
	const char *nl;

	msim_final_text(sim, res, final, sizeof(final));
	if (sim->urc_inside && sim->urcs.len > 0) {
		if (blen > 2) {
			nl = strstr(body + 2, "\r\n");
			split = nl != NULL ? (size_t)(nl + 2 - body) : blen;
		}
		msim_out(sim, body, split);
		msim_out(sim, sim->urcs.data, sim->urcs.len);
		sim->urcs.len = 0;
		msim_out(sim, body + split, blen - split);
	} else {
		msim_out(sim, body, blen);
	}
	msim_out_str(sim, "\r\n");
	msim_out_str(sim, final);
	msim_out_str(sim, "\r\n");
	msim_flush_urcs(sim);
}

/* ------------------------------------------------------------------ */
/* Settings, boot, storage                                              */

static void
msim_reset_settings(struct modemsim *sim)
{
	static const int cnmi_default[5] = { 2, 1, 0, 0, 0 };

	sim->echo = 1;
	sim->cmee = 1;
	sim->cmgf = 0;
	sim->csms = 0;
	memcpy(sim->cnmi, cnmi_default, sizeof(sim->cnmi));
	memset(sim->creg_n, 0, sizeof(sim->creg_n));
	snprintf(sim->csca, sizeof(sim->csca), "%s", MSIM_SMSC);
}

static int
msim_registered(const struct modemsim *sim)
{
	return sim->sim_state == MSIM_SIM_READY && sim->master >= 0;
}

static void msim_network_flush(struct modemsim *sim);

static void
msim_sim_ready_urcs(struct modemsim *sim)
{
	msim_urc(sim, "+QIND: SMS DONE");
	msim_urc(sim, "+QIND: PB DONE");
	if (sim->creg_n[0] > 0)
		msim_urc(sim, "+CREG: 1");
	if (sim->creg_n[2] > 0)
		msim_urc(sim, "+CEREG: 1");
}

/* A power cycle: settings back to defaults, the SIM locked again if it
 * has a PIN, the boot URCs of a Quectel module. */
static void
msim_boot(struct modemsim *sim)
{
	msim_reset_settings(sim);
	sim->chan = MSIM_COMMAND;
	sim->line_len = 0;
	sim->line_overflow = 0;
	sim->pending_in.len = 0;
	sim->urcs.len = 0;
	if (sim->sim_state != MSIM_SIM_PUK)
		sim->sim_state = sim->pin != NULL ? MSIM_SIM_PIN :
		    MSIM_SIM_READY;

	msim_urc(sim, "RDY");
	msim_urc(sim, "+CFUN: 1");
	msim_urc(sim, "+CPIN: %s", sim->sim_state == MSIM_SIM_READY ?
	    "READY" : sim->sim_state == MSIM_SIM_PIN ? "SIM PIN" : "SIM PUK");
	msim_urc(sim, "+QUSIM: 1");
	if (sim->sim_state == MSIM_SIM_READY) {
		msim_sim_ready_urcs(sim);
		msim_network_flush(sim);
	}
}

static size_t
msim_used_slots(const struct modemsim *sim)
{
	size_t i, n = 0;

	for (i = 0; i < sim->nslots; i++)
		n += sim->slots[i].used != 0;
	return n;
}

/* Store a PDU in the lowest free slot; returns the index, or -1 when the
 * SIM is full (the message is dropped, as a Quectel does silently). */
static int
msim_store(struct modemsim *sim, const char *hex, int stat)
{
	int tpdu_len = msim_tpdu_len(hex);
	size_t i;

	if (tpdu_len < 0 || strlen(hex) > MSIM_SLOT_HEX_MAX)
		return -1;
	for (i = 0; !sim->full && i < sim->nslots; i++) {
		if (sim->slots[i].used)
			continue;
		sim->slots[i].used = 1;
		sim->slots[i].stat = stat;
		sim->slots[i].tpdu_len = (unsigned)tpdu_len;
		snprintf(sim->slots[i].hex, sizeof(sim->slots[i].hex), "%s",
		    hex);
		MSIM_LOG(sim, "modemsim: stored index=%zu", i);
		return (int)i;
	}
	sim->dropped++;
	MSIM_LOG(sim, "modemsim: dropped reason=full dropped=%lu",
	    sim->dropped);
	return -1;
}

/* TP-MTI of a PDU with SMSC field: 2 is an SMS-STATUS-REPORT. */
static int
msim_is_report(const char *hex)
{
	unsigned smsc_len, first;

	if (sscanf(hex, "%2x", &smsc_len) != 1 ||
	    strlen(hex) < 2 * (smsc_len + 2) ||
	    sscanf(hex + 2 * (smsc_len + 1), "%2x", &first) != 1)
		return 0;
	return (first & 0x03) == 0x02;
}

/* An SMS-STATUS-REPORT from the network, routed per CNMI <ds>. */
static void
msim_arrive_report(struct modemsim *sim, const char *hex)
{
	char framed[MSIM_SLOT_HEX_MAX + 64];
	int idx;

	if (sim->cnmi[3] == 1 && sim->cnmi[0] != 0) {
		/* The PDU line follows the +CDS line with no blank line. */
		snprintf(framed, sizeof(framed), "\r\n+CDS: %d\r\n%s\r\n",
		    msim_tpdu_len(hex), hex);
		msim_urc_raw(sim, framed);
		return;
	}
	if (sim->cnmi[3] == 0) {
		MSIM_LOG(sim, "modemsim: report discarded reason=cnmi-ds-0");
		return;
	}
	idx = msim_store(sim, hex, MSIM_REC_UNREAD);
	if (idx >= 0 && sim->cnmi[0] != 0)
		msim_urc(sim, "+CDSI: \"SM\",%d", idx);
}

/* An SMS-DELIVER from the network, routed per CNMI <mt>. */
static void
msim_arrive(struct modemsim *sim, const char *hex)
{
	char framed[MSIM_SLOT_HEX_MAX + 64];
	int idx;

	if (msim_is_report(hex)) {
		msim_arrive_report(sim, hex);
		return;
	}
	if (sim->cnmi[1] == 2 && sim->cnmi[0] != 0) {
		/* Direct delivery; with AT+CSMS=0 no +CNMA is needed. */
		snprintf(framed, sizeof(framed), "\r\n+CMT: ,%d\r\n%s\r\n",
		    msim_tpdu_len(hex), hex);
		msim_urc_raw(sim, framed);
		return;
	}
	idx = msim_store(sim, hex, MSIM_REC_UNREAD);
	if (idx >= 0 && sim->cnmi[1] != 0 && sim->cnmi[0] != 0)
		msim_urc(sim, "+CMTI: \"SM\",%d", idx);
}

/* Inbound traffic waits in the network while the modem is not
 * registered (SIM locked, unplugged). */
static int
msim_network_deliver(struct modemsim *sim, const char *hex)
{
	char **v;

	if (msim_registered(sim)) {
		msim_arrive(sim, hex);
		return 0;
	}
	v = realloc(sim->network, (sim->nnetwork + 1) * sizeof(*v));
	if (v == NULL)
		return -ENOMEM;
	sim->network = v;
	v[sim->nnetwork] = strdup(hex);
	if (v[sim->nnetwork] == NULL)
		return -ENOMEM;
	sim->nnetwork++;
	MSIM_LOG(sim, "modemsim: held reason=not-registered waiting=%zu",
	    sim->nnetwork);
	return 0;
}

static void
msim_network_flush(struct modemsim *sim)
{
	size_t i;

	if (!msim_registered(sim))
		return;
	for (i = 0; i < sim->nnetwork; i++) {
		msim_arrive(sim, sim->network[i]);
		free(sim->network[i]);
	}
	free(sim->network);
	sim->network = NULL;
	sim->nnetwork = 0;
}

/* ------------------------------------------------------------------ */
/* AT command parameters                                                */

struct msim_params {
	int	n;
	char	v[MSIM_PARAMS_MAX][MSIM_PARAM_LEN];
	int	quoted[MSIM_PARAMS_MAX];
};

/* Split "a,\"b\",,c" into fields; returns 0 or -1 on a syntax error. */
static int
msim_params_parse(const char *s, struct msim_params *p)
{
	size_t len;

	memset(p, 0, sizeof(*p));
	if (*s == '\0')
		return 0;
	for (;;) {
		if (p->n == MSIM_PARAMS_MAX)
			return -1;
		while (*s == ' ')
			s++;
		len = 0;
		if (*s == '"') {
			p->quoted[p->n] = 1;
			for (s++; *s != '"'; s++) {
				if (*s == '\0' || len + 1 >= MSIM_PARAM_LEN)
					return -1;
				p->v[p->n][len++] = *s;
			}
			s++;
			while (*s == ' ')
				s++;
		} else {
			for (; *s != ',' && *s != '\0'; s++) {
				if (len + 1 >= MSIM_PARAM_LEN)
					return -1;
				p->v[p->n][len++] = *s;
			}
			while (len > 0 && p->v[p->n][len - 1] == ' ')
				len--;
		}
		p->v[p->n][len] = '\0';
		p->n++;
		if (*s == '\0')
			return 0;
		if (*s != ',')
			return -1;
		s++;
	}
}

/* Integer parameter i in [min, max]; an absent or empty one takes
 * 'dflt' when dflt >= min, else it is an error. */
static int
msim_param_int(const struct msim_params *p, int i, int min, int max,
    int dflt, int *out)
{
	const char *s;
	char *end;
	long v;

	if (i >= p->n || (p->v[i][0] == '\0' && !p->quoted[i])) {
		if (dflt < min)
			return -1;
		*out = dflt;
		return 0;
	}
	s = p->v[i];
	if (p->quoted[i] || !isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = (int)v;
	return 0;
}

enum msim_op {
	MSIM_OP_EXEC,	/* AT+X */
	MSIM_OP_READ,	/* AT+X? */
	MSIM_OP_TEST,	/* AT+X=? */
	MSIM_OP_SET,	/* AT+X=... */
};

static enum msim_op
msim_op(const char *args, const char **params)
{
	*params = "";
	if (args[0] == '\0')
		return MSIM_OP_EXEC;
	if (strcmp(args, "?") == 0)
		return MSIM_OP_READ;
	if (strcmp(args, "=?") == 0)
		return MSIM_OP_TEST;
	if (args[0] == '=') {
		*params = args + 1;
		return MSIM_OP_SET;
	}
	return -1;
}

static const struct msim_res msim_ok = { MSIM_R_OK, 0 };
static const struct msim_res msim_error = { MSIM_R_ERROR, 0 };

static struct msim_res
msim_cme(int code)
{
	struct msim_res r = { MSIM_R_CME, code };

	return r;
}

static struct msim_res
msim_cms(int code)
{
	struct msim_res r = { MSIM_R_CMS, code };

	return r;
}

/* The +CME error a locked SIM gives, or OK when it is ready. */
static struct msim_res
msim_need_sim_cme(const struct modemsim *sim)
{
	if (sim->sim_state == MSIM_SIM_PIN)
		return msim_cme(11);
	if (sim->sim_state == MSIM_SIM_PUK)
		return msim_cme(12);
	return msim_ok;
}

static struct msim_res
msim_need_sim_cms(const struct modemsim *sim)
{
	if (sim->sim_state == MSIM_SIM_PIN)
		return msim_cms(311);
	if (sim->sim_state == MSIM_SIM_PUK)
		return msim_cms(316);
	return msim_ok;
}

/* ------------------------------------------------------------------ */
/* AT command handlers                                                  */

typedef struct msim_res (*msim_handler)(struct modemsim *sim,
    const char *name, enum msim_op op, const char *params,
    struct msim_buf *lines);

static struct msim_res
msim_h_accept(struct modemsim *sim, const char *name, enum msim_op op,
    const char *params, struct msim_buf *lines)
{
	(void)sim, (void)name, (void)op, (void)params, (void)lines;
	return msim_ok;
}

static struct msim_res
msim_h_ident(struct modemsim *sim, const char *name, enum msim_op op,
    const char *params, struct msim_buf *lines)
{
	char imei[16];

	(void)params;
	if (op == MSIM_OP_TEST)
		return msim_ok;
	if (op != MSIM_OP_EXEC)
		return msim_error;
	if (strcasecmp(name, "CGMI") == 0 || strcasecmp(name, "GMI") == 0)
		buf_str(lines, MSIM_MANUFACTURER "\r\n");
	else if (strcasecmp(name, "CGMM") == 0 ||
	    strcasecmp(name, "GMM") == 0)
		buf_str(lines, MSIM_MODEL "\r\n");
	else if (strcasecmp(name, "CGMR") == 0 ||
	    strcasecmp(name, "GMR") == 0)
		buf_str(lines, MSIM_REVISION "\r\n");
	else if (strcasecmp(name, "CGSN") == 0 ||
	    strcasecmp(name, "GSN") == 0) {
		msim_imei(imei);
		buf_printf(lines, "%s\r\n", imei);
	} else if (strcasecmp(name, "CIMI") == 0) {
		if (sim->sim_state != MSIM_SIM_READY)
			return msim_need_sim_cme(sim);
		buf_str(lines, MSIM_IMSI "\r\n");
	} else {
		/* AT+CCID, AT+QCCID */
		if (sim->sim_state == MSIM_SIM_PUK)
			return msim_cme(12);
		buf_printf(lines, "+%s: " MSIM_ICCID "\r\n",
		    strcasecmp(name, "CCID") == 0 ? "CCID" : "QCCID");
	}
	return msim_ok;
}

/*
 * A setting that is one integer 0..max: "AT+X?" reads it, "AT+X=?" lists
 * 'range' as the modem prints it, "AT+X=n" sets it (a missing n means 0,
 * as V.250 wants).
 */
static struct msim_res
msim_int_setting(enum msim_op op, const char *params, struct msim_buf *lines,
    const char *cmd, const char *range, int max, int *value)
{
	struct msim_params p;
	int n;

	if (op == MSIM_OP_READ) {
		buf_printf(lines, "+%s: %d\r\n", cmd, *value);
		return msim_ok;
	}
	if (op == MSIM_OP_TEST) {
		buf_printf(lines, "+%s: %s\r\n", cmd, range);
		return msim_ok;
	}
	if (op != MSIM_OP_SET || msim_params_parse(params, &p) < 0 ||
	    p.n > 1 || msim_param_int(&p, 0, 0, max, 0, &n) < 0)
		return msim_error;
	*value = n;
	return msim_ok;
}

static struct msim_res
msim_h_cmee(struct modemsim *sim, const char *name, enum msim_op op,
    const char *params, struct msim_buf *lines)
{
	(void)name;
	return msim_int_setting(op, params, lines, "CMEE", "(0-2)", 2,
	    &sim->cmee);
}

static struct msim_res
msim_cpin_unlocked(struct modemsim *sim)
{
	sim->sim_state = MSIM_SIM_READY;
	sim->pin_tries = MSIM_PIN_TRIES;
	MSIM_LOG(sim, "modemsim: sim unlocked");
	msim_urc(sim, "+CPIN: READY");
	msim_sim_ready_urcs(sim);
	msim_network_flush(sim);
	return msim_ok;
}

static struct msim_res
msim_h_cpin(struct modemsim *sim, const char *name, enum msim_op op,
    const char *params, struct msim_buf *lines)
{
	struct msim_params p;
	char *pin;

	(void)name;
	if (op == MSIM_OP_TEST)
		return msim_ok;
	if (op == MSIM_OP_READ) {
		buf_printf(lines, "+CPIN: %s\r\n",
		    sim->sim_state == MSIM_SIM_READY ? "READY" :
		    sim->sim_state == MSIM_SIM_PIN ? "SIM PIN" : "SIM PUK");
		return msim_ok;
	}
	if (op != MSIM_OP_SET || msim_params_parse(params, &p) < 0 ||
	    p.n < 1 || p.n > 2)
		return msim_error;
	if (sim->sim_state == MSIM_SIM_READY)
		return msim_cme(3);

	if (sim->sim_state == MSIM_SIM_PIN) {
		if (p.n != 1)
			return msim_error;
		if (sim->pin != NULL && strcmp(p.v[0], sim->pin) == 0)
			return msim_cpin_unlocked(sim);
		if (--sim->pin_tries <= 0) {
			sim->sim_state = MSIM_SIM_PUK;
			MSIM_LOG(sim, "modemsim: sim blocked state=puk");
		}
		MSIM_LOG(sim, "modemsim: wrong pin tries_left=%d",
		    sim->pin_tries);
		return msim_cme(16);
	}

	/* SIM PUK: AT+CPIN="<puk>","<new pin>". */
	if (p.n != 2)
		return msim_cme(12);
	if (strcmp(p.v[0], MSIM_PUK) != 0 || p.v[1][0] == '\0')
		return msim_cme(16);
	pin = strdup(p.v[1]);
	if (pin == NULL)
		return msim_cme(3);
	free(sim->pin);
	sim->pin = pin;
	return msim_cpin_unlocked(sim);
}

static struct msim_res
msim_h_cmgf(struct modemsim *sim, const char *name, enum msim_op op,
    const char *params, struct msim_buf *lines)
{
	(void)name;
	return msim_int_setting(op, params, lines, "CMGF", "(0,1)", 1,
	    &sim->cmgf);
}

static struct msim_res
msim_h_csms(struct modemsim *sim, const char *name, enum msim_op op,
    const char *params, struct msim_buf *lines)
{
	struct msim_params p;
	int n;

	(void)name;
	if (op == MSIM_OP_READ) {
		buf_printf(lines, "+CSMS: %d,1,1,1\r\n", sim->csms);
		return msim_ok;
	}
	if (op == MSIM_OP_TEST) {
		buf_str(lines, "+CSMS: (0,1)\r\n");
		return msim_ok;
	}
	if (op != MSIM_OP_SET || msim_params_parse(params, &p) < 0 ||
	    p.n != 1 || msim_param_int(&p, 0, 0, 1, -1, &n) < 0)
		return msim_error;
	sim->csms = n;
	buf_str(lines, "+CSMS: 1,1,1\r\n");
	return msim_ok;
}

/* Only the SIM storage exists, as on modems whose ME store is off. */
static struct msim_res
msim_h_cpms(struct modemsim *sim, const char *name, enum msim_op op,
    const char *params, struct msim_buf *lines)
{
	struct msim_params p;
	size_t used = msim_used_slots(sim), total = sim->nslots;
	int i;

	(void)name;
	if (op == MSIM_OP_TEST) {
		buf_str(lines, "+CPMS: (\"SM\"),(\"SM\"),(\"SM\")\r\n");
		return msim_ok;
	}
	if (sim->sim_state != MSIM_SIM_READY)
		return msim_need_sim_cms(sim);
	if (sim->full)
		used = total;
	if (op == MSIM_OP_READ) {
		buf_printf(lines, "+CPMS: \"SM\",%zu,%zu,\"SM\",%zu,%zu,"
		    "\"SM\",%zu,%zu\r\n", used, total, used, total, used,
		    total);
		return msim_ok;
	}
	if (op != MSIM_OP_SET || msim_params_parse(params, &p) < 0 ||
	    p.n < 1 || p.n > 3)
		return msim_error;
	for (i = 0; i < p.n; i++)
		if (strcasecmp(p.v[i], "SM") != 0)
			return msim_cms(302);
	buf_printf(lines, "+CPMS: %zu,%zu,%zu,%zu,%zu,%zu\r\n", used, total,
	    used, total, used, total);
	return msim_ok;
}

static struct msim_res
msim_h_cnmi(struct modemsim *sim, const char *name, enum msim_op op,
    const char *params, struct msim_buf *lines)
{
	static const int max[5] = { 2, 3, 2, 2, 1 };
	struct msim_params p;
	int v[5], i;

	(void)name;
	if (op == MSIM_OP_READ) {
		buf_printf(lines, "+CNMI: %d,%d,%d,%d,%d\r\n", sim->cnmi[0],
		    sim->cnmi[1], sim->cnmi[2], sim->cnmi[3], sim->cnmi[4]);
		return msim_ok;
	}
	if (op == MSIM_OP_TEST) {
		buf_str(lines, "+CNMI: (0-2),(0-3),(0,2),(0-2),(0,1)\r\n");
		return msim_ok;
	}
	if (op != MSIM_OP_SET || msim_params_parse(params, &p) < 0 ||
	    p.n < 1 || p.n > 5)
		return msim_error;
	for (i = 0; i < 5; i++)
		if (msim_param_int(&p, i, 0, max[i], sim->cnmi[i], &v[i]) < 0)
			return msim_cms(303);
	if (v[2] == 1)
		return msim_cms(303);	/* bm=1 is not offered */
	memcpy(sim->cnmi, v, sizeof(v));
	return msim_ok;
}

static struct msim_res
msim_h_csq(struct modemsim *sim, const char *name, enum msim_op op,
    const char *params, struct msim_buf *lines)
{
	(void)sim, (void)name, (void)params;
	if (op == MSIM_OP_TEST) {
		buf_str(lines, "+CSQ: (0-31,99),(0-7,99)\r\n");
		return msim_ok;
	}
	if (op != MSIM_OP_EXEC)
		return msim_error;
	buf_str(lines, "+CSQ: 21,99\r\n");
	return msim_ok;
}

/* AT+CREG, AT+CGREG, AT+CEREG (TS 27.007 7.2, 10.1.19, 10.1.22). */
static struct msim_res
msim_h_creg(struct modemsim *sim, const char *name, enum msim_op op,
    const char *params, struct msim_buf *lines)
{
	struct msim_params p;
	const char *upper;
	int which, n, stat;

	if (strcasecmp(name, "CREG") == 0) {
		which = 0;
		upper = "CREG";
	} else if (strcasecmp(name, "CGREG") == 0) {
		which = 1;
		upper = "CGREG";
	} else {
		which = 2;
		upper = "CEREG";
	}
	stat = msim_registered(sim) ? 1 : 0;
	if (op == MSIM_OP_TEST) {
		buf_printf(lines, "+%s: (0-2)\r\n", upper);
		return msim_ok;
	}
	if (op == MSIM_OP_READ) {
		n = sim->creg_n[which];
		if (n == 2 && stat == 1)
			buf_printf(lines, "+%s: 2,1,\"1A2B\",\"01A2B3C\",7\r\n",
			    upper);
		else
			buf_printf(lines, "+%s: %d,%d\r\n", upper, n, stat);
		return msim_ok;
	}
	if (op != MSIM_OP_SET || msim_params_parse(params, &p) < 0 ||
	    p.n > 1 || msim_param_int(&p, 0, 0, 2, 0, &n) < 0)
		return msim_error;
	sim->creg_n[which] = n;
	return msim_ok;
}

static struct msim_res
msim_h_csca(struct modemsim *sim, const char *name, enum msim_op op,
    const char *params, struct msim_buf *lines)
{
	struct msim_params p;

	(void)name;
	if (op == MSIM_OP_TEST)
		return msim_ok;
	if (sim->sim_state != MSIM_SIM_READY)
		return msim_need_sim_cms(sim);
	if (op == MSIM_OP_READ) {
		buf_printf(lines, "+CSCA: \"%s\",%d\r\n", sim->csca,
		    sim->csca[0] == '+' ? 145 : 129);
		return msim_ok;
	}
	if (op != MSIM_OP_SET || msim_params_parse(params, &p) < 0 ||
	    p.n < 1 || p.n > 2 || !p.quoted[0] ||
	    strlen(p.v[0]) >= sizeof(sim->csca))
		return msim_error;
	memcpy(sim->csca, p.v[0], strlen(p.v[0]) + 1);
	return msim_ok;
}

static struct msim_res
msim_h_cops(struct modemsim *sim, const char *name, enum msim_op op,
    const char *params, struct msim_buf *lines)
{
	(void)name, (void)params;
	if (op == MSIM_OP_TEST) {
		buf_str(lines, "+COPS: (1,\"" MSIM_OPERATOR "\",\"SimMob\","
		    "\"00101\",7),,(0-4),(0-2)\r\n");
		return msim_ok;
	}
	if (op == MSIM_OP_READ) {
		if (msim_registered(sim))
			buf_str(lines,
			    "+COPS: 0,0,\"" MSIM_OPERATOR "\",7\r\n");
		else
			buf_str(lines, "+COPS: 0\r\n");
		return msim_ok;
	}
	return op == MSIM_OP_SET ? msim_ok : msim_error;
}

static struct msim_res
msim_h_cfun(struct modemsim *sim, const char *name, enum msim_op op,
    const char *params, struct msim_buf *lines)
{
	struct msim_params p;
	int n;

	(void)sim, (void)name;
	if (op == MSIM_OP_READ) {
		buf_str(lines, "+CFUN: 1\r\n");
		return msim_ok;
	}
	if (op == MSIM_OP_TEST) {
		buf_str(lines, "+CFUN: (0,1,4),(0-1)\r\n");
		return msim_ok;
	}
	/* XXX: CFUN=0/4 are accepted but the radio stays on. */
	if (op != MSIM_OP_SET || msim_params_parse(params, &p) < 0 ||
	    msim_param_int(&p, 0, 0, 4, -1, &n) < 0 || n == 2 || n == 3)
		return msim_error;
	return msim_ok;
}

static struct msim_res
msim_h_cscs(struct modemsim *sim, const char *name, enum msim_op op,
    const char *params, struct msim_buf *lines)
{
	(void)sim, (void)name, (void)params;
	if (op == MSIM_OP_READ)
		buf_str(lines, "+CSCS: \"GSM\"\r\n");
	else if (op == MSIM_OP_TEST)
		buf_str(lines, "+CSCS: (\"GSM\",\"IRA\",\"UCS2\")\r\n");
	else if (op != MSIM_OP_SET)
		return msim_error;
	return msim_ok;
}

static struct msim_res
msim_h_cnma(struct modemsim *sim, const char *name, enum msim_op op,
    const char *params, struct msim_buf *lines)
{
	(void)name, (void)params, (void)lines;
	if (op == MSIM_OP_TEST)
		return msim_ok;
	/* Nothing is ever waiting for an acknowledgement: direct +CMT is
	 * only sent with AT+CSMS=0 semantics. */
	(void)sim;
	return msim_cms(340);
}

static struct msim_res
msim_sms_ready(const struct modemsim *sim)
{
	struct msim_res r = msim_need_sim_cms(sim);

	if (r.kind != MSIM_R_OK)
		return r;
	/* XXX: text mode is not implemented; a real modem would answer in
	 * text format.  Only PDU mode is used by smsgw. */
	if (sim->cmgf != 0)
		return msim_cms(302);
	return msim_ok;
}

static struct msim_res
msim_h_cmgs(struct modemsim *sim, const char *name, enum msim_op op,
    const char *params, struct msim_buf *lines)
{
	struct msim_params p;
	struct msim_res r;
	int len;

	(void)name, (void)lines;
	if (op == MSIM_OP_TEST)
		return msim_ok;
	if (op != MSIM_OP_SET)
		return msim_error;
	r = msim_sms_ready(sim);
	if (r.kind != MSIM_R_OK)
		return r;
	if (msim_params_parse(params, &p) < 0 || p.n != 1 ||
	    msim_param_int(&p, 0, 1, PDU_TPDU_MAX, -1, &len) < 0)
		return msim_cms(304);
	sim->cmgs_len = (unsigned)len;
	sim->pdu_len = 0;
	sim->pdu_bad = 0;
	return (struct msim_res){ MSIM_R_PROMPT, 0 };
}

/* Mark a received message read, as reading it does (TS 27.005 3.4). */
static void
msim_slot_read(struct msim_slot *slot)
{
	if (slot->stat == MSIM_REC_UNREAD)
		slot->stat = MSIM_REC_READ;
}

static struct msim_res
msim_h_cmgl(struct modemsim *sim, const char *name, enum msim_op op,
    const char *params, struct msim_buf *lines)
{
	struct msim_params p;
	struct msim_res r;
	struct msim_slot *s;
	size_t i;
	int stat;

	(void)name;
	if (op == MSIM_OP_TEST) {
		buf_str(lines, "+CMGL: (0-4)\r\n");
		return msim_ok;
	}
	if (op != MSIM_OP_SET && op != MSIM_OP_EXEC)
		return msim_error;
	r = msim_sms_ready(sim);
	if (r.kind != MSIM_R_OK)
		return r;
	if (msim_params_parse(params, &p) < 0 || p.n > 1 ||
	    msim_param_int(&p, 0, 0, 4, 0, &stat) < 0)
		return msim_cms(302);

	for (i = 0; i < sim->nslots; i++) {
		s = &sim->slots[i];
		if (!s->used || (stat != MSIM_STAT_ALL && s->stat != stat))
			continue;
		buf_printf(lines, "+CMGL: %zu,%d,,%u\r\n%s\r\n", i, s->stat,
		    s->tpdu_len, s->hex);
		msim_slot_read(s);
	}
	return msim_ok;
}

static struct msim_res
msim_h_cmgr(struct modemsim *sim, const char *name, enum msim_op op,
    const char *params, struct msim_buf *lines)
{
	struct msim_params p;
	struct msim_res r;
	struct msim_slot *s;
	int idx;

	(void)name;
	if (op == MSIM_OP_TEST)
		return msim_ok;
	if (op != MSIM_OP_SET)
		return msim_error;
	r = msim_sms_ready(sim);
	if (r.kind != MSIM_R_OK)
		return r;
	if (msim_params_parse(params, &p) < 0 || p.n != 1 ||
	    msim_param_int(&p, 0, 0, 65535, -1, &idx) < 0 ||
	    (size_t)idx >= sim->nslots)
		return msim_cms(321);

	s = &sim->slots[idx];
	if (!s->used)
		return msim_ok;	/* empty slot: OK alone, as Quectel */
	buf_printf(lines, "+CMGR: %d,,%u\r\n%s\r\n", s->stat, s->tpdu_len,
	    s->hex);
	msim_slot_read(s);
	return msim_ok;
}

/* Does <delflag> (TS 27.005 3.5.4) select a message of 'stat'? */
static int
msim_delflag_match(int delflag, int stat)
{
	switch (delflag) {
	case 1:
		return stat == MSIM_REC_READ;
	case 2:
		return stat == MSIM_REC_READ || stat == MSIM_STO_SENT;
	case 3:
		return stat != MSIM_REC_UNREAD;
	case 4:
		return 1;
	default:
		return 0;
	}
}

static struct msim_res
msim_h_cmgd(struct modemsim *sim, const char *name, enum msim_op op,
    const char *params, struct msim_buf *lines)
{
	struct msim_params p;
	struct msim_res r;
	size_t i;
	int idx, flag;

	(void)name;
	if (op == MSIM_OP_TEST) {
		buf_str(lines, "+CMGD: (");
		for (i = 0, idx = 0; i < sim->nslots; i++)
			if (sim->slots[i].used)
				buf_printf(lines, idx++ ? ",%zu" : "%zu", i);
		buf_str(lines, "),(0-4)\r\n");
		return msim_ok;
	}
	if (op != MSIM_OP_SET)
		return msim_error;
	r = msim_need_sim_cms(sim);
	if (r.kind != MSIM_R_OK)
		return r;
	if (msim_params_parse(params, &p) < 0 || p.n < 1 || p.n > 2 ||
	    msim_param_int(&p, 1, 0, 4, 0, &flag) < 0)
		return msim_error;
	if (msim_param_int(&p, 0, 0, 65535, -1, &idx) < 0 ||
	    (flag == 0 && (size_t)idx >= sim->nslots))
		return msim_cms(321);

	if (flag == 0) {
		sim->slots[idx].used = 0;
		MSIM_LOG(sim, "modemsim: deleted index=%d", idx);
		return msim_ok;
	}
	for (i = 0; i < sim->nslots; i++)
		if (sim->slots[i].used &&
		    msim_delflag_match(flag, sim->slots[i].stat))
			sim->slots[i].used = 0;
	MSIM_LOG(sim, "modemsim: deleted delflag=%d", flag);
	return msim_ok;
}

static const struct {
	const char	*name;
	msim_handler	handler;
} msim_commands[] = {
	{ "CCID", msim_h_ident },
	{ "CEREG", msim_h_creg },
	{ "CFUN", msim_h_cfun },
	{ "CGMI", msim_h_ident },
	{ "CGMM", msim_h_ident },
	{ "CGMR", msim_h_ident },
	{ "CGREG", msim_h_creg },
	{ "CGSN", msim_h_ident },
	{ "CIMI", msim_h_ident },
	{ "CMEE", msim_h_cmee },
	{ "CMGD", msim_h_cmgd },
	{ "CMGF", msim_h_cmgf },
	{ "CMGL", msim_h_cmgl },
	{ "CMGR", msim_h_cmgr },
	{ "CMGS", msim_h_cmgs },
	{ "CNMA", msim_h_cnma },
	{ "CNMI", msim_h_cnmi },
	{ "COPS", msim_h_cops },
	{ "CPIN", msim_h_cpin },
	{ "CPMS", msim_h_cpms },
	{ "CREG", msim_h_creg },
	{ "CSCA", msim_h_csca },
	{ "CSCS", msim_h_cscs },
	{ "CSDH", msim_h_accept },
	{ "CSMP", msim_h_accept },
	{ "CSMS", msim_h_csms },
	{ "CSQ", msim_h_csq },
	{ "GMI", msim_h_ident },
	{ "GMM", msim_h_ident },
	{ "GMR", msim_h_ident },
	{ "GSN", msim_h_ident },
	{ "QCCID", msim_h_ident },
	{ "QINDCFG", msim_h_accept },
	{ "QURCCFG", msim_h_accept },
};

/* ------------------------------------------------------------------ */
/* Command line parsing (V.250 5.2)                                     */

/* One basic command (E0, V1, I, Z, &F, S3? ...) at '*pp'. */
static struct msim_res
msim_basic(struct modemsim *sim, const char **pp, struct msim_buf *lines)
{
	const char *p = *pp;
	int c = toupper((unsigned char)*p++), amp = 0, n = 0;

	if (c == '&') {
		amp = 1;
		c = toupper((unsigned char)*p++);
	}
	while (isdigit((unsigned char)*p))
		n = n * 10 + (*p++ - '0');
	*pp = p;

	if (amp) {
		if (c == 'F')
			msim_reset_settings(sim);
		return c == 'F' || c == 'W' || c == 'D' || c == 'C' ?
		    msim_ok : msim_error;
	}
	switch (c) {
	case 'E':
		if (n > 1)
			return msim_error;
		sim->echo = n;
		return msim_ok;
	case 'V':
		/* XXX: numeric result codes (V0) are not implemented. */
		return n == 1 ? msim_ok : msim_error;
	case 'Z':
		msim_reset_settings(sim);
		return msim_ok;
	case 'I':
		buf_str(lines, MSIM_MANUFACTURER "\r\n" MSIM_MODEL "\r\n"
		    "Revision: " MSIM_REVISION "\r\n");
		return msim_ok;
	case 'Q':
	case 'X':
	case 'H':
		return msim_ok;
	case 'S':
		if (*p == '?') {
			*pp = p + 1;
			buf_printf(lines, "%03d\r\n", n == 3 ? 13 :
			    n == 4 ? 10 : n == 5 ? 8 : 0);
			return msim_ok;
		}
		if (*p == '=') {
			for (p++; isdigit((unsigned char)*p); p++)
				;
			*pp = p;
			return msim_ok;
		}
		return msim_error;
	default:
		return msim_error;
	}
}

/* One extended command (+NAME...) up to ';' outside quotes. */
static struct msim_res
msim_extended(struct modemsim *sim, const char **pp, struct msim_buf *lines)
{
	char name[16], args[MSIM_LINE_MAX + 1];
	const char *p = *pp + 1, *params;
	size_t n = 0, i;
	int quoted = 0;
	enum msim_op op;

	while (isalnum((unsigned char)*p) && n + 1 < sizeof(name))
		name[n++] = (char)toupper((unsigned char)*p++);
	name[n] = '\0';
	for (n = 0; *p != '\0' && (quoted || *p != ';'); p++) {
		if (*p == '"')
			quoted = !quoted;
		args[n++] = *p;
	}
	args[n] = '\0';
	*pp = p;

	op = msim_op(args, &params);
	if ((int)op < 0)
		return msim_error;
	for (i = 0; i < sizeof(msim_commands) / sizeof(*msim_commands); i++)
		if (strcmp(msim_commands[i].name, name) == 0)
			return msim_commands[i].handler(sim, name, op, params,
			    lines);
	return msim_error;
}

/* Run a complete command line (without its CR). */
static void
msim_line(struct modemsim *sim, const char *line)
{
	struct msim_buf body = { 0 }, lines = { 0 };
	struct msim_res res = msim_ok;
	const char *p = line;

	while (*p == ' ' || *p == '\n')
		p++;
	if (*p == '\0')
		return;	/* an empty line is ignored */
	if (toupper((unsigned char)p[0]) != 'A' ||
	    toupper((unsigned char)p[1]) != 'T') {
		/* V.250: characters before the "AT" prefix are ignored. */
		log_debug("modemsim: ignored line without AT prefix");
		return;
	}
	log_debug("modemsim: at-in line=\"%.40s\"", p);
	p += 2;
	sim->busy = 1;	/* I3: URCs raised by the command wait */

	while (*p != '\0' && res.kind == MSIM_R_OK) {
		lines.len = 0;
		if (*p == ';' || *p == ' ') {
			p++;
			continue;
		}
		if (*p == '+' || *p == '^' || *p == '$')
			res = msim_extended(sim, &p, &lines);
		else
			res = msim_basic(sim, &p, &lines);
		if (lines.len > 0) {
			buf_str(&body, "\r\n");
			buf_append(&body, lines.data, lines.len);
		}
	}

	sim->busy = 0;
	if (res.kind == MSIM_R_PROMPT) {
		/* "> " with no line end; +CMGS must be last on its line. */
		msim_out(sim, body.data, body.len);
		msim_out_str(sim, "\r\n> ");
		sim->chan = MSIM_PDU;
	} else {
		msim_respond(sim, body.data ? body.data : "", body.len, res);
	}
	buf_release(&body);
	buf_release(&lines);
}

/* ------------------------------------------------------------------ */
/* AT+CMGS: PDU entry, sending, the answer                              */

static struct msim_res
msim_pdu_check(struct modemsim *sim, struct pdu_message *msg)
{
	uint8_t bytes[MSIM_PDU_HEX_MAX / 2 + 1];
	int n;

	if (sim->pdu_bad || sim->pdu_len == 0 || sim->pdu_len % 2 != 0)
		return msim_cms(304);
	sim->pdu_hex[sim->pdu_len] = '\0';
	n = pdu_hex_to_bytes(sim->pdu_hex, bytes, sizeof(bytes));
	if (n < 2)
		return msim_cms(304);

	/* <length> counts the TPDU only, not the SMSC field. */
	if ((size_t)n != 1 + (size_t)bytes[0] + sim->cmgs_len)
		return msim_cms(304);
	if (pdu_decode(bytes, (size_t)n, 1, msg) < 0 ||
	    msg->type != PDU_TYPE_SUBMIT)
		return msim_cms(304);
	return msim_ok;
}

/* Ctrl-Z: check the PDU and start the send, or answer an error. */
static void
msim_pdu_done(struct modemsim *sim)
{
	struct pdu_message *msg;
	struct msim_res r;

	msg = malloc(sizeof(*msg));
	if (msg == NULL) {
		sim->chan = MSIM_COMMAND;
		msim_respond(sim, "", 0, msim_cms(300));
		return;
	}
	r = msim_pdu_check(sim, msg);
	if (r.kind != MSIM_R_OK) {
		MSIM_LOG(sim, "modemsim: cmgs rejected cms=%d len=%u",
		    r.code, sim->cmgs_len);
		free(msg);
		sim->chan = MSIM_COMMAND;
		msim_respond(sim, "", 0, r);
		return;
	}
	sim->send_srr = msg->srr;
	snprintf(sim->send_to, sizeof(sim->send_to), "%s", msg->number);
	free(msg);
	sim->chan = MSIM_SENDING;
	sim->send_due = msim_now_ms() + sim->latency_ms;
}

static int
msim_record_sent(struct modemsim *sim, int mr, const char *hex)
{
	struct msim_sent *v;
	size_t cap;

	if (sim->nsent == sim->sent_cap) {
		cap = sim->sent_cap ? 2 * sim->sent_cap : 16;
		v = realloc(sim->sent, cap * sizeof(*v));
		if (v == NULL)
			return -ENOMEM;
		sim->sent = v;
		sim->sent_cap = cap;
	}
	sim->sent[sim->nsent].hex = strdup(hex);
	if (sim->sent[sim->nsent].hex == NULL)
		return -ENOMEM;
	sim->sent[sim->nsent].mr = mr;
	sim->nsent++;
	return 0;
}

/* The network answered a SUBMIT that asked for a report. */
static void
msim_status_report(struct modemsim *sim, int mr, const char *to)
{
	char hex[PDU_HEX_MAX];
	struct pdu_time now;
	int rc;

	struct msim_report *v;

	msim_scts_now(&now);
	rc = pdu_encode_status_report((unsigned)mr, to, 0, &now, &now, hex);
	if (rc < 0) {
		log_warn("modemsim: report failed mr=%d reason=\"%s\"", mr,
		    pdu_strerror(rc));
		return;
	}
	v = realloc(sim->reports, (sim->nreports + 1) * sizeof(*v));
	if (v == NULL) {
		log_warn("modemsim: report lost mr=%d reason=enomem", mr);
		return;
	}
	sim->reports = v;
	v[sim->nreports].due = msim_now_ms() + sim->report_delay_ms;
	memcpy(v[sim->nreports].hex, hex, sizeof(hex));
	sim->nreports++;
}

/* Reports whose network delay is over reach the modem, in order. */
static void
msim_reports_due(struct modemsim *sim, int64_t now)
{
	size_t n = 0;

	while (n < sim->nreports && sim->reports[n].due <= now) {
		if (msim_network_deliver(sim, sim->reports[n].hex) < 0)
			log_warn("modemsim: report lost reason=enomem");
		n++;
	}
	if (n == 0)
		return;
	memmove(sim->reports, sim->reports + n,
	    (sim->nreports - n) * sizeof(*sim->reports));
	sim->nreports -= n;
}

/* The latency is over: answer the AT+CMGS (I2: then the waiting input). */
static void
msim_send_done(struct modemsim *sim)
{
	struct msim_buf pending = sim->pending_in;
	char body[32], masked[32];
	int mr;

	sim->chan = MSIM_COMMAND;
	sim->pending_in = (struct msim_buf){ 0 };
	if (sim->cms_count > 0) {
		sim->cms_count--;
		MSIM_LOG(sim, "modemsim: cmgs failed fault=cms cms=%d",
		    sim->cms_code);
		msim_respond(sim, "", 0, msim_cms(sim->cms_code));
		goto out;
	}

	mr = (int)sim->mr_next;
	sim->mr_next = (sim->mr_next + 1) & 0xff;
	sim->pdu_hex[sim->pdu_len] = '\0';
	if (msim_record_sent(sim, mr, sim->pdu_hex) < 0)
		log_warn("modemsim: sent not recorded mr=%d", mr);
	MSIM_LOG(sim, "modemsim: cmgs sent mr=%d to=%s srr=%d", mr,
	    log_mask_number(sim->send_to, masked, sizeof(masked)),
	    sim->send_srr);
	if (sim->no_answer) {
		/* Sent, but the answer is lost: the "unknown" case. */
		sim->no_answer = 0;
		MSIM_LOG(sim, "modemsim: cmgs unanswered fault=no-answer mr=%d",
		    mr);
		msim_flush_urcs(sim);
	} else {
		snprintf(body, sizeof(body), "\r\n+CMGS: %d\r\n", mr);
		msim_respond(sim, body, strlen(body), msim_ok);
	}
	if (sim->send_srr)
		msim_status_report(sim, mr, sim->send_to);

out:
	if (pending.len > 0)
		msim_feed(sim, pending.data, pending.len);
	buf_release(&pending);
}

/* One byte after the "> " prompt. */
static void
msim_pdu_byte(struct modemsim *sim, char c)
{
	if (c == 0x1a) {
		msim_pdu_done(sim);
		return;
	}
	if (c == 0x1b) {
		MSIM_LOG(sim, "modemsim: cmgs cancelled");
		sim->chan = MSIM_COMMAND;
		msim_respond(sim, "", 0, msim_ok);
		return;
	}
	if (sim->echo)
		msim_out(sim, &c, 1);
	if (c == '\r' || c == '\n' || c == ' ')
		return;
	if (!isxdigit((unsigned char)c) || sim->pdu_len >= MSIM_PDU_HEX_MAX) {
		sim->pdu_bad = 1;
		return;
	}
	sim->pdu_hex[sim->pdu_len++] = c;
}

/* One byte in command mode: echo, line editing, CR ends the line. */
static void
msim_command_byte(struct modemsim *sim, char c)
{
	if (sim->echo)
		msim_out(sim, &c, 1);
	if (c == '\r') {
		sim->line[sim->line_len] = '\0';
		if (sim->line_overflow)
			msim_respond(sim, "", 0, msim_error);
		else
			msim_line(sim, sim->line);
		sim->line_len = 0;
		sim->line_overflow = 0;
		return;
	}
	if (c == '\n' && sim->line_len == 0)
		return;	/* the LF of a CR LF */
	if (c == '\b') {
		if (sim->line_len > 0)
			sim->line_len--;
		return;
	}
	if (c == '\0' || c == '\n')
		return;
	if (sim->line_len >= MSIM_LINE_MAX) {
		sim->line_overflow = 1;
		return;
	}
	sim->line[sim->line_len++] = c;
}

/* Bytes from the daemon, in any fragments. */
static void
msim_feed(struct modemsim *sim, const char *data, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		switch (sim->chan) {
		case MSIM_SENDING:
			/* I2: wait for the answer. */
			if (sim->pending_in.len + (n - i) > MSIM_PENDING_MAX) {
				log_warn("modemsim: input dropped bytes=%zu",
				    n - i);
				return;
			}
			buf_append(&sim->pending_in, data + i, n - i);
			return;
		case MSIM_PDU:
			msim_pdu_byte(sim, data[i]);
			break;
		case MSIM_COMMAND:
			msim_command_byte(sim, data[i]);
			break;
		case MSIM_UNPLUGGED:
			return;
		}
	}
}

/* ------------------------------------------------------------------ */
/* The pty                                                              */

static int
msim_link(struct modemsim *sim, const char *target)
{
	char tmp[4200];

	if (sim->link_path == NULL)
		return 0;
	snprintf(tmp, sizeof(tmp), "%s.tmp", sim->link_path);
	unlink(tmp);
	if (symlink(target, tmp) < 0)
		return -errno;
	if (rename(tmp, sim->link_path) < 0) {
		int rc = -errno;

		unlink(tmp);
		return rc;
	}
	return 0;
}

/* Open a new pty pair in raw mode; keeps a slave fd so that the master
 * does not see a hangup when the daemon closes its side. */
static int
msim_pty_open(struct modemsim *sim, char *err, size_t errlen)
{
	char name[128], *copy, **paths;
	struct termios tio;
	int master, slave = -1, rc;

	master = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (master < 0) {
		rc = -errno;
		snprintf(err, errlen, "posix_openpt: %s", strerror(errno));
		return rc;
	}
	if (grantpt(master) < 0 || unlockpt(master) < 0 ||
	    ptsname_r(master, name, sizeof(name)) != 0) {
		rc = -errno;
		snprintf(err, errlen, "pty setup: %s", strerror(errno));
		goto fail;
	}
	slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0 || tcgetattr(slave, &tio) < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", name, strerror(errno));
		goto fail;
	}
	cfmakeraw(&tio);
	if (tcsetattr(slave, TCSANOW, &tio) < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: raw mode: %s", name,
		    strerror(errno));
		goto fail;
	}

	copy = strdup(name);
	paths = realloc(sim->paths, (sim->npaths + 1) * sizeof(*paths));
	if (copy == NULL || paths == NULL) {
		free(copy);
		if (paths != NULL)
			sim->paths = paths;
		rc = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	sim->paths = paths;
	sim->paths[sim->npaths++] = copy;
	rc = msim_link(sim, copy);
	if (rc < 0) {
		snprintf(err, errlen, "link %s: %s", sim->link_path,
		    strerror(-rc));
		goto fail;
	}
	sim->master = master;
	sim->slave = slave;
	sim->plugs++;
	__atomic_store_n(&sim->device, copy, __ATOMIC_RELEASE);
	return 0;

fail:
	if (slave >= 0)
		close(slave);
	close(master);
	return rc;
}

static void
msim_pty_close(struct modemsim *sim)
{
	if (sim->master >= 0)
		close(sim->master);
	if (sim->slave >= 0)
		close(sim->slave);
	sim->master = sim->slave = -1;
	sim->out.len = 0;
}

/* Like a USB modem pulled out: the daemon's fd sees EIO, the device
 * node disappears. */
static void
msim_unplug(struct modemsim *sim, int delay_ms)
{
	msim_pty_close(sim);
	if (sim->link_path != NULL)
		unlink(sim->link_path);
	sim->chan = MSIM_UNPLUGGED;
	sim->urcs.len = 0;
	sim->pending_in.len = 0;
	sim->replug_due = msim_now_ms() + delay_ms;
	MSIM_LOG(sim, "modemsim: unplugged replug_ms=%d", delay_ms);
}

static void
msim_replug(struct modemsim *sim)
{
	char err[256];

	sim->replug_due = -1;
	if (msim_pty_open(sim, err, sizeof(err)) < 0) {
		log_error("modemsim: replug failed reason=\"%s\"", err);
		sim->replug_due = msim_now_ms() + 1000;
		return;
	}
	MSIM_LOG(sim, "modemsim: plugged device=%s", sim->device);
	msim_boot(sim);
}

/* ------------------------------------------------------------------ */
/* Control commands                                                     */

static int
msim_ctl_deliver(struct modemsim *sim, char *args, struct msim_buf *reply)
{
	struct pdu_encoded enc = { 0 };
	struct pdu_time now;
	char *from, *text, masked[32];
	size_t i;
	int rc;

	from = args;
	text = strchr(args, ' ');
	if (*from == '\0' || text == NULL || text[1] == '\0')
		return buf_str(reply, "ERR usage: deliver <from> <text>");
	*text++ = '\0';

	msim_scts_now(&now);
	rc = pdu_encode_deliver(from, text, MSIM_SMSC, &now,
	    sim->concat_ref, &enc);
	if (rc < 0)
		return buf_printf(reply, "ERR %s", pdu_strerror(rc));
	sim->concat_ref = (sim->concat_ref + 1) & 0xff;
	for (i = 0; i < enc.nparts; i++)
		if (msim_network_deliver(sim, enc.parts[i].hex) < 0)
			break;
	MSIM_LOG(sim, "modemsim: deliver from=%s parts=%zu",
	    log_mask_number(from, masked, sizeof(masked)), enc.nparts);
	rc = i == enc.nparts ? buf_printf(reply, "OK %zu", enc.nparts) :
	    buf_str(reply, "ERR out of memory");
	pdu_encoded_release(&enc);
	return rc;
}

static int
msim_ctl_sent(struct modemsim *sim, struct msim_buf *reply)
{
	size_t i;

	if (buf_printf(reply, "OK %zu", sim->nsent) < 0)
		return -ENOMEM;
	for (i = 0; i < sim->nsent; i++)
		if (buf_printf(reply, "\n%d %s", sim->sent[i].mr,
		    sim->sent[i].hex) < 0)
			return -ENOMEM;
	return 0;
}

static void
msim_noise(struct modemsim *sim, int count)
{
	static const char garbage[] = "\xff\x00\x13\x80~#\r\n\r\n\x7f$%&\r\n";
	int i;

	for (i = 0; i < count; i++)
		msim_out(sim, garbage, sizeof(garbage) - 1);
}

static void
msim_faults_clear(struct modemsim *sim)
{
	sim->hang = 0;
	sim->cms_count = 0;
	sim->no_answer = 0;
	sim->urc_inside = 0;
	sim->full = 0;
	msim_flush_urcs(sim);
	if (sim->chan == MSIM_UNPLUGGED)
		sim->replug_request = 1;
}

static int
msim_ctl_fault(struct modemsim *sim, const char *name, const char *arg,
    const char *arg2, struct msim_buf *reply)
{
	int n = -1, m = 1;

	if (arg != NULL && (sscanf(arg, "%d", &n) != 1 || n < 0))
		return buf_str(reply, "ERR bad number");
	if (arg2 != NULL && (sscanf(arg2, "%d", &m) != 1 || m < 1))
		return buf_str(reply, "ERR bad count");

	if (strcmp(name, "hang") == 0)
		sim->hang = 1;
	else if (strcmp(name, "unplug") == 0)
		sim->unplug_request = n >= 0 ? n : MSIM_UNPLUG_MS;
	else if (strcmp(name, "cms") == 0 && n >= 0) {
		sim->cms_code = n;
		sim->cms_count = m;
	} else if (strcmp(name, "no-answer") == 0)
		sim->no_answer = 1;
	else if (strcmp(name, "noise") == 0)
		msim_noise(sim, n > 0 ? n : 1);
	else if (strcmp(name, "urc-inside") == 0)
		sim->urc_inside = 1;
	else if (strcmp(name, "full") == 0)
		sim->full = 1;
	else if (strcmp(name, "none") == 0)
		msim_faults_clear(sim);
	else if (strcmp(name, "cms") == 0)
		return buf_str(reply, "ERR usage: fault cms <code> [count]");
	else
		return buf_printf(reply, "ERR unknown fault %s", name);
	MSIM_LOG(sim, "modemsim: fault name=%s", name);
	return buf_str(reply, "OK");
}

static int
msim_ctl_status(struct modemsim *sim, struct msim_buf *reply)
{
	return buf_printf(reply, "OK device=%s plugs=%u rx=%lu chan=%d "
	    "echo=%d cmee=%d sim=%s stored=%zu slots=%zu dropped=%lu "
	    "mr_next=%u sent=%zu held=%zu", sim->device, sim->plugs, sim->rx,
	    (int)sim->chan, sim->echo, sim->cmee,
	    sim->sim_state == MSIM_SIM_READY ? "ready" :
	    sim->sim_state == MSIM_SIM_PIN ? "pin" : "puk",
	    msim_used_slots(sim), sim->nslots, sim->dropped, sim->mr_next,
	    sim->nsent, sim->nnetwork);
}

/* Run one control command (lock held); the reply has no final '\n'. */
static int
msim_ctl(struct modemsim *sim, const char *command, struct msim_buf *reply)
{
	char cmd[MSIM_CTL_LINE_MAX], *word, *rest, *arg, *arg2;
	int tpdu, n;

	snprintf(cmd, sizeof(cmd), "%s", command);
	cmd[strcspn(cmd, "\r\n")] = '\0';
	word = cmd;
	rest = strchr(cmd, ' ');
	if (rest != NULL)
		*rest++ = '\0';
	else
		rest = cmd + strlen(cmd);

	if (strcmp(word, "deliver") == 0)
		return msim_ctl_deliver(sim, rest, reply);
	if (strcmp(word, "deliver-pdu") == 0) {
		tpdu = msim_tpdu_len(rest);
		if (tpdu < 0 || strlen(rest) > MSIM_SLOT_HEX_MAX)
			return buf_str(reply, "ERR bad pdu");
		if (msim_network_deliver(sim, rest) < 0)
			return buf_str(reply, "ERR out of memory");
		return buf_str(reply, "OK 1");
	}
	if (strcmp(word, "sent") == 0 && *rest == '\0')
		return msim_ctl_sent(sim, reply);
	if (strcmp(word, "stored") == 0 && *rest == '\0')
		return buf_printf(reply, "OK %zu", msim_used_slots(sim));
	if (strcmp(word, "status") == 0 && *rest == '\0')
		return msim_ctl_status(sim, reply);
	if (strcmp(word, "latency") == 0) {
		if (sscanf(rest, "%d", &n) != 1 || n < 0 || n > 3600000)
			return buf_str(reply, "ERR usage: latency <ms>");
		sim->latency_ms = n;
		return buf_str(reply, "OK");
	}
	if (strcmp(word, "report-delay") == 0) {
		if (sscanf(rest, "%d", &n) != 1 || n < 0 || n > 3600000)
			return buf_str(reply, "ERR usage: report-delay <ms>");
		sim->report_delay_ms = n;
		return buf_str(reply, "OK");
	}
	if (strcmp(word, "fault") == 0 && *rest != '\0') {
		arg = strchr(rest, ' ');
		if (arg != NULL)
			*arg++ = '\0';
		arg2 = arg != NULL ? strchr(arg, ' ') : NULL;
		if (arg2 != NULL)
			*arg2++ = '\0';
		return msim_ctl_fault(sim, rest, arg, arg2, reply);
	}
	return buf_printf(reply, "ERR unknown command");
}

/* ------------------------------------------------------------------ */
/* The control socket                                                   */

static int
msim_socket_open(struct modemsim *sim, char *err, size_t errlen)
{
	struct sockaddr_un sa;
	int fd, rc;

	if (strlen(sim->control_path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "control path too long");
		return -ENAMETOOLONG;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return rc;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, sim->control_path, strlen(sim->control_path));
	unlink(sim->control_path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, 8) < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", sim->control_path,
		    strerror(errno));
		close(fd);
		return rc;
	}
	sim->listen_fd = fd;
	return 0;
}

static void
msim_client_close(struct msim_client *c)
{
	close(c->fd);
	c->fd = -1;
	buf_release(&c->in);
	buf_release(&c->out);
}

static void
msim_accept(struct modemsim *sim)
{
	int fd, i;

	fd = accept4(sim->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	for (i = 0; i < MSIM_CLIENTS_MAX; i++) {
		if (sim->clients[i].fd < 0) {
			sim->clients[i].fd = fd;
			return;
		}
	}
	log_warn("modemsim: control client refused reason=too-many");
	close(fd);
}

/* Read a client's bytes and run each complete line. */
static void
msim_client_read(struct modemsim *sim, struct msim_client *c)
{
	struct msim_buf reply = { 0 };
	char chunk[1024], *nl;
	ssize_t n;

	n = read(c->fd, chunk, sizeof(chunk));
	if (n <= 0) {
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			msim_client_close(c);
		return;
	}
	if (c->in.len + (size_t)n > MSIM_CTL_LINE_MAX ||
	    buf_append(&c->in, chunk, (size_t)n) < 0) {
		msim_client_close(c);
		return;
	}
	while (c->in.len > 0 &&
	    (nl = memchr(c->in.data, '\n', c->in.len)) != NULL) {
		*nl = '\0';
		reply.len = 0;
		if (msim_ctl(sim, c->in.data, &reply) < 0 ||
		    buf_append(&c->out, reply.data, reply.len) < 0 ||
		    buf_str(&c->out, "\n") < 0) {
			msim_client_close(c);
			break;
		}
		buf_consume(&c->in, (size_t)(nl - c->in.data) + 1);
	}
	buf_release(&reply);
}

static void
msim_client_write(struct msim_client *c)
{
	ssize_t n;

	n = write(c->fd, c->out.data, c->out.len);
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			msim_client_close(c);
		return;
	}
	buf_consume(&c->out, (size_t)n);
}

/* ------------------------------------------------------------------ */
/* The thread                                                           */

static void
msim_master_read(struct modemsim *sim)
{
	char chunk[512];
	ssize_t n;

	n = read(sim->master, chunk, sizeof(chunk));
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR && errno != EIO)
			log_warn("modemsim: read failed errno=%d", errno);
		return;
	}
	sim->rx += (unsigned long)n;
	if (sim->hang)
		return;	/* a hung modem hears nothing */
	msim_feed(sim, chunk, (size_t)n);
}

static void
msim_master_write(struct modemsim *sim)
{
	ssize_t n;

	if (sim->master < 0 || sim->out.len == 0)
		return;
	n = write(sim->master, sim->out.data, sim->out.len);
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			log_warn("modemsim: write failed errno=%d", errno);
		return;
	}
	buf_consume(&sim->out, (size_t)n);
}

/* Due timers and requests from other threads (I4). */
static void
msim_timers(struct modemsim *sim)
{
	int64_t now = msim_now_ms();

	if (sim->unplug_request >= 0) {
		if (sim->chan != MSIM_UNPLUGGED)
			msim_unplug(sim, sim->unplug_request);
		sim->unplug_request = -1;
	}
	if (sim->chan == MSIM_SENDING && now >= sim->send_due)
		msim_send_done(sim);
	msim_reports_due(sim, now);
	if (sim->chan == MSIM_UNPLUGGED &&
	    (sim->replug_request || now >= sim->replug_due)) {
		sim->replug_request = 0;
		msim_replug(sim);
	}
}

static int
msim_poll_timeout(const struct modemsim *sim)
{
	int64_t due = -1, now = msim_now_ms();

	if (sim->unplug_request >= 0 || sim->replug_request)
		return 0;
	if (sim->chan == MSIM_SENDING)
		due = sim->send_due;
	if (sim->chan == MSIM_UNPLUGGED)
		due = sim->replug_due;
	if (sim->nreports > 0 && (due < 0 || sim->reports[0].due < due))
		due = sim->reports[0].due;
	if (due < 0)
		return -1;
	return due <= now ? 0 : (int)(due - now);
}

/* The descriptors to watch; 'map' gives a client's slot per entry. */
static nfds_t
msim_poll_build(struct modemsim *sim, struct pollfd *pfd, int *map)
{
	nfds_t n = 0;
	int c;

	pfd[n++] = (struct pollfd){ sim->wake_fd, POLLIN, 0 };
	if (sim->master >= 0)
		pfd[n++] = (struct pollfd){ sim->master, POLLIN |
		    (sim->out.len > 0 ? POLLOUT : 0), 0 };
	if (sim->listen_fd >= 0)
		pfd[n++] = (struct pollfd){ sim->listen_fd, POLLIN, 0 };
	for (c = 0; c < MSIM_CLIENTS_MAX; c++) {
		if (sim->clients[c].fd < 0)
			continue;
		map[n] = c;
		pfd[n++] = (struct pollfd){ sim->clients[c].fd, POLLIN |
		    (sim->clients[c].out.len > 0 ? POLLOUT : 0), 0 };
	}
	return n;
}

/* One ready descriptor.  The fd is compared with the current state
 * because an earlier entry of the same round may have closed it. */
static void
msim_dispatch(struct modemsim *sim, const struct pollfd *p, int slot)
{
	struct msim_client *cl;
	uint64_t v;

	if (p->fd == sim->wake_fd) {
		if (read(sim->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
			log_warn("modemsim: wake read failed errno=%d", errno);
	} else if (p->fd == sim->master) {
		if (p->revents & (POLLIN | POLLHUP | POLLERR))
			msim_master_read(sim);
	} else if (p->fd == sim->listen_fd) {
		msim_accept(sim);
	} else if (slot >= 0 && sim->clients[slot].fd == p->fd) {
		cl = &sim->clients[slot];
		if (p->revents & POLLOUT)
			msim_client_write(cl);
		if (cl->fd >= 0 && (p->revents & (POLLIN | POLLHUP | POLLERR)))
			msim_client_read(sim, cl);
	}
}

static void *
msim_thread(void *arg)
{
	struct modemsim *sim = arg;
	struct pollfd pfd[3 + MSIM_CLIENTS_MAX];
	int map[3 + MSIM_CLIENTS_MAX];
	nfds_t n, i;
	int timeout;

	pthread_mutex_lock(&sim->lock);
	while (!sim->stopping) {
		msim_timers(sim);
		msim_master_write(sim);
		for (i = 0; i < 3 + MSIM_CLIENTS_MAX; i++)
			map[i] = -1;
		n = msim_poll_build(sim, pfd, map);
		timeout = msim_poll_timeout(sim);

		/* I4: only this thread closes fds, so the set stays valid
		 * while the lock is released. */
		pthread_mutex_unlock(&sim->lock);
		if (poll(pfd, n, timeout) < 0 && errno != EINTR)
			log_warn("modemsim: poll failed errno=%d", errno);
		pthread_mutex_lock(&sim->lock);

		for (i = 0; i < n; i++)
			if (pfd[i].revents != 0)
				msim_dispatch(sim, &pfd[i], map[i]);
	}
	pthread_mutex_unlock(&sim->lock);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Public API                                                           */

static void
msim_free(struct modemsim *sim)
{
	size_t i;

	if (sim->listen_fd >= 0) {
		close(sim->listen_fd);
		unlink(sim->control_path);
	}
	for (i = 0; i < MSIM_CLIENTS_MAX; i++)
		if (sim->clients[i].fd >= 0)
			msim_client_close(&sim->clients[i]);
	msim_pty_close(sim);
	if (sim->link_path != NULL && sim->npaths > 0)
		unlink(sim->link_path);
	if (sim->wake_fd >= 0)
		close(sim->wake_fd);
	for (i = 0; i < sim->npaths; i++)
		free(sim->paths[i]);
	free(sim->paths);
	for (i = 0; i < sim->nsent; i++)
		free(sim->sent[i].hex);
	free(sim->sent);
	for (i = 0; i < sim->nnetwork; i++)
		free(sim->network[i]);
	free(sim->network);
	free(sim->reports);
	buf_release(&sim->out);
	buf_release(&sim->urcs);
	buf_release(&sim->pending_in);
	free(sim->slots);
	free(sim->link_path);
	free(sim->control_path);
	free(sim->pin);
	pthread_mutex_destroy(&sim->lock);
	free(sim);
}

static struct modemsim *
msim_new(const struct modemsim_config *config)
{
	struct modemsim *sim;
	int i;

	sim = calloc(1, sizeof(*sim));
	if (sim == NULL)
		return NULL;
	pthread_mutex_init(&sim->lock, NULL);
	sim->wake_fd = sim->listen_fd = sim->master = sim->slave = -1;
	for (i = 0; i < MSIM_CLIENTS_MAX; i++)
		sim->clients[i].fd = -1;
	sim->unplug_request = -1;
	sim->replug_due = -1;
	sim->quiet = config->quiet;
	sim->latency_ms = config->send_latency_ms;
	sim->report_delay_ms = MSIM_REPORT_MS;
	sim->pin_tries = MSIM_PIN_TRIES;
	sim->nslots = config->storage_slots > 0 ?
	    (size_t)config->storage_slots : MSIM_SLOTS_DEFAULT;
	sim->slots = calloc(sim->nslots, sizeof(*sim->slots));
	if (config->link_path != NULL)
		sim->link_path = strdup(config->link_path);
	if (config->control_path != NULL)
		sim->control_path = strdup(config->control_path);
	if (config->pin != NULL && config->pin[0] != '\0')
		sim->pin = strdup(config->pin);
	if (sim->slots == NULL ||
	    (config->link_path != NULL && sim->link_path == NULL) ||
	    (config->control_path != NULL && sim->control_path == NULL) ||
	    (config->pin != NULL && config->pin[0] != '\0' &&
	    sim->pin == NULL)) {
		msim_free(sim);
		return NULL;
	}
	return sim;
}

int
modemsim_start(const struct modemsim_config *config, struct modemsim **out,
    char *err, size_t errlen)
{
	struct modemsim *sim;
	int rc;

	if (config->storage_slots < 0 ||
	    config->storage_slots > MSIM_SLOTS_MAX ||
	    config->send_latency_ms < 0) {
		snprintf(err, errlen, "bad configuration");
		return -EINVAL;
	}
	sim = msim_new(config);
	if (sim == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	sim->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (sim->wake_fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		goto fail;
	}
	rc = msim_pty_open(sim, err, errlen);
	if (rc < 0)
		goto fail;
	if (sim->control_path != NULL) {
		rc = msim_socket_open(sim, err, errlen);
		if (rc < 0)
			goto fail;
	}
	msim_boot(sim);

	rc = -pthread_create(&sim->thread, NULL, msim_thread, sim);
	if (rc < 0) {
		snprintf(err, errlen, "pthread_create: %s", strerror(-rc));
		goto fail;
	}
	sim->thread_started = 1;
	MSIM_LOG(sim, "modemsim: started device=%s link=%s control=%s "
	    "slots=%zu pin=%s", sim->device,
	    sim->link_path ? sim->link_path : "-",
	    sim->control_path ? sim->control_path : "-", sim->nslots,
	    sim->pin ? "yes" : "no");
	*out = sim;
	return 0;

fail:
	msim_free(sim);
	return rc;
}

const char *
modemsim_device(const struct modemsim *sim)
{
	return __atomic_load_n(&sim->device, __ATOMIC_ACQUIRE);
}

void
modemsim_stop(struct modemsim *sim)
{
	if (sim == NULL)
		return;
	pthread_mutex_lock(&sim->lock);
	sim->stopping = 1;
	msim_wake(sim);
	pthread_mutex_unlock(&sim->lock);
	if (sim->thread_started)
		pthread_join(sim->thread, NULL);
	MSIM_LOG(sim, "modemsim: stopped sent=%zu stored=%zu dropped=%lu",
	    sim->nsent, msim_used_slots(sim), sim->dropped);
	msim_free(sim);
}

int
modemsim_control(struct modemsim *sim, const char *command, char **reply)
{
	struct msim_buf r = { 0 };
	int rc;

	pthread_mutex_lock(&sim->lock);
	rc = msim_ctl(sim, command, &r);
	msim_wake(sim);
	pthread_mutex_unlock(&sim->lock);
	if (rc < 0 || r.data == NULL) {
		buf_release(&r);
		*reply = NULL;
		return 1;
	}
	*reply = r.data;
	return strncmp(r.data, "OK", 2) == 0 ? 0 : 1;
}

/* ------------------------------------------------------------------ */
/* The client                                                           */

/* Wait for 'events' on fd until 'deadline'; 0, -ETIMEDOUT or -errno. */
static int
msim_wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd p = { fd, events, 0 };
	int64_t left;
	int rc;

	for (;;) {
		left = deadline - msim_now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		rc = poll(&p, 1, (int)left);
		if (rc > 0)
			return 0;
		if (rc < 0 && errno != EINTR)
			return -errno;
	}
}

/* Is the reply in 'b' complete for 'command'?  "sent" answers "OK <n>"
 * and n more lines; every other reply is one line. */
static int
msim_reply_complete(const char *command, const struct msim_buf *b)
{
	size_t lines = 0, i, want = 1;
	unsigned long n;

	for (i = 0; i < b->len; i++)
		lines += b->data[i] == '\n';
	if (lines == 0)
		return 0;
	if (strncmp(command, "sent", 4) == 0 &&
	    (command[4] == '\0' || command[4] == ' ' || command[4] == '\n') &&
	    sscanf(b->data, "OK %lu", &n) == 1)
		want += n;
	return lines >= want;
}

static int
msim_client_connect(const char *path, int64_t deadline)
{
	struct sockaddr_un sa;
	socklen_t len = sizeof(int);
	int fd, rc, soerr = 0;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return fd;
	rc = -errno;
	if (rc == -EINPROGRESS || rc == -EAGAIN) {
		rc = msim_wait_fd(fd, POLLOUT, deadline);
		if (rc == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr,
		    &len) == 0 && soerr == 0)
			return fd;
		if (rc == 0)
			rc = soerr ? -soerr : -EIO;
	}
	close(fd);
	return rc;
}

/* Send 'command' and its line end; 0 or a negative errno. */
static int
msim_client_send(int fd, const char *command, int64_t deadline)
{
	size_t off = 0, len = strlen(command);
	ssize_t n;
	int rc;

	while (off <= len) {
		rc = msim_wait_fd(fd, POLLOUT, deadline);
		if (rc < 0)
			return rc;
		n = off < len ? send(fd, command + off, len - off,
		    MSG_NOSIGNAL) : send(fd, "\n", 1, MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		if (n > 0)
			off += (size_t)n;
	}
	return 0;
}

int
modemsim_control_client(const char *path, const char *command,
    int timeout_ms, char **reply)
{
	struct msim_buf b = { 0 };
	int64_t deadline = msim_now_ms() + timeout_ms;
	char chunk[4096];
	ssize_t n;
	int fd, rc;

	if (strchr(command, '\n') != NULL)
		return -EINVAL;
	fd = msim_client_connect(path, deadline);
	if (fd < 0)
		return fd;
	rc = msim_client_send(fd, command, deadline);
	if (rc < 0)
		goto out;

	while (!msim_reply_complete(command, &b)) {
		rc = msim_wait_fd(fd, POLLIN, deadline);
		if (rc < 0)
			goto out;
		n = read(fd, chunk, sizeof(chunk));
		if (n == 0) {
			rc = -EPIPE;
			goto out;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			rc = -errno;
			goto out;
		}
		if (n > 0 && buf_append(&b, chunk, (size_t)n) < 0) {
			rc = -ENOMEM;
			goto out;
		}
	}

	/* One reply, without its final line end. */
	b.data[--b.len] = '\0';
	if (strncmp(b.data, "OK", 2) == 0)
		rc = 0;
	else if (strncmp(b.data, "ERR", 3) == 0)
		rc = 1;
	else {
		rc = -EPROTO;
		goto out;
	}
	*reply = b.data;
	b.data = NULL;

out:
	buf_release(&b);
	close(fd);
	return rc;
}
