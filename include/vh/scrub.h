/* vh/scrub.h - makes error text from libraries safe to show: no secrets, one line. */
#ifndef VH_SCRUB_H
#define VH_SCRUB_H
#include <stddef.h>

/* Copies text into out (out_len bytes, always NUL-terminated, truncated to fit) with: every
 * occurrence of each of the n_secrets strings (NULL or empty ones are skipped) replaced by "***";
 * the user info of any URL (the "user:pass" of "scheme://user:pass@host") replaced by "***";
 * the value of any "password=" keyword (any case, quoted or bare) replaced by "***"; control
 * characters replaced by '?'; and white space that holds a line break collapsed into "; " (a
 * space after punctuation), tabs into a space, with leading and trailing white space dropped.
 * Truncation never leaves half a UTF-8 character. Returns out. This function can't fail (out of
 * memory, it writes a fixed notice instead of the text). */
char *vh_scrub(const char *text, const char *const *secrets, size_t n_secrets, char *out,
		size_t out_len);

#endif
