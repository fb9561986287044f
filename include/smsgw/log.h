/*
 * log.h - one-line, greppable log messages.
 *
 * Every line reads "module: event key=value ...", e.g.
 *   queue: sent id=42 modem=office-1 parts=2/2 mr=17
 * Lines go to stderr (systemd's journal picks them up) with a level tag.
 * Phone numbers and message texts are personal data: pass them through
 * log_mask_number()/log_mask_text() so they appear masked unless the admin
 * set log_personal_data.
 */
#ifndef SMSGW_LOG_H
#define SMSGW_LOG_H

#include <stddef.h>

enum log_level {
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARN,
	LOG_LEVEL_NOTICE,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

/* Lines above 'level' are dropped; 'personal' != 0 logs numbers and texts
 * in clear.  Safe to call before any thread starts; defaults are INFO and
 * masked. */
void log_setup(enum log_level level, int personal);

/* Parse "error", "warn", "notice", "info" or "debug"; -1 if unknown. */
int log_level_parse(const char *name);

void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_error(...)	log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_notice(...)	log_msg(LOG_LEVEL_NOTICE, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...)	log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

/* Nonzero when debug lines are kept: lets callers skip building them. */
int log_debug_enabled(void);

/*
 * Mask a phone number for the log ("+1555***4567" keeps the country part
 * and the last four digits) into 'buf' and return 'buf'.  Returns the
 * number itself, unmasked, when personal data logging is on.
 */
const char *log_mask_number(const char *number, char *buf, size_t len);

/* Same for a message text: "[23 chars]" unless personal data is on, in
 * which case the text is copied (truncated to fit 'buf'). */
const char *log_mask_text(const char *text, char *buf, size_t len);

#endif
