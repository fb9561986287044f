/*
 * fuzz_pdu.c - libFuzzer target for the PDU decoder (and, for inputs that
 * are valid UTF-8, an encode/decode round trip).
 *
 * Build and run with scripts/fuzz.sh.  Every decoder entry point takes
 * untrusted bytes (pdu.h): whatever the input, it must return 0 or a
 * PDU_E* code without reading out of bounds, and on success leave a NUL
 * terminated text and a data length within the structure.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smsgw/pdu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_message(int rc, const struct pdu_message *m)
{
	if (rc > 0 || rc < PDU_EFIELD)
		abort();
	if (rc < 0)
		return;
	if (memchr(m->text, '\0', sizeof(m->text)) == NULL ||
	    memchr(m->number, '\0', sizeof(m->number)) == NULL ||
	    memchr(m->smsc, '\0', sizeof(m->smsc)) == NULL ||
	    m->data_len > sizeof(m->data))
		abort();
}

/*
 * Encoding then decoding a valid UTF-8 text gives the text back, with
 * the options that 'variant' picks: plain, forced UCS-2, 16-bit
 * references, or smart encoding (which may change the text, so only the
 * part count is checked against pdu_count_text()).
 */
static void
roundtrip(const char *text, unsigned variant)
{
	struct pdu_submit_options opt;
	struct pdu_encoded e;
	struct pdu_message m;
	struct pdu_count c;
	size_t k, len = 0, tl = strlen(text);

	pdu_submit_options_init(&opt);
	opt.force_ucs2 = variant == 1;
	opt.concat_ref16 = variant == 2;
	opt.concat_ref = variant == 2 ? 0xabcd : 0x42;
	opt.smart = variant == 3;
	if (pdu_encode_submit("+15551234567", text, &opt, &e) != 0)
		return;
	if (variant == 3) {
		if (pdu_count_text(text, 1, &c) != 0 || c.segments != e.nparts)
			abort();
		pdu_encoded_release(&e);
		return;
	}
	for (k = 0; k < e.nparts; k++) {
		if (pdu_decode_hex(e.parts[k].hex, 1, &m) != 0)
			abort();
		if (m.concat.present != (e.nparts > 1))
			abort();
		if (strlen(m.text) > tl - len ||
		    memcmp(text + len, m.text, strlen(m.text)) != 0)
			abort();
		len += strlen(m.text);
	}
	if (len != tl)
		abort();
	pdu_encoded_release(&e);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pdu_message m;
	struct pdu_count c;
	char *s;

	check_message(pdu_decode(data, size, 1, &m), &m);
	check_message(pdu_decode(data, size, 0, &m), &m);

	s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	check_message(pdu_decode_hex(s, 1, &m), &m);
	check_message(pdu_decode_hex(s, 0, &m), &m);
	if (size <= 2048 && pdu_count_text(s, 0, &c) == 0)
		roundtrip(s, (unsigned)size % 4);
	free(s);
	return 0;
}
