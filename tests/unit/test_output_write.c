/* Output files: a rename that fails part-way through the set does not stop
 * the others, so fullchain.pem never stays behind a new privkey.pem. */
#include "check.h"
#include "acme/output.h"
#include "server/buf.h"
#include "server/cert_selfsigned.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static void make_pair(wf_buf_t *cert, wf_buf_t *key)
{
	char *domains[] = { "out.test" };
	wf_buf_init(cert, 1 << 16);
	wf_buf_init(key, 1 << 16);
	CHECK(wf_selfsigned_make(domains, 1, NULL, cert, key) == WF_OK);
}

static bool holds(const char *dir, const char *name, wf_buf_t *want)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "rb");
	if (!f)
		return false;
	char got[1 << 16];
	size_t n = fread(got, 1, sizeof(got), f);
	fclose(f);
	return n == wf_buf_size(want) && memcmp(got, wf_buf_head(want), n) == 0;
}

static int temps_left(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;
	for (struct dirent *e; (e = readdir(d));)
		n += strstr(e->d_name, ".tmp.") != NULL;
	closedir(d);
	return n;
}

static void test_failed_rename_does_not_stop_the_rest(void)
{
	char dir[] = "/tmp/wharf-output-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	wf_buf_t cert1, key1, cert2, key2;
	make_pair(&cert1, &key1);
	make_pair(&cert2, &key2);
	char err[512] = "";
	bool changed = false;
	CHECK_EQ_INT(acme_output_write(dir, wf_buf_slice(&cert1), wf_buf_slice(&key1), &changed, err, sizeof(err)),
		     WF_OK);
	CHECK(changed);
	/* cert.pem becomes a folder with a file in it: no file can be renamed
	 * over it, though one can be written beside it. */
	char path[512];
	snprintf(path, sizeof(path), "%s/cert.pem", dir);
	CHECK_EQ_INT(unlink(path), 0);
	CHECK_EQ_INT(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/cert.pem/x", dir);
	close(open(path, O_CREAT | O_WRONLY, 0600));
	CHECK_EQ_INT(acme_output_write(dir, wf_buf_slice(&cert2), wf_buf_slice(&key2), &changed, err, sizeof(err)),
		     WF_ERR);
	CHECK(strstr(err, "cannot replace") != NULL && strstr(err, "/cert.pem: ") != NULL);
	CHECK(changed);
	/* The files after the one refused are the new pair's too: a service
	 * reading privkey.pem and fullchain.pem finds them in step. */
	CHECK(holds(dir, "privkey.pem", &key2));
	CHECK(holds(dir, "fullchain.pem", &cert2));
	CHECK_EQ_INT(temps_left(dir), 0);
	/* Once the folder is gone, the next write completes the set. */
	CHECK_EQ_INT(unlink(path), 0);
	snprintf(path, sizeof(path), "%s/cert.pem", dir);
	CHECK_EQ_INT(rmdir(path), 0);
	CHECK_EQ_INT(acme_output_write(dir, wf_buf_slice(&cert2), wf_buf_slice(&key2), &changed, err, sizeof(err)),
		     WF_OK);
	CHECK(holds(dir, "cert.pem", &cert2));
	const char *names[] = { "privkey.pem", "combined.pem", "cert.pem", "chain.pem", "fullchain.pem" };
	for (size_t i = 0; i < 5; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
	rmdir(dir);
	wf_buf_fini(&cert1);
	wf_buf_fini(&key1);
	wf_buf_fini(&cert2);
	wf_buf_fini(&key2);
}

int main(void)
{
	test_failed_rename_does_not_stop_the_rest();
	return check_report();
}
