/* SPDX-License-Identifier: Apache-2.0 */
/* url_test -- URLs without user-info or credential query values (common/url.c). */
#include <stdlib.h>
#include <string.h>

#include "common/url.h"
#include "test.h"

/* Returns the redacted form of `url`; the caller frees it. */
static char *
redact(const char *url)
{
    struct sl_buf out;

    sl_buf_init(&out, 0);
    sl_url_append_redacted(&out, url);
    sl_buf_append(&out, "", 1);
    return sl_buf_take(&out, NULL);
}

static void
check(const char *url, const char *expected)
{
    char *got = redact(url);

    ASSERT_STR_EQ(expected, got);
    free(got);
}

TEST(url_keeps_plain_url)
{
    check("https://api.openai.com/v1", "https://api.openai.com/v1");
    check("http://127.0.0.1:8080", "http://127.0.0.1:8080");
    check("", "");
}

TEST(url_drops_user_and_password)
{
    check("http://user:secret@127.0.0.1:9000/v1", "http://127.0.0.1:9000/v1");
    check("http://user@example.test/v1", "http://example.test/v1");
    check("https://:pw@example.test", "https://example.test");
    check("http://u:p@h", "http://h");
}

TEST(url_password_with_at_sign)
{
    /* An unencoded '@' in the password: the user-info ends at the last '@' of the authority. */
    check("http://user:p@ss@host.test:1/v1", "http://host.test:1/v1");
    check("http://user:p%40ss@host.test/v1", "http://host.test/v1");
}

TEST(url_without_scheme)
{
    check("user:secret@host.test:8080/v1", "host.test:8080/v1");
    check("host.test/v1", "host.test/v1");
    check("//user:secret@host.test/v1", "//host.test/v1");
    check("/v1/chat@x", "/v1/chat@x");
}

TEST(url_ipv6_host)
{
    check("http://[::1]:8080/v1", "http://[::1]:8080/v1");
    check("http://admin:hunter2@[::1]:8080/v1", "http://[::1]:8080/v1");
    check("http://[fe80::1%25eth0]/v1", "http://[fe80::1%25eth0]/v1");
}

TEST(url_at_sign_in_path_or_query)
{
    check("http://host.test/users/me@x/v1", "http://host.test/users/me@x/v1");
    check("http://host.test/v1?email=a@b.test", "http://host.test/v1?email=a@b.test");
    check("http://u:p@host.test/a@b?c=d@e", "http://host.test/a@b?c=d@e");
}

TEST(url_redacts_credential_params)
{
    check("https://g.test/v1?key=AIzaSecret", "https://g.test/v1?key=***");
    check("https://a.test/x?api-version=2024&api-key=s3", "https://a.test/x?api-version=2024&api-key=***");
    check("https://b.test/c?sv=2022&sig=abc%2Bdef&se=1", "https://b.test/c?sv=2022&sig=***&se=1");
    check("https://c.test/?token=t&x=1", "https://c.test/?token=***&x=1");
    check("https://d.test/?X-Amz-Signature=ff&X-Amz-Credential=AKIA",
          "https://d.test/?X-Amz-Signature=***&X-Amz-Credential=***");
    check("https://e.test/?subscription-key=k&access_token=t",
          "https://e.test/?subscription-key=***&access_token=***");
}

TEST(url_percent_encoded_param_name)
{
    check("https://a.test/?api%2Dkey=s&%6Bey=s", "https://a.test/?api%2Dkey=***&%6Bey=***");
    check("https://a.test/?KEY=s", "https://a.test/?KEY=***");
}

TEST(url_query_edge_cases)
{
    check("https://a.test/v1?", "https://a.test/v1?");
    check("https://a.test/v1?key", "https://a.test/v1?key");
    check("https://a.test/v1?a=1&&key=", "https://a.test/v1?a=1&&key=***");
    check("https://a.test/v1?model=gpt&stream=true", "https://a.test/v1?model=gpt&stream=true");
}

TEST(url_drops_fragment)
{
    check("https://a.test/v1#key=s", "https://a.test/v1");
    check("https://a.test/v1?x=1#frag", "https://a.test/v1?x=1");
    check("https://u:p@a.test#f", "https://a.test");
}

TEST(url_credential_param_names)
{
    static const char *const yes[] = {"key",    "api_key",    "API-KEY",  "apikey", "sig",
                                      "token",  "id_token",   "secret",   "password",
                                      "passwd", "Signature",  "auth",     "code",
                                      "x-amz-credential", "x-amz-security-token"};
    static const char *const no[] = {"model", "api-version", "stream", "sv", "se", "region",
                                     "signed", "keys", "authority", ""};

    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        ASSERT_EQ(1, sl_url_is_credential_param(yes[i], strlen(yes[i])));
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        ASSERT_EQ(0, sl_url_is_credential_param(no[i], strlen(no[i])));
}

TEST(url_long_param_name_counts_as_credential)
{
    char name[400];

    memset(name, 'a', sizeof(name));
    ASSERT_EQ(1, sl_url_is_credential_param(name, sizeof(name)));
    ASSERT_EQ(0, sl_url_is_credential_param(name, 200));
}

TEST(url_write_base_drops_query)
{
    char out[64];

    sl_url_write_base("http://u:p@h.test/v1?key=s&x=1", out, sizeof(out));
    ASSERT_STR_EQ("http://h.test/v1", out);
    sl_url_write_base("http://[::1]:1/v1@x", out, sizeof(out));
    ASSERT_STR_EQ("http://[::1]:1/v1@x", out);
    sl_url_write_base("", out, sizeof(out));
    ASSERT_STR_EQ("", out);
}

TEST(url_write_base_truncates)
{
    char out[12];

    sl_url_write_base("http://user:secret@host.test/v1", out, sizeof(out));
    ASSERT_STR_EQ("http://host", out);
    sl_url_write_base("http://a.test", out, 1);
    ASSERT_STR_EQ("", out);
}
