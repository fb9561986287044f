/*
 * conf.h - the configuration file (libconfig syntax).
 *
 *   http = { listen = "127.0.0.1:8080"; token = "..."; };
 *   database = "/var/lib/smsgw/smsgw.db";
 *   modems = ( { name = "office-1"; device = "/dev/smsgw/office-1";
 *                pin = "1234"; }, ... );
 *
 * The module is "conf" because libconfig owns the config_ prefix.
 * Unknown keys and bad values are errors that name the file and line.
 */
#ifndef SMSGW_CONF_H
#define SMSGW_CONF_H

#include <stddef.h>

#include "smsgw/transport.h"

struct conf_modem {
	char	*name;		/* [A-Za-z0-9_-]{1,32}, unique */
	char	*device;	/* path, "tcp://host:port" or "virtual" */
	char	*pin;		/* NULL when none */
	int	baud;		/* serial only; default 115200 */
	enum transport_flow flow; /* serial only; default none */
	int	send_timeout;	/* seconds to wait for the answer to a
				 * sent PDU; default 120 */
};

struct conf {
	char			*http_host;	/* from http.listen */
	int			http_port;
	char			*http_token;	/* bootstrap admin token */
	char			*database;
	struct conf_modem	*modems;
	size_t			nmodems;
	int			log_level;	/* enum log_level */
	int			log_personal_data;
	int			smart_encoding;	/* default for messages */
};

/*
 * Read and check 'path'.  Returns 0 with 'out' filled, or -1 with a
 * message "FILE:LINE: what is wrong" in 'err'.
 */
int conf_load(const char *path, struct conf *out, char *err, size_t errlen);

void conf_release(struct conf *conf);

#endif
