/* The batch CSV parser: fields, quoting, defaults, and every refusal names
 * its line. */
#include "check.h"
#include "acme/batch.h"

static int parse(const char *text, acme_batch_t *b, char *err)
{
	return acme_batch_parse(text, strlen(text), b, err, 256);
}

static void test_good(void)
{
	acme_batch_t b;
	char err[256] = "";
	const char *csv = "# certificates for the shop\n"
			  "name,domains,key_type,hook\n"
			  "shop,Shop.Example.com www.shop.example.com,ec384,/usr/bin/systemctl reload haproxy\r\n"
			  "\n"
			  "\"blog\",\"blog.example.com\",,\n"
			  "api,api.example.com\n";
	CHECK_EQ_INT(parse(csv, &b, err), WF_OK);
	CHECK_EQ_INT(b.n, 3);
	CHECK_EQ_STR(b.entries[0].name, "shop");
	CHECK_EQ_INT(b.entries[0].ndomains, 2);
	CHECK_EQ_STR(b.entries[0].domains[0], "shop.example.com");
	CHECK_EQ_STR(b.entries[0].key_type, "ec384");
	CHECK_EQ_INT(b.entries[0].nhook, 3);
	CHECK_EQ_STR(b.entries[0].hook[2], "haproxy");
	CHECK_EQ_INT(b.entries[0].line, 3);
	CHECK_EQ_STR(b.entries[1].key_type, "ec256");
	CHECK_EQ_INT(b.entries[1].nhook, 0);
	CHECK(b.entries[1].hook[0] == NULL);
	CHECK_EQ_STR(b.entries[2].name, "api");
	CHECK_EQ_STR(b.entries[2].challenge, "http-01"); /* the field left out */
	acme_batch_free(&b);

	/* The challenge column: wildcards with dns-01, addresses without it. */
	CHECK_EQ_INT(parse("wild,example.com *.example.com,,,dns-01\n"
			   "ip,192.0.2.7 2001:db8::7,,,tls-alpn-01\n",
			   &b, err),
		     WF_OK);
	CHECK_EQ_STR(b.entries[0].challenge, "dns-01");
	CHECK_EQ_STR(b.entries[0].domains[1], "*.example.com");
	CHECK_EQ_STR(b.entries[1].challenge, "tls-alpn-01");
	CHECK_EQ_STR(b.entries[1].domains[1], "2001:db8::7");
	acme_batch_free(&b);

	/* Every field quoted, CRLF lines (Windows, Python's csv QUOTE_ALL). */
	CHECK_EQ_INT(parse("\"name\",\"domains\"\r\n\"web\",\"a.example.com\"\r\n\"api\",\"b.example.com\"", &b, err),
		     WF_OK);
	CHECK_EQ_INT(b.n, 2);
	CHECK_EQ_STR(b.entries[0].domains[0], "a.example.com");
	CHECK_EQ_STR(b.entries[1].name, "api");
	acme_batch_free(&b);

	/* Quotes: a comma inside, and a doubled quote. */
	CHECK_EQ_INT(parse("x,\"a.example b.example\",\"rsa2048\",\"/bin/echo a\"\"b\"\n", &b, err), WF_OK);
	CHECK_EQ_INT(b.entries[0].ndomains, 2);
	CHECK_EQ_STR(b.entries[0].hook[1], "a\"b");
	acme_batch_free(&b);
}

static void test_bad(void)
{
	acme_batch_t b = { 0 };
	char err[256];
	CHECK_EQ_INT(parse("", &b, err), WF_ERR);
	CHECK_EQ_STR(err, "no certificate in the file");
	CHECK_EQ_INT(parse("a,a.example\na,b.example\n", &b, err), WF_ERR);
	CHECK_EQ_STR(err, "line 2: name \"a\" already used on line 1");
	CHECK_EQ_INT(parse("a,a.example,ec999\n", &b, err), WF_ERR);
	CHECK(strstr(err, "line 1: key type \"ec999\"") != NULL);
	CHECK_EQ_INT(parse("a,*.example.com\n", &b, err), WF_ERR);
	CHECK(strstr(err, "not a DNS name") != NULL);
	CHECK_EQ_INT(parse("a,a.example,ec256,relative/hook\n", &b, err), WF_ERR);
	CHECK(strstr(err, "absolute path") != NULL);
	CHECK_EQ_INT(parse("a,*.example.com,,,http-01\n", &b, err), WF_ERR);
	CHECK(strstr(err, "(a wildcard needs dns-01)") != NULL);
	CHECK_EQ_INT(parse("a,a.example,ec256,/x,extra\n", &b, err), WF_ERR);
	CHECK(strstr(err, "line 1: challenge \"extra\"") != NULL);
	CHECK_EQ_INT(parse("a,192.0.2.7,,,dns-01\n", &b, err), WF_ERR);
	CHECK(strstr(err, "cannot be validated by dns-01") != NULL);
	CHECK_EQ_INT(parse("a,a.example,ec256,/x,dns-01,more\n", &b, err), WF_ERR);
	CHECK(strstr(err, "more than 5 fields") != NULL);
	CHECK_EQ_INT(parse("a b,a.example\n", &b, err), WF_ERR);
	CHECK_EQ_INT(parse("a,\"a.example\n", &b, err), WF_ERR);
	CHECK_EQ_INT(parse("a,a\"b.example\n", &b, err), WF_ERR);
	CHECK_EQ_INT(parse("a,\"a.example", &b, err), WF_ERR); /* a quote left open at the end */
	CHECK(strstr(err, "line 1: a quoted field not closed") != NULL);
	CHECK_EQ_INT(parse("a,\"a.example\"\rx\n", &b, err), WF_ERR); /* a CR that ends no line */
	CHECK_EQ_INT(parse("onlyname\n", &b, err), WF_ERR);
	CHECK_EQ_STR(err, "line 1: needs at least a name and domains");
	CHECK(b.entries == NULL);
}

/* A name is a folder under state_dir/certs/: "." and ".." would be the
 * certs folder or the state folder itself. The config's rule, shared. */
static void test_names_are_folders(void)
{
	acme_batch_t b = { 0 };
	char err[256];
	const char *bad[] = { "..", ".", ".hidden", "a/b", "a b", "" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char csv[128];
		snprintf(csv, sizeof(csv), "\"%s\",a.example\n", bad[i]);
		CHECK_EQ_INT(parse(csv, &b, err), WF_ERR);
		CHECK(strstr(err, "line 1: name \"") != NULL);
		CHECK(b.entries == NULL);
	}
	CHECK_EQ_INT(parse("x..y,a.example\n", &b, err), WF_OK); /* dots inside are fine */
	acme_batch_free(&b);
	char csv[128];
	snprintf(csv, sizeof(csv), "%.64s,a.example\n", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	CHECK_EQ_INT(parse(csv, &b, err), WF_OK);
	acme_batch_free(&b);
	snprintf(csv, sizeof(csv), "%.65s,a.example\n", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	CHECK_EQ_INT(parse(csv, &b, err), WF_ERR);
}

/* Only the line that names the columns is a header: a certificate called
 * "name" on the first line is a certificate. */
static void test_header(void)
{
	acme_batch_t b = { 0 };
	char err[256];
	CHECK_EQ_INT(parse("name,name.example\nb,b.example\n", &b, err), WF_OK);
	CHECK_EQ_INT(b.n, 2);
	CHECK_EQ_STR(b.entries[0].name, "name");
	CHECK_EQ_STR(b.entries[0].domains[0], "name.example");
	acme_batch_free(&b);
	CHECK_EQ_INT(parse("NAME,Domains,key_type,hook,challenge\nb,b.example\n", &b, err), WF_OK);
	CHECK_EQ_INT(b.n, 1);
	CHECK_EQ_STR(b.entries[0].name, "b");
	acme_batch_free(&b);
	CHECK_EQ_INT(parse("name,domains,key_type\nb,b.example\n", &b, err), WF_OK);
	CHECK_EQ_INT(b.n, 1);
	acme_batch_free(&b);
	CHECK_EQ_INT(parse("name,domains,key_type,hook\n", &b, err), WF_ERR);
	CHECK_EQ_STR(err, "no certificate in the file");
	/* A header spelled otherwise is refused, not read as a certificate
	 * "Name" for the single label "Domain". */
	const char *near[] = { "Name,Domain\nb,b.example\n", "name,domains,keytype\nb,b.example\n",
			       "\"Name\",\"Domains\",\"Key Type\"\r\nb,b.example\r\n",
			       "Certificate,Domains\nb,b.example\n" };
	for (size_t i = 0; i < sizeof(near) / sizeof(near[0]); i++) {
		CHECK_EQ_INT(parse(near[i], &b, err), WF_ERR);
		CHECK(strstr(err, "line 1: looks like a header, but the columns are name,domains,") != NULL);
		CHECK(b.entries == NULL);
	}
	/* Not on a later line, nor for a name with a dot or an address. */
	CHECK_EQ_INT(parse("a,a.example\nname,domain\n", &b, err), WF_OK);
	acme_batch_free(&b);
	CHECK_EQ_INT(parse("name,192.0.2.1\n", &b, err), WF_OK);
	acme_batch_free(&b);
	CHECK_EQ_INT(parse("name,2001:db8::1\n", &b, err), WF_OK);
	acme_batch_free(&b);
}

/* Editors on some systems start a UTF-8 file with a byte order mark. */
static void test_bom(void)
{
	acme_batch_t b = { 0 };
	char err[256];
	CHECK_EQ_INT(parse("\xef\xbb\xbfname,domains\nb,b.example\n", &b, err), WF_OK);
	CHECK_EQ_INT(b.n, 1);
	CHECK_EQ_STR(b.entries[0].name, "b");
	acme_batch_free(&b);
	CHECK_EQ_INT(parse("\xef\xbb\xbf" "a,a.example\n", &b, err), WF_OK);
	CHECK_EQ_STR(b.entries[0].name, "a");
	acme_batch_free(&b);
	/* Only at the start. */
	CHECK_EQ_INT(parse("a,a.example\n\xef\xbb\xbf" "b,b.example\n", &b, err), WF_ERR);
	CHECK(strstr(err, "line 2: name") != NULL);
}

/* The config's rule for the names a certificate covers (test_config.c
 * has its edges): each refused on its line, before anything is ordered. */
static void test_domains(void)
{
	acme_batch_t b = { 0 };
	char err[512], csv[400];
	CHECK_EQ_INT(parse("m1,::ffff:127.0.0.1\n", &b, err), WF_ERR);
	CHECK_EQ_STR(err, "line 1: \"::ffff:127.0.0.1\" is an IPv4-mapped IPv6 address: write the IPv4 address "
			  "127.0.0.1");
	CHECK_EQ_INT(parse("t2,a.-b.example\n", &b, err), WF_ERR);
	CHECK_EQ_STR(err, "line 1: \"a.-b.example\" is not a valid DNS name: a label starts or ends with '-'");
	snprintf(csv, sizeof(csv), "t3,%.70s.example\n",
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	CHECK_EQ_INT(parse(csv, &b, err), WF_ERR);
	CHECK(strstr(err, "line 1: \"aaaa") && strstr(err, "is not a valid DNS name: a label is longer than 63 bytes"));
	CHECK_EQ_INT(parse("ok,a.example\nd1,\"x.example X.example\"\n", &b, err), WF_ERR);
	CHECK_EQ_STR(err, "line 2: \"x.example\" is listed twice (names ignore case)");
	CHECK(b.entries == NULL);
	/* Addresses as the config keeps them: in canonical text. */
	CHECK_EQ_INT(parse("ip,2001:DB8:0:0::7 Www.Example,,,tls-alpn-01\n", &b, err), WF_OK);
	CHECK_EQ_STR(b.entries[0].domains[0], "2001:db8::7");
	CHECK_EQ_STR(b.entries[0].domains[1], "www.example");
	acme_batch_free(&b);
}

int main(void)
{
	test_good();
	test_bad();
	test_names_are_folders();
	test_header();
	test_bom();
	test_domains();
	return check_report();
}
