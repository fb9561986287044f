/*
 * conf.c - read and check the configuration file (libconfig syntax).
 *
 * The file is the operator's only interface, so every mistake in it is
 * reported with the file and line it sits on, in the form editors and
 * grep understand: "FILE:LINE: what is wrong".  Nothing is guessed: an
 * unknown key is an error (a typo such as "tokne" would otherwise
 * silently leave the default in force), and so is a value of the wrong
 * type (libconfig would happily give 0 for a string read as an int).
 *
 * The result is built in a local struct conf and handed to the caller
 * only when the whole file checked out.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <libconfig.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smsgw/conf.h"
#include "smsgw/log.h"

#define CONF_TOKEN_MIN		16
#define CONF_NAME_MAX		32
#define CONF_BAUD_MIN		9600
#define CONF_BAUD_MAX		4000000
#define CONF_BAUD_DEFAULT	115200
#define CONF_LISTEN_DEFAULT	"127.0.0.1:8080"

/* Where an error is reported and how. */
struct conf_ctx {
	const char	*path;
	char		*err;
	size_t		 errlen;
};

/*
 * Write "FILE:LINE: message" for setting 's'.  A setting that has no line
 * of its own (the root group, when a required key is missing) is reported
 * at line 1 so that the format stays the same for every error.
 */
__attribute__((format(printf, 3, 4)))
static int
conf_fail(struct conf_ctx *cx, const config_setting_t *s, const char *fmt,
    ...)
{
	const char *file = NULL;
	unsigned line = 0;
	char what[256];
	va_list ap;

	if (s != NULL) {
		file = config_setting_source_file(s);
		line = config_setting_source_line(s);
	}
	if (file == NULL)
		file = cx->path;
	if (line == 0)
		line = 1;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);

	snprintf(cx->err, cx->errlen, "%s:%u: %s", file, line, what);
	return -1;
}

static const char *
conf_type_name(int type)
{
	switch (type) {
	case CONFIG_TYPE_GROUP:		return "a group";
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:		return "an integer";
	case CONFIG_TYPE_FLOAT:		return "a float";
	case CONFIG_TYPE_STRING:	return "a string";
	case CONFIG_TYPE_BOOL:		return "a boolean";
	case CONFIG_TYPE_ARRAY:		return "an array";
	case CONFIG_TYPE_LIST:		return "a list";
	default:			return "an unknown type";
	}
}

/*
 * Reject every child of group 's' whose name is not in 'known'.  'prefix'
 * is the group's key path with its dot ("http.", "modems[0].", "").
 */
static int
conf_check_keys(struct conf_ctx *cx, const config_setting_t *s,
    const char *prefix, const char *const *known)
{
	const config_setting_t *child;
	const char *name;
	size_t k;
	int i;

	for (i = 0; (child = config_setting_get_elem(s, i)) != NULL; i++) {
		name = config_setting_name(child);
		if (name == NULL)
			continue;
		for (k = 0; known[k] != NULL; k++)
			if (strcmp(name, known[k]) == 0)
				break;
		if (known[k] == NULL)
			return conf_fail(cx, child, "%s%s: unknown setting",
			    prefix, name);
	}
	return 0;
}

static int
conf_want_type(struct conf_ctx *cx, const config_setting_t *s,
    const char *what, int type)
{
	int have = config_setting_type(s);

	if (have == type ||
	    (type == CONFIG_TYPE_INT && have == CONFIG_TYPE_INT64))
		return 0;
	return conf_fail(cx, s, "%s: must be %s, not %s", what,
	    conf_type_name(type), conf_type_name(have));
}

/* Copy the string value of 's' into '*out' (heap). */
static int
conf_dup_string(struct conf_ctx *cx, const config_setting_t *s,
    const char *what, char **out)
{
	const char *v;
	char *copy;

	if (conf_want_type(cx, s, what, CONFIG_TYPE_STRING) < 0)
		return -1;
	v = config_setting_get_string(s);
	copy = strdup(v != NULL ? v : "");
	if (copy == NULL)
		return conf_fail(cx, s, "out of memory");
	free(*out);
	*out = copy;
	return 0;
}

/* A port number written in decimal, 1-65535, nothing after it. */
static int
conf_parse_port(const char *s, int *port)
{
	long v = 0;

	if (*s == '\0' || strlen(s) > 5)
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s - '0');
	}
	if (v < 1 || v > 65535)
		return -1;
	*port = (int)v;
	return 0;
}

/*
 * Split "host:port" (IPv4 literal) or "[v6]:port" into an address that
 * inet_pton accepts and a port.  Host names are refused on purpose: the
 * daemon must bind exactly what the operator wrote, not whatever a
 * resolver answers at boot.
 */
static int
conf_parse_listen(const char *listen, char **host, int *port)
{
	unsigned char buf[sizeof(struct in6_addr)];
	char addr[INET6_ADDRSTRLEN + 1];
	const char *colon, *start;
	size_t n;
	int af = AF_INET, p;
	char *copy;

	if (listen[0] == '[') {
		start = listen + 1;
		colon = strstr(start, "]:");
		if (colon == NULL)
			return -1;
		n = (size_t)(colon - start);
		colon++;
		af = AF_INET6;
	} else {
		start = listen;
		colon = strrchr(listen, ':');
		if (colon == NULL)
			return -1;
		n = (size_t)(colon - start);
	}
	if (n == 0 || n >= sizeof(addr))
		return -1;
	memcpy(addr, start, n);
	addr[n] = '\0';

	if (inet_pton(af, addr, buf) != 1)
		return -1;
	if (conf_parse_port(colon + 1, &p) < 0)
		return -1;

	copy = strdup(addr);
	if (copy == NULL)
		return -1;
	*host = copy;
	*port = p;
	return 0;
}

/* A bearer token travels in an HTTP header: printable ASCII, no space. */
static int
conf_token_ok(const char *token)
{
	const unsigned char *p;

	if (strlen(token) < CONF_TOKEN_MIN)
		return 0;
	for (p = (const unsigned char *)token; *p != '\0'; p++)
		if (*p < 0x21 || *p > 0x7e)
			return 0;
	return 1;
}

static int
conf_read_http(struct conf_ctx *cx, const config_setting_t *root,
    struct conf *c)
{
	static const char *const known[] = { "listen", "token", NULL };
	const config_setting_t *http, *s;
	const char *listen = CONF_LISTEN_DEFAULT;
	char *host = NULL;
	int port;

	http = config_setting_get_member(root, "http");
	if (http == NULL)
		return conf_fail(cx, root,
		    "http: missing (a group with the required http.token)");
	if (conf_want_type(cx, http, "http", CONFIG_TYPE_GROUP) < 0 ||
	    conf_check_keys(cx, http, "http.", known) < 0)
		return -1;

	s = config_setting_get_member(http, "listen");
	if (s != NULL) {
		if (conf_want_type(cx, s, "http.listen",
		    CONFIG_TYPE_STRING) < 0)
			return -1;
		listen = config_setting_get_string(s);
	}
	if (conf_parse_listen(listen, &host, &port) < 0)
		return conf_fail(cx, s != NULL ? s : http,
		    "http.listen: \"%s\" is not \"IPv4:port\" or "
		    "\"[IPv6]:port\" with a port of 1-65535", listen);
	c->http_host = host;
	c->http_port = port;

	s = config_setting_get_member(http, "token");
	if (s == NULL)
		return conf_fail(cx, http, "http.token: missing (required)");
	if (conf_dup_string(cx, s, "http.token", &c->http_token) < 0)
		return -1;
	if (!conf_token_ok(c->http_token))
		return conf_fail(cx, s, "http.token: must be at least %d "
		    "printable characters without spaces", CONF_TOKEN_MIN);
	return 0;
}

static int
conf_name_ok(const char *name)
{
	size_t n = strlen(name), i;

	if (n == 0 || n > CONF_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		char ch = name[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
			return 0;
	}
	return 1;
}

/* "virtual", an absolute path, or "tcp://host:port". */
static int
conf_device_ok(const char *device)
{
	const char *host, *colon;
	int port;

	if (strcmp(device, "virtual") == 0)
		return 1;
	if (device[0] == '/')
		return device[1] != '\0';
	if (strncmp(device, "tcp://", 6) != 0)
		return 0;
	host = device + 6;
	colon = strrchr(host, ':');
	if (colon == NULL || colon == host)
		return 0;
	if (memchr(host, '/', (size_t)(colon - host)) != NULL)
		return 0;
	return conf_parse_port(colon + 1, &port) == 0;
}

static int
conf_pin_ok(const char *pin)
{
	size_t n = strlen(pin), i;

	if (n < 4 || n > 8)
		return 0;
	for (i = 0; i < n; i++)
		if (pin[i] < '0' || pin[i] > '9')
			return 0;
	return 1;
}

/* An optional integer member 'key' of group 'g' within [min, max]. */
static int
conf_read_int(struct conf_ctx *cx, const config_setting_t *g,
    const char *prefix, const char *key, int min, int max, int dflt,
    int *out)
{
	const config_setting_t *s;
	char what[64];
	long long v;

	*out = dflt;
	s = config_setting_get_member(g, key);
	if (s == NULL)
		return 0;
	snprintf(what, sizeof(what), "%s%s", prefix, key);
	if (conf_want_type(cx, s, what, CONFIG_TYPE_INT) < 0)
		return -1;
	v = config_setting_get_int64(s);
	if (v < min || v > max)
		return conf_fail(cx, s, "%s: %lld is outside %d-%d", what, v,
		    min, max);
	*out = (int)v;
	return 0;
}

/* Optional "flow": none (USB modems), rtscts (a wired UART such as a
 * SIM800 with RTS/CTS), xonxoff. */
static int
conf_read_flow(struct conf_ctx *cx, const config_setting_t *g,
    const char *prefix, enum transport_flow *out)
{
	static const char *const names[] = {
		[TRANSPORT_FLOW_NONE] = "none",
		[TRANSPORT_FLOW_RTSCTS] = "rtscts",
		[TRANSPORT_FLOW_XONXOFF] = "xonxoff",
	};
	const config_setting_t *s;
	const char *v;
	char what[64];
	size_t i;

	*out = TRANSPORT_FLOW_NONE;
	s = config_setting_get_member(g, "flow");
	if (s == NULL)
		return 0;
	snprintf(what, sizeof(what), "%sflow", prefix);
	if (conf_want_type(cx, s, what, CONFIG_TYPE_STRING) < 0)
		return -1;
	v = config_setting_get_string(s);
	for (i = 0; i < sizeof(names) / sizeof(*names); i++) {
		if (strcmp(v, names[i]) == 0) {
			*out = (enum transport_flow)i;
			return 0;
		}
	}
	return conf_fail(cx, s, "%s: \"%s\" is not none, rtscts or xonxoff",
	    what, v);
}

static int
conf_read_modem(struct conf_ctx *cx, const config_setting_t *g, size_t i,
    struct conf_modem *m)
{
	static const char *const known[] = {
		"name", "device", "pin", "baud", "flow", "send_timeout",
		NULL
	};
	const config_setting_t *s;
	char key[32], prefix[40], what[48];

	snprintf(key, sizeof(key), "modems[%zu]", i);
	snprintf(prefix, sizeof(prefix), "%s.", key);
	if (conf_want_type(cx, g, key, CONFIG_TYPE_GROUP) < 0 ||
	    conf_check_keys(cx, g, prefix, known) < 0)
		return -1;

	s = config_setting_get_member(g, "name");
	if (s == NULL)
		return conf_fail(cx, g, "%sname: missing (required)", prefix);
	snprintf(what, sizeof(what), "%sname", prefix);
	if (conf_dup_string(cx, s, what, &m->name) < 0)
		return -1;
	if (!conf_name_ok(m->name))
		return conf_fail(cx, s, "%s: \"%s\" must be 1-%d of "
		    "A-Z a-z 0-9 _ -", what, m->name, CONF_NAME_MAX);

	s = config_setting_get_member(g, "device");
	if (s == NULL)
		return conf_fail(cx, g, "%sdevice: missing (required)",
		    prefix);
	snprintf(what, sizeof(what), "%sdevice", prefix);
	if (conf_dup_string(cx, s, what, &m->device) < 0)
		return -1;
	if (!conf_device_ok(m->device))
		return conf_fail(cx, s, "%s: \"%s\" is not an absolute path, "
		    "\"tcp://host:port\" or \"virtual\"", what, m->device);

	s = config_setting_get_member(g, "pin");
	snprintf(what, sizeof(what), "%spin", prefix);
	if (s != NULL) {
		/* An unquoted PIN would lose its leading zeros. */
		if (config_setting_type(s) != CONFIG_TYPE_STRING)
			return conf_fail(cx, s, "%s: must be a string (quote "
			    "it: pin = \"1234\";)", what);
		if (conf_dup_string(cx, s, what, &m->pin) < 0)
			return -1;
		if (!conf_pin_ok(m->pin))
			return conf_fail(cx, s, "%s: must be 4 to 8 digits",
			    what);
	}

	if (conf_read_int(cx, g, prefix, "baud", CONF_BAUD_MIN,
	    CONF_BAUD_MAX, CONF_BAUD_DEFAULT, &m->baud) < 0 ||
	    conf_read_flow(cx, g, prefix, &m->flow) < 0)
		return -1;
	/* Below 5 s a healthy but slow network would make "unknown"
	 * messages; above 10 minutes a hung modem blocks its queue. */
	return conf_read_int(cx, g, prefix, "send_timeout", 5, 600, 120,
	    &m->send_timeout);
}

/*
 * Modem 'i' shares neither its name nor its device with an earlier one:
 * two workers on one port would take each other's answers.  Each
 * "virtual" device is a modem of its own.
 */
static int
conf_check_unique(struct conf_ctx *cx, const config_setting_t *g,
    const struct conf_modem *m, size_t i)
{
	size_t j;

	for (j = 0; j < i; j++) {
		if (strcmp(m[j].name, m[i].name) == 0)
			return conf_fail(cx, config_setting_get_member(g,
			    "name"), "modems[%zu].name: \"%s\" is already "
			    "the name of modems[%zu]", i, m[i].name, j);
		if (strcmp(m[i].device, "virtual") != 0 &&
		    strcmp(m[j].device, m[i].device) == 0)
			return conf_fail(cx, config_setting_get_member(g,
			    "device"), "modems[%zu].device: \"%s\" is "
			    "already the device of modems[%zu]", i,
			    m[i].device, j);
	}
	return 0;
}

static int
conf_read_modems(struct conf_ctx *cx, const config_setting_t *root,
    struct conf *c)
{
	const config_setting_t *list, *g;
	size_t i, n;

	list = config_setting_get_member(root, "modems");
	if (list == NULL)
		return conf_fail(cx, root, "modems: missing (a list of "
		    "groups: modems = ( { name = ...; device = ...; } );)");
	if (conf_want_type(cx, list, "modems", CONFIG_TYPE_LIST) < 0)
		return -1;
	n = (size_t)config_setting_length(list);
	if (n == 0)
		return conf_fail(cx, list, "modems: empty; configure at "
		    "least one modem");

	c->modems = calloc(n, sizeof(*c->modems));
	if (c->modems == NULL)
		return conf_fail(cx, list, "out of memory");
	c->nmodems = n;

	for (i = 0; i < n; i++) {
		g = config_setting_get_elem(list, (unsigned)i);
		if (conf_read_modem(cx, g, i, &c->modems[i]) < 0)
			return -1;
		if (conf_check_unique(cx, g, c->modems, i) < 0)
			return -1;
	}
	return 0;
}

static int
conf_read_bool(struct conf_ctx *cx, const config_setting_t *root,
    const char *key, int *out)
{
	const config_setting_t *s = config_setting_get_member(root, key);

	if (s == NULL)
		return 0;
	if (conf_want_type(cx, s, key, CONFIG_TYPE_BOOL) < 0)
		return -1;
	*out = config_setting_get_bool(s) != 0;
	return 0;
}

static int
conf_read_root(struct conf_ctx *cx, const config_setting_t *root,
    struct conf *c)
{
	static const char *const known[] = {
		"http", "database", "modems", "log_level",
		"log_personal_data", "smart_encoding", NULL
	};
	const config_setting_t *s;
	const char *name;
	int level;

	if (conf_check_keys(cx, root, "", known) < 0 ||
	    conf_read_http(cx, root, c) < 0)
		return -1;

	s = config_setting_get_member(root, "database");
	if (s == NULL)
		return conf_fail(cx, root, "database: missing (the path of "
		    "the message store)");
	if (conf_dup_string(cx, s, "database", &c->database) < 0)
		return -1;
	if (c->database[0] == '\0')
		return conf_fail(cx, s, "database: must not be empty");

	if (conf_read_modems(cx, root, c) < 0)
		return -1;

	c->log_level = LOG_LEVEL_INFO;
	s = config_setting_get_member(root, "log_level");
	if (s != NULL) {
		if (conf_want_type(cx, s, "log_level", CONFIG_TYPE_STRING) < 0)
			return -1;
		name = config_setting_get_string(s);
		level = log_level_parse(name);
		if (level < 0)
			return conf_fail(cx, s, "log_level: \"%s\" is not one "
			    "of error, warn, notice, info, debug", name);
		c->log_level = level;
	}

	if (conf_read_bool(cx, root, "log_personal_data",
	    &c->log_personal_data) < 0 ||
	    conf_read_bool(cx, root, "smart_encoding", &c->smart_encoding) < 0)
		return -1;
	return 0;
}

int
conf_load(const char *path, struct conf *out, char *err, size_t errlen)
{
	struct conf_ctx cx = { path, err, errlen };
	struct conf c;
	config_t cfg;
	FILE *fp;
	int rc = -1;

	memset(&c, 0, sizeof(c));
	config_init(&cfg);

	/* libconfig does not keep errno for an unreadable file, so open
	 * it once ourselves to say why. */
	fp = fopen(path, "r");
	if (fp == NULL) {
		snprintf(err, errlen, "%s:0: cannot read the file: %s", path,
		    strerror(errno));
		goto out;
	}
	fclose(fp);

	if (config_read_file(&cfg, path) != CONFIG_TRUE) {
		snprintf(err, errlen, "%s:%d: %s",
		    config_error_file(&cfg) != NULL ?
		    config_error_file(&cfg) : path,
		    config_error_line(&cfg), config_error_text(&cfg));
		goto out;
	}

	if (conf_read_root(&cx, config_root_setting(&cfg), &c) < 0)
		goto out;

	*out = c;
	rc = 0;
out:
	if (rc < 0)
		conf_release(&c);
	config_destroy(&cfg);
	return rc;
}

void
conf_release(struct conf *conf)
{
	size_t i;

	if (conf == NULL)
		return;
	for (i = 0; i < conf->nmodems; i++) {
		free(conf->modems[i].name);
		free(conf->modems[i].device);
		free(conf->modems[i].pin);
	}
	free(conf->modems);
	free(conf->http_host);
	free(conf->http_token);
	free(conf->database);
	memset(conf, 0, sizeof(*conf));
}
