/*
 * harness.h - end-to-end test harness.
 *
 * Starts the real modemsim program on a pseudo-terminal and the real
 * gatewayd against it, each as a child process with its files in a fresh
 * temporary folder, and talks to them as a client would: HTTP with libcurl
 * to 127.0.0.1, the modem's control socket.  Every wait is a condition
 * checked until a deadline, never a fixed sleep, so the tests hold on a
 * loaded machine under sanitizers.
 *
 * The binaries are taken from e->bindir, else $SMSGW_BUILD, else
 * build/asan.
 */
#ifndef SMSGW_E2E_HARNESS_H
#define SMSGW_E2E_HARNESS_H

#include <jansson.h>
#include <sys/types.h>

/* Generous: sanitizers and a busy 2-core machine slow everything. */
#define E2E_DEADLINE_MS	30000

struct e2e {
	char	dir[256];
	char	conf[320];
	char	db[320];
	char	link[320];	/* the modem's pty, via modemsim --link */
	char	control[320];	/* modemsim's control socket */
	char	url[64];	/* http://127.0.0.1:PORT */
	char	token[64];
	int	port;
	pid_t	sim_pid;
	pid_t	gw_pid;
	/* Set before e2e_setup_with(); "" for the defaults. */
	char	modem_extra[128];	/* modem group settings, e.g.
					 * "send_timeout = 5;" */
	char	log_level[16];		/* gatewayd's; default "debug" */
	char	bindir[256];		/* default $SMSGW_BUILD */
};

/* Temp folder, modemsim, configuration, gatewayd; waits until the API
 * answers and the modem is ready.  Returns 0 or -1 (after printing why). */
int e2e_setup(struct e2e *e);

/* cmocka group fixtures: *state becomes a struct e2e set up with
 * e2e_setup(), which every test of the group receives as its state. */
int e2e_group_setup(void **state);
int e2e_group_teardown(void **state);

/* Poll the inbound list until a message with 'text' shows up; returns it
 * (to json_decref) or NULL at the deadline. */
json_t *e2e_wait_inbound(struct e2e *e, const char *text);

/* Start like e2e_setup(), keeping the settings made in 'e' before. */
int e2e_setup_with(struct e2e *e);

/* Stop both processes and remove the folder.  Returns -1 if either did
 * not exit cleanly (a sanitizer report, a crash), else 0. */
int e2e_teardown(struct e2e *e);

/* Start gatewayd on the existing folder and wait until it is ready. */
int e2e_gateway_start(struct e2e *e);

/* SIGKILL gatewayd (a crash, a power cut) and reap it. */
void e2e_gateway_kill(struct e2e *e);

/* SIGTERM gatewayd and wait; returns its exit status (0 when clean), or
 * -1 when it had to be killed or died of a signal. */
int e2e_gateway_stop(struct e2e *e);

/*
 * One HTTP request.  'token' NULL sends no Authorization header; 'body'
 * NULL sends none.  '*json' receives the parsed body (NULL if not JSON).
 * Returns the HTTP status, or -1 on a transport error.
 */
long e2e_http(struct e2e *e, const char *method, const char *path,
    const char *body, const char *token, json_t **json);

/* POST a message {"to","text"} and return its id, or -1. */
long long e2e_send(struct e2e *e, const char *to, const char *text);

/* Poll GET /api/v1/messages/{id} until its state is 'state'; returns the
 * message (to json_decref) or NULL at the deadline. */
json_t *e2e_wait_state(struct e2e *e, long long id, const char *state);

/* A control command to modemsim; '*reply' is to free.  Returns 0 on an
 * "OK" reply. */
int e2e_sim(struct e2e *e, const char *command, char **reply);

/*
 * Wait until modemsim has received at least 'count' PDUs through AT+CMGS;
 * returns a heap array of 'count'... all received PDU hex strings, oldest
 * first, NULL-terminated (free with e2e_strv_free), or NULL at the
 * deadline.
 */
char **e2e_wait_sent(struct e2e *e, size_t count);
void e2e_strv_free(char **v);

/* A port the kernel reports free on 127.0.0.1 right now (another
 * process may still take it before we bind it; -1 on failure). */
int e2e_free_port(void);

/* fork/exec 'argv' (argv[0] a path) with stdout and stderr appended to
 * 'logpath'; returns the child's pid or -1. */
pid_t e2e_spawn(char *const argv[], const char *logpath);

/* A short pause between two checks of a condition. */
void e2e_pause(void);

/* Print the gateway's log (on a failure, to see why). */
void e2e_dump_log(struct e2e *e);

#endif
