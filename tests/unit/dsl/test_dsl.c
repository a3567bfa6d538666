/* DSL parser tests: shapes, ES error messages with JSON paths, minimum_should_match, date math. */
#include "../test.h"

#include "dsl/query.h"

static kiln_query *parse(const char *js, kiln_dsl_error *de)
{
    json_error_t je;
    json_t *j = json_loads(js, 0, &je);
    if (!j) {
        fprintf(stderr, "bad json: %s\n", js);
        return NULL;
    }
    kiln_query *q = kiln_dsl_parse(j, "query", de);
    json_decref(j);
    return q;
}

static void ok(const char *js, kiln_query_kind kind)
{
    kiln_dsl_error de;
    kiln_query *q = parse(js, &de);
    if (!q) fprintf(stderr, "%s: %s\n", js, de.err.reason);
    CHECK(q != NULL);
    if (q) CHECK_INT(q->kind, kind);
    kiln_query_free(q);
}

static void bad(const char *js, const char *reason, const char *path, const char *wrapper)
{
    kiln_dsl_error de;
    kiln_query *q = parse(js, &de);
    CHECK(q == NULL);
    kiln_query_free(q);
    CHECK_STR(de.err.reason, reason);
    if (path) CHECK_STR(de.path, path);
    if (wrapper) CHECK_STR(de.wrapper, wrapper);
}

static void test_shapes(void)
{
    ok("{\"match_all\":{}}", KILN_Q_MATCH_ALL);
    ok("{\"match_all\":{\"boost\":2}}", KILN_Q_MATCH_ALL);
    ok("{\"match_none\":{}}", KILN_Q_MATCH_NONE);
    ok("{\"match\":{\"f\":\"a b\"}}", KILN_Q_MATCH);
    ok("{\"match\":{\"f\":{\"query\":\"a\",\"operator\":\"AND\",\"minimum_should_match\":\"75%\"}}}",
       KILN_Q_MATCH);
    ok("{\"match\":{\"f\":12}}", KILN_Q_MATCH);
    ok("{\"match_phrase\":{\"f\":{\"query\":\"a b\",\"slop\":2}}}", KILN_Q_MATCH_PHRASE);
    ok("{\"multi_match\":{\"query\":\"a\",\"fields\":[\"x^2\",\"y\"],\"type\":\"most_fields\"}}",
       KILN_Q_MULTI_MATCH);
    ok("{\"term\":{\"f\":\"v\"}}", KILN_Q_TERM);
    ok("{\"term\":{\"f\":{\"value\":true,\"boost\":2}}}", KILN_Q_TERM);
    ok("{\"terms\":{\"f\":[1,2],\"boost\":1.5}}", KILN_Q_TERMS);
    ok("{\"range\":{\"f\":{\"gte\":\"now-1d/d\",\"lt\":\"now\"}}}", KILN_Q_RANGE);
    ok("{\"range\":{\"f\":{\"from\":1,\"to\":5,\"include_upper\":false}}}", KILN_Q_RANGE);
    ok("{\"exists\":{\"field\":\"f\"}}", KILN_Q_EXISTS);
    ok("{\"prefix\":{\"f\":\"ab\"}}", KILN_Q_PREFIX);
    ok("{\"wildcard\":{\"f\":{\"wildcard\":\"a*\"}}}", KILN_Q_WILDCARD);
    ok("{\"ids\":{\"values\":[\"1\",2]}}", KILN_Q_IDS);
    ok("{\"bool\":{\"must\":{\"match_all\":{}},\"filter\":[{\"term\":{\"a\":1}}],"
       "\"should\":[],\"must_not\":[{\"exists\":{\"field\":\"x\"}}],\"minimum_should_match\":1}}",
       KILN_Q_BOOL);
    ok("{\"constant_score\":{\"filter\":{\"term\":{\"a\":1}},\"boost\":2}}", KILN_Q_CONSTANT_SCORE);
    ok("{\"dis_max\":{\"queries\":[{\"term\":{\"a\":1}}],\"tie_breaker\":0.3}}", KILN_Q_DIS_MAX);
    ok("{\"boosting\":{\"positive\":{\"term\":{\"a\":1}},\"negative\":{\"term\":{\"b\":1}},"
       "\"negative_boost\":0.5}}",
       KILN_Q_BOOSTING);
    ok("{\"wasm_udf\":{\"name\":\"f\"}}", KILN_Q_WASM_UDF);

    kiln_dsl_error de;
    kiln_query *q = parse("{\"multi_match\":{\"query\":\"a\",\"fields\":[\"x^2.5\",\"y\"]}}", &de);
    CHECK_STR(q->u.multi.fields[0], "x");
    CHECK_FLOAT(q->u.multi.boosts[0], 2.5f);
    kiln_query_free(q);
    q = parse("{\"range\":{\"f\":{\"from\":1,\"to\":5,\"include_upper\":false}}}", &de);
    CHECK(q->u.range.gte && q->u.range.lt && !q->u.range.lte);
    kiln_query_free(q);
    q = parse("{\"term\":{\"f\":{\"value\":\"v\",\"boost\":2,\"_name\":\"n\"}}}", &de);
    CHECK_FLOAT(q->boost, 2.0f);
    CHECK_STR(q->name, "n");
    kiln_query_free(q);
}

static void test_errors(void)
{
    bad("{\"foo\":{}}", "unknown query [foo]", "query.foo", "");
    bad("{\"bool\":{\"must\":[{\"match_all\":{}},{\"foo\":{}}]}}", "unknown query [foo]",
        "query.bool.must[1].foo", "[bool] failed to parse field [must]");
    bad("{\"bool\":{\"filter\":{\"bool\":{\"should\":{\"nope\":1}}}}}", "unknown query [nope]",
        "query.bool.filter.bool.should.nope", "[bool] failed to parse field [filter]");
    bad("{\"bool\":{\"muss\":[]}}", "[bool] query does not support [muss]", "query.bool", NULL);
    bad("{\"term\":{\"a\":1,\"b\":2}}",
        "[term] query doesn't support multiple fields, found [a] and [b]", NULL, NULL);
    bad("{\"match\":{\"f\":{\"query\":\"x\",\"bogus\":1}}}", "[match] query does not support [bogus]",
        NULL, NULL);
    bad("{\"match_all\":{},\"term\":{}}",
        "[match_all] malformed query, expected [END_OBJECT] but found [FIELD_NAME] ([term])", NULL,
        NULL);
    bad("{}", "query malformed, empty clause found", NULL, NULL);
    bad("{\"term\":{\"f\":null}}", "[term] value cannot be null", NULL, NULL);
    bad("{\"exists\":{}}", "[exists] must be provided with a [field]", NULL, NULL);
    bad("{\"constant_score\":{}}", "[constant_score] requires a 'filter' element", NULL, NULL);
    kiln_dsl_error de;
    CHECK(parse("{\"foo\":{}}", &de) == NULL);
    CHECK_INT(de.err.code, KILN_E_PARSING);
    CHECK_STR(kiln_code_type(de.err.code), "parsing_exception");
    /* deep nesting is refused, not a stack overflow */
    char deep[8192] = "";
    for (int i = 0; i < 100; i++) strcat(deep, "{\"bool\":{\"must\":");
    strcat(deep, "{\"match_all\":{}}");
    for (int i = 0; i < 100; i++) strcat(deep, "}}");
    CHECK(parse(deep, &de) == NULL);
}

static void test_msm(void)
{
    kiln_msm m = {1, 2, 0};
    CHECK_INT(kiln_msm_resolve(&m, 5), 2);
    m = (kiln_msm){1, -1, 0};
    CHECK_INT(kiln_msm_resolve(&m, 5), 4);
    m = (kiln_msm){1, 75, 1};
    CHECK_INT(kiln_msm_resolve(&m, 5), 3);
    m = (kiln_msm){1, -25, 1};
    CHECK_INT(kiln_msm_resolve(&m, 5), 4);
}

static void test_datemath(void)
{
    int64_t now = 1700000000000LL; /* 2023-11-14T22:13:20Z */
    int64_t v;
    kiln_error err;
    CHECK_INT(kiln_datemath_parse("now", NULL, now, 0, &v, &err), 0);
    CHECK_INT(v, now);
    CHECK_INT(kiln_datemath_parse("now-1d/d", NULL, now, 0, &v, &err), 0);
    CHECK_INT(v, 1699833600000LL); /* 2023-11-13T00:00:00Z */
    CHECK_INT(kiln_datemath_parse("now-1d/d", NULL, now, 1, &v, &err), 0);
    CHECK_INT(v, 1699919999999LL);
    CHECK_INT(kiln_datemath_parse("now/M", NULL, now, 0, &v, &err), 0);
    CHECK_INT(v, 1698796800000LL); /* 2023-11-01 */
    CHECK_INT(kiln_datemath_parse("2024-01-31||+1M", NULL, now, 0, &v, &err), 0);
    CHECK_INT(v, 1709164800000LL); /* 2024-02-29 */
    CHECK_INT(kiln_datemath_parse("2024-01-01", NULL, now, 1, &v, &err), 0);
    CHECK_INT(v, 1704153599999LL);
    CHECK_INT(kiln_datemath_parse("2024-01-01T10:00:00Z", NULL, now, 0, &v, &err), 0);
    CHECK_INT(v, 1704103200000LL);
    CHECK_INT(kiln_datemath_parse("2024-01-01T10:00:00+02:00", NULL, now, 0, &v, &err), 0);
    CHECK_INT(v, 1704096000000LL);
    CHECK_INT(kiln_datemath_parse("1704103200000", NULL, now, 0, &v, &err), 0);
    CHECK_INT(v, 1704103200000LL);
    CHECK_INT(kiln_datemath_parse("1704103200", "epoch_second", now, 0, &v, &err), 0);
    CHECK_INT(v, 1704103200000LL);
    CHECK_INT(kiln_datemath_parse("31/12/2023", "dd/MM/yyyy", now, 0, &v, &err), 0);
    CHECK_INT(v, 1703980800000LL);
    CHECK_INT(kiln_datemath_parse("2023-12-31 23:59", "yyyy-MM-dd HH:mm||yyyy", now, 0, &v, &err), 0);
    CHECK_INT(v, 1704067140000LL);
    CHECK_INT(kiln_datemath_parse("2023", "yyyy-MM-dd HH:mm||yyyy", now, 0, &v, &err), 0);
    CHECK_INT(v, 1672531200000LL);
    CHECK_INT(kiln_datemath_parse("now/w", NULL, now, 0, &v, &err), 0);
    CHECK_INT(v, 1699833600000LL); /* Monday 2023-11-13 */
    CHECK(kiln_datemath_parse("yesterday", NULL, now, 0, &v, &err) < 0);
    CHECK(kiln_datemath_parse("now+1x", NULL, now, 0, &v, &err) < 0);
    CHECK(kiln_datemath_parse("2024-13-01", NULL, now, 0, &v, &err) < 0);
}

int main(void)
{
    test_shapes();
    test_errors();
    test_msm();
    test_datemath();
    TEST_DONE();
}
