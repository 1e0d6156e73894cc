/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sigv4_test -- AWS Signature Version 4 (common/sigv4.c) against AWS's SigV4 test suite.
 *
 * With SLUICE_FIXTURES set, every header-signing case of the suite (aws-sigv4/suite and
 * aws-sigv4/aws-c-auth-v4) must reproduce its canonical request, string to sign and
 * Authorization value byte for byte. The golden case below runs without fixtures: its values
 * were computed with Python's hashlib and hmac modules, independently of this code.
 */
#include <dirent.h>
#include <string.h>
#include <time.h>

#include "common/json.h"
#include "common/sigv4.h"
#include "fixtures.h"
#include "test.h"

#define SUITE_ACCESS_KEY "AKIDEXAMPLE"
#define SUITE_SECRET_KEY "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define SUITE_TIME       1440938160 /* 2015-08-30T12:36:00Z */
#define SUITE_TOKEN      "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267"

/* Expected values for sigv4_bedrock_golden (Python hashlib/hmac, not this code). */
#define GOLDEN_PAYLOAD_HASH "c3335e07d6e89650bf94cb98664be69f8774dbc3198df221f113db0a59ea14f0"
#define GOLDEN_CREQ                                                                                \
    "POST\n/model/anthropic.claude-3-haiku-20240307-v1%253A0/converse\n\n"                         \
    "content-type:application/json\nhost:bedrock-runtime.us-east-1.amazonaws.com\n"                \
    "x-amz-content-sha256:" GOLDEN_PAYLOAD_HASH "\nx-amz-date:20241204T000000Z\n"                  \
    "x-amz-security-token:token-123\nx-custom:a b\n\n"                                             \
    "content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token;x-"                    \
    "custom\n" GOLDEN_PAYLOAD_HASH
#define GOLDEN_STS                                                                                 \
    "AWS4-HMAC-SHA256\n20241204T000000Z\n20241204/us-east-1/bedrock/aws4_request\n"                \
    "9cb27f254c68e7f9338c19488779b33b39ecbbb68e11d235703871c93fd0f324"
#define GOLDEN_AUTHZ                                                                               \
    "AWS4-HMAC-SHA256 Credential=AKIDTEST/20241204/us-east-1/bedrock/aws4_request, "               \
    "SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token;"        \
    "x-custom, Signature=330e07da2958023ac8c401722b7b0a2b8353c8010942910d2e55bc93fd685627"

static char *
read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    struct sl_buf b;
    char chunk[4096];
    size_t n;

    if (f == NULL)
        SL_TEST_FAIL("cannot open %s", path);
    sl_buf_init(&b, 0);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        sl_buf_append(&b, chunk, n);
    fclose(f);
    sl_buf_append(&b, "", 0);
    return sl_buf_take(&b, len);
}

/* A request parsed from the suite's raw HTTP text. */
struct parsed_request {
    char *text; /* owned, cut into the strings below */
    char *method;
    char *path;
    char *query;
    struct sl_sigv4_header headers[16];
    size_t n_headers;
    char *body;
    size_t body_len;
};

static void
parse_request(const char *path, struct parsed_request *r)
{
    size_t len;
    char *p;
    char *line_end;

    memset(r, 0, sizeof(*r));
    r->text = read_file(path, &len);
    p = r->text;

    /* Request line: METHOD SP TARGET SP VERSION. */
    line_end = strchr(p, '\n');
    ASSERT_TRUE(line_end != NULL);
    *line_end = '\0';
    r->method = p;
    p = strchr(p, ' ');
    ASSERT_TRUE(p != NULL);
    *p++ = '\0';
    r->path = p;
    p = strrchr(p, ' ');
    ASSERT_TRUE(p != NULL);
    *p = '\0';
    r->query = strchr(r->path, '?');
    if (r->query != NULL)
        *r->query++ = '\0';

    /* Header lines up to a blank line or the end of the file. */
    p = line_end + 1;
    while (*p != '\0' && *p != '\n') {
        char *colon;

        line_end = strchr(p, '\n');
        if (line_end != NULL)
            *line_end = '\0';
        colon = strchr(p, ':');
        ASSERT_TRUE(colon != NULL);
        ASSERT_TRUE(r->n_headers < sizeof(r->headers) / sizeof(r->headers[0]));
        *colon = '\0';
        r->headers[r->n_headers].name = p;
        r->headers[r->n_headers].value = colon + 1;
        r->n_headers++;
        if (line_end == NULL) {
            p = r->text + len;
            break;
        }
        p = line_end + 1;
    }
    r->body = *p == '\n' ? p + 1 : p;
    r->body_len = (size_t)(r->text + len - r->body);
}

static void
check_file(const char *path, const char *actual, size_t actual_len)
{
    size_t len;
    char *expected = read_file(path, &len);

    /* Some copies end their files with a newline, which is not part of the value. */
    while (len > 0 && expected[len - 1] == '\n')
        len--;
    if (len != actual_len || memcmp(expected, actual, len) != 0)
        SL_TEST_FAIL("%s differs:\nexpected:\n%.*s\nactual:\n%.*s", path, (int)len, expected,
                     (int)actual_len, actual);
    free(expected);
}

static void
sign_parsed(const struct parsed_request *r, const char *token, int sign_body,
            struct sl_sigv4_output *out)
{
    struct sl_sigv4_input in = {
        .method = r->method,
        .path = r->path,
        .query = r->query,
        .headers = r->headers,
        .n_headers = r->n_headers,
        .payload = r->body,
        .payload_len = r->body_len,
        .access_key_id = SUITE_ACCESS_KEY,
        .secret_access_key = SUITE_SECRET_KEY,
        .session_token = token,
        .region = "us-east-1",
        .service = "service",
        .now_unix_s = SUITE_TIME,
        .sign_content_sha256 = sign_body,
    };
    struct sl_errbuf err = {{0}};

    sl_sigv4_output_init(out);
    if (sl_sigv4_sign(&in, out, &err) != SL_OK)
        SL_TEST_FAIL("signing failed: %s", err.msg);
}

/* Runs one case of the classic suite: <dir>/<name>.{req,creq,sts,authz}. */
static void
run_classic_case(const char *dir, const char *name)
{
    struct parsed_request r;
    struct sl_sigv4_output out;
    char path[8192];
    /* The suite signs this case with a session token that its .req does not show. */
    const char *token = strcmp(name, "get-vanilla-with-session-token") == 0 ? SUITE_TOKEN : NULL;

    snprintf(path, sizeof(path), "%s/%s.req", dir, name);
    parse_request(path, &r);
    sign_parsed(&r, token, 0, &out);

    snprintf(path, sizeof(path), "%s/%s.creq", dir, name);
    check_file(path, out.canonical_request.data, out.canonical_request.len);
    snprintf(path, sizeof(path), "%s/%s.sts", dir, name);
    check_file(path, out.string_to_sign.data, out.string_to_sign.len);
    snprintf(path, sizeof(path), "%s/%s.authz", dir, name);
    check_file(path, out.authorization.data, out.authorization.len);

    sl_sigv4_output_dispose(&out);
    free(r.text);
}

/* Walks `dir` for case folders (a folder holding <name>.req), descending into groups. */
static int
walk_classic(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int cases = 0;

    ASSERT_TRUE(d != NULL);
    while ((e = readdir(d)) != NULL) {
        char sub[2048];
        char req[4096];
        struct stat st;

        if (e->d_name[0] == '.')
            continue;
        snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name);
        if (stat(sub, &st) != 0 || !S_ISDIR(st.st_mode))
            continue;
        snprintf(req, sizeof(req), "%s/%s.req", sub, e->d_name);
        if (stat(req, &st) == 0) {
            run_classic_case(sub, e->d_name);
            cases++;
        } else {
            cases += walk_classic(sub);
        }
    }
    closedir(d);
    return cases;
}

TEST(sigv4_classic_suite)
{
    char dir[1024];

    snprintf(dir, sizeof(dir), "%s/aws-sigv4/suite", sl_test_fixtures_dir());
    /* Eight cases today; the count only guards against a walk that finds nothing. */
    ASSERT_TRUE(walk_classic(dir) >= 8);
}

static void
run_crt_case(const char *dir)
{
    struct parsed_request r;
    struct sl_sigv4_output out;
    char path[4096];
    size_t len;
    char *context_text;
    cJSON *context = NULL;
    const cJSON *creds;
    const char *token;
    int sign_body;

    snprintf(path, sizeof(path), "%s/context.json", dir);
    context_text = read_file(path, &len);
    ASSERT_OK(sl_json_parse(context_text, len, 8, &context, NULL));
    creds = cJSON_GetObjectItemCaseSensitive(context, "credentials");
    ASSERT_STR_EQ(SUITE_ACCESS_KEY, sl_json_get_string(creds, "access_key_id"));
    ASSERT_STR_EQ(SUITE_SECRET_KEY, sl_json_get_string(creds, "secret_access_key"));
    ASSERT_STR_EQ("2015-08-30T12:36:00Z", sl_json_get_string(context, "timestamp"));
    token = sl_json_get_string(creds, "token");
    sign_body = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(context, "sign_body"));

    snprintf(path, sizeof(path), "%s/request.txt", dir);
    parse_request(path, &r);
    sign_parsed(&r, token, sign_body, &out);

    snprintf(path, sizeof(path), "%s/header-canonical-request.txt", dir);
    check_file(path, out.canonical_request.data, out.canonical_request.len);
    snprintf(path, sizeof(path), "%s/header-string-to-sign.txt", dir);
    check_file(path, out.string_to_sign.data, out.string_to_sign.len);
    snprintf(path, sizeof(path), "%s/header-signature.txt", dir);
    check_file(path, out.signature, strlen(out.signature));

    /* The signed request carries the Authorization header the signer produced. */
    snprintf(path, sizeof(path), "%s/header-signed-request.txt", dir);
    char *signed_request = read_file(path, &len);
    struct sl_buf line;
    sl_buf_init(&line, 0);
    sl_buf_printf(&line, "\nAuthorization:%s\n", out.authorization.data);
    ASSERT_CONTAINS(signed_request, line.data);
    sl_buf_dispose(&line);

    free(signed_request);
    sl_sigv4_output_dispose(&out);
    free(r.text);
    cJSON_Delete(context);
    free(context_text);
}

TEST(sigv4_crt_suite)
{
    char dir[1024];
    DIR *d;
    struct dirent *e;
    int cases = 0;

    snprintf(dir, sizeof(dir), "%s/aws-sigv4/aws-c-auth-v4", sl_test_fixtures_dir());
    d = opendir(dir);
    ASSERT_TRUE(d != NULL);
    while ((e = readdir(d)) != NULL) {
        char sub[2048];

        if (e->d_name[0] == '.')
            continue;
        snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name);
        run_crt_case(sub);
        cases++;
    }
    closedir(d);
    ASSERT_TRUE(cases >= 3);
}

/* A Bedrock-shaped request: a model id with ':' (encoded twice in the canonical URI), a
 * session token and a JSON body. Expected values from an independent Python computation. */
TEST(sigv4_bedrock_golden)
{
    static const char body[] =
        "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"hi\"}]}]}";
    struct sl_sigv4_header headers[] = {
        {"Host", "bedrock-runtime.us-east-1.amazonaws.com"},
        {"Content-Type", "application/json"},
        {"X-Custom", "  a   b  "},
    };
    struct sl_sigv4_input in = {
        .method = "POST",
        .path = "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse",
        .query = NULL,
        .headers = headers,
        .n_headers = 3,
        .payload = body,
        .payload_len = sizeof(body) - 1,
        .access_key_id = "AKIDTEST",
        .secret_access_key = "secret/TEST+key",
        .session_token = "token-123",
        .region = "us-east-1",
        .service = "bedrock",
        .now_unix_s = 1733270400, /* 2024-12-04T00:00:00Z */
        .sign_content_sha256 = 1,
    };
    struct sl_sigv4_output out;
    struct sl_errbuf err = {{0}};

    sl_sigv4_output_init(&out);
    ASSERT_OK(sl_sigv4_sign(&in, &out, &err));
    ASSERT_STR_EQ("20241204T000000Z", out.amz_date);
    ASSERT_STR_EQ(GOLDEN_CREQ, out.canonical_request.data);
    ASSERT_STR_EQ(GOLDEN_STS, out.string_to_sign.data);
    ASSERT_STR_EQ(GOLDEN_AUTHZ, out.authorization.data);
    ASSERT_EQ(3, (int)out.n_added);
    ASSERT_STR_EQ("X-Amz-Security-Token", out.added[1].name);
    ASSERT_STR_EQ("token-123", out.added[1].value);
    sl_sigv4_output_dispose(&out);
}

TEST(sigv4_query_sorted_and_reencoded)
{
    struct sl_sigv4_header headers[] = {{"Host", "h"}};
    struct sl_sigv4_input in = {
        .method = "GET",
        .path = "/a b/c",
        .query = "b=2&a=x%2fy&a=%41&c",
        .headers = headers,
        .n_headers = 1,
        .access_key_id = "k",
        .secret_access_key = "s",
        .region = "r",
        .service = "svc",
        .now_unix_s = 0,
    };
    struct sl_sigv4_output out;
    struct sl_errbuf err = {{0}};

    sl_sigv4_output_init(&out);
    ASSERT_OK(sl_sigv4_sign(&in, &out, &err));
    ASSERT_CONTAINS(out.canonical_request.data, "GET\n/a%20b/c\na=A&a=x%2Fy&b=2&c=\nhost:h\n");
    sl_sigv4_output_dispose(&out);
}

TEST(sigv4_bad_escape_rejected)
{
    struct sl_sigv4_header headers[] = {{"Host", "h"}};
    struct sl_sigv4_input in = {
        .method = "GET",
        .path = "/",
        .query = "a=%4",
        .headers = headers,
        .n_headers = 1,
        .access_key_id = "k",
        .secret_access_key = "s",
        .region = "r",
        .service = "svc",
    };
    struct sl_sigv4_output out;
    struct sl_errbuf err = {{0}};

    sl_sigv4_output_init(&out);
    ASSERT_EQ(SL_ERR_INVALID, sl_sigv4_sign(&in, &out, &err));
    ASSERT_CONTAINS(err.msg, "percent escape");
    sl_sigv4_output_dispose(&out);
}
