/* fuzz_canon.c - libFuzzer over libetude-common's parsers and checks: etude_canon_json (strict
 * RFC 8259 scan, cJSON, RFC 8785 writer), etude_canon_print, the entity validators and the
 * duplicate rule on whatever parses, strict time parsing, UTF-8 validation and capped gunzip.
 * Invariants (a failure traps): canonical text is valid UTF-8 and its own canonical form; text the
 * scanner accepts never fails later but for memory; etude_canon_print's text canonicalises to the
 * same bytes (exact numbers); a parsed timestamp formats back to itself. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "etude_canon.h"
#include "etude_entity.h"
#include "etude_error.h"
#include "etude_gzip.h"
#include "etude_time.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

static const char *const types[] = {"practiceSession", "practiceLog", "goal", "logbookEntry", "other"};

static const char *str(const cJSON *o, const char *k)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 16)
        return 0;
    (void)etude_utf8_valid((const char *)data, size);
    char *gz = NULL;
    size_t gzn = 0;
    if (etude_gunzip(data, size, 1 << 16, &gz, &gzn) == 0)
        CHECK(gzn <= 1 << 16);
    free(gz);

    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = 0;

    int64_t ms;
    if (etude_time_parse_ms(text, &ms) == 0) {
        char back[ETUDE_TIME_LEN];
        etude_time_format_ms(ms, back);
        CHECK(strcmp(back, text) == 0);
    }

    char *canon = NULL;
    int rc = etude_canon_json(text, &canon);
    CHECK(rc == 0 || rc == ETUDE_EINVAL);
    if (rc == 0) {
        CHECK(etude_utf8_valid(canon, strlen(canon)));
        char *again = NULL;
        CHECK(etude_canon_json(canon, &again) == 0 && strcmp(again, canon) == 0);
        free(again);
        cJSON *v = cJSON_Parse(text);
        CHECK(v != NULL);
        char *printed = etude_canon_print(v);
        CHECK(printed != NULL);
        char *via = NULL;
        CHECK(etude_canon_json(printed, &via) == 0 && strcmp(via, canon) == 0);
        free(via);
        free(printed);
        char hex[65];
        CHECK(etude_canon_checksum(v, hex, NULL) == 0);
        if (cJSON_IsObject(v)) {
            const cJSON *d = cJSON_GetObjectItemCaseSensitive(v, "data");
            for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
                etude_entity_fault_t f;
                int r = etude_entity_check_data(types[i], v, &f);
                CHECK(r == 0 || r == ETUDE_EINVAL);
                (void)etude_entity_same_thing(types[i], v, d ? d : v);
            }
            etude_entity_view_t view = {str(v, "id"), str(v, "entityType"), str(v, "createdAt"),
                                        str(v, "updatedAt"), str(v, "deletedAt"), d};
            etude_entity_fault_t f;
            int r = etude_entity_check(&view, 1769860800000, &f);
            CHECK(r == 0 || r == ETUDE_EINVAL);
            if (r == ETUDE_EINVAL)
                CHECK(f.field[0] && f.reason[0]);
        }
        cJSON_Delete(v);
    }
    free(canon);
    free(text);
    return 0;
}
