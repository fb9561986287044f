/*
 * smsctl.h - subcommands of the smsctl command-line client that live
 * outside smsctl_main.c, so that tests can run them in-process.
 */
#ifndef SMSGW_SMSCTL_H
#define SMSGW_SMSCTL_H

#include <stdio.h>

/*
 * `smsctl pdu decode|encode|count ...`: the PDU codec from the command
 * line (see the usage text in smsctl_pdu.c).  argv[0] is "pdu".  Results
 * go to 'out', a one-line error to 'err'.  Returns the exit status: 0 on
 * success, 1 on invalid input or usage.
 */
int smsctl_pdu_main(int argc, char **argv, FILE *out, FILE *err);

#endif
