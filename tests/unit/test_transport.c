/*
 * test_transport.c - the transport over a pseudo-terminal pair and a TCP
 * connection on 127.0.0.1, and its error cases.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "smsgw/transport.h"

#define WAIT_MS	3000

static int
wait_readable(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, WAIT_MS);
}

/* Open a pty master; its slave's path goes to 'path'. */
static int
open_pty(char *path, size_t len)
{
	int master;

	master = posix_openpt(O_RDWR | O_NOCTTY);
	assert_true(master >= 0);
	assert_int_equal(grantpt(master), 0);
	assert_int_equal(unlockpt(master), 0);
	assert_int_equal(ptsname_r(master, path, len), 0);
	return master;
}

/* Read exactly 'len' bytes from 'fd', waiting at most WAIT_MS per chunk. */
static void
read_exact(int fd, char *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		assert_true(wait_readable(fd) > 0);
		n = read(fd, buf + got, len - got);
		assert_true(n > 0);
		got += (size_t)n;
	}
}

/* transport_read until 'len' bytes came, polling its descriptor. */
static void
transport_read_exact(struct transport *t, char *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		assert_true(wait_readable(transport_fd(t)) > 0);
		n = transport_read(t, buf + got, len - got);
		assert_true(n >= 0);
		got += (size_t)n;
	}
}

static void
test_transport_kind_of(void **state)
{
	char path[64];
	int master;

	(void)state;
	assert_int_equal(transport_kind_of("tcp://127.0.0.1:3001"),
	    TRANSPORT_TCP);
	/* A path that does not exist is left to the serial open to report. */
	assert_int_equal(transport_kind_of("/dev/smsgw-test-none"),
	    TRANSPORT_SERIAL);

	master = open_pty(path, sizeof(path));
	assert_int_equal(transport_kind_of(path), TRANSPORT_PTY);
	close(master);
}

static void
test_transport_pty_roundtrip(void **state)
{
	struct transport *t = NULL;
	char path[64], err[256], buf[64];
	int master;

	(void)state;
	master = open_pty(path, sizeof(path));
	assert_int_equal(transport_open(path, 115200, TRANSPORT_FLOW_NONE,
	    &t, err, sizeof(err)), 0);
	assert_non_null(t);

	/* Nothing waiting: 0, not an error and not a block. */
	assert_int_equal(transport_read(t, buf, sizeof(buf)), 0);

	assert_int_equal(transport_write(t, "AT\r", 3, 1000), 0);
	read_exact(master, buf, 3);
	assert_memory_equal(buf, "AT\r", 3);

	/* Raw mode: CR stays CR, no echo back to the master. */
	assert_int_equal(write(master, "\r\nOK\r\n", 6), 6);
	transport_read_exact(t, buf, 6);
	assert_memory_equal(buf, "\r\nOK\r\n", 6);

	transport_close(t);
	close(master);
}

static void
test_transport_pty_flush_input(void **state)
{
	struct transport *t = NULL;
	char path[64], err[256], buf[16];
	int master;

	(void)state;
	master = open_pty(path, sizeof(path));
	assert_int_equal(transport_open(path, 0, TRANSPORT_FLOW_NONE, &t,
	    err, sizeof(err)), 0);

	assert_int_equal(write(master, "noise", 5), 5);
	assert_true(wait_readable(transport_fd(t)) > 0);
	transport_flush_input(t);
	assert_int_equal(transport_read(t, buf, sizeof(buf)), 0);

	transport_close(t);
	close(master);
}

static void
test_transport_pty_master_closed(void **state)
{
	struct transport *t = NULL;
	char path[64], err[256], buf[16];
	int master;

	(void)state;
	master = open_pty(path, sizeof(path));
	assert_int_equal(transport_open(path, 0, TRANSPORT_FLOW_NONE, &t,
	    err, sizeof(err)), 0);

	/* The pty equivalent of a pulled USB cable. */
	close(master);
	assert_true(wait_readable(transport_fd(t)) > 0);
	assert_int_equal(transport_read(t, buf, sizeof(buf)), -EIO);
	transport_close(t);
}

static void
test_transport_write_timeout(void **state)
{
	struct transport *t = NULL;
	char path[64], err[256];
	size_t len = 1 << 20;
	char *big;
	int master;

	(void)state;
	master = open_pty(path, sizeof(path));
	assert_int_equal(transport_open(path, 0, TRANSPORT_FLOW_NONE, &t,
	    err, sizeof(err)), 0);

	/* Nobody reads the master: the pty buffer fills up. */
	big = malloc(len);
	assert_non_null(big);
	memset(big, 'A', len);
	assert_int_equal(transport_write(t, big, len, 50), -ETIMEDOUT);

	free(big);
	transport_close(t);
	close(master);
}

static void
test_transport_open_missing_device(void **state)
{
	struct transport *t = NULL;
	char err[256] = "";

	(void)state;
	assert_true(transport_open("/dev/smsgw-test-none", 115200,
	    TRANSPORT_FLOW_NONE, &t, err, sizeof(err)) < 0);
	assert_null(t);
	assert_non_null(strstr(err, "/dev/smsgw-test-none"));

	assert_int_equal(transport_open("", 115200, TRANSPORT_FLOW_NONE, &t,
	    err, sizeof(err)), -EINVAL);
	assert_null(t);
}

static void
test_transport_open_bad_tcp_spec(void **state)
{
	static const char *const bad[] = {
		"tcp://", "tcp://localhost", "tcp://:3001", "tcp://host:",
		"tcp://host:30x1", "tcp://[::1]3001", "tcp://[::1:3001",
	};
	struct transport *t = NULL;
	char err[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		err[0] = '\0';
		assert_int_equal(transport_open(bad[i], 0, TRANSPORT_FLOW_NONE,
		    &t, err, sizeof(err)), -EINVAL);
		assert_null(t);
		assert_non_null(strstr(err, bad[i]));
	}
}

/* A listening socket on 127.0.0.1 with a kernel-chosen port. */
static int
listen_local(int *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, 1), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

static void
test_transport_tcp_roundtrip(void **state)
{
	struct transport *t = NULL;
	char spec[64], err[256], buf[16];
	int lfd, peer, port;

	(void)state;
	lfd = listen_local(&port);
	snprintf(spec, sizeof(spec), "tcp://127.0.0.1:%d", port);
	assert_int_equal(transport_open(spec, 0, TRANSPORT_FLOW_NONE, &t,
	    err, sizeof(err)), 0);
	peer = accept(lfd, NULL, NULL);
	assert_true(peer >= 0);

	assert_int_equal(transport_write(t, "AT\r", 3, 1000), 0);
	read_exact(peer, buf, 3);
	assert_memory_equal(buf, "AT\r", 3);

	assert_int_equal(write(peer, "OK\r\n", 4), 4);
	transport_read_exact(t, buf, 4);
	assert_memory_equal(buf, "OK\r\n", 4);

	/* ser2net went away. */
	close(peer);
	assert_true(wait_readable(transport_fd(t)) > 0);
	assert_int_equal(transport_read(t, buf, sizeof(buf)), -ECONNRESET);

	transport_close(t);
	close(lfd);
}

static void
test_transport_tcp_refused(void **state)
{
	struct transport *t = NULL;
	char spec[64], err[256] = "";
	int lfd, port;

	(void)state;
	/* Take a free port, then stop listening on it. */
	lfd = listen_local(&port);
	close(lfd);
	snprintf(spec, sizeof(spec), "tcp://127.0.0.1:%d", port);
	assert_int_equal(transport_open(spec, 0, TRANSPORT_FLOW_NONE, &t,
	    err, sizeof(err)), -ECONNREFUSED);
	assert_null(t);
	assert_non_null(strstr(err, spec));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_transport_kind_of),
		cmocka_unit_test(test_transport_pty_roundtrip),
		cmocka_unit_test(test_transport_pty_flush_input),
		cmocka_unit_test(test_transport_pty_master_closed),
		cmocka_unit_test(test_transport_write_timeout),
		cmocka_unit_test(test_transport_open_missing_device),
		cmocka_unit_test(test_transport_open_bad_tcp_spec),
		cmocka_unit_test(test_transport_tcp_roundtrip),
		cmocka_unit_test(test_transport_tcp_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
