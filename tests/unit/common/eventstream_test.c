/* SPDX-License-Identifier: Apache-2.0 */
/*
 * eventstream_test -- AWS event-stream parsing and encoding (common/eventstream.c).
 *
 * With SLUICE_FIXTURES set, every positive vector of aws-eventstream/vectors decodes to the
 * headers and payload of its decoded JSON, every negative one is rejected, and the Bedrock
 * ConverseStream snapshot frames decode whole and split at every byte. The golden cases run
 * without fixtures.
 */
#include <dirent.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/eventstream.h"
#include "common/json.h"
#include "fixtures.h"
#include "test.h"

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

static int
hex_nibble(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    SL_TEST_FAIL("invalid hex digit %c", c);
}

/* Reads a .hex fixture into bytes (caller frees). */
static uint8_t *
read_hex(const char *path, size_t *len)
{
    size_t hex_len;
    char *hex = read_file(path, &hex_len);
    uint8_t *bytes = malloc(hex_len / 2 + 1);

    ASSERT_EQ(0, (int)(hex_len % 2));
    for (size_t i = 0; i < hex_len / 2; i++)
        bytes[i] = (uint8_t)(hex_nibble(hex[2 * i]) << 4 | hex_nibble(hex[2 * i + 1]));
    *len = hex_len / 2;
    free(hex);
    return bytes;
}

static uint8_t *
base64_decode(const char *s, size_t *len)
{
    size_t n = strlen(s);
    uint8_t *out = malloc(n + 1);
    int decoded = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);

    ASSERT_TRUE(decoded >= 0);
    /* EVP_DecodeBlock counts the padding as zero bytes. */
    while (n > 0 && s[n - 1] == '=') {
        n--;
        decoded--;
    }
    *len = (size_t)decoded;
    return out;
}

/* Parses `len` bytes fed in two parts split at `cut`; returns the number of messages and
 * appends each message's headers count and payload to `trace` for comparison. */
static int
parse_split(const uint8_t *bytes, size_t len, size_t cut, struct sl_buf *trace,
            enum sl_status *final)
{
    struct sl_es_parser p;
    struct sl_es_message msg;
    int count = 0;
    size_t parts[2][2] = {{0, cut}, {cut, len - cut}};

    sl_es_init(&p, 0);
    for (int i = 0; i < 2; i++) {
        enum sl_es_result r;

        sl_es_feed(&p, bytes + parts[i][0], parts[i][1]);
        while ((r = sl_es_next(&p, &msg)) == SL_ES_MESSAGE) {
            sl_buf_printf(trace, "[%zu|", msg.n_headers);
            for (size_t h = 0; h < msg.n_headers; h++) {
                sl_buf_append(trace, msg.headers[h].name, msg.headers[h].name_len);
                sl_buf_printf(trace, "=%d:%lld:", (int)msg.headers[h].type,
                              (long long)msg.headers[h].int_value);
                if (msg.headers[h].bytes_len > 0)
                    sl_buf_append(trace, msg.headers[h].bytes, msg.headers[h].bytes_len);
                sl_buf_append(trace, ";", 1);
            }
            if (msg.payload_len > 0)
                sl_buf_append(trace, msg.payload, msg.payload_len);
            sl_buf_append(trace, "]", 1);
            count++;
        }
        if (r == SL_ES_ERROR)
            break;
    }
    sl_es_finish(&p);
    *final = sl_es_status(&p);
    sl_es_dispose(&p);
    return count;
}

/* Every split point yields exactly what the one-shot parse yields. */
static void
check_every_split(const uint8_t *bytes, size_t len, int expected_messages)
{
    struct sl_buf whole;
    enum sl_status st;

    sl_buf_init(&whole, 0);
    ASSERT_EQ(expected_messages, parse_split(bytes, len, len, &whole, &st));
    ASSERT_EQ(SL_OK, st);
    for (size_t cut = 0; cut <= len; cut++) {
        struct sl_buf split;

        sl_buf_init(&split, 0);
        ASSERT_EQ(expected_messages, parse_split(bytes, len, cut, &split, &st));
        ASSERT_EQ(SL_OK, st);
        ASSERT_MEM_EQ(whole.data, whole.len, split.data, split.len);
        sl_buf_dispose(&split);
    }
    sl_buf_dispose(&whole);
}

static void
check_header(const struct sl_es_header *h, const cJSON *want)
{
    const char *name = sl_json_get_string(want, "name");
    int type = cJSON_GetObjectItemCaseSensitive(want, "type")->valueint;
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(want, "value");

    ASSERT_MEM_EQ(name, strlen(name), h->name, h->name_len);
    ASSERT_EQ(type, (int)h->type);
    switch (type) {
    case SL_ES_BOOL_TRUE:
    case SL_ES_BOOL_FALSE:
        ASSERT_EQ(cJSON_IsTrue(value) ? 1 : 0, (int)h->int_value);
        break;
    case SL_ES_BYTES:
    case SL_ES_STRING:
    case SL_ES_UUID: {
        size_t n;
        uint8_t *raw = base64_decode(value->valuestring, &n);

        ASSERT_MEM_EQ(raw, n, h->bytes, h->bytes_len);
        free(raw);
        break;
    }
    default:
        ASSERT_EQ((int64_t)value->valuedouble, h->int_value);
    }
}

static void
check_positive(const char *root, const char *name)
{
    char path[1300]; /* room for the root (up to 1024 bytes) and the file name */
    size_t len;
    size_t json_len;
    uint8_t *bytes;
    char *json_text;
    cJSON *want = NULL;
    struct sl_es_parser p;
    struct sl_es_message msg;
    const cJSON *headers;
    size_t payload_len;
    uint8_t *payload;
    int i = 0;
    const cJSON *h;

    snprintf(path, sizeof(path), "%s/encoded/positive/%s.hex", root, name);
    bytes = read_hex(path, &len);
    snprintf(path, sizeof(path), "%s/decoded/positive/%s.json", root, name);
    json_text = read_file(path, &json_len);
    ASSERT_OK(sl_json_parse(json_text, json_len, 8, &want, NULL));

    sl_es_init(&p, 0);
    ASSERT_OK(sl_es_feed(&p, bytes, len));
    ASSERT_EQ(SL_ES_MESSAGE, sl_es_next(&p, &msg));
    ASSERT_EQ(cJSON_GetObjectItemCaseSensitive(want, "total_length")->valueint,
              (int)msg.total_length);
    ASSERT_EQ(cJSON_GetObjectItemCaseSensitive(want, "headers_length")->valueint,
              (int)msg.headers_length);
    headers = cJSON_GetObjectItemCaseSensitive(want, "headers");
    ASSERT_EQ(cJSON_GetArraySize(headers), (int)msg.n_headers);
    cJSON_ArrayForEach(h, headers) check_header(&msg.headers[i++], h);
    payload = base64_decode(sl_json_get_string(want, "payload"), &payload_len);
    ASSERT_MEM_EQ(payload, payload_len, msg.payload, msg.payload_len);
    ASSERT_EQ(SL_ES_NEED_MORE, sl_es_next(&p, &msg));
    sl_es_dispose(&p);

    check_every_split(bytes, len, 1);

    free(payload);
    cJSON_Delete(want);
    free(json_text);
    free(bytes);
}

TEST(eventstream_positive_vectors)
{
    static const char *const names[] = {"all_headers", "empty_message", "int32_header",
                                        "payload_no_headers", "payload_one_str_header"};
    char root[1024];

    snprintf(root, sizeof(root), "%s/aws-eventstream/vectors", sl_test_fixtures_dir());
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        check_positive(root, names[i]);
}

TEST(eventstream_negative_vectors_rejected)
{
    char dir[1024];
    DIR *d;
    struct dirent *e;
    int cases = 0;

    snprintf(dir, sizeof(dir), "%s/aws-eventstream/vectors/encoded/negative",
             sl_test_fixtures_dir());
    d = opendir(dir);
    ASSERT_TRUE(d != NULL);
    while ((e = readdir(d)) != NULL) {
        char path[1300];
        char expected_path[1400];
        size_t len;
        size_t expected_len;
        uint8_t *bytes;
        char *expected;
        struct sl_es_parser p;
        struct sl_es_message msg;

        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        bytes = read_hex(path, &len);
        snprintf(expected_path, sizeof(expected_path), "%s/../../decoded/negative/%.*s.txt", dir,
                 (int)(strlen(e->d_name) - 4), e->d_name);
        expected = read_file(expected_path, &expected_len);

        /* Whole, and byte by byte: no message may come out of a corrupt frame. */
        for (int mode = 0; mode < 2; mode++) {
            enum sl_es_result r = SL_ES_NEED_MORE;

            sl_es_init(&p, 0);
            for (size_t i = 0; i < len && r == SL_ES_NEED_MORE; i += mode == 0 ? len : 1) {
                sl_es_feed(&p, bytes + i, mode == 0 ? len : 1);
                r = sl_es_next(&p, &msg);
            }
            ASSERT_EQ(SL_ES_ERROR, r);
            ASSERT_EQ(SL_ERR_UPSTREAM_PROTO, sl_es_status(&p));
            /* "Prelude checksum mismatch" or "Message checksum mismatch", case aside. */
            ASSERT_TRUE(strcasecmp(expected, p.reason) == 0);
            sl_es_dispose(&p);
        }
        free(expected);
        free(bytes);
        cases++;
    }
    closedir(d);
    ASSERT_TRUE(cases >= 4);
}

static void
check_snapshot(const char *hex_name, const char *json_name)
{
    char path[1300];
    size_t len;
    size_t json_len;
    uint8_t *bytes;
    char *json_text;
    cJSON *want = NULL;
    const cJSON *frames;
    const cJSON *frame;
    struct sl_es_parser p;
    struct sl_es_message msg;

    snprintf(path, sizeof(path), "%s/aws-eventstream/%s", sl_test_fixtures_dir(), hex_name);
    bytes = read_hex(path, &len);
    snprintf(path, sizeof(path), "%s/aws-eventstream/%s", sl_test_fixtures_dir(), json_name);
    json_text = read_file(path, &json_len);
    ASSERT_OK(sl_json_parse(json_text, json_len, 16, &want, NULL));
    frames = cJSON_GetObjectItemCaseSensitive(want, "frames");

    sl_es_init(&p, 0);
    ASSERT_OK(sl_es_feed(&p, bytes, len));
    cJSON_ArrayForEach(frame, frames)
    {
        const char *payload = sl_json_get_string(frame, "payload_utf8");

        ASSERT_EQ(SL_ES_MESSAGE, sl_es_next(&p, &msg));
        ASSERT_TRUE(sl_es_header_is(&msg, ":event-type", sl_json_get_string(frame, "event_type")));
        ASSERT_TRUE(sl_es_header_is(&msg, ":content-type", "application/json"));
        ASSERT_MEM_EQ(payload, strlen(payload), msg.payload, msg.payload_len);
    }
    ASSERT_EQ(SL_ES_NEED_MORE, sl_es_next(&p, &msg));
    sl_es_dispose(&p);

    check_every_split(bytes, len, cJSON_GetArraySize(frames));
    cJSON_Delete(want);
    free(json_text);
    free(bytes);
}

TEST(eventstream_bedrock_snapshots)
{
    check_snapshot("bedrock-conversestream.sdk-snapshot.hex",
                   "bedrock-conversestream.sdk-snapshot.json");
    check_snapshot("bedrock-exception-frames.sdk-snapshot.hex",
                   "bedrock-exception-frames.sdk-snapshot.json");
}

/* ---------------------------------------------------------------- golden, no fixtures */

TEST(crc32_check_value)
{
    /* The standard CRC-32 check value, and an incremental update. */
    ASSERT_EQ(0xCBF43926u, sl_crc32(0, "123456789", 9));
    ASSERT_EQ(0xCBF43926u, sl_crc32(sl_crc32(0, "1234", 4), "56789", 5));
    ASSERT_EQ(0u, sl_crc32(0, "", 0));
}

static void
encode_three(struct sl_buf *out)
{
    struct sl_es_header h[3] = {
        sl_es_string_header(":event-type", "contentBlockDelta"),
        sl_es_string_header(":message-type", "event"),
        sl_es_string_header(":content-type", "application/json"),
    };
    static const char *const payloads[] = {
        "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"Hel\"}}",
        "",
        "{\"contentBlockIndex\":0,\"delta\":{\"text\":\"lo\"}}",
    };

    for (int i = 0; i < 3; i++)
        ASSERT_OK(sl_es_encode(out, h, 3, payloads[i], strlen(payloads[i])));
}

TEST(eventstream_golden_frame_bytes)
{
    struct sl_buf out;
    struct sl_es_header h = sl_es_string_header("a", "b");
    /* Total 23, headers 6, then header a=string "b", payload "x". Both CRCs were computed
     * with Python's zlib.crc32, independently of this code. */
    static const uint8_t expected[] = {0x00, 0x00, 0x00, 0x17, 0x00, 0x00, 0x00, 0x06,
                                       0x5e, 0x81, 0x31, 0xce, 0x01, 0x61, 0x07, 0x00,
                                       0x01, 0x62, 0x78, 0x84, 0xaa, 0x2e, 0xaa};

    sl_buf_init(&out, 0);
    ASSERT_OK(sl_es_encode(&out, &h, 1, "x", 1));
    ASSERT_MEM_EQ(expected, sizeof(expected), out.data, out.len);
    sl_buf_dispose(&out);
}

TEST(eventstream_roundtrip_split_everywhere)
{
    struct sl_buf out;

    sl_buf_init(&out, 0);
    encode_three(&out);
    check_every_split((const uint8_t *)out.data, out.len, 3);
    sl_buf_dispose(&out);
}

TEST(eventstream_every_flipped_bit_rejected)
{
    struct sl_buf out;

    sl_buf_init(&out, 0);
    encode_three(&out);
    for (size_t i = 0; i < out.len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            struct sl_es_parser p;
            struct sl_es_message msg;
            int messages = 0;
            enum sl_es_result r;

            out.data[i] = (char)(out.data[i] ^ (1 << bit));
            sl_es_init(&p, 0);
            sl_es_feed(&p, out.data, out.len);
            while ((r = sl_es_next(&p, &msg)) == SL_ES_MESSAGE)
                messages++;
            sl_es_finish(&p);
            /* A CRC-32 detects every single-bit error, so the stream must break there. */
            ASSERT_TRUE(messages < 3);
            ASSERT_TRUE(sl_es_status(&p) != SL_OK);
            sl_es_dispose(&p);
            out.data[i] = (char)(out.data[i] ^ (1 << bit));
        }
    }
    sl_buf_dispose(&out);
}

/* Builds a prelude with a valid CRC for the given lengths. */
static void
make_prelude(uint8_t *b, uint32_t total, uint32_t headers)
{
    uint32_t crc;

    for (int i = 0; i < 4; i++) {
        b[i] = (uint8_t)(total >> (24 - 8 * i));
        b[4 + i] = (uint8_t)(headers >> (24 - 8 * i));
    }
    crc = sl_crc32(0, b, 8);
    for (int i = 0; i < 4; i++)
        b[8 + i] = (uint8_t)(crc >> (24 - 8 * i));
}

TEST(eventstream_caps_before_body)
{
    uint8_t prelude[12];
    struct sl_es_parser p;
    struct sl_es_message msg;

    /* A 1 GiB message is rejected from its prelude alone. */
    make_prelude(prelude, 1u << 30, 0);
    sl_es_init(&p, 0);
    sl_es_feed(&p, prelude, sizeof(prelude));
    ASSERT_EQ(SL_ES_ERROR, sl_es_next(&p, &msg));
    ASSERT_EQ(SL_ERR_TOO_LARGE, sl_es_status(&p));
    ASSERT_EQ(SL_ERR_TOO_LARGE, sl_es_feed(&p, "x", 1));
    sl_es_dispose(&p);

    /* Headers longer than the message. */
    make_prelude(prelude, 32, 17);
    sl_es_init(&p, 0);
    sl_es_feed(&p, prelude, sizeof(prelude));
    ASSERT_EQ(SL_ES_ERROR, sl_es_next(&p, &msg));
    ASSERT_EQ(SL_ERR_UPSTREAM_PROTO, sl_es_status(&p));
    sl_es_dispose(&p);

    /* Shorter than the fixed overhead. */
    make_prelude(prelude, 15, 0);
    sl_es_init(&p, 0);
    sl_es_feed(&p, prelude, sizeof(prelude));
    ASSERT_EQ(SL_ES_ERROR, sl_es_next(&p, &msg));
    sl_es_dispose(&p);

    /* Headers over 128 KiB inside an allowed message. */
    make_prelude(prelude, 200000, 150000);
    sl_es_init(&p, 0);
    sl_es_feed(&p, prelude, sizeof(prelude));
    ASSERT_EQ(SL_ES_ERROR, sl_es_next(&p, &msg));
    ASSERT_CONTAINS(p.reason, "128 KiB");
    sl_es_dispose(&p);
}

TEST(eventstream_malformed_header_rejected)
{
    struct sl_buf out;
    struct sl_es_header h = sl_es_string_header("name", "value");
    struct sl_es_parser p;
    struct sl_es_message msg;
    uint32_t crc;

    /* Claim a string longer than the headers section, then fix both CRCs. */
    sl_buf_init(&out, 0);
    ASSERT_OK(sl_es_encode(&out, &h, 1, "", 0));
    out.data[12 + 1 + 4 + 1 + 1] = 0x7f;
    crc = sl_crc32(0, out.data, out.len - 4);
    for (int i = 0; i < 4; i++)
        out.data[out.len - 4 + (size_t)i] = (char)(crc >> (24 - 8 * i));
    sl_es_init(&p, 0);
    sl_es_feed(&p, out.data, out.len);
    ASSERT_EQ(SL_ES_ERROR, sl_es_next(&p, &msg));
    ASSERT_STR_EQ("malformed header", p.reason);
    sl_es_dispose(&p);
    sl_buf_dispose(&out);
}

TEST(eventstream_truncated_at_end_is_error)
{
    struct sl_buf out;
    struct sl_es_parser p;
    struct sl_es_message msg;

    sl_buf_init(&out, 0);
    encode_three(&out);
    sl_es_init(&p, 0);
    sl_es_feed(&p, out.data, out.len - 1);
    ASSERT_EQ(SL_ES_MESSAGE, sl_es_next(&p, &msg));
    ASSERT_EQ(SL_ES_MESSAGE, sl_es_next(&p, &msg));
    ASSERT_EQ(SL_ES_NEED_MORE, sl_es_next(&p, &msg));
    sl_es_finish(&p);
    ASSERT_EQ(SL_ERR_UPSTREAM_PROTO, sl_es_status(&p));
    sl_es_dispose(&p);
    sl_buf_dispose(&out);
}
