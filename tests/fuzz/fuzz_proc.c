/* fuzz_proc.c - libFuzzer target for the /proc parsers. The first byte picks one: 0 stat,
 * 1 pidfile, 2 cmdline (then a length byte and that many bytes of needle before the cmdline). */
#include "fuzz_common.h"

#include <limits.h>

#include "vh/proc.h"

static void check_err(const char *err, size_t err_len) {
	FUZZ_CHECK(strnlen(err, err_len) < err_len, "error not NUL-terminated");
	FUZZ_CHECK(err[0] != '\0', "failure without a reason");
	FUZZ_CHECK(!fuzz_has_control(err), "control character in an error");
}

static void fuzz_stat(const char *text, size_t len) {
	struct vh_proc_stat st;
	char err[160];
	if (vh_proc_parse_stat(text, len, &st, err, sizeof(err))) {
		FUZZ_CHECK(strnlen(st.comm, sizeof(st.comm)) < sizeof(st.comm),
				"comm not terminated");
		/* comm sits between the first '(' and the last ')', so it never holds that ')' and
		 * the text holds it. */
		FUZZ_CHECK(memchr(text, ')', len) != NULL, "parsed a stat line without ')'");
	} else {
		check_err(err, sizeof(err));
	}
}

/* The blanks src/proc.c skips; \v and \f are not among them. */
static bool is_space(char c) {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* The pidfile contract, written out plainly: blanks, 1 to INT_MAX in decimal with at most 31
 * digits (vh_kernfile_parse_u64()'s limit, leading zeros included), blanks. */
static bool model_pidfile(const char *text, size_t len, long long *pid) {
	size_t i = 0;
	while (i < len && is_space(text[i])) {
		i++;
	}
	long long value = 0;
	size_t digits = 0;
	for (; i < len && text[i] >= '0' && text[i] <= '9'; i++, digits++) {
		if (value <= INT_MAX) {
			value = value * 10 + (text[i] - '0');
		}
	}
	while (i < len && is_space(text[i])) {
		i++;
	}
	*pid = value;
	return digits > 0 && digits <= 31 && i == len && value >= 1 && value <= INT_MAX;
}

static void fuzz_pidfile(const char *text, size_t len) {
	pid_t pid = -1;
	char err[160];
	long long expect;
	bool ok = vh_proc_parse_pidfile(text, len, &pid, err, sizeof(err));
	bool model_ok = model_pidfile(text, len, &expect);
	FUZZ_CHECK(ok == model_ok, "pidfile parser disagrees with its contract");
	if (ok) {
		FUZZ_CHECK(pid == (pid_t)expect, "pidfile parser read the wrong pid");
	} else {
		check_err(err, sizeof(err));
	}
}

/* The contract of vh_proc_cmdline_contains(): join with spaces, leaving out one final NUL. */
static bool model_cmdline(const char *cmdline, size_t len, const char *needle) {
	size_t n = strlen(needle);
	if (len > 0 && cmdline[len - 1] == '\0') {
		len--;
	}
	if (n == 0 || n > len) {
		return false;
	}
	char *joined = malloc(len + 1);
	FUZZ_CHECK(joined, "out of memory");
	for (size_t i = 0; i < len; i++) {
		joined[i] = cmdline[i] == '\0' ? ' ' : cmdline[i];
	}
	joined[len] = '\0';
	bool found = strstr(joined, needle) != NULL;
	free(joined);
	return found;
}

static void fuzz_cmdline(const uint8_t *data, size_t size) {
	if (size < 1) {
		return;
	}
	size_t n = data[0] < size - 1 ? data[0] : size - 1;
	char *needle = fuzz_strndup(data + 1, n);
	const char *cmdline = (const char *)data + 1 + n;
	size_t len = size - 1 - n;
	FUZZ_CHECK(vh_proc_cmdline_contains(cmdline, len, needle) ==
					model_cmdline(cmdline, len, needle),
			"cmdline match disagrees with its contract");
	free(needle);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	if (size < 1) {
		return 0;
	}
	/* The parsers get the bytes where libFuzzer put them, unterminated, so ASan sees any read
	 * past len. */
	const char *text = (const char *)data + 1;
	switch (data[0] % 3) {
	case 0:
		fuzz_stat(text, size - 1);
		break;
	case 1:
		fuzz_pidfile(text, size - 1);
		break;
	default:
		fuzz_cmdline(data + 1, size - 1);
		break;
	}
	return 0;
}
