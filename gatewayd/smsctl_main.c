/*
 * smsctl - the admin's command-line tool.
 *
 *   smsctl pdu decode|encode|count ...   the PDU codec (smsctl_pdu.c)
 *
 * Each subcommand lives in its own file behind a function taking argv, so
 * that tests can run it in-process.
 */
#include <stdio.h>
#include <string.h>

#include "smsgw/smsctl.h"

static int
usage(FILE *f)
{
	fprintf(f,
	    "usage: smsctl pdu decode [--no-smsc] HEX\n"
	    "       smsctl pdu encode [--smsc NUM] [--status-report] "
	    "[--validity MIN]\n"
	    "                         [--class N] [--ucs2] [--smart] TO TEXT\n"
	    "       smsctl pdu count [--smart] TEXT\n");
	return f == stdout ? 0 : 2;
}

int
main(int argc, char **argv)
{
	if (argc < 2)
		return usage(stderr);
	if (strcmp(argv[1], "pdu") == 0)
		return smsctl_pdu_main(argc - 1, argv + 1, stdout, stderr);
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)
		return usage(stdout);
	fprintf(stderr, "smsctl: unknown command '%s'\n", argv[1]);
	return usage(stderr);
}
