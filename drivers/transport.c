/*
 * transport.c - the byte stream under the AT channel.
 *
 * Three kinds of device end up as one non-blocking descriptor:
 *   - serial devices through libserialport, which knows the quirks of
 *     USB serial drivers (baud, 8N1, flow control, DTR);
 *   - pseudo-terminals through termios, because libserialport looks for a
 *     sysfs device behind the tty and refuses a pty;
 *   - "tcp://host:port" through a socket, for ser2net.
 *
 * Ttys are put in raw mode with VMIN=1, VTIME=0: with O_NONBLOCK this
 * makes read() fail with EAGAIN when nothing is waiting and return 0 only
 * when the tty was hung up, so "no data" and "device gone" stay apart.
 * (With VMIN=0 Linux returns 0 for both.)
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <libserialport.h>

#include "smsgw/log.h"
#include "smsgw/transport.h"

/* How long a TCP connect may take before the modem counts as absent. */
#define TRANSPORT_CONNECT_TIMEOUT_MS	5000

struct transport {
	enum transport_kind	kind;
	int			fd;
	struct sp_port		*port;	/* serial only; owns 'fd' */
	int			sp_opened;
	char			device[128];
};

static long long
transport_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
transport_is_tcp(const char *device)
{
	return strncmp(device, "tcp://", 6) == 0;
}

enum transport_kind
transport_kind_of(const char *device)
{
	char real[PATH_MAX];
	char sysfs[PATH_MAX + 64];
	const char *base;
	struct stat st;

	if (transport_is_tcp(device))
		return TRANSPORT_TCP;

	/* /dev/smsgw/office-1 is usually a udev symlink: judge its target. */
	if (realpath(device, real) == NULL)
		return TRANSPORT_SERIAL;	/* let the open report why */
	if (strncmp(real, "/dev/pts/", 9) == 0)
		return TRANSPORT_PTY;

	/* A real serial port has a bus device behind its tty class entry;
	 * ptys, tty0tty and the like do not. */
	base = strrchr(real, '/');
	base = base != NULL ? base + 1 : real;
	snprintf(sysfs, sizeof(sysfs), "/sys/class/tty/%s/device", base);
	if (stat(sysfs, &st) != 0)
		return TRANSPORT_PTY;
	return TRANSPORT_SERIAL;
}

/* Raw mode, 8N1, VMIN=1/VTIME=0 (see the top of this file). */
static int
transport_tty_raw(int fd, int keep_speed)
{
	struct termios tio;

	if (tcgetattr(fd, &tio) != 0)
		return -errno;
	if (!keep_speed) {
		cfmakeraw(&tio);
		tio.c_cflag |= CLOCAL | CREAD;
	}
	tio.c_cc[VMIN] = 1;
	tio.c_cc[VTIME] = 0;
	if (tcsetattr(fd, TCSANOW, &tio) != 0)
		return -errno;
	return 0;
}

static int
transport_set_nonblock(int fd)
{
	int flags;

	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

static int
transport_open_pty(struct transport *t, char *err, size_t errlen)
{
	int rc;

	t->fd = open(t->device, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (t->fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot open %s: %s", t->device,
		    strerror(-rc));
		return rc;
	}
	rc = transport_tty_raw(t->fd, 0);
	if (rc < 0) {
		snprintf(err, errlen, "cannot set raw mode on %s: %s",
		    t->device, strerror(-rc));
		return rc;
	}
	return 0;
}

/* libserialport reports failures as SP_ERR_*; SP_ERR_FAIL leaves the
 * reason in errno. */
static int
transport_sp_errno(enum sp_return ret)
{
	switch (ret) {
	case SP_ERR_ARG:
		return -EINVAL;
	case SP_ERR_MEM:
		return -ENOMEM;
	case SP_ERR_SUPP:
		return -ENOTSUP;
	default:
		return errno != 0 ? -errno : -EIO;
	}
}

static int
transport_serial_config(struct transport *t, int baud,
    enum transport_flow flow)
{
	enum sp_flowcontrol fc;
	enum sp_return ret;

	switch (flow) {
	case TRANSPORT_FLOW_RTSCTS:
		fc = SP_FLOWCONTROL_RTSCTS;
		break;
	case TRANSPORT_FLOW_XONXOFF:
		fc = SP_FLOWCONTROL_XONXOFF;
		break;
	default:
		fc = SP_FLOWCONTROL_NONE;
		break;
	}

	if ((ret = sp_set_baudrate(t->port, baud)) != SP_OK ||
	    (ret = sp_set_bits(t->port, 8)) != SP_OK ||
	    (ret = sp_set_parity(t->port, SP_PARITY_NONE)) != SP_OK ||
	    (ret = sp_set_stopbits(t->port, 1)) != SP_OK ||
	    (ret = sp_set_flowcontrol(t->port, fc)) != SP_OK)
		return transport_sp_errno(ret);

	/* Many modems ignore input while DTR is low. */
	if (sp_set_dtr(t->port, SP_DTR_ON) != SP_OK)
		log_debug("transport: dtr-unsupported device=%s", t->device);
	return 0;
}

static int
transport_open_serial(struct transport *t, int baud, enum transport_flow flow,
    char *err, size_t errlen)
{
	enum sp_return ret;
	int rc;

	errno = 0;
	ret = sp_get_port_by_name(t->device, &t->port);
	if (ret != SP_OK) {
		t->port = NULL;
		rc = transport_sp_errno(ret);
		snprintf(err, errlen, "cannot find serial port %s: %s",
		    t->device, strerror(-rc));
		return rc;
	}

	errno = 0;
	ret = sp_open(t->port, SP_MODE_READ_WRITE);
	if (ret != SP_OK) {
		rc = transport_sp_errno(ret);
		snprintf(err, errlen, "cannot open %s: %s", t->device,
		    strerror(-rc));
		return rc;
	}
	t->sp_opened = 1;

	rc = transport_serial_config(t, baud, flow);
	if (rc < 0) {
		snprintf(err, errlen, "cannot configure %s (baud %d): %s",
		    t->device, baud, strerror(-rc));
		return rc;
	}

	if (sp_get_port_handle(t->port, &t->fd) != SP_OK) {
		snprintf(err, errlen, "no descriptor for %s", t->device);
		return -EIO;
	}
	if ((rc = transport_tty_raw(t->fd, 1)) < 0 ||
	    (rc = transport_set_nonblock(t->fd)) < 0) {
		snprintf(err, errlen, "cannot set up %s: %s", t->device,
		    strerror(-rc));
		return rc;
	}
	return 0;
}

/* Split "tcp://host:port" (host may be "[v6]") into its parts. */
static int
transport_parse_tcp(const char *device, char *host, size_t hostlen,
    char *port, size_t portlen)
{
	const char *p = device + 6;
	const char *colon, *end;
	size_t n;

	if (*p == '[') {
		end = strchr(p, ']');
		if (end == NULL || end[1] != ':')
			return -EINVAL;
		p++;
		colon = end + 1;
	} else {
		colon = strrchr(p, ':');
		if (colon == NULL)
			return -EINVAL;
		end = colon;
	}

	n = (size_t)(end - p);
	if (n == 0 || n >= hostlen)
		return -EINVAL;
	memcpy(host, p, n);
	host[n] = '\0';

	n = strlen(colon + 1);
	if (n == 0 || n >= portlen ||
	    strspn(colon + 1, "0123456789") != n)
		return -EINVAL;
	memcpy(port, colon + 1, n + 1);
	return 0;
}

/* Connect without blocking for longer than the connect timeout. */
static int
transport_connect(int fd, const struct addrinfo *ai)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	long long deadline = transport_now_ms() + TRANSPORT_CONNECT_TIMEOUT_MS;
	socklen_t len = sizeof(int);
	int soerr = 0, n;

	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return 0;
	if (errno != EINPROGRESS)
		return -errno;

	do {
		long long left = deadline - transport_now_ms();

		if (left <= 0)
			return -ETIMEDOUT;
		n = poll(&pfd, 1, (int)left);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -ETIMEDOUT;

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
		return -errno;
	return soerr != 0 ? -soerr : 0;
}

static int
transport_open_tcp(struct transport *t, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL, *ai;
	char host[256], port[8];
	int rc, gai, one = 1;

	if (transport_parse_tcp(t->device, host, sizeof(host), port,
	    sizeof(port)) < 0) {
		snprintf(err, errlen,
		    "bad device %s: expected tcp://host:port", t->device);
		return -EINVAL;
	}

	gai = getaddrinfo(host, port, &hints, &res);
	if (gai != 0) {
		snprintf(err, errlen, "cannot resolve %s: %s", t->device,
		    gai_strerror(gai));
		return -EHOSTUNREACH;
	}

	rc = -EHOSTUNREACH;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		t->fd = socket(ai->ai_family,
		    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (t->fd < 0) {
			rc = -errno;
			continue;
		}
		rc = transport_connect(t->fd, ai);
		if (rc == 0)
			break;
		close(t->fd);
		t->fd = -1;
	}
	freeaddrinfo(res);
	if (rc < 0) {
		snprintf(err, errlen, "cannot connect to %s: %s", t->device,
		    strerror(-rc));
		return rc;
	}

	/* AT lines are small and latency matters more than packets; keep-
	 * alive notices a ser2net host that vanished without a FIN. */
	setsockopt(t->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(t->fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	return 0;
}

int
transport_open(const char *device, int baud, enum transport_flow flow,
    struct transport **out, char *err, size_t errlen)
{
	struct transport *t;
	int rc;

	if (device == NULL || *device == '\0') {
		snprintf(err, errlen, "no device given");
		return -EINVAL;
	}
	if (strlen(device) >= sizeof(t->device)) {
		snprintf(err, errlen, "device name too long: %.40s...",
		    device);
		return -ENAMETOOLONG;
	}

	t = calloc(1, sizeof(*t));
	if (t == NULL) {
		snprintf(err, errlen, "out of memory opening %s", device);
		return -ENOMEM;
	}
	t->fd = -1;
	snprintf(t->device, sizeof(t->device), "%s", device);
	t->kind = transport_kind_of(device);

	switch (t->kind) {
	case TRANSPORT_TCP:
		rc = transport_open_tcp(t, err, errlen);
		break;
	case TRANSPORT_PTY:
		rc = transport_open_pty(t, err, errlen);
		break;
	default:
		rc = transport_open_serial(t, baud > 0 ? baud : 115200, flow,
		    err, errlen);
		break;
	}
	if (rc < 0)
		goto err;

	log_debug("transport: open device=%s kind=%d fd=%d", t->device,
	    (int)t->kind, t->fd);
	*out = t;
	return 0;

err:
	transport_close(t);
	return rc;
}

int
transport_fd(const struct transport *t)
{
	return t->fd;
}

ssize_t
transport_read(struct transport *t, void *buf, size_t len)
{
	ssize_t n;

	do {
		n = read(t->fd, buf, len);
	} while (n < 0 && errno == EINTR);

	if (n > 0)
		return n;
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (n == 0 && len > 0) {
		/* End of stream: a closed socket, a hung-up tty. */
		return t->kind == TRANSPORT_TCP ? -ECONNRESET : -EIO;
	}
	return n < 0 ? -errno : 0;
}

static ssize_t
transport_write_some(struct transport *t, const char *p, size_t len)
{
	/* A socket closed by the peer must not kill us with SIGPIPE. */
	if (t->kind == TRANSPORT_TCP)
		return send(t->fd, p, len, MSG_NOSIGNAL);
	return write(t->fd, p, len);
}

int
transport_write(struct transport *t, const void *buf, size_t len,
    int timeout_ms)
{
	struct pollfd pfd = { .fd = t->fd, .events = POLLOUT };
	long long deadline = transport_now_ms() + timeout_ms;
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		long long left;

		n = transport_write_some(t, p, len);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != EINTR)
			return -errno;

		left = deadline - transport_now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR)
			return -errno;
		if (pfd.revents & (POLLERR | POLLHUP | POLLNVAL))
			return -EIO;
	}
	return 0;
}

void
transport_flush_input(struct transport *t)
{
	char junk[256];

	if (t->kind != TRANSPORT_TCP)
		tcflush(t->fd, TCIFLUSH);
	while (transport_read(t, junk, sizeof(junk)) > 0)
		;
}

void
transport_close(struct transport *t)
{
	if (t == NULL)
		return;
	if (t->port != NULL) {
		/* sp_close() closes the descriptor it handed out. */
		if (t->sp_opened)
			sp_close(t->port);
		sp_free_port(t->port);
	} else if (t->fd >= 0) {
		close(t->fd);
	}
	free(t);
}
