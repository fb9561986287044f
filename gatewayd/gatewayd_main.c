/*
 * gatewayd - the smsgw daemon.
 *
 *   gatewayd -c FILE     run with the configuration FILE
 *   gatewayd -c FILE -t  check the configuration and exit
 *
 * Start-up order matters: the store is migrated and recovered before any
 * worker claims a message (a message left in "sending" by a crash must be
 * settled first), and the API opens last, so that nothing is accepted
 * before it can be handled.  SIGINT and SIGTERM stop the daemon in the
 * reverse order: no new requests, then the workers, then the modems.
 */
#include <errno.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smsgw/api.h"
#include "smsgw/conf.h"
#include "smsgw/log.h"
#include "smsgw/modemsim.h"
#include "smsgw/store.h"
#include "smsgw/worker.h"

static void
usage(void)
{
	fprintf(stderr, "usage: gatewayd -c FILE [-t]\n");
	exit(2);
}

/* Settle what a previous run left half done, before any worker runs. */
static int
gatewayd_recover(const char *database)
{
	struct store *store;
	char err[256];
	int rc;

	rc = store_open(database, &store, err, sizeof(err));
	if (rc < 0) {
		log_error("gatewayd: cannot open database path=%s reason=\"%s\"",
		    database, err);
		return rc;
	}
	rc = store_recover(store);
	if (rc > 0)
		log_notice("gatewayd: recovered messages=%d", rc);
	store_close(store);
	return rc < 0 ? rc : 0;
}

/*
 * A modem with device "virtual" gets a modemsim of its own, with its
 * control socket beside the database, "<dir>/<name>.sim", and a link to
 * its pty, "<dir>/<name>.tty", which the worker opens: after a simulated
 * unplug the pty changes and the link follows it, as udev's names follow
 * a real modem.
 */
static int
gatewayd_start_virtual(const struct conf *conf, const struct conf_modem *mc,
    struct modemsim **sim, char *link, size_t linklen)
{
	struct modemsim_config sc;
	char *dbcopy, path[4096], err[256];
	int rc;

	dbcopy = strdup(conf->database);
	if (dbcopy == NULL)
		return -ENOMEM;
	snprintf(path, sizeof(path), "%s/%s.sim", dirname(dbcopy), mc->name);
	snprintf(link, linklen, "%.*s.tty", (int)(strlen(path) - 4), path);
	free(dbcopy);

	memset(&sc, 0, sizeof(sc));
	sc.control_path = path;
	sc.link_path = link;
	sc.pin = mc->pin;
	sc.quiet = 1;
	rc = modemsim_start(&sc, sim, err, sizeof(err));
	if (rc < 0) {
		log_error("gatewayd: virtual modem failed modem=%s reason=\"%s\"",
		    mc->name, err);
		return rc;
	}
	log_notice("gatewayd: virtual modem modem=%s device=%s control=%s",
	    mc->name, link, path);
	return 0;
}

int
main(int argc, char **argv)
{
	struct conf conf;
	struct api_context ctx;
	struct api *api = NULL;
	struct worker **workers = NULL;
	struct modemsim **sims = NULL;
	const char *path = NULL;
	char err[512];
	sigset_t sigs;
	size_t i;
	int opt, check = 0, sig, status = 1;

	while ((opt = getopt(argc, argv, "c:th")) != -1) {
		switch (opt) {
		case 'c':
			path = optarg;
			break;
		case 't':
			check = 1;
			break;
		default:
			usage();
		}
	}
	if (path == NULL || optind != argc)
		usage();

	if (conf_load(path, &conf, err, sizeof(err)) < 0) {
		fprintf(stderr, "gatewayd: %s\n", err);
		return 1;
	}
	if (check) {
		printf("gatewayd: %s: configuration ok\n", path);
		conf_release(&conf);
		return 0;
	}
	log_setup(conf.log_level, conf.log_personal_data);

	/* Signals are taken synchronously by this thread only: every thread
	 * started below inherits the mask. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (gatewayd_recover(conf.database) < 0)
		goto out;

	workers = calloc(conf.nmodems, sizeof(*workers));
	sims = calloc(conf.nmodems, sizeof(*sims));
	if (workers == NULL || sims == NULL)
		goto out;
	for (i = 0; i < conf.nmodems; i++) {
		const struct conf_modem *mc = &conf.modems[i];
		const char *device = NULL;
		char link[4096];

		if (strcmp(mc->device, "virtual") == 0) {
			if (gatewayd_start_virtual(&conf, mc, &sims[i], link,
			    sizeof(link)) < 0)
				goto out;
			device = link;
		}
		if (worker_start(mc, device, conf.database, &workers[i]) < 0) {
			log_error("gatewayd: cannot start worker modem=%s",
			    mc->name);
			goto out;
		}
	}

	ctx.conf = &conf;
	ctx.workers = workers;
	ctx.nworkers = conf.nmodems;
	if (api_start(&ctx, &api, err, sizeof(err)) < 0) {
		log_error("gatewayd: %s", err);
		goto out;
	}
	log_notice("gatewayd: started listen=%s:%d modems=%zu database=%s",
	    conf.http_host, conf.http_port, conf.nmodems, conf.database);

	if (sigwait(&sigs, &sig) == 0)
		log_notice("gatewayd: stopping signal=%s",
		    sig == SIGINT ? "INT" : "TERM");
	status = 0;
out:
	if (api != NULL)
		api_stop(api);
	for (i = 0; workers != NULL && i < conf.nmodems; i++)
		worker_stop(workers[i]);
	for (i = 0; sims != NULL && i < conf.nmodems; i++)
		if (sims[i] != NULL)
			modemsim_stop(sims[i]);
	free(workers);
	free(sims);
	conf_release(&conf);
	if (status == 0)
		log_notice("gatewayd: stopped");
	return status;
}
