/* kernfile.c - reading and parsing the small text files of /proc and cgroupfs. */
#include "vh/kernfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A uint64_t has 20 digits; anything longer is malformed. */
#define DIGITS_MAX 32

int vh_kernfile_read(const char *path, char *buf, size_t cap, size_t *len) {
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return errno;
	}
	size_t got = 0;
	while (got < cap) {
		ssize_t n = read(fd, buf + got, cap - got);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0) {
			int e = errno;
			close(fd);
			return e;
		}
		if (n == 0) {
			break;
		}
		got += (size_t)n;
	}
	close(fd);
	*len = got;
	return 0;
}

bool vh_kernfile_parse_u64(const char *s, size_t n, uint64_t *out) {
	char buf[DIGITS_MAX];
	if (n == 0 || n >= sizeof(buf)) {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9') {
			return false;
		}
	}
	memcpy(buf, s, n);
	buf[n] = '\0';
	char *end;
	errno = 0;
	unsigned long long value = strtoull(buf, &end, 10);
	if (errno != 0 || *end != '\0') {
		return false;
	}
	*out = value;
	return true;
}
