/* UTF-8 decoding and the Unicode character classes the tokenizer pipeline needs, each defined
 * the way Hugging Face `tokenizers` (Rust `char` methods and the `unicode_categories` crate)
 * defines it, with the data from utf8proc.
 *
 * Two decoders: utf8_sanitize_step reads untrusted bytes and reports invalid input as U+FFFD
 * with the length of the maximal invalid subsequence (Unicode ch. 3, "U+FFFD substitution of
 * maximal subparts", the WHATWG practice); utf8_decode reads text that is known to be valid
 * (everything after sanitising) and is the fast path. */
#ifndef SY_TEXT_UNICODE_H
#define SY_TEXT_UNICODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UC_REPLACEMENT 0xFFFDu

/* Decodes one unit of untrusted bytes s[0, len) (len >= 1). Returns the number of bytes it covers
 * (1..4, never more than len) and stores the code point, or U+FFFD for a maximal invalid
 * subsequence (a lone continuation byte, a truncated or overlong sequence, a surrogate, a value
 * above U+10FFFF, bytes C0, C1, F5..FF). */
uint32_t utf8_sanitize_step(const unsigned char *s, size_t len, uint32_t *cp);

/* Length of the valid UTF-8 character whose lead byte is c. */
static inline uint32_t utf8_lead_len(unsigned char c)
{
	return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}

/* Decodes one character of valid UTF-8; *n receives its length. */
static inline uint32_t utf8_decode(const char *p, uint32_t *n)
{
	const unsigned char *s = (const unsigned char *)p;
	if (s[0] < 0x80) {
		*n = 1;
		return s[0];
	}
	if (s[0] < 0xE0) {
		*n = 2;
		return ((uint32_t)(s[0] & 0x1F) << 6) | (s[1] & 0x3F);
	}
	if (s[0] < 0xF0) {
		*n = 3;
		return ((uint32_t)(s[0] & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) |
		       (s[2] & 0x3F);
	}
	*n = 4;
	return ((uint32_t)(s[0] & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) |
	       ((uint32_t)(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
}

/* Encodes cp (a valid scalar value) into out[0..3]; returns its length. */
static inline uint32_t utf8_encode(uint32_t cp, char *out)
{
	unsigned char *o = (unsigned char *)out;
	if (cp < 0x80) {
		o[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (unsigned char)(0xC0 | (cp >> 6));
		o[1] = (unsigned char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (unsigned char)(0xE0 | (cp >> 12));
		o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		o[2] = (unsigned char)(0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (unsigned char)(0xF0 | (cp >> 18));
	o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
	o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
	o[3] = (unsigned char)(0x80 | (cp & 0x3F));
	return 4;
}

/* Rust char::is_whitespace: the Unicode White_Space property. */
bool uc_is_whitespace(uint32_t c);
/* Bert / Punctuation pre-tokenizer punctuation: ASCII punctuation or a P* category. */
bool uc_is_punct(uint32_t c);
/* BertNormalizer control characters: categories Cc, Cf, Co, Cs, except tab, newline and carriage
 * return (which count as whitespace). Unassigned code points (Cn) are kept, as the reference does. */
bool uc_is_bert_control(uint32_t c);
/* BertNormalizer "Chinese character": the CJK Unified Ideographs blocks and their extensions. */
bool uc_is_chinese(uint32_t c);
/* General category Mn (nonspacing mark): what BertNormalizer strip_accents removes after NFD. */
bool uc_is_mark_nonspacing(uint32_t c);
/* Any mark (Mn, Mc, Me): what the StripAccents normalizer removes. */
bool uc_is_mark(uint32_t c);
/* Rust char::is_numeric: categories Nd, Nl, No. */
bool uc_is_numeric(uint32_t c);
/* Rust char::is_alphabetic (the Alphabetic property, approximated from categories as letters,
 * Nl, marks and the circled/squared Latin letters that are Other_Alphabetic). */
bool uc_is_alphabetic(uint32_t c);
/* The regex class \w with Unicode semantics: Alphabetic, marks, Nd, Pc, Join_Control. */
bool uc_is_word(uint32_t c);
/* Rust char::is_alphanumeric. */
bool uc_is_alphanumeric(uint32_t c);
/* Letter (L*) or number (N*): the classes \p{L} and \p{N} of the byte-level regex. */
bool uc_is_letter(uint32_t c);
/* Full lowercase mapping as Rust char::to_lowercase gives it (the only unconditional multi-
 * character mapping is U+0130). Writes 1 or 2 code points to out and returns how many. */
int uc_to_lower(uint32_t c, uint32_t out[2]);
/* Canonical combining class. */
int uc_ccc(uint32_t c);

/* GPT-2's byte-level alphabet: the printable character that stands for byte b (bytes that are
 * printable Latin-1 stand for themselves, the other 68 map to U+0100 upwards in byte order). */
static inline uint32_t uc_byte_level_char(unsigned char b)
{
	if (b <= 0x20)
		return 0x100 + b;
	if (b >= 0x7F && b <= 0xA0)
		return 0x100 + 33 + (b - 0x7F);
	if (b == 0xAD)
		return 0x100 + 67;
	return b;
}

#endif
