/*
 * test_conf.c - the configuration loader: defaults, every value it
 * accepts, and every error with the line it must point at.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "smsgw/conf.h"
#include "smsgw/log.h"

#define TOKEN	"0123456789abcdef"

/* Write 'text' to a fresh temporary file; its path goes to 'path'. */
static void
write_temp(const char *text, char *path, size_t len)
{
	FILE *fp;
	int fd;

	snprintf(path, len, "/tmp/test_conf.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	fp = fdopen(fd, "w");
	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

static int
load_text(const char *text, struct conf *c, char *err, size_t errlen,
    char *path, size_t pathlen)
{
	int rc;

	write_temp(text, path, pathlen);
	rc = conf_load(path, c, err, errlen);
	unlink(path);
	return rc;
}

/*
 * Load 'text' and expect failure reported at 'line' with 'what' in the
 * message: the error must read "PATH:LINE: ...".
 */
static void
expect_error(const char *text, int line, const char *what)
{
	char path[64], err[512], prefix[96];
	struct conf c;
	int rc;

	memset(&c, 0x5a, sizeof(c));
	err[0] = '\0';
	rc = load_text(text, &c, err, sizeof(err), path, sizeof(path));
	if (rc != -1 || strstr(err, what) == NULL)
		print_error("config:\n%s\nerror: %s\n", text, err);
	assert_int_equal(rc, -1);
	snprintf(prefix, sizeof(prefix), "%s:%d: ", path, line);
	if (strncmp(err, prefix, strlen(prefix)) != 0)
		print_error("want prefix '%s', got '%s'\n", prefix, err);
	assert_int_equal(strncmp(err, prefix, strlen(prefix)), 0);
	assert_non_null(strstr(err, what));
}

static void
test_conf_minimal_defaults(void **state)
{
	static const char text[] =
	    "http = { token = \"" TOKEN "\"; };\n"
	    "database = \"/tmp/x.db\";\n"
	    "modems = ( { name = \"demo\"; device = \"virtual\"; } );\n";
	char path[64], err[256];
	struct conf c;

	(void)state;
	assert_int_equal(load_text(text, &c, err, sizeof(err), path,
	    sizeof(path)), 0);
	assert_string_equal(c.http_host, "127.0.0.1");
	assert_int_equal(c.http_port, 8080);
	assert_string_equal(c.http_token, TOKEN);
	assert_string_equal(c.database, "/tmp/x.db");
	assert_int_equal(c.nmodems, 1);
	assert_string_equal(c.modems[0].name, "demo");
	assert_string_equal(c.modems[0].device, "virtual");
	assert_null(c.modems[0].pin);
	assert_int_equal(c.modems[0].baud, 115200);
	assert_int_equal(c.log_level, LOG_LEVEL_INFO);
	assert_int_equal(c.log_personal_data, 0);
	assert_int_equal(c.smart_encoding, 0);
	conf_release(&c);
	assert_null(c.modems);
	assert_int_equal(c.nmodems, 0);
}

static void
test_conf_full(void **state)
{
	static const char text[] =
	    "# a comment\n"
	    "http = {\n"
	    "  listen = \"[::1]:9090\";\n"
	    "  token = \"" TOKEN "-more\";\n"
	    "};\n"
	    "database = \"/var/lib/smsgw/smsgw.db\";\n"
	    "modems = (\n"
	    "  { name = \"office-1\"; device = \"/dev/smsgw/office-1\";\n"
	    "    pin = \"0012\"; baud = 9600; send_timeout = 300;\n"
	    "    flow = \"rtscts\"; },\n"
	    "  { name = \"annex\"; device = \"tcp://10.0.0.7:3001\"; },\n"
	    "  { name = \"Demo_2\"; device = \"virtual\"; baud = 4000000; }\n"
	    ");\n"
	    "log_level = \"debug\";\n"
	    "log_personal_data = true;\n"
	    "smart_encoding = true;\n";
	char path[64], err[256];
	struct conf c;

	(void)state;
	assert_int_equal(load_text(text, &c, err, sizeof(err), path,
	    sizeof(path)), 0);
	assert_string_equal(c.http_host, "::1");
	assert_int_equal(c.http_port, 9090);
	assert_string_equal(c.http_token, TOKEN "-more");
	assert_string_equal(c.database, "/var/lib/smsgw/smsgw.db");
	assert_int_equal(c.nmodems, 3);
	assert_string_equal(c.modems[0].name, "office-1");
	assert_string_equal(c.modems[0].device, "/dev/smsgw/office-1");
	assert_string_equal(c.modems[0].pin, "0012");
	assert_int_equal(c.modems[0].baud, 9600);
	assert_int_equal(c.modems[0].send_timeout, 300);
	assert_int_equal(c.modems[0].flow, TRANSPORT_FLOW_RTSCTS);
	assert_int_equal(c.modems[1].flow, TRANSPORT_FLOW_NONE);
	assert_int_equal(c.modems[1].send_timeout, 120);
	assert_string_equal(c.modems[1].device, "tcp://10.0.0.7:3001");
	assert_null(c.modems[1].pin);
	assert_int_equal(c.modems[1].baud, 115200);
	assert_string_equal(c.modems[2].name, "Demo_2");
	assert_int_equal(c.modems[2].baud, 4000000);
	assert_int_equal(c.log_level, LOG_LEVEL_DEBUG);
	assert_int_equal(c.log_personal_data, 1);
	assert_int_equal(c.smart_encoding, 1);
	conf_release(&c);
}

static void
test_conf_listen_ipv4_any(void **state)
{
	static const char text[] =
	    "http = { listen = \"0.0.0.0:80\"; token = \"" TOKEN "\"; };\n"
	    "database = \"db\";\n"
	    "modems = ( { name = \"m\"; device = \"virtual\"; } );\n";
	char path[64], err[256];
	struct conf c;

	(void)state;
	assert_int_equal(load_text(text, &c, err, sizeof(err), path,
	    sizeof(path)), 0);
	assert_string_equal(c.http_host, "0.0.0.0");
	assert_int_equal(c.http_port, 80);
	conf_release(&c);
}

static void
test_conf_missing_file(void **state)
{
	char err[256];
	struct conf c;

	(void)state;
	assert_int_equal(conf_load("/nonexistent/smsgw.conf", &c, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "/nonexistent/smsgw.conf:0: "));
	assert_non_null(strstr(err, "No such file"));
}

static void
test_conf_syntax_error(void **state)
{
	(void)state;
	expect_error("http = { token = \"" TOKEN "\"; };\n"
	    "\n"
	    "database = = \"db\";\n"
	    "modems = ( { name = \"m\"; device = \"virtual\"; } );\n",
	    3, "syntax error");
	expect_error("\n\n\nfoo = \"unterminated;\n", 5, "syntax error");
}

static void
test_conf_duplicate_key(void **state)
{
	(void)state;
	expect_error("http = { token = \"" TOKEN "\"; };\n"
	    "database = \"db\";\n"
	    "database = \"db2\";\n"
	    "modems = ( { name = \"m\"; device = \"virtual\"; } );\n",
	    3, "duplicate");
}

/* Every case below changes one line of this valid file. */
#define L1_HTTP		"http = { token = \"" TOKEN "\"; };\n"
#define L2_DB		"database = \"db\";\n"
#define L3_MODEMS \
	"modems = ( { name = \"m\"; device = \"virtual\"; } );\n"

static void
test_conf_unknown_keys(void **state)
{
	(void)state;
	expect_error(L1_HTTP L2_DB L3_MODEMS "colour = \"red\";\n",
	    4, "colour: unknown setting");
	expect_error("http = {\n token = \"" TOKEN "\";\n tokne = \"x\";\n};\n"
	    L2_DB L3_MODEMS, 3, "http.tokne: unknown setting");
	expect_error(L1_HTTP L2_DB
	    "modems = (\n { name = \"m\"; device = \"virtual\";\n"
	    "   speed = 9600; }\n);\n", 5,
	    "modems[0].speed: unknown setting");
}

static void
test_conf_http_errors(void **state)
{
	(void)state;
	expect_error(L2_DB L3_MODEMS, 1, "http: missing");
	expect_error("http = \"x\";\n" L2_DB L3_MODEMS, 1,
	    "http: must be a group, not a string");
	expect_error(L2_DB "http = {\n listen = \"1.2.3.4:80\";\n};\n"
	    L3_MODEMS, 2, "http.token: missing");
	expect_error("http = {\n token = 12345678901234567;\n};\n"
	    L2_DB L3_MODEMS, 2, "http.token: must be a string");
	expect_error("http = {\n token = \"short\";\n};\n" L2_DB L3_MODEMS,
	    2, "http.token: must be at least 16");
	expect_error("http = {\n token = \"0123456789 abcdef\";\n};\n"
	    L2_DB L3_MODEMS, 2, "without spaces");
	expect_error("http = {\n token = \"" TOKEN "\";\n listen = 8080;\n"
	    "};\n" L2_DB L3_MODEMS, 3, "http.listen: must be a string");
}

static void
test_conf_listen_errors(void **state)
{
	static const char *const bad[] = {
		"8080", "localhost:8080", "127.0.0.1", "127.0.0.1:",
		"127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:80x",
		"127.0.0.1:-1", "::1:8080", "[::1]8080", "[::1]:",
		"[1.2.3.4]:80", "[]:80", "256.0.0.1:80", ":80",
		"127.0.0.1:0080000",
	};
	char text[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		snprintf(text, sizeof(text), "http = {\n token = \"" TOKEN
		    "\";\n\n listen = \"%s\";\n};\n" L2_DB L3_MODEMS, bad[i]);
		expect_error(text, 4, "http.listen: \"");
	}
}

static void
test_conf_database_errors(void **state)
{
	(void)state;
	expect_error(L1_HTTP L3_MODEMS, 1, "database: missing");
	expect_error(L1_HTTP L3_MODEMS "\ndatabase = 5;\n", 4,
	    "database: must be a string, not an integer");
	expect_error(L1_HTTP L3_MODEMS "\ndatabase = \"\";\n", 4,
	    "database: must not be empty");
}

static void
test_conf_modems_errors(void **state)
{
	(void)state;
	expect_error(L1_HTTP L2_DB, 1, "modems: missing");
	expect_error(L1_HTTP L2_DB "modems = ();\n", 3, "modems: empty");
	expect_error(L1_HTTP L2_DB "modems = \"demo\";\n", 3,
	    "modems: must be a list");
	expect_error(L1_HTTP L2_DB
	    "modems = [ \"a\", \"b\" ];\n", 3, "modems: must be a list, "
	    "not an array");
	expect_error(L1_HTTP L2_DB "modems = (\n \"demo\" );\n", 4,
	    "modems[0]: must be a group");
}

static void
test_conf_modem_name_errors(void **state)
{
	static const char *const bad[] = {
		"", "has space", "dot.name", "slash/x", "caf\xc3\xa9",
		"abcdefghijklmnopqrstuvwxyz0123456",	/* 33 characters */
	};
	char text[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		snprintf(text, sizeof(text), L1_HTTP L2_DB "modems = (\n"
		    " { device = \"virtual\";\n   name = \"%s\"; }\n);\n",
		    bad[i]);
		expect_error(text, 5, "modems[0].name: \"");
	}
	expect_error(L1_HTTP L2_DB "modems = (\n { device = \"virtual\"; }\n"
	    ");\n", 4, "modems[0].name: missing");
	expect_error(L1_HTTP L2_DB "modems = (\n { name = 7;\n"
	    "   device = \"virtual\"; }\n);\n", 4,
	    "modems[0].name: must be a string");
	expect_error(L1_HTTP L2_DB "modems = (\n"
	    " { name = \"a\"; device = \"virtual\"; },\n"
	    " { name = \"b\"; device = \"virtual\"; },\n"
	    " { device = \"virtual\";\n   name = \"a\"; }\n);\n",
	    7, "modems[2].name: \"a\" is already the name of modems[0]");
	/* Two modems on one port would take each other's answers. */
	expect_error(L1_HTTP L2_DB "modems = (\n"
	    " { name = \"a\"; device = \"/dev/ttyUSB2\"; },\n"
	    " { name = \"b\";\n   device = \"/dev/ttyUSB2\"; }\n);\n",
	    6, "modems[1].device: \"/dev/ttyUSB2\" is already the device "
	    "of modems[0]");
}

static void
test_conf_modem_name_longest(void **state)
{
	static const char text[] = L1_HTTP L2_DB
	    "modems = ( { name = \"abcdefghijklmnopqrstuvwxyz012345\"; "
	    "device = \"virtual\"; } );\n";
	char path[64], err[256];
	struct conf c;

	(void)state;
	assert_int_equal(load_text(text, &c, err, sizeof(err), path,
	    sizeof(path)), 0);
	assert_int_equal(strlen(c.modems[0].name), 32);
	conf_release(&c);
}

static void
test_conf_device_errors(void **state)
{
	static const char *const bad[] = {
		"", "ttyUSB0", "/", "tcp://", "tcp://host", "tcp://:3001",
		"tcp://host:0", "tcp://host:70000", "tcp://host:30x",
		"tcp://host/x:3001", "serial:///dev/ttyUSB0", "Virtual",
	};
	char text[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		snprintf(text, sizeof(text), L1_HTTP L2_DB "modems = (\n"
		    " { name = \"m\";\n   device = \"%s\"; }\n);\n", bad[i]);
		expect_error(text, 5, "modems[0].device: \"");
	}
	expect_error(L1_HTTP L2_DB "modems = (\n { name = \"m\"; }\n);\n",
	    4, "modems[0].device: missing");
	expect_error(L1_HTTP L2_DB "modems = (\n { name = \"m\";\n"
	    "   device = 1; }\n);\n", 5, "modems[0].device: must be a string");
}

static void
test_conf_pin_errors(void **state)
{
	static const char *const bad[] = {
		"", "123", "123456789", "12a4", " 1234", "+1234",
	};
	char text[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		snprintf(text, sizeof(text), L1_HTTP L2_DB "modems = (\n"
		    " { name = \"m\"; device = \"virtual\";\n   pin = \"%s\"; }"
		    "\n);\n", bad[i]);
		expect_error(text, 5, "modems[0].pin: must be 4 to 8 digits");
	}
	expect_error(L1_HTTP L2_DB "modems = (\n"
	    " { name = \"m\"; device = \"virtual\";\n   pin = 1234; }\n);\n",
	    5, "modems[0].pin: must be a string (quote it");
}

static void
test_conf_baud_errors(void **state)
{
	(void)state;
	expect_error(L1_HTTP L2_DB "modems = (\n"
	    " { name = \"m\"; device = \"virtual\";\n   baud = 9599; }\n);\n",
	    5, "modems[0].baud: 9599 is outside 9600-4000000");
	expect_error(L1_HTTP L2_DB "modems = (\n"
	    " { name = \"m\"; device = \"virtual\";\n"
	    "   baud = 4000001; }\n);\n",
	    5, "outside");
	expect_error(L1_HTTP L2_DB "modems = (\n"
	    " { name = \"m\"; device = \"virtual\";\n"
	    "   baud = 10000000000L; }\n);\n", 5, "outside");
	expect_error(L1_HTTP L2_DB "modems = (\n"
	    " { name = \"m\"; device = \"virtual\";\n   baud = \"9600\"; }\n"
	    ");\n", 5, "modems[0].baud: must be an integer, not a string");
	expect_error(L1_HTTP L2_DB "modems = (\n"
	    " { name = \"m\"; device = \"virtual\";\n   baud = 9600.0; }\n"
	    ");\n", 5, "modems[0].baud: must be an integer, not a float");
}

static void
test_conf_send_timeout_errors(void **state)
{
	(void)state;
	expect_error(L1_HTTP L2_DB "modems = (\n"
	    " { name = \"m\"; device = \"virtual\";\n   send_timeout = 4; }\n"
	    ");\n", 5, "modems[0].send_timeout: 4 is outside 5-600");
	expect_error(L1_HTTP L2_DB "modems = (\n"
	    " { name = \"m\"; device = \"virtual\";\n"
	    "   send_timeout = \"1m\"; }\n);\n", 5,
	    "modems[0].send_timeout: must be an integer, not a string");
}

static void
test_conf_flow_errors(void **state)
{
	(void)state;
	expect_error(L1_HTTP L2_DB "modems = (\n"
	    " { name = \"m\"; device = \"virtual\";\n   flow = \"rts\"; }\n"
	    ");\n", 5, "modems[0].flow: \"rts\" is not none, rtscts or "
	    "xonxoff");
	expect_error(L1_HTTP L2_DB "modems = (\n"
	    " { name = \"m\"; device = \"virtual\";\n   flow = true; }\n"
	    ");\n", 5, "modems[0].flow: must be a string");
}

static void
test_conf_options_errors(void **state)
{
	(void)state;
	expect_error(L1_HTTP L2_DB L3_MODEMS "\nlog_level = \"verbose\";\n",
	    5, "log_level: \"verbose\" is not one of");
	expect_error(L1_HTTP L2_DB L3_MODEMS "\nlog_level = 3;\n",
	    5, "log_level: must be a string");
	expect_error(L1_HTTP L2_DB L3_MODEMS "\n\nlog_personal_data = 1;\n",
	    6, "log_personal_data: must be a boolean, not an integer");
	expect_error(L1_HTTP L2_DB L3_MODEMS "smart_encoding = \"yes\";\n",
	    4, "smart_encoding: must be a boolean, not a string");
}

/* Every level name the log module knows is accepted. */
static void
test_conf_log_levels(void **state)
{
	static const char *const names[] = {
		"error", "warn", "notice", "info", "debug",
	};
	char text[512], path[64], err[256];
	struct conf c;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(names) / sizeof(*names); i++) {
		snprintf(text, sizeof(text), L1_HTTP L2_DB L3_MODEMS
		    "log_level = \"%s\";\n", names[i]);
		assert_int_equal(load_text(text, &c, err, sizeof(err), path,
		    sizeof(path)), 0);
		assert_int_equal(c.log_level, (int)i);
		conf_release(&c);
	}
}

/* A failed load leaves the caller's structure alone. */
static void
test_conf_error_leaves_out_untouched(void **state)
{
	char path[64], err[256];
	struct conf c, copy;

	(void)state;
	memset(&c, 0x5a, sizeof(c));
	copy = c;
	assert_int_equal(load_text(L1_HTTP L3_MODEMS, &c, err, sizeof(err),
	    path, sizeof(path)), -1);
	assert_memory_equal(&c, &copy, sizeof(c));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conf_minimal_defaults),
		cmocka_unit_test(test_conf_full),
		cmocka_unit_test(test_conf_listen_ipv4_any),
		cmocka_unit_test(test_conf_missing_file),
		cmocka_unit_test(test_conf_syntax_error),
		cmocka_unit_test(test_conf_duplicate_key),
		cmocka_unit_test(test_conf_unknown_keys),
		cmocka_unit_test(test_conf_http_errors),
		cmocka_unit_test(test_conf_listen_errors),
		cmocka_unit_test(test_conf_database_errors),
		cmocka_unit_test(test_conf_modems_errors),
		cmocka_unit_test(test_conf_modem_name_errors),
		cmocka_unit_test(test_conf_modem_name_longest),
		cmocka_unit_test(test_conf_device_errors),
		cmocka_unit_test(test_conf_pin_errors),
		cmocka_unit_test(test_conf_baud_errors),
		cmocka_unit_test(test_conf_send_timeout_errors),
		cmocka_unit_test(test_conf_flow_errors),
		cmocka_unit_test(test_conf_options_errors),
		cmocka_unit_test(test_conf_log_levels),
		cmocka_unit_test(test_conf_error_leaves_out_untouched),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
