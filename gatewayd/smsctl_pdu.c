/*
 * smsctl_pdu.c - `smsctl pdu`: decode, encode and count SMS PDUs from the
 * command line, the tool an admin reaches for when a modem misbehaves.
 *
 *   smsctl pdu decode [--no-smsc] HEX
 *	One JSON object on one line: type, smsc, number, encoding, class,
 *	concat, text (null for 8-bit or compressed data, then "data" holds
 *	the user data in hex and "compressed" says why), and by type:
 *	deliver: timestamp; submit: mr, status_report_requested,
 *	validity_minutes; status-report: mr, status, timestamp,
 *	discharge_time.  Times are ISO 8601 with the offset, null when the
 *	PDU's time stamp is invalid.
 *   smsctl pdu encode [--smsc NUM] [--status-report] [--validity MIN]
 *	[--class N] [--ucs2] [--smart] [--ref N] TO TEXT
 *	One line per part: "LENGTH HEX", LENGTH for AT+CMGS, HEX with the
 *	SMSC field ("00" without --smsc).
 *   smsctl pdu count [--smart] TEXT
 *	{"encoding", "segments", "characters", "remaining"}.
 *
 * Options may stand anywhere before "--"; every argument after "--" is
 * positional, so a TEXT starting with "--" can be given.
 */
#include "smsgw/smsctl.h"
#include "smsgw/pdu.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define SMSCTL_PDU_MAXPOS	2

static const char smsctl_pdu_usage[] =
    "usage: smsctl pdu decode [--no-smsc] HEX\n"
    "       smsctl pdu encode [--smsc NUM] [--status-report] "
    "[--validity MIN] [--class N] [--ucs2] [--smart] [--ref N] TO TEXT\n"
    "       smsctl pdu count [--smart] TEXT\n";

/* The parsed command line of one subcommand. */
struct pdu_args {
	const char	*pos[SMSCTL_PDU_MAXPOS];
	int		 npos;
	int		 no_smsc;
	int		 smart;
	struct pdu_submit_options opt;
};

/* A whole decimal number within [min, max], or -1. */
static long
parse_number(const char *s, long min, long max)
{
	char *end;
	long v;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	return v;
}

/* An option that takes a value: the value, or NULL with a message. */
static const char *
option_value(int argc, char **argv, int *i, FILE *err)
{
	if (*i + 1 >= argc) {
		fprintf(err, "smsctl pdu: %s needs a value\n", argv[*i]);
		return NULL;
	}
	return argv[++*i];
}

/* One option of 'cmd' at argv[*i]; returns 0 or -1 after a message. */
static int
parse_option(const char *cmd, int argc, char **argv, int *i,
    struct pdu_args *a, FILE *err)
{
	const char *o = argv[*i], *v;
	int enc = strcmp(cmd, "encode") == 0;
	long n;

	if (strcmp(cmd, "decode") == 0 && strcmp(o, "--no-smsc") == 0) {
		a->no_smsc = 1;
	} else if (strcmp(cmd, "decode") != 0 && strcmp(o, "--smart") == 0) {
		a->smart = 1;
	} else if (enc && strcmp(o, "--status-report") == 0) {
		a->opt.status_report = 1;
	} else if (enc && strcmp(o, "--ucs2") == 0) {
		a->opt.force_ucs2 = 1;
	} else if (enc && strcmp(o, "--smsc") == 0) {
		if ((v = option_value(argc, argv, i, err)) == NULL)
			return -1;
		a->opt.smsc = v;
	} else if (enc && (strcmp(o, "--validity") == 0 ||
	    strcmp(o, "--class") == 0 || strcmp(o, "--ref") == 0)) {
		if ((v = option_value(argc, argv, i, err)) == NULL)
			return -1;
		n = parse_number(v, 0, o[2] == 'v' ? 635040 :
		    o[2] == 'c' ? 3 : 255);
		if (n < 0) {
			fprintf(err, "smsctl pdu: bad value for %s: %s\n", o,
			    v);
			return -1;
		}
		if (o[2] == 'v')
			a->opt.validity_minutes = (int)n;
		else if (o[2] == 'c')
			a->opt.msg_class = (int)n;
		else
			a->opt.concat_ref = (unsigned)n;
	} else {
		fprintf(err, "smsctl pdu: %s: unknown option %s\n", cmd, o);
		return -1;
	}
	return 0;
}

/* Split argv[2..] into options and exactly 'want' positionals. */
static int
parse_args(const char *cmd, int argc, char **argv, int want,
    struct pdu_args *a, FILE *err)
{
	int i, opts = 1;

	memset(a, 0, sizeof(*a));
	pdu_submit_options_init(&a->opt);
	for (i = 2; i < argc; i++) {
		if (opts && strcmp(argv[i], "--") == 0) {
			opts = 0;
			continue;
		}
		if (opts && strncmp(argv[i], "--", 2) == 0) {
			if (parse_option(cmd, argc, argv, &i, a, err) < 0)
				return -1;
			continue;
		}
		if (a->npos == SMSCTL_PDU_MAXPOS || a->npos == want) {
			fprintf(err, "smsctl pdu: %s: too many arguments\n",
			    cmd);
			return -1;
		}
		a->pos[a->npos++] = argv[i];
	}
	if (a->npos != want) {
		fprintf(err, "smsctl pdu: %s: missing argument\n", cmd);
		return -1;
	}
	a->opt.smart = a->smart;
	return 0;
}

/* ISO 8601 with offset, or JSON null when the time stamp is invalid. */
static json_t *
time_json(const struct pdu_time *t)
{
	char buf[40];
	int off;

	if (!t->present)
		return json_null();
	off = t->tz_minutes < 0 ? -t->tz_minutes : t->tz_minutes;
	snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d",
	    t->year, t->month, t->day, t->hour, t->minute, t->second,
	    t->tz_minutes < 0 ? '-' : '+', off / 60, off % 60);
	return json_string(buf);
}

static const char *
type_name(enum pdu_type type)
{
	switch (type) {
	case PDU_TYPE_DELIVER:
		return "deliver";
	case PDU_TYPE_SUBMIT:
		return "submit";
	case PDU_TYPE_STATUS_REPORT:
		return "status-report";
	}
	return "unknown";
}

/* The text, or null with the user data in hex (8-bit or compressed
 * data); a status report without user data has a null text only. */
static void
text_json(json_t *o, const struct pdu_message *m)
{
	char hex[2 * sizeof(m->data) + 1];

	if (m->has_text) {
		json_object_set_new(o, "text", json_string(m->text));
		return;
	}
	json_object_set_new(o, "text", json_null());
	if (m->encoding != PDU_ENC_8BIT && !m->compressed)
		return;
	pdu_bytes_to_hex(m->data, m->data_len, hex);
	json_object_set_new(o, "data", json_string(hex));
	if (m->compressed)
		json_object_set_new(o, "compressed", json_true());
}

static json_t *
message_json(const struct pdu_message *m)
{
	json_t *o = json_object(), *c;

	json_object_set_new(o, "type", json_string(type_name(m->type)));
	json_object_set_new(o, "smsc", m->smsc[0] ? json_string(m->smsc) :
	    json_null());
	json_object_set_new(o, "number", json_string(m->number));
	json_object_set_new(o, "encoding",
	    json_string(pdu_encoding_name(m->encoding)));
	json_object_set_new(o, "class", m->msg_class < 0 ? json_null() :
	    json_integer(m->msg_class));
	if (m->concat.present) {
		c = json_object();
		json_object_set_new(c, "ref", json_integer(m->concat.ref));
		json_object_set_new(c, "part", json_integer(m->concat.part));
		json_object_set_new(c, "total",
		    json_integer(m->concat.total));
		json_object_set_new(o, "concat", c);
	} else {
		json_object_set_new(o, "concat", json_null());
	}
	text_json(o, m);

	switch (m->type) {
	case PDU_TYPE_DELIVER:
		json_object_set_new(o, "timestamp", time_json(&m->scts));
		break;
	case PDU_TYPE_SUBMIT:
		json_object_set_new(o, "mr", json_integer(m->mr));
		json_object_set_new(o, "status_report_requested",
		    json_boolean(m->srr));
		json_object_set_new(o, "validity_minutes",
		    m->validity_minutes < 0 ? json_null() :
		    json_integer(m->validity_minutes));
		break;
	case PDU_TYPE_STATUS_REPORT:
		json_object_set_new(o, "mr", json_integer(m->mr));
		json_object_set_new(o, "status", json_integer(m->status));
		json_object_set_new(o, "timestamp", time_json(&m->scts));
		json_object_set_new(o, "discharge_time",
		    time_json(&m->discharge));
		break;
	}
	return o;
}

/* Print 'o' on one line and release it. */
static int
print_json(json_t *o, FILE *out, FILE *err)
{
	int rc = 0;

	if (o == NULL || json_dumpf(o, out, JSON_PRESERVE_ORDER) < 0) {
		fprintf(err, "smsctl pdu: cannot format the result\n");
		rc = 1;
	} else {
		fputc('\n', out);
	}
	json_decref(o);
	return rc;
}

static int
cmd_decode(int argc, char **argv, FILE *out, FILE *err)
{
	struct pdu_message *m;
	struct pdu_args a;
	int rc;

	if (parse_args("decode", argc, argv, 1, &a, err) < 0)
		return 1;
	m = malloc(sizeof(*m));
	if (m == NULL) {
		fprintf(err, "smsctl pdu: decode: out of memory\n");
		return 1;
	}
	rc = pdu_decode_hex(a.pos[0], !a.no_smsc, m);
	if (rc < 0) {
		fprintf(err, "smsctl pdu: decode: %s\n", pdu_strerror(rc));
		free(m);
		return 1;
	}
	rc = print_json(message_json(m), out, err);
	free(m);
	return rc;
}

static int
cmd_encode(int argc, char **argv, FILE *out, FILE *err)
{
	struct pdu_encoded e;
	struct pdu_args a;
	size_t i;
	int rc;

	if (parse_args("encode", argc, argv, 2, &a, err) < 0)
		return 1;
	rc = pdu_encode_submit(a.pos[0], a.pos[1], &a.opt, &e);
	if (rc < 0) {
		fprintf(err, "smsctl pdu: encode: %s\n", pdu_strerror(rc));
		return 1;
	}
	for (i = 0; i < e.nparts; i++)
		fprintf(out, "%u %s\n", e.parts[i].tpdu_len, e.parts[i].hex);
	pdu_encoded_release(&e);
	return 0;
}

static int
cmd_count(int argc, char **argv, FILE *out, FILE *err)
{
	struct pdu_count c;
	struct pdu_args a;
	json_t *o;
	int rc;

	if (parse_args("count", argc, argv, 1, &a, err) < 0)
		return 1;
	rc = pdu_count_text(a.pos[0], a.smart, &c);
	if (rc < 0) {
		fprintf(err, "smsctl pdu: count: %s\n", pdu_strerror(rc));
		return 1;
	}
	o = json_object();
	json_object_set_new(o, "encoding",
	    json_string(pdu_encoding_name(c.encoding)));
	json_object_set_new(o, "segments", json_integer(c.segments));
	json_object_set_new(o, "characters", json_integer(c.characters));
	json_object_set_new(o, "remaining", json_integer(c.remaining));
	return print_json(o, out, err);
}

int
smsctl_pdu_main(int argc, char **argv, FILE *out, FILE *err)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;

	if (cmd == NULL) {
		fprintf(err, "smsctl pdu: missing command (decode, encode, "
		    "count)\n");
		return 1;
	}
	if (strcmp(cmd, "decode") == 0)
		return cmd_decode(argc, argv, out, err);
	if (strcmp(cmd, "encode") == 0)
		return cmd_encode(argc, argv, out, err);
	if (strcmp(cmd, "count") == 0)
		return cmd_count(argc, argv, out, err);
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 ||
	    strcmp(cmd, "-h") == 0) {
		fputs(smsctl_pdu_usage, out);
		return 0;
	}
	fprintf(err, "smsctl pdu: unknown command %s (decode, encode, "
	    "count)\n", cmd);
	return 1;
}
