/* The state folder: see state_dir.h. */
#include "state_dir.h"
#include "base.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const wf_state_entry_t wf_state_entries[] = {
	{ "certs", true },
	{ "acme", true },
	{ NULL, false },
};

int wf_state_check(const char *state_dir, const char *config_real, char *err, size_t errlen)
{
	char *real = realpath(state_dir, NULL);
	if (!real)
		return WF_OK;
	size_t n = strlen(real);
	int rc = WF_OK;
	if (strcmp(real, "/") == 0) {
		snprintf(err, errlen, "state_dir %s is the root folder: give the state a folder of its own", state_dir);
		rc = WF_ERR;
	} else if (strncmp(config_real, real, n) == 0 && config_real[n] == '/') {
		snprintf(err, errlen, "state_dir %s holds the config file %s: give the state a folder of its own",
			 state_dir, config_real);
		rc = WF_ERR;
	}
	free(real);
	return rc;
}
