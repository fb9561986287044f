/*
 * transport.h - a byte stream to a modem.
 *
 * A modem's "device" is one of:
 *   - a serial device (/dev/ttyUSB2, /dev/smsgw/office-1): libserialport,
 *     8N1 at the given baud rate, with the given flow control;
 *   - a pseudo-terminal (the virtual modem, socat): termios in raw mode,
 *     since libserialport needs a sysfs tty device behind the path;
 *   - "tcp://host:port": a modem exported by ser2net.
 * The descriptor is non-blocking so that a worker can poll it together
 * with its wake-up eventfd.
 */
#ifndef SMSGW_TRANSPORT_H
#define SMSGW_TRANSPORT_H

#include <stddef.h>
#include <sys/types.h>

enum transport_flow {
	TRANSPORT_FLOW_NONE,
	TRANSPORT_FLOW_RTSCTS,
	TRANSPORT_FLOW_XONXOFF,
};

enum transport_kind {
	TRANSPORT_SERIAL,
	TRANSPORT_PTY,
	TRANSPORT_TCP,
};

struct transport;

/*
 * Open 'device'.  'baud' and 'flow' apply to serial devices only.  On
 * failure returns a negative errno value and writes a one-line reason
 * into 'err' (naming the device).
 */
int transport_open(const char *device, int baud, enum transport_flow flow,
    struct transport **out, char *err, size_t errlen);

/* Which of the three kinds 'device' names, decided from the path alone
 * plus the sysfs check; does not open it. */
enum transport_kind transport_kind_of(const char *device);

/* The descriptor to poll for input (POLLIN). */
int transport_fd(const struct transport *t);

/*
 * Read what is available, without blocking.  Returns the byte count,
 * 0 when nothing is waiting, or -EIO / -ECONNRESET / another negative
 * errno when the device is gone (a pulled cable, a closed socket).
 */
ssize_t transport_read(struct transport *t, void *buf, size_t len);

/*
 * Write all of 'buf', waiting up to 'timeout_ms' for the device to take
 * it.  Returns 0, -ETIMEDOUT, or another negative errno.
 */
int transport_write(struct transport *t, const void *buf, size_t len,
    int timeout_ms);

/* Discard unread input (used before init, to drop boot noise). */
void transport_flush_input(struct transport *t);

void transport_close(struct transport *t);

#endif
