/* probes.c - maps a check's type to the probe that implements it. */
#include "vh/probes.h"

#include <stdio.h>

#include "vh/cgroup_probe.h"
#include "vh/http_probe.h"
#include "vh/pg_probe.h"
#include "vh/process_probe.h"
#include "vh/redis_probe.h"
#include "vh/tcp_probe.h"

bool vh_probes_create(const struct vh_probe_env *env, const struct vh_check_config *config,
		struct vh_probe *out, char *err, size_t err_len) {
	switch (config->type) {
	case VH_CHECK_PROCESS:
		return vh_process_probe_create(&config->u.process, "/proc", out, err, err_len);
	case VH_CHECK_CGROUP:
		return vh_cgroup_probe_create(&config->u.cgroup, out, err, err_len);
	case VH_CHECK_POSTGRES:
		return vh_pg_probe_create(env, &config->u.postgres, out, err, err_len);
	case VH_CHECK_REDIS:
		return vh_redis_probe_create(env, &config->u.redis, out, err, err_len);
	case VH_CHECK_TCP:
		return vh_tcp_probe_create(env, &config->u.tcp, out, err, err_len);
	case VH_CHECK_HTTP:
		return vh_http_probe_create(env, &config->u.http, out, err, err_len);
	}
	snprintf(err, err_len, "check \"%s\": unsupported type", config->name);
	return false;
}
