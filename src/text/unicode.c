/* UTF-8 sanitising and character classes (see unicode.h). Every class has an ASCII fast path;
 * the rest asks utf8proc (Unicode 15 in Debian 12) for the general category. */
#include "text/unicode.h"

#include <utf8proc.h>

uint32_t utf8_sanitize_step(const unsigned char *s, size_t len, uint32_t *cp)
{
	unsigned char b0 = s[0];
	if (b0 < 0x80) {
		*cp = b0;
		return 1;
	}
	uint32_t need, v;
	unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the first continuation byte */
	if (b0 >= 0xC2 && b0 <= 0xDF) {
		need = 1;
		v = b0 & 0x1F;
	} else if (b0 >= 0xE0 && b0 <= 0xEF) {
		need = 2;
		v = b0 & 0x0F;
		if (b0 == 0xE0)
			lo = 0xA0; /* rejects overlong forms */
		else if (b0 == 0xED)
			hi = 0x9F; /* rejects surrogates */
	} else if (b0 >= 0xF0 && b0 <= 0xF4) {
		need = 3;
		v = b0 & 0x07;
		if (b0 == 0xF0)
			lo = 0x90;
		else if (b0 == 0xF4)
			hi = 0x8F; /* rejects values above U+10FFFF */
	} else {
		/* A lone continuation byte, C0/C1 (always overlong) or F5..FF. */
		*cp = UC_REPLACEMENT;
		return 1;
	}
	uint32_t i = 1;
	for (uint32_t k = 0; k < need; k++, i++) {
		if (i >= len) {
			*cp = UC_REPLACEMENT;
			return i;
		}
		unsigned char b = s[i];
		if (b < lo || b > hi) {
			/* The maximal subpart ends before the offending byte, which starts the next unit. */
			*cp = UC_REPLACEMENT;
			return i;
		}
		v = (v << 6) | (b & 0x3F);
		lo = 0x80;
		hi = 0xBF;
	}
	*cp = v;
	return i;
}

static inline int category(uint32_t c)
{
	return utf8proc_category((utf8proc_int32_t)c);
}

bool uc_is_whitespace(uint32_t c)
{
	if (c < 0x80)
		return c == ' ' || (c >= 0x09 && c <= 0x0D);
	switch (c) {
	case 0x85:
	case 0xA0:
	case 0x1680:
	case 0x2028:
	case 0x2029:
	case 0x202F:
	case 0x205F:
	case 0x3000: return true;
	default: return c >= 0x2000 && c <= 0x200A;
	}
}

bool uc_is_punct(uint32_t c)
{
	if (c < 0x80)
		return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
		       (c >= 123 && c <= 126);
	int cat = category(c);
	return cat >= UTF8PROC_CATEGORY_PC && cat <= UTF8PROC_CATEGORY_PO;
}

bool uc_is_bert_control(uint32_t c)
{
	if (c == '\t' || c == '\n' || c == '\r')
		return false;
	if (c < 0x80)
		return c < 0x20 || c == 0x7F;
	int cat = category(c);
	return cat == UTF8PROC_CATEGORY_CC || cat == UTF8PROC_CATEGORY_CF ||
	       cat == UTF8PROC_CATEGORY_CO || cat == UTF8PROC_CATEGORY_CS;
}

bool uc_is_chinese(uint32_t c)
{
	return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
	       (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
	       (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
	       (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

bool uc_is_mark_nonspacing(uint32_t c)
{
	return c >= 0x300 && category(c) == UTF8PROC_CATEGORY_MN;
}

bool uc_is_mark(uint32_t c)
{
	if (c < 0x300)
		return false;
	int cat = category(c);
	return cat == UTF8PROC_CATEGORY_MN || cat == UTF8PROC_CATEGORY_MC ||
	       cat == UTF8PROC_CATEGORY_ME;
}

bool uc_is_numeric(uint32_t c)
{
	if (c < 0x80)
		return c >= '0' && c <= '9';
	int cat = category(c);
	return cat == UTF8PROC_CATEGORY_ND || cat == UTF8PROC_CATEGORY_NL ||
	       cat == UTF8PROC_CATEGORY_NO;
}

bool uc_is_letter(uint32_t c)
{
	if (c < 0x80)
		return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
	int cat = category(c);
	return cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO;
}

bool uc_is_alphabetic(uint32_t c)
{
	if (c < 0x80)
		return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
	int cat = category(c);
	if ((cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO) ||
	    cat == UTF8PROC_CATEGORY_NL)
		return true;
	/* Other_Alphabetic symbols: circled, parenthesised and squared Latin letters. */
	return (c >= 0x24B6 && c <= 0x24E9) || (c >= 0x1F130 && c <= 0x1F149) ||
	       (c >= 0x1F150 && c <= 0x1F169) || (c >= 0x1F170 && c <= 0x1F189);
}

bool uc_is_word(uint32_t c)
{
	if (c < 0x80)
		return ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || (c >= '0' && c <= '9') ||
		       c == '_';
	if (c == 0x200C || c == 0x200D)
		return true;
	int cat = category(c);
	switch (cat) {
	case UTF8PROC_CATEGORY_MN:
	case UTF8PROC_CATEGORY_MC:
	case UTF8PROC_CATEGORY_ME:
	case UTF8PROC_CATEGORY_ND:
	case UTF8PROC_CATEGORY_PC: return true;
	default: return uc_is_alphabetic(c);
	}
}

bool uc_is_alphanumeric(uint32_t c)
{
	return uc_is_alphabetic(c) || uc_is_numeric(c);
}

int uc_to_lower(uint32_t c, uint32_t out[2])
{
	if (c < 0x80) {
		out[0] = (c >= 'A' && c <= 'Z') ? c + 32 : c;
		return 1;
	}
	if (c == 0x130) {
		/* LATIN CAPITAL LETTER I WITH DOT ABOVE: the one unconditional SpecialCasing entry. */
		out[0] = 'i';
		out[1] = 0x307;
		return 2;
	}
	out[0] = (uint32_t)utf8proc_tolower((utf8proc_int32_t)c);
	return 1;
}

int uc_ccc(uint32_t c)
{
	if (c < 0x300)
		return 0;
	return utf8proc_get_property((utf8proc_int32_t)c)->combining_class;
}
