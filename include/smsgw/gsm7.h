/*
 * gsm7.h - the GSM 7-bit alphabets of 3GPP TS 23.038 section 6.2.
 *
 * Tables only, used by the PDU codec (pdu.c): the default alphabet and its
 * extension table (6.2.1), and the national language locking shift and
 * single shift tables (Annex A).  Pure data: no state, safe from any
 * thread.
 */
#ifndef SMSGW_GSM7_H
#define SMSGW_GSM7_H

#include <stdint.h>

#define GSM7_ESC	0x1b	/* escape to the extension table, 6.2.1.1 */

/*
 * National language identifiers, TS 23.038 6.2.1.2.4 (the values that
 * follow IEI 0x24 and 0x25 of TS 23.040 9.2.3.24.15/16).
 */
enum gsm7_lang {
	GSM7_LANG_DEFAULT = 0,
	GSM7_LANG_TURKISH = 1,
	GSM7_LANG_SPANISH = 2,
	GSM7_LANG_PORTUGUESE = 3,
	GSM7_LANG_BENGALI = 4,
	GSM7_LANG_GUJARATI = 5,
	GSM7_LANG_HINDI = 6,
	GSM7_LANG_KANNADA = 7,
	GSM7_LANG_MALAYALAM = 8,
	GSM7_LANG_ORIYA = 9,
	GSM7_LANG_PUNJABI = 10,
	GSM7_LANG_TAMIL = 11,
	GSM7_LANG_TELUGU = 12,
	GSM7_LANG_URDU = 13,
};

/*
 * The locking shift table of 'lang' (128 code points indexed by septet,
 * 0 where the table leaves a position undefined), or the default
 * alphabet for GSM7_LANG_DEFAULT and for a language with no locking
 * shift table of its own.
 */
const uint16_t *gsm7_locking_table(unsigned lang);

/*
 * The single shift table of 'lang' (what follows an escape septet), 0
 * where undefined; the default extension table for GSM7_LANG_DEFAULT and
 * for an unknown language.
 */
const uint16_t *gsm7_single_table(unsigned lang);

/* Septet of 'cp' in the default alphabet, or -1. */
int gsm7_default_septet(uint32_t cp);

/* Septet (to follow an escape) of 'cp' in the default extension table,
 * or -1. */
int gsm7_ext_septet(uint32_t cp);

#endif
