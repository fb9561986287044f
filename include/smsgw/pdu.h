/*
 * pdu.h - the SMS PDU codec (3GPP TS 23.040 and TS 23.038).
 *
 * Turns UTF-8 text into the SMS-SUBMIT PDUs that AT+CMGS takes, and the
 * hex a modem prints in PDU mode (SMS-DELIVER, SMS-SUBMIT, SMS-STATUS-
 * REPORT) back into fields and UTF-8 text.  Pure code: no I/O, no global
 * state, safe from any thread.
 *
 * Every decoder takes untrusted bytes.  It returns 0 and fills the caller's
 * structure, or a negative PDU_E* code and leaves the structure untouched.
 */
#ifndef SMSGW_PDU_H
#define SMSGW_PDU_H

#include <stddef.h>
#include <stdint.h>

/* Error codes (negative returns). */
#define PDU_EINVAL	(-1)	/* argument out of range (caller's bug) */
#define PDU_ETRUNC	(-2)	/* input ends before a field it announces */
#define PDU_EHEX	(-3)	/* not an even run of hex digits */
#define PDU_EADDR	(-4)	/* bad address: empty, too long, bad digit */
#define PDU_ETYPE	(-5)	/* TP-MTI this codec does not decode */
#define PDU_ETEXT	(-6)	/* text not valid UTF-8, or empty */
#define PDU_ETOOLONG	(-7)	/* needs more than PDU_MAX_PARTS parts */
#define PDU_EFIELD	(-8)	/* a field holds a value the spec forbids */

/* Return a constant English description of a PDU_E* code. */
const char *pdu_strerror(int err);

/* Sizes. */
#define PDU_TPDU_MAX		164	/* octets of one TPDU, TS 23.040 */
#define PDU_HEX_MAX		(2 * (PDU_TPDU_MAX + 12) + 1)
#define PDU_ADDR_MAX		48	/* UTF-8 bytes of an address */
#define PDU_UD_MAX		140	/* octets of TP-UD */
#define PDU_TEXT_MAX		(160 * 4 + 1) /* UTF-8 of one part */
#define PDU_MAX_PARTS		255	/* 8-bit total field */

enum pdu_type {
	PDU_TYPE_DELIVER,
	PDU_TYPE_SUBMIT,
	PDU_TYPE_STATUS_REPORT,
};

enum pdu_encoding {
	PDU_ENC_GSM7,
	PDU_ENC_8BIT,
	PDU_ENC_UCS2,
};

/* "gsm7", "8bit", "ucs2": the names used in the API and by smsctl. */
const char *pdu_encoding_name(enum pdu_encoding enc);

/* TP-SCTS / TP-DT: a service centre time stamp, TS 23.040 9.2.3.11. */
struct pdu_time {
	int	present;
	int	year;		/* four digits */
	int	month, day, hour, minute, second;
	int	tz_minutes;	/* offset east of UTC, multiple of 15 */
};

/* Concatenation information element, TS 23.040 9.2.3.24.1 / .8. */
struct pdu_concat {
	int		present;
	unsigned	ref;	/* 0-255 or 0-65535 when ref16 */
	unsigned	part;	/* 1-based sequence number */
	unsigned	total;
	int		ref16;
};

/* One decoded PDU of any type.  Fields that the type lacks are zero,
 * empty or -1 as noted. */
struct pdu_message {
	enum pdu_type		type;
	char			smsc[PDU_ADDR_MAX];	/* "" when absent */
	/* The other party: originator (DELIVER), destination (SUBMIT) or
	 * recipient (STATUS-REPORT).  "+" prefix for international numbers,
	 * UTF-8 for alphanumeric ones. */
	char			number[PDU_ADDR_MAX];
	unsigned		number_toa;	/* type-of-address octet */
	int			mr;		/* TP-MR, -1 if none */
	unsigned		pid;		/* TP-PID */
	unsigned		dcs;		/* TP-DCS as received */
	enum pdu_encoding	encoding;
	int			msg_class;	/* 0-3, -1 for none */
	/* Compressed text (TS 23.038 4): reported, never decoded. */
	int			compressed;
	/* Message waiting indication from the DCS (TS 23.038 4, groups
	 * 1100-1110): -1 none, else 0 voicemail, 1 fax, 2 e-mail, 3 other;
	 * mwi_active tells set or clear. */
	int			mwi_type;
	int			mwi_active;
	struct pdu_concat	concat;
	struct pdu_time		scts;		/* DELIVER, STATUS-REPORT */
	struct pdu_time		discharge;	/* STATUS-REPORT (TP-DT) */
	int			status;		/* TP-ST, -1 if none */
	/* SUBMIT: TP-SRR (report requested); DELIVER: TP-SRI. */
	int			srr;
	int			validity_minutes; /* SUBMIT relative VP, -1 */
	int			reject_duplicates; /* SUBMIT TP-RD */
	/* Decoded text, NUL terminated UTF-8; empty when has_text is 0
	 * (8-bit data or compressed). */
	int			has_text;
	char			text[PDU_TEXT_MAX];
	/* User data after the UDH: octets for 8-bit data, unpacked
	 * septets for GSM 7-bit, UCS-2 octets for UCS-2. */
	uint8_t			data[PDU_UD_MAX * 8 / 7 + 1];
	size_t			data_len;
};

/*
 * Decode one PDU given as bytes.  When 'has_smsc' is nonzero the input
 * starts with the SMSC address field as a modem prints it in PDU mode;
 * otherwise it is a bare TPDU.
 */
int pdu_decode(const uint8_t *bytes, size_t len, int has_smsc,
    struct pdu_message *out);

/* Same from a hex string (upper or lower case, no spaces). */
int pdu_decode_hex(const char *hex, int has_smsc, struct pdu_message *out);

/* What a text would cost: what a compose box shows. */
struct pdu_count {
	enum pdu_encoding	encoding;	/* cheapest exact one */
	unsigned		segments;	/* parts needed */
	unsigned		characters;	/* Unicode code points */
	unsigned		remaining;	/* left in the last part */
};

/*
 * Count a UTF-8 text.  'smart' != 0 first maps typographic characters
 * that would force UCS-2 (curly quotes, dashes, ellipsis, no-break space
 * ...) to GSM equivalents.  Returns 0 or PDU_ETEXT.
 */
int pdu_count_text(const char *utf8, int smart, struct pdu_count *out);

/* Options of an SMS-SUBMIT. */
struct pdu_submit_options {
	const char	*smsc;		/* NULL or "": SMSC field is "00" */
	int		status_report;	/* TP-SRR */
	int		validity_minutes; /* relative TP-VP; <0: none */
	int		msg_class;	/* -1 none, 0-3 */
	int		force_ucs2;
	int		smart;		/* see pdu_count_text() */
	int		reject_duplicates; /* TP-RD, for a resend */
	unsigned	pid;		/* TP-PID, normally 0 */
	unsigned	mr;		/* TP-MR; modems replace it */
	unsigned	concat_ref;	/* reference for a multipart text */
	int		concat_ref16;	/* use the 16-bit reference IE */
};

/* Fill 'opt' with the defaults: no SMSC, no report, no validity, no
 * class, no forced UCS-2, plain encoding, references 0. */
void pdu_submit_options_init(struct pdu_submit_options *opt);

/* One encoded part, ready for AT+CMGS=<tpdu_len> followed by hex. */
struct pdu_part {
	unsigned	tpdu_len;	/* octets, without the SMSC field */
	char		hex[PDU_HEX_MAX]; /* SMSC field included */
};

/* The result of an encoding: parts in send order. */
struct pdu_encoded {
	enum pdu_encoding	encoding;
	size_t			nparts;
	struct pdu_part		*parts;	/* owned; pdu_encoded_release() */
};

/*
 * Encode 'utf8' to 'to' as one or more SMS-SUBMIT PDUs.  'to' is
 * "+<digits>" (international), "<digits>" (national/unknown) or, where
 * a modem allows it, an alphanumeric name.  Long texts are split into
 * concatenated parts; an escape pair or a surrogate pair never straddles
 * two parts.  Returns 0 and fills 'out', or a negative PDU_E* code.
 */
int pdu_encode_submit(const char *to, const char *utf8,
    const struct pdu_submit_options *opt, struct pdu_encoded *out);

/*
 * Encode 'utf8' from 'from' as SMS-DELIVER PDUs with SMSC field, as a
 * network would deliver it, time stamped with 'scts'.  Used by the
 * virtual modem and by tests.  'concat_ref' is the reference for a
 * multipart text.
 */
int pdu_encode_deliver(const char *from, const char *utf8,
    const char *smsc, const struct pdu_time *scts, unsigned concat_ref,
    struct pdu_encoded *out);

/*
 * Encode an SMS-STATUS-REPORT (with SMSC field) for message reference
 * 'mr' sent to 'recipient', with TP-ST 'status'.  Used by the virtual
 * modem.  Writes hex into 'hex' (PDU_HEX_MAX) and returns the TPDU
 * length, or a negative PDU_E* code.
 */
int pdu_encode_status_report(unsigned mr, const char *recipient,
    int status, const struct pdu_time *scts, const struct pdu_time *dt,
    char *hex);

void pdu_encoded_release(struct pdu_encoded *enc);

/* Hex helpers: return the number of bytes/characters written or a
 * negative PDU_E* code. */
int pdu_hex_to_bytes(const char *hex, uint8_t *out, size_t outlen);
void pdu_bytes_to_hex(const uint8_t *bytes, size_t len, char *hex);

#endif
