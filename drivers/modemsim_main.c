/*
 * modemsim_main.c - the modemsim program.
 *
 *   modemsim [--link PATH] [--control PATH] [--pin PIN] [--latency MS]
 *            [--slots N] [--quiet]
 *	Run a virtual modem until SIGINT or SIGTERM; print its pty path.
 *
 *   modemsim ctl SOCKET COMMAND...
 *	Send one control command and print the reply.  Exit status 0 on
 *	an "OK" reply, 1 on "ERR", 2 when the socket failed.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smsgw/log.h"
#include "smsgw/modemsim.h"

#define MODEMSIM_CTL_TIMEOUT_MS	10000

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: modemsim [--link PATH] [--control PATH] [--pin PIN]\n"
	    "                [--latency MS] [--slots N] [--quiet]\n"
	    "       modemsim ctl SOCKET COMMAND...\n");
}

/* A whole decimal number in [min, max], or -1. */
static int
parse_num(const char *s, long min, long max, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return -1;
	*out = (int)v;
	return 0;
}

static int
run_ctl(int argc, char **argv)
{
	char command[4096], *reply = NULL;
	size_t len = 0;
	int i, rc, n;

	if (argc < 4) {
		usage(stderr);
		return 2;
	}
	command[0] = '\0';
	for (i = 3; i < argc; i++) {
		n = snprintf(command + len, sizeof(command) - len, "%s%s",
		    i > 3 ? " " : "", argv[i]);
		if (n < 0 || (size_t)n >= sizeof(command) - len) {
			fprintf(stderr, "modemsim: command too long\n");
			return 2;
		}
		len += (size_t)n;
	}

	rc = modemsim_control_client(argv[2], command,
	    MODEMSIM_CTL_TIMEOUT_MS, &reply);
	if (rc < 0) {
		fprintf(stderr, "modemsim: %s: %s\n", argv[2], strerror(-rc));
		return 2;
	}
	printf("%s\n", reply);
	free(reply);
	return rc == 0 ? 0 : 1;
}

static int
run_sim(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "link", required_argument, NULL, 'l' },
		{ "control", required_argument, NULL, 'c' },
		{ "pin", required_argument, NULL, 'p' },
		{ "latency", required_argument, NULL, 't' },
		{ "slots", required_argument, NULL, 's' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct modemsim_config config;
	struct modemsim *sim;
	char err[256];
	sigset_t set;
	int c, sig, rc;

	memset(&config, 0, sizeof(config));
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			config.link_path = optarg;
			break;
		case 'c':
			config.control_path = optarg;
			break;
		case 'p':
			config.pin = optarg;
			break;
		case 't':
			if (parse_num(optarg, 0, 3600000,
			    &config.send_latency_ms) < 0) {
				fprintf(stderr, "modemsim: bad --latency\n");
				return 2;
			}
			break;
		case 's':
			if (parse_num(optarg, 1, 1000,
			    &config.storage_slots) < 0) {
				fprintf(stderr, "modemsim: bad --slots\n");
				return 2;
			}
			break;
		case 'q':
			config.quiet = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}

	/* Block the signals before the modem's thread starts, so that
	 * only sigwait() below sees them. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	rc = modemsim_start(&config, &sim, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "modemsim: cannot start: %s\n", err);
		return 1;
	}
	printf("%s\n", modemsim_device(sim));
	fflush(stdout);

	while (sigwait(&set, &sig) != 0)
		;
	if (!config.quiet)
		log_info("modemsim: exiting signal=%d", sig);
	modemsim_stop(sim);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "ctl") == 0)
		return run_ctl(argc, argv);
	return run_sim(argc, argv);
}
